/**
 * `tdxsim decode`: explain raw TDX values, or annotate them in place in a kernel log.
 *
 *   tdxsim decode 0xC000010000000045            completion status (RAX after SEAMCALL/TDCALL)
 *   tdxsim decode --tdvmcall 0x8000000000000003  TDVMCALL status (R10 after TDG.VP.VMCALL)
 *   tdxsim decode --leaf [--tdcall] 0x10016      leaf word (RAX before SEAMCALL/TDCALL)
 *   tdxsim decode --log dmesg.txt                every line kept, each code annotated
 *
 * All interpretation lives in `abi/status-decode.ts`; this file parses arguments and recognises
 * where the kernel prints codes.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { hex64, U32_MASK, U64_MASK } from '../../abi/bitfield.ts';
import {
  decodeExitReason,
  decodeLeafWord,
  decodeStatus,
  decodeTdvmcallStatus,
  formatDecodedStatus,
  formatExitReason,
  formatLeafShort,
  formatLeafWord,
  formatStatusShort,
  formatTdvmcallStatus,
  type DecodedExitReason,
  type DecodedLeafWord,
  type DecodedStatus,
  type DecodedTdvmcallStatus,
} from '../../abi/status-decode.ts';
import { TdvmcallSubfunction } from '../../abi/tdvmcall.ts';
import { UsageError } from '../errors.ts';

// ---------------------------------------------------------------------------------------------
// Arguments.

/**
 * Parse a command-line value as an unsigned 64-bit integer: `0x` hex or plain decimal, nothing
 * else. The message names the argument and says what is wrong with it.
 */
export function parseU64Argument(text: string): bigint {
  if (/^-(0[xX][0-9a-fA-F]+|\d+)$/.test(text)) {
    throw new UsageError(`decode: '${text}' is negative; TDX registers hold unsigned 64-bit values`);
  }
  if (!/^(0[xX][0-9a-fA-F]+|\d+)$/.test(text)) {
    throw new UsageError(`decode: '${text}' is not a number; give it in hex (0x…) or decimal`);
  }
  const value = BigInt(text);
  if (value > U64_MASK) {
    throw new UsageError(`decode: '${text}' needs ${value.toString(2).length} bits; a register holds at most 64`);
  }
  return value;
}

/** JSON with every bigint as a `0x` + 16-digit hex string (JSON has no 64-bit integers). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? hex64(v) : v), 2);
}

// ---------------------------------------------------------------------------------------------
// Kernel log recogniser.

/**
 * What a recognised number is. The name of the regex group that captured it says the kind; a
 * group name ending in `Hex` means the message prints that number in hex without a `0x` prefix.
 */
export type LogTokenKind =
  | 'status'
  | 'seamcallLeaf'
  | 'tdcallLeaf'
  | 'tdvmcallStatus'
  | 'tdvmcallSub'
  | 'exitReason'
  | 'note';

/** The kinds a regex group can capture (a `note` belongs to a whole message, not a number). */
type NumberKind = Exclude<LogTokenKind, 'note'>;

const NUMBER_KINDS: ReadonlySet<string> = new Set<NumberKind>([
  'status',
  'seamcallLeaf',
  'tdcallLeaf',
  'tdvmcallStatus',
  'tdvmcallSub',
  'exitReason',
]);

export interface LogPattern {
  /** Short identifier, for tests and JSON. */
  readonly id: string;
  /** Which message this matches, who prints it, and its format string. */
  readonly message: string;
  /** Global, with indices (`dg`); numbers are captured by named groups (see LogTokenKind). */
  readonly regex: RegExp;
  /** For a message that carries no number: text appended after the match. */
  readonly note?: string;
}

/**
 * The messages that carry TDX numbers. Earlier entries win when two patterns capture the same
 * text (the specific KVM form before the generic wrapper form). Formats: linux-tdx.md §1.3 (host
 * `seamcall_err`), §6.4 (guest panics), §4.2 (KVM exit handling), §4.6 (uAPI `hw_error`).
 */
export const LOG_PATTERNS: readonly LogPattern[] = Object.freeze([
  {
    id: 'host-seamcall-err',
    message:
      'Linux host, arch/x86/virt/vmx/tdx/tdx.c seamcall_err() (prefix "virt/tdx: "): ' +
      '"SEAMCALL (0x%016llx) failed: 0x%016llx" — leaf word, then status; later kernels print the leaf in ' +
      'decimal ("(%llu)") and the status with %#016llx',
    regex: /\bSEAMCALL \((?<seamcallLeaf>0x[0-9a-fA-F]+|\d+)\) failed: (?<statusHex>(?:0x)?[0-9a-fA-F]+)/dg,
  },
  {
    id: 'kvm-seamcall-failed',
    message:
      'KVM, arch/x86/kvm/vmx/tdx.c pr_tdx_error*() / TDX_BUG_ON*() (prefix "kvm_intel: "): ' +
      '"SEAMCALL TDH_MNG_INIT failed: 0x%llx[, rcx 0x%llx, …]" — the leaf by its C name, then status',
    regex: /\bSEAMCALL [A-Z][A-Z0-9_]* failed: (?<status>0x[0-9a-fA-F]+)/dg,
  },
  {
    id: 'guest-tdcall-panic',
    message: 'Linux guest, arch/x86/coco/tdx/tdx.c tdcall(): panic "TDCALL %lld failed (Buggy TDX module!)" — the leaf number',
    regex: /\bTDCALL (?<tdcallLeaf>\d+) failed\b/dg,
  },
  {
    id: 'guest-tdvmcall-panic',
    message: 'Linux guest, arch/x86/coco/tdx/tdx-shared.c __tdx_hypercall_failed(): panic "TDVMCALL failed. TDX module bug?"',
    regex: /\bTDVMCALL failed\. TDX module bug\?/dg,
    note: 'TDG.VP.VMCALL returned RAX != 0: the TDX module rejected the call itself; a VMM refusal would come back in R10',
  },
  {
    id: 'guest-hypercall-panic',
    message: 'Older Linux guests, _tdx_hypercall(): panic "Hypercall fn %llu failed (Buggy TDX module!)" — the TDVMCALL sub-function',
    regex: /\bHypercall fn (?<tdvmcallSub>\d+) failed\b/dg,
  },
  {
    id: 'guest-getquote',
    message: 'Linux guest, drivers/virt/coco/tdx-guest: "GetQuote hypercall failed, status:%lx" — a TDVMCALL status (R10), hex without 0x',
    regex: /\bGetQuote hypercall failed, status:\s*(?<tdvmcallStatusHex>(?:0x)?[0-9a-fA-F]+)/dg,
  },
  {
    id: 'wrapper-err',
    message:
      'Any message naming a SEAMCALL/TDCALL wrapper or leaf (tdh_*, TDH_*, tdg_*, TDG_*, TDH.*, TDG.*) and then ' +
      'its result as "err 0x…", "ret 0x…", "error 0x…", "status 0x…" or "failed: 0x…" — a module status',
    regex: /\b(?:tdh|TDH|tdg|TDG)[_.][A-Za-z0-9_.]*(?:\(\))?.*?\b(?:err|ret|error|status|failed)\b[\s:=]*(?<status>0x[0-9a-fA-F]+)/dg,
  },
  {
    id: 'hw-error',
    message:
      'KVM uAPI struct kvm_tdx_cmd.hw_error (the SEAMCALL status of a failed KVM_TDX_* ioctl), as QEMU prints it ' +
      '("TDX ioctl %s failed, hw_errors: 0x%llx") or as "hw_error=0x…" / "hw_error 0x…"',
    regex: /\bhw_errors?\b[\s:=]*(?<status>0x[0-9a-fA-F]+)/dg,
  },
  {
    id: 'vp-enter-ret',
    message: 'KVM, tdx_handle_exit(): kvm_pr_unimpl "TD vp_enter_ret 0x%llx" — the raw TDH.VP.ENTER status of an unhandled exit',
    regex: /\bvp_enter_ret\b[\s:=]*(?<status>0x[0-9a-fA-F]+)/dg,
  },
  {
    id: 'exit-reason',
    message: 'An "exit_reason" value (KVM debug output, traces): a 32-bit VMX exit reason, or a whole TDH.VP.ENTER status if wider',
    regex: /\bexit_reason\b[\s:=]*(?<exitReason>0x[0-9a-fA-F]+|\d+)/dg,
  },
  {
    id: 'fail-entry',
    message:
      'QEMU on KVM_EXIT_FAIL_ENTRY: "KVM: entry failed, hardware error 0x%" PRIx64 — for a TD, KVM fills it with the ' +
      'exit reason word (failed-VM-entry bit 31 set)',
    regex: /\bentry failed, hardware error (?<exitReason>0x[0-9a-fA-F]+)/dg,
  },
]);

export type LogDecoded = DecodedStatus | DecodedLeafWord | DecodedTdvmcallStatus | DecodedExitReason | { readonly note: string };

export interface LogMatch {
  /** The text that was decoded (the number, or the whole message for a note). */
  readonly text: string;
  readonly kind: LogTokenKind;
  /** Which LOG_PATTERNS entry found it. */
  readonly pattern: string;
  /** Column where `text` starts. */
  readonly index: number;
  readonly decoded: LogDecoded;
  /** The text inserted after `text`, without the brackets. */
  readonly annotation: string;
}

export interface AnnotatedLine {
  readonly line: string;
  readonly annotated: string;
  readonly matches: readonly LogMatch[];
}

/** Sub-function number → GHCI name (`MapGPA`, `Instruction.CPUID`). */
const SUBFUNCTION_BY_NUMBER: ReadonlyMap<number, string> = new Map(
  Object.values(TdvmcallSubfunction).map((s) => [s.number, s.name] as const),
);

/** Parse a number found in a log; undefined when it is not a 64-bit value (then it is left alone). */
function parseLogNumber(text: string, bareHex: boolean): bigint | undefined {
  const value = BigInt(/^0[xX]/.test(text) || !bareHex ? text : `0x${text}`);
  return value <= U64_MASK ? value : undefined;
}

function decodeToken(kind: NumberKind, value: bigint): { decoded: LogDecoded; annotation: string; kind: LogTokenKind } {
  switch (kind) {
    case 'status': {
      const d = decodeStatus(value);
      return { kind, decoded: d, annotation: formatStatusShort(d) };
    }
    case 'seamcallLeaf':
    case 'tdcallLeaf': {
      const d = decodeLeafWord(value, kind === 'seamcallLeaf' ? 'seamcall' : 'tdcall');
      return { kind, decoded: d, annotation: formatLeafShort(d) };
    }
    case 'tdvmcallStatus': {
      const d = decodeTdvmcallStatus(value);
      return { kind, decoded: d, annotation: d.name ?? 'unknown TDVMCALL status' };
    }
    case 'tdvmcallSub': {
      const name = value <= U32_MASK ? SUBFUNCTION_BY_NUMBER.get(Number(value)) : undefined;
      return { kind, decoded: { note: name ?? 'unknown sub-function' }, annotation: `TDVMCALL ${name ?? 'unknown sub-function'}` };
    }
    case 'exitReason': {
      // A reason wider than 32 bits is a whole TDH.VP.ENTER status (status | exit reason).
      if (value > U32_MASK) return decodeToken('status', value);
      const d = decodeExitReason(value);
      return { kind, decoded: d, annotation: `exit=${formatExitReason(d)}` };
    }
  }
}

/** Recognise and decode every TDX number in one log line. */
export function annotateLine(line: string): AnnotatedLine {
  const matches: LogMatch[] = [];
  const taken: Array<[number, number]> = [];
  const overlaps = (start: number, end: number): boolean => taken.some(([s, e]) => start < e && s < end);

  for (const pattern of LOG_PATTERNS) {
    for (const m of line.matchAll(pattern.regex)) {
      const start = m.index;
      const end = start + m[0].length;
      if (pattern.note !== undefined) {
        if (overlaps(start, end)) continue;
        taken.push([start, end]);
        matches.push({ text: m[0], kind: 'note', pattern: pattern.id, index: start, decoded: { note: pattern.note }, annotation: pattern.note });
        continue;
      }
      for (const [group, span] of Object.entries(m.indices?.groups ?? {})) {
        if (span === undefined) continue;
        const bareHex = group.endsWith('Hex');
        const kind = bareHex ? group.slice(0, -3) : group;
        // A group name outside the list is a bug in LOG_PATTERNS (the tests run every pattern).
        if (!NUMBER_KINDS.has(kind)) throw new Error(`log pattern ${pattern.id}: group ${group} names no token kind`);
        const [s, e] = span;
        if (overlaps(s, e)) continue;
        const text = line.slice(s, e);
        const value = parseLogNumber(text, bareHex);
        if (value === undefined) continue;
        taken.push([s, e]);
        matches.push({ text, pattern: pattern.id, index: s, ...decodeToken(kind as NumberKind, value) });
      }
    }
  }

  matches.sort((a, b) => a.index - b.index);
  let annotated = '';
  let at = 0;
  for (const m of matches) {
    const end = m.index + m.text.length;
    annotated += `${line.slice(at, end)} [${m.annotation}]`;
    at = end;
  }
  annotated += line.slice(at);
  return { line, annotated, matches };
}

/** Annotate a whole log; every line is kept, in order (a final newline does not make a line). */
export function annotateLog(text: string): AnnotatedLine[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map(annotateLine);
}

async function readLogSource(source: string): Promise<string> {
  if (source === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return readFileSync(source, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' :
      code === 'EISDIR' ? 'it is a directory' :
      code === 'EACCES' ? 'permission denied' :
      (err as Error).message;
    throw new UsageError(`decode: cannot read --log file '${source}': ${why}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The command.

interface DecodeOptions {
  tdvmcall?: boolean;
  leaf?: boolean;
  tdcall?: boolean;
  log?: string;
  json?: boolean;
}

function checkOptions(values: readonly string[], opts: DecodeOptions): void {
  if (opts.log !== undefined) {
    if (values.length > 0) throw new UsageError('decode: give values to decode or --log FILE, not both');
    if (opts.leaf || opts.tdvmcall || opts.tdcall) {
      throw new UsageError('decode: --leaf, --tdcall and --tdvmcall do not apply to --log (each code is read by the message it is in)');
    }
    return;
  }
  if (values.length === 0) throw new UsageError('decode: nothing to decode; give one or more values, or --log FILE');
  if (opts.leaf && opts.tdvmcall) throw new UsageError('decode: --leaf and --tdvmcall are different readings of a value; pick one');
  if (opts.tdcall && !opts.leaf) throw new UsageError('decode: --tdcall only applies with --leaf (it picks the TDCALL leaf table)');
}

function decodeValues(values: readonly string[], opts: DecodeOptions): void {
  // Parse everything first, so a bad argument fails before anything is printed.
  const numbers = values.map(parseU64Argument);
  if (opts.leaf) {
    const decoded = numbers.map((v) => decodeLeafWord(v, opts.tdcall ? 'tdcall' : 'seamcall'));
    console.log(opts.json ? toJson(decoded) : decoded.map(formatLeafWord).join('\n'));
  } else if (opts.tdvmcall) {
    const decoded = numbers.map(decodeTdvmcallStatus);
    console.log(opts.json ? toJson(decoded) : decoded.map(formatTdvmcallStatus).join('\n'));
  } else {
    const decoded = numbers.map(decodeStatus);
    console.log(opts.json ? toJson(decoded) : decoded.map(formatDecodedStatus).join('\n'));
  }
}

async function decodeLog(source: string, json: boolean): Promise<void> {
  const lines = annotateLog(await readLogSource(source));
  if (json) {
    const out = lines.map((l) => ({
      line: l.line,
      matches: l.matches.map((m) => ({ text: m.text, kind: m.kind, pattern: m.pattern, annotation: m.annotation, decoded: m.decoded })),
    }));
    console.log(toJson(out));
  } else if (lines.length > 0) {
    console.log(lines.map((l) => l.annotated).join('\n'));
  }
}

export function registerDecodeCommand(program: Command): void {
  program
    .command('decode')
    .description(
      'Explain TDX completion statuses (default), TDVMCALL statuses or leaf words; or annotate the codes in a kernel log',
    )
    .argument('[values...]', 'values to decode: hex (0x…) or decimal, unsigned, at most 64 bits')
    .option('--tdvmcall', 'read the values as TDVMCALL statuses (R10 after TDG.VP.VMCALL)')
    .option('--leaf', 'read the values as RAX leaf words (SEAMCALL table unless --tdcall)')
    .option('--tdcall', 'with --leaf: use the TDCALL (TDG.*) leaf table')
    .option('--log <file>', "annotate each code in kernel log text, keeping every line ('-' reads stdin)")
    .option('--json', 'print JSON (64-bit values as 0x hex strings)')
    .action(async (values: string[], opts: DecodeOptions) => {
      checkOptions(values, opts);
      if (opts.log !== undefined) await decodeLog(opts.log, opts.json === true);
      else decodeValues(values, opts);
    });
}
