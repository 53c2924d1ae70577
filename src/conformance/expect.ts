/**
 * Expectations with decoded diffs.
 *
 * `expectRegs(actual, { rax: withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX), rcx: 0n })`
 * compares every register named in the expectation and, if any differ, fails the case with one
 * line per register: `RAX: expected 0xC000010000000001 TDX_OPERAND_INVALID operand=RCX, got
 * 0x0000000000000000 TDX_SUCCESS`. RAX is decoded as a TDX completion status; R10 as a TDVMCALL
 * status when the registers are a guest's after TDG.VP.VMCALL (`tdvmcall: true`). Other
 * registers print as hex. Field expectations (`expectFields`) work the same way on any record of
 * values (an exit record, a decoded TDREPORT), so a case can say "the exit's `port` is 0x80".
 */
import { hex64 } from '../abi/bitfield.ts';
import { GPR_NAMES, type GprName, type RegisterFile } from '../abi/registers.ts';
import { decodeStatus, decodeTdvmcallStatus, formatStatusShort, formatTdvmcallStatus } from '../abi/status-decode.ts';
import { CaseFailure } from './case.ts';

/** Lower-case register names, as cases write them: `rax`, `r10`. */
export type RegKey = Lowercase<GprName>;
export type RegExpectation = Partial<Record<RegKey, bigint>>;

/** Registers as a RegisterFile or a plain record (either case of names). */
export type RegSource = RegisterFile | Readonly<Partial<Record<GprName | RegKey, bigint>>>;

export interface RegOptions {
  /** What the registers are ("guest after TDG.VP.INFO"), prefixed to each difference. */
  readonly what?: string;
  /** Decode R10 as a TDVMCALL status (guest registers after TDG.VP.VMCALL, or a VMM reply). */
  readonly tdvmcall?: boolean;
}

/** How a value is shown in a diff. */
export type ValueDecoder = (v: bigint) => string;

/** A TDX completion status, decoded. */
export const asStatus: ValueDecoder = (v) => `${hex64(v)} ${formatStatusShort(decodeStatus(v))}`;
/** A TDVMCALL status (R10), decoded. */
export const asTdvmcallStatus: ValueDecoder = (v) => formatTdvmcallStatus(decodeTdvmcallStatus(v));
/** Plain 64-bit hex. */
export const asHex: ValueDecoder = (v) => hex64(v);

/** Read one register from either representation. */
export function regValue(src: RegSource, name: GprName): bigint | undefined {
  if ('gpr' in src && src.gpr instanceof BigUint64Array) return (src as RegisterFile).get(name);
  const rec = src as Readonly<Partial<Record<string, bigint>>>;
  return rec[name] ?? rec[name.toLowerCase()];
}

function decoderFor(name: GprName, opts: RegOptions): ValueDecoder {
  if (name === 'RAX') return asStatus;
  if (name === 'R10' && opts.tdvmcall) return asTdvmcallStatus;
  return asHex;
}

/** The differences between `actual` and `expected` registers (empty if they match). */
export function diffRegs(actual: RegSource, expected: RegExpectation, opts: RegOptions = {}): string[] {
  const out: string[] = [];
  const prefix = opts.what ? `${opts.what}: ` : '';
  for (const name of GPR_NAMES) {
    const want = expected[name.toLowerCase() as RegKey];
    if (want === undefined) continue;
    const got = regValue(actual, name);
    if (got === want) continue;
    const show = decoderFor(name, opts);
    out.push(`${prefix}${name}: expected ${show(want)}, got ${got === undefined ? 'nothing' : show(got)}`);
  }
  return out;
}

/** Fail the case unless every named register has its expected value. */
export function expectRegs(actual: RegSource, expected: RegExpectation, opts: RegOptions = {}): void {
  const d = diffRegs(actual, expected, opts);
  if (d.length) throw new CaseFailure(d);
}

/** One named value to compare, with an optional decoder for the diff. */
export type FieldExpectation = Readonly<Record<string, unknown>>;

function show(v: unknown, decode?: ValueDecoder): string {
  if (typeof v === 'bigint') return decode ? decode(v) : `0x${v.toString(16)}`;
  if (v instanceof Uint8Array) return `${v.length} bytes ${Buffer.from(v).toString('hex').slice(0, 96)}${v.length > 48 ? '…' : ''}`;
  if (v === undefined) return 'nothing';
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x));
}

function same(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.from(a).equals(Buffer.from(b));
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) return show(a) === show(b);
  return a === b;
}

/**
 * Fail the case unless each named field of `actual` equals the expectation (bigints, numbers,
 * strings, booleans, byte arrays, or plain data compared structurally). `decoders` names how a
 * bigint field is shown (`{ ret: asTdvmcallStatus }`).
 */
export function expectFields(
  actual: Readonly<Record<string, unknown>> | undefined,
  expected: FieldExpectation,
  what: string,
  decoders: Readonly<Record<string, ValueDecoder>> = {},
): void {
  if (actual === undefined) throw new CaseFailure([`${what}: expected ${show(expected)}, got nothing`]);
  const out: string[] = [];
  for (const [k, want] of Object.entries(expected)) {
    const got = actual[k];
    if (!same(got, want)) out.push(`${what}.${k}: expected ${show(want, decoders[k])}, got ${show(got, decoders[k])}`);
  }
  if (out.length) throw new CaseFailure(out);
}

/** Fail the case unless `actual === expected` (one value, named `what`). */
export function expectValue(actual: unknown, expected: unknown, what: string, decode?: ValueDecoder): void {
  if (!same(actual, expected)) throw new CaseFailure([`${what}: expected ${show(expected, decode)}, got ${show(actual, decode)}`]);
}

/** Fail the case with `message` unless `condition` holds. */
export function expectThat(condition: boolean, message: string): void {
  if (!condition) throw new CaseFailure([message]);
}
