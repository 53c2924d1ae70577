/**
 * Decoders that turn raw ABI words into named, explained values: a completion status (RAX after
 * SEAMCALL or TDCALL), a TDVMCALL status (R10 after TDG.VP.VMCALL), a leaf word (RAX before
 * SEAMCALL or TDCALL) and a VMX exit reason (status bits 31:0 on a TD exit).
 *
 * Every decoder is total: any 64-bit value decodes. A value nobody defined still yields its flags,
 * class and details, with `known: false`, because the one status a user most needs explained is
 * the one the tables have never seen. The decoders only read the tables in this directory; they
 * add no codes of their own, only the few interpretation rules documented below.
 *
 * Facts: tdx-module.md §1 (leaf word), §3 (status layout, codes, operand IDs, other uses of bits
 * 31:0), §6.3 (TD exit RAX); linux-tdx.md §1.3 and §3 (software codes), §2.4 (TDVMCALL status),
 * §4.2 (which TD exit statuses carry an exit reason).
 */
import { hex64, U32_MASK, U64_MASK } from './bitfield.ts';
import type { LeafDef, LeafKind } from './leaf.ts';
import { EXIT_REASON_WORD, LEAF_WORD } from './operands.ts';
import { SeamcallLeaf } from './seamcall-leaves.ts';
import { SEPT_LEVEL_NAMES } from './sept.ts';
import {
  OperandId,
  STATUS_CLASSES,
  STATUS_LAYOUT,
  TdxSoftwareStatus,
  TdxStatus,
  statusCode,
  type TdxSoftwareStatusName,
  type TdxStatusName,
} from './status.ts';
import { TdcallLeaf } from './tdcall-leaves.ts';
import {
  LINUX_TDVMCALL_STATUSES,
  TDVMCALL_STATUS_ERROR_BIT,
  TdvmcallStatus,
  type TdvmcallStatusName,
} from './tdvmcall-status.ts';
import { Vector, VmxExitReason } from './vmx.ts';

// ---------------------------------------------------------------------------------------------
// Reverse indexes, built once from the frozen tables.

/**
 * Invert a name → value table. Two names with one value would make decoding ambiguous, so that is
 * rejected when the module loads (a table bug, caught by any test that imports this file).
 */
function invert<K extends string, V extends number | bigint>(tableName: string, table: Readonly<Record<K, V>>): ReadonlyMap<V, K> {
  const out = new Map<V, K>();
  for (const [name, value] of Object.entries(table) as [K, V][]) {
    const clash = out.get(value);
    if (clash !== undefined) throw new Error(`${tableName}: ${name} and ${clash} share the value ${String(value)}`);
    out.set(value, name);
  }
  return out;
}

/**
 * Module status code (bits 63:32, bits 31:0 cleared) → name. Keyed through `statusCode` so the
 * one entry with low bits set, the all-ones UNINITIALIZE_ERROR sentinel, is found like the rest.
 */
const STATUS_BY_CODE = invert(
  'TdxStatus',
  Object.fromEntries(Object.entries(TdxStatus).map(([name, value]) => [name, statusCode(value)])) as Record<TdxStatusName, bigint>,
);
/** Exact software-defined value → name (these are matched on all 64 bits, see decodeStatus). */
const SOFTWARE_BY_VALUE = invert<TdxSoftwareStatusName, bigint>('TdxSoftwareStatus', TdxSoftwareStatus);
const OPERAND_BY_ID = invert<string, number>('OperandId', OperandId);
const EXIT_REASON_BY_NUMBER = invert<string, number>('VmxExitReason', VmxExitReason);
const VECTOR_BY_NUMBER = invert<string, number>('Vector', Vector);
const TDVMCALL_STATUS_BY_VALUE = invert<TdvmcallStatusName, bigint>('TdvmcallStatus', TdvmcallStatus);

/** Leaf number → definition, per calling instruction. */
function indexLeaves(tableName: string, table: Readonly<Record<string, LeafDef>>): ReadonlyMap<number, { key: string; def: LeafDef }> {
  const out = new Map<number, { key: string; def: LeafDef }>();
  for (const [key, def] of Object.entries(table)) {
    const clash = out.get(def.number);
    if (clash !== undefined) throw new Error(`${tableName}: ${key} and ${clash.key} share leaf number ${def.number}`);
    out.set(def.number, { key, def });
  }
  return out;
}

const LEAVES_BY_NUMBER: Readonly<Record<LeafKind, ReadonlyMap<number, { key: string; def: LeafDef }>>> = Object.freeze({
  seamcall: indexLeaves('SeamcallLeaf', SeamcallLeaf),
  tdcall: indexLeaves('TdcallLeaf', TdcallLeaf),
});

/** Name of an operand ID (tdx-module.md §3.3), or undefined for an ID no table defines. */
export function operandName(id: number): string | undefined {
  return OPERAND_BY_ID.get(id);
}

function assertU64(value: bigint, what: string): void {
  if (value < 0n || value > U64_MASK) throw new RangeError(`${what} ${value} is not an unsigned 64-bit value`);
}

function hexByte(n: number): string {
  return '0x' + n.toString(16).toUpperCase().padStart(2, '0');
}

function hex32(n: number | bigint): string {
  return '0x' + n.toString(16).toUpperCase().padStart(8, '0');
}

// ---------------------------------------------------------------------------------------------
// VMX exit reasons (status bits 31:0 on a TD exit).

export interface DecodedExitReason {
  /** The 32-bit exit reason word as the module reported it. */
  readonly value: number;
  /** Basic exit reason, bits 15:0 (Intel SDM Vol. 3C Appendix C). */
  readonly basic: number;
  /** `VmxExitReason` name of the basic reason, if the table has one. */
  readonly name?: string;
  /** Bit 31: VM entry failed (KVM reports KVM_EXIT_FAIL_ENTRY with this word). */
  readonly failedVmentry: boolean;
  /** Bit 26: a bus lock was preempted (sticky flag the module passes through). */
  readonly busLockPreempted: boolean;
  /** Bits 25:16 or 30:27 set: undefined in the exit reason word. */
  readonly reservedBitsSet: boolean;
}

/** Decode a VMX exit reason word (only bits 31:0 are looked at). */
export function decodeExitReason(reason: number | bigint): DecodedExitReason {
  const word = BigInt(reason) & U32_MASK;
  const f = EXIT_REASON_WORD.decode(word);
  const basic = Number(f.basic_reason);
  const name = EXIT_REASON_BY_NUMBER.get(basic);
  return {
    value: Number(word),
    basic,
    ...(name !== undefined && { name }),
    failedVmentry: f.failed_vmentry === 1n,
    busLockPreempted: f.bus_lock_preempted === 1n,
    reservedBitsSet: f.reserved0 !== 0n || f.reserved1 !== 0n,
  };
}

/** `TDCALL (77)`, `EPT_VIOLATION (48) failed-vmentry`, `unknown (99)`. */
export function formatExitReason(e: DecodedExitReason): string {
  let s = `${e.name ?? 'unknown'} (${e.basic})`;
  if (e.failedVmentry) s += ' failed-vmentry';
  if (e.busLockPreempted) s += ' bus-lock-preempted';
  if (e.reservedBitsSet) s += ` reserved-bits(${hex32(e.value)})`;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Completion status.

/**
 * What status bits 31:0 mean for this code (tdx-module.md §3.1, §3.3):
 * - `operand`: the operand ID of the register, TD_PARAMS field or object the failure is about.
 * - `septLevel`: a Secure-EPT level (TDX_PAGE_ALREADY_ACCEPTED, TDX_PAGE_SIZE_MISMATCH).
 * - `msr`: an MSR address (TDX_INCONSISTENT_MSR, TDX_INCORRECT_MSR_VALUE).
 * - `exitReason`: the VMX exit reason of a TD exit (TDH.VP.ENTER's RAX).
 * - `trapVector`: the exception the SEAMCALL instruction raised (software codes).
 * - `vmfailMarker`: the fixed 0xFFFF0000 Linux puts in TDX_SEAMCALL_VMFAILINVALID.
 * - `raw`: a value too large for an operand ID on a code with no documented meaning for it.
 * - `none`: zero where zero carries nothing.
 */
export type StatusDetailsKind = 'operand' | 'septLevel' | 'msr' | 'exitReason' | 'trapVector' | 'vmfailMarker' | 'raw' | 'none';

export interface DecodedStatus {
  readonly value: bigint;
  /** `0x` + 16 upper-case hex digits. */
  readonly hex: string;
  /** Spec mnemonic (`TDX_OPERAND_INVALID`, `TDX_SEAMCALL_GP`), absent when the code is unknown. */
  readonly name?: string;
  /** True when a table names the code. */
  readonly known: boolean;
  /** Class 0xFF with the error bit: made by the host's SEAMCALL helper, not by the module. */
  readonly software: boolean;
  /** Bit 63. Clear for TDX_SUCCESS and for warnings such as TDX_PAGE_ALREADY_ACCEPTED. */
  readonly error: boolean;
  /**
   * Bit 62. On an error (bit 63 set) it separates errors a retry cannot fix (the 0xC… codes) from
   * recoverable ones such as BUSY or INTERRUPTED (0x8…). Without bit 63 it marks a TD exit after
   * which the vCPU or TD cannot continue (TDX_NON_RECOVERABLE_*).
   */
  readonly nonRecoverable: boolean;
  /** Bit 61: the TD has been marked fatal. */
  readonly fatal: boolean;
  /** Bit 60: on a TD exit, the host may recover. */
  readonly hostRecoverabilityHint: boolean;
  /** Bits 59:48 are reserved and zero in every defined status. */
  readonly reservedBitsSet: boolean;
  /** Bits 47:40. */
  readonly classId: number;
  /** Name of the class (`operand`, `Secure EPT`, …) or `unassigned`. */
  readonly className: string;
  /** Bits 39:32: the code within its class. */
  readonly detailsL1: number;
  /** Bits 31:0, raw, whatever they mean. */
  readonly detailsL2: number;
  /** How `detailsL2` is interpreted for this code. */
  readonly detailsKind: StatusDetailsKind;
  /** Set when `detailsKind` is `operand`. `name` is absent for an ID no table defines. */
  readonly operand?: { readonly id: number; readonly name?: string };
  /** Set when `detailsKind` is `septLevel`. */
  readonly level?: { readonly value: number; readonly name?: string };
  /** Set when `detailsKind` is `msr`. */
  readonly msr?: number;
  /** Set when `detailsKind` is `exitReason`. */
  readonly exitReason?: DecodedExitReason;
  /** Set when `detailsKind` is `trapVector`. */
  readonly trapVector?: { readonly value: number; readonly name?: string };
  /**
   * For the SEPT-level codes only: what the same bits would name if read as an operand ID. See
   * SEPT_LEVEL_CODES for why this is reported beside, not instead of, the level.
   */
  readonly detailsAsOperand?: { readonly id: number; readonly name: string };
  /** One sentence on an interpretation the reader should know about. */
  readonly note?: string;
}

/**
 * Codes whose bits 31:0 carry a Secure-EPT level instead of an operand ID. The TDX 1.5 module
 * builds them only as `code + level`: both in TDG.MEM.PAGE.ACCEPT (tdx-module.md §3.3, §8.2), and
 * PAGE_SIZE_MISMATCH also in TDG.MEM.PAGE.ATTR.WR (module source `ve/tdg_mem_page_attr_wr.c`). No
 * host (TDH) leaf was found returning either, so the level is the primary reading.
 *
 * The same bits are numerically an operand ID too (level 1 = 1 = RCX), and people (and some
 * emulators) read e.g. 0xC0000B0B00000001 as "PAGE_SIZE_MISMATCH on RCX" — the accept GPA is in
 * RCX, so that reading is not absurd. The decoder therefore keeps the level as the interpretation
 * and reports the operand reading in `detailsAsOperand`, marked as an alternative, never in
 * `operand`.
 */
const SEPT_LEVEL_CODES: ReadonlySet<string> = new Set<TdxStatusName>(['TDX_PAGE_ALREADY_ACCEPTED', 'TDX_PAGE_SIZE_MISMATCH']);

/** Codes whose bits 31:0 carry an MSR address (tdx-module.md §3.2, class 0x09). */
const MSR_CODES: ReadonlySet<string> = new Set<TdxStatusName>(['TDX_INCONSISTENT_MSR', 'TDX_INCORRECT_MSR_VALUE']);

/**
 * Statuses TDH.VP.ENTER returns on a TD exit, with the VMX exit reason in bits 31:0
 * (tdx-module.md §6.3: TDVMCALL exits and asynchronous exits). KVM's classifier reads an exit
 * reason from the first five only (linux-tdx.md §4.2); the module also reports one with
 * CORRUPTED_MD, the cross-TD codes and the host-priority timeout.
 */
const TD_EXIT_CODES: ReadonlySet<string> = new Set<TdxStatusName>([
  'TDX_SUCCESS',
  'TDX_NON_RECOVERABLE_VCPU',
  'TDX_NON_RECOVERABLE_TD',
  'TDX_NON_RECOVERABLE_TD_NON_ACCESSIBLE',
  'TDX_NON_RECOVERABLE_TD_WRONG_APIC_MODE',
  'TDX_NON_RECOVERABLE_TD_CORRUPTED_MD',
  'TDX_CROSS_TD_FAULT',
  'TDX_CROSS_TD_TRAP',
  'TDX_HOST_PRIORITY_BUSY_TIMEOUT',
]);

/** Class 0x01 (operand errors): here operand ID 0 is meaningful — RAX, i.e. a bad leaf word. */
const OPERAND_CLASS = 0x01;
/** Class of the software-defined codes (tdx-module.md §3.1: reserved by the module). */
const SOFTWARE_CLASS = 0xff;
/**
 * Largest details value still read as an operand ID. The 1.5 IDs end at 188 (WBCACHE); every ID
 * fits one byte, so a larger value on a code without a documented meaning is shown raw rather
 * than dressed up as an operand.
 */
const MAX_OPERAND_ID = 0xff;
/** Trap vectors are 0..31; a larger software details value is not a vector. */
const MAX_TRAP_VECTOR = 31;

type Interpretation = Pick<DecodedStatus, 'detailsKind' | 'operand' | 'level' | 'msr' | 'exitReason' | 'trapVector' | 'detailsAsOperand' | 'note'>;

function asOperand(id: number): Interpretation {
  const name = operandName(id);
  return { detailsKind: 'operand', operand: { id, ...(name !== undefined && { name }) } };
}

function asTrapVector(value: number): Interpretation {
  const name = VECTOR_BY_NUMBER.get(value);
  return { detailsKind: 'trapVector', trapVector: { value, ...(name !== undefined && { name: `#${name}` }) } };
}

/** Software-defined code, matched exactly: the low bits were put there by the host's helper. */
function interpretSoftware(name: TdxSoftwareStatusName | undefined, details: number): Interpretation {
  switch (name) {
    case 'TDX_SEAMCALL_VMFAILINVALID':
      return { detailsKind: 'vmfailMarker', note: 'CF=1 after SEAMCALL: the TDX module is not loaded or is disabled, or P-SEAMLDR is busy' };
    case 'TDX_SEAMCALL_GP':
      return { ...asTrapVector(details), note: 'SEAMCALL raised #GP: SEAM is not enabled on this processor' };
    case 'TDX_SEAMCALL_UD':
      return { ...asTrapVector(details), note: 'SEAMCALL raised #UD: the processor is not in VMX root operation' };
    case 'TDX_SW_ERROR':
      return { detailsKind: 'none' };
    case undefined:
      // Linux ORs the trap number of any fault on SEAMCALL into TDX_SW_ERROR (linux-tdx.md §1.3);
      // only #GP and #UD are expected, but another vector decodes the same way.
      return details <= MAX_TRAP_VECTOR ? asTrapVector(details) : { detailsKind: 'raw' };
  }
}

/** Module code (named or not): bits 31:0 per the rules of tdx-module.md §3.3. */
function interpretModule(name: string | undefined, classId: number, details: number, value: bigint): Interpretation {
  if (name !== undefined && SEPT_LEVEL_CODES.has(name)) {
    const levelName = SEPT_LEVEL_NAMES[details];
    const generic = interpretOperand(classId, details);
    const opName = generic.operand?.name;
    return {
      detailsKind: 'septLevel',
      level: { value: details, ...(levelName !== undefined && { name: levelName }) },
      ...(opName !== undefined && { detailsAsOperand: { id: details, name: opName } }),
      note: 'bits 31:0 are the Secure-EPT level the guest TDCALL reached, not an operand ID',
    };
  }
  if (name !== undefined && MSR_CODES.has(name)) return { detailsKind: 'msr', msr: details };
  if (name !== undefined && TD_EXIT_CODES.has(name) && !(name === 'TDX_SUCCESS' && details === 0)) {
    // TDX_SUCCESS with zero details is what every successful non-ENTER leaf returns; read as an
    // exit it would be EXCEPTION_OR_NMI, but nothing in the value says it came from TDH.VP.ENTER.
    return { detailsKind: 'exitReason', exitReason: decodeExitReason(value) };
  }
  return interpretOperand(classId, details);
}

/**
 * The default reading of bits 31:0: an operand ID. Zero means "no operand" except in the operand
 * class, where TDX_OPERAND_INVALID | 0 is the module's answer to a bad leaf word (RAX).
 */
function interpretOperand(classId: number, details: number): Interpretation {
  if (details === 0) return classId === OPERAND_CLASS ? asOperand(0) : { detailsKind: 'none' };
  if (details <= MAX_OPERAND_ID) return asOperand(details);
  return { detailsKind: 'raw' };
}

/**
 * Decode a 64-bit completion status.
 *
 * Matching order:
 * 1. The software-defined values (TDX_SEAMCALL_VMFAILINVALID/_GP/_UD, TDX_SW_ERROR) match on all
 *    64 bits: they share bits 63:32 (0x8000FF00) and differ only in the low bits, which hold the
 *    trap vector or marker, never an operand.
 * 2. Module codes match on bits 63:32 against TdxStatus (the module adds its details with
 *    `code + details`, so bits 31:0 are not part of the code).
 * 3. Anything else is unknown, but still gets its flags, class and details; a value with the
 *    error bit and class 0xFF is still reported as software-defined, as KVM tests it
 *    (`(ret & TDX_SW_ERROR) == TDX_SW_ERROR`).
 */
export function decodeStatus(value: bigint): DecodedStatus {
  assertU64(value, 'status');
  const f = STATUS_LAYOUT.decode(value);
  const classId = Number(f.class);
  const detailsL2 = Number(f.details_l2);

  const swName = SOFTWARE_BY_VALUE.get(value);
  const moduleName = swName === undefined ? STATUS_BY_CODE.get(statusCode(value)) : undefined;
  const swError = TdxSoftwareStatus.TDX_SW_ERROR;
  const software = swName !== undefined || (moduleName === undefined && (value & swError) === swError);
  const name = swName ?? moduleName;

  const interpretation = software
    ? interpretSoftware(swName, detailsL2)
    : interpretModule(moduleName, classId, detailsL2, value);

  return {
    value,
    hex: hex64(value),
    ...(name !== undefined && { name }),
    known: name !== undefined,
    software,
    error: f.error === 1n,
    nonRecoverable: f.non_recoverable === 1n,
    fatal: f.fatal === 1n,
    hostRecoverabilityHint: f.host_recoverability_hint === 1n,
    reservedBitsSet: STATUS_LAYOUT.hasReservedBits(value),
    classId,
    // Class 0xFF is named for Linux's software codes; the module itself never uses it, so a
    // class-0xFF value that is not software-defined (the all-ones sentinel) is just "reserved".
    className: classId === SOFTWARE_CLASS && !software ? 'reserved' : (STATUS_CLASSES[classId] ?? 'unassigned'),
    detailsL1: Number(f.details_l1),
    detailsL2,
    ...interpretation,
  };
}

/** The interpretation of bits 31:0 as `key=value` (empty when there is nothing to say). */
function detailsText(d: DecodedStatus, long: boolean): string {
  const n = (v: number): string => (long ? ` (${v})` : '');
  switch (d.detailsKind) {
    case 'operand':
      return `operand=${d.operand?.name ?? 'unknown'}${d.operand?.name === undefined || long ? ` (${d.operand?.id})` : ''}`;
    case 'septLevel': {
      const level = `level=${d.level?.name ?? 'unknown'}${d.level?.name === undefined || long ? ` (${d.level?.value})` : ''}`;
      return long && d.detailsAsOperand ? `${level} [read as an operand ID: ${d.detailsAsOperand.name}]` : level;
    }
    case 'msr':
      return `msr=0x${(d.msr ?? 0).toString(16).toUpperCase()}`;
    case 'exitReason':
      return d.exitReason ? `exit=${long ? formatExitReason(d.exitReason) : (d.exitReason.name ?? d.exitReason.basic)}` : '';
    case 'trapVector':
      return `vector=${d.trapVector?.name ?? 'unknown'}${n(d.trapVector?.value ?? 0)}`;
    case 'raw':
      return `details=${hex32(d.detailsL2)}`;
    case 'vmfailMarker':
    case 'none':
      return '';
  }
}

function codeLabel(d: DecodedStatus): string {
  return d.name ?? `unknown status ${hex32(d.value >> 32n)}`;
}

/**
 * One human line, e.g.
 * `0xC000010000000045 TDX_OPERAND_INVALID (error, class 0x01 operand) operand=CPUID_CONFIG (69)`.
 *
 * The first flag is `error`, `success` (code 0), `TD exit` (another non-error code carrying an exit
 * reason) or `warning`. Bit 62 is worded by what it means next to bit 63: most errors have it
 * (0xC…), so an error is tagged only when it is `recoverable` (bit 62 clear: BUSY, INTERRUPTED…);
 * a non-error status with it is tagged `non-recoverable`.
 */
export function formatDecodedStatus(d: DecodedStatus): string {
  const flags = [
    d.error ? 'error' : statusCode(d.value) === 0n ? 'success' : d.detailsKind === 'exitReason' ? 'TD exit' : 'warning',
  ];
  // Software codes set only the error bit (Linux's TDX_SW_ERROR); bit 62 means nothing there.
  if (d.error && !d.nonRecoverable && !d.software) flags.push('recoverable');
  if (!d.error && d.nonRecoverable) flags.push('non-recoverable');
  if (d.fatal) flags.push('fatal');
  if (d.hostRecoverabilityHint) flags.push('host-recoverability-hint');
  if (d.software) flags.push('software');
  const parts = [d.hex, codeLabel(d), `(${flags.join(', ')}, class ${hexByte(d.classId)} ${d.className})`];
  const details = detailsText(d, true);
  if (details) parts.push(details);
  if (d.reservedBitsSet) parts.push('reserved bits 59:48 set');
  return parts.join(' ');
}

/** Compact form for inline annotation: `TDX_OPERAND_INVALID operand=RCX`. */
export function formatStatusShort(d: DecodedStatus): string {
  const parts = [d.known ? codeLabel(d) : `unknown ${hex32(d.value >> 32n)} class ${hexByte(d.classId)}`];
  const details = detailsText(d, false);
  if (details) parts.push(details);
  return parts.join(' ');
}

// ---------------------------------------------------------------------------------------------
// TDVMCALL status (R10 after TDG.VP.VMCALL).

export interface DecodedTdvmcallStatus {
  readonly value: bigint;
  readonly hex: string;
  /** Linux spelling, `TDVMCALL_STATUS_INVALID_OPERAND`; absent for an undefined value. */
  readonly name?: string;
  readonly key?: TdvmcallStatusName;
  readonly known: boolean;
  /** Bit 63: the VMM refused or failed the request. RETRY is not an error. */
  readonly error: boolean;
  /** Whether Linux defines this value (GPA_INUSE is GHCI-only; see tdvmcall-status.ts). */
  readonly definedByLinux: boolean;
}

export function decodeTdvmcallStatus(r10: bigint): DecodedTdvmcallStatus {
  assertU64(r10, 'TDVMCALL status');
  const key = TDVMCALL_STATUS_BY_VALUE.get(r10);
  return {
    value: r10,
    hex: hex64(r10),
    ...(key !== undefined && { name: `TDVMCALL_STATUS_${key}`, key }),
    known: key !== undefined,
    error: (r10 & TDVMCALL_STATUS_ERROR_BIT) !== 0n,
    definedByLinux: key !== undefined && LINUX_TDVMCALL_STATUSES.includes(key),
  };
}

/** `0x8000000000000001 TDVMCALL_STATUS_GPA_INUSE (error; GHCI only, not defined by Linux)`. */
export function formatTdvmcallStatus(d: DecodedTdvmcallStatus): string {
  const notes = [d.error ? 'error' : d.key === 'RETRY' ? 'not an error: call again' : d.key === 'SUCCESS' ? 'success' : 'no error bit'];
  if (d.known && !d.definedByLinux) notes.push('GHCI only, not defined by Linux');
  return `${d.hex} ${d.name ?? 'unknown TDVMCALL status'} (${notes.join('; ')})`;
}

// ---------------------------------------------------------------------------------------------
// Leaf word (RAX on SEAMCALL/TDCALL entry).

export interface DecodedLeafWord {
  readonly value: bigint;
  readonly hex: string;
  readonly kind: LeafKind;
  /** Bits 15:0. */
  readonly leaf: number;
  /** Bits 23:16. */
  readonly version: number;
  /** Bits 63:24 are reserved and must be zero. */
  readonly reservedBitsSet: boolean;
  /** Spec mnemonic (`TDH.VP.INIT`), absent for a number the table does not define. */
  readonly name?: string;
  /** Key in SeamcallLeaf / TdcallLeaf (`TDH_VP_INIT`). */
  readonly key?: string;
  /** Whether tdxsim models the leaf. */
  readonly implemented?: boolean;
  /** Highest version the leaf accepts. */
  readonly maxVersion?: number;
  /** The leaf exists and accepts this version. */
  readonly versionAccepted: boolean;
  /**
   * The module would dispatch this word. Otherwise it fails with TDX_OPERAND_INVALID | RAX
   * (reserved bits set, unknown leaf, or version too high; tdx-module.md §1).
   */
  readonly valid: boolean;
}

export function decodeLeafWord(rax: bigint, kind: LeafKind): DecodedLeafWord {
  assertU64(rax, 'leaf word');
  const f = LEAF_WORD.decode(rax);
  const leaf = Number(f.leaf);
  const version = Number(f.version);
  const reservedBitsSet = LEAF_WORD.hasReservedBits(rax);
  const entry = LEAVES_BY_NUMBER[kind].get(leaf);
  const versionAccepted = entry !== undefined && version <= entry.def.maxVersion;
  return {
    value: rax,
    hex: hex64(rax),
    kind,
    leaf,
    version,
    reservedBitsSet,
    ...(entry !== undefined && {
      name: entry.def.mnemonic,
      key: entry.key,
      implemented: entry.def.implemented,
      maxVersion: entry.def.maxVersion,
    }),
    versionAccepted,
    valid: versionAccepted && !reservedBitsSet,
  };
}

/** `0x0000000000010016 TDH.VP.INIT version 1 (SEAMCALL leaf 22)`, plus any problem found. */
export function formatLeafWord(d: DecodedLeafWord): string {
  const instr = d.kind === 'seamcall' ? 'SEAMCALL' : 'TDCALL';
  const problems: string[] = [];
  if (d.reservedBitsSet) problems.push('reserved bits 63:24 set');
  if (d.name !== undefined && !d.versionAccepted) problems.push(`version ${d.version} not accepted (max ${d.maxVersion})`);
  if (d.implemented === false) problems.push('not modelled by tdxsim');
  const head =
    d.name !== undefined
      ? `${d.hex} ${d.name} version ${d.version} (${instr} leaf ${d.leaf})`
      : `${d.hex} unknown ${instr} leaf ${d.leaf} version ${d.version}`;
  return problems.length ? `${head}; ${problems.join('; ')}` : head;
}

/** Compact form for inline annotation: `TDH.MNG.RD`, `TDH.VP.INIT v1`, `unknown SEAMCALL leaf 99`. */
export function formatLeafShort(d: DecodedLeafWord): string {
  const base = d.name ?? `unknown ${d.kind === 'seamcall' ? 'SEAMCALL' : 'TDCALL'} leaf ${d.leaf}`;
  const parts = [d.version !== 0 ? `${base} v${d.version}` : base];
  if (d.name !== undefined && !d.valid) parts.push('(invalid leaf word)');
  return parts.join(' ');
}
