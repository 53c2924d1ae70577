/**
 * How trace events spell registers, operand fields and statuses: plain JSON strings, decoded
 * through the ABI tables only (leaf operand lists, bitfield layouts, status-decode.ts), so a trace
 * says exactly what the tables say and nothing of its own.
 *
 * - Registers: lower-case name → `0x` + 16 upper-case hex digits (`hex64`), only the registers
 *   the crossing defines.
 * - Operand fields: `in.<operand>` / `out.<operand>` for a plain operand (hex64), and
 *   `in.<operand>.<field>` for each field of a packed operand. Fields up to 8 bits wide (levels,
 *   flags, small indices) are decimal; wider ones are `0x` hex. Reserved fields appear only when
 *   non-zero, since that is when they matter (the module rejects them).
 * - Statuses: TraceStatus with the name, flags, details and a one-line explanation.
 */
import { hex64, type Bitfield } from '../abi/bitfield.ts';
import type { RegOperand } from '../abi/leaf.ts';
import { Gpr, GPR_NAMES, gprKey, type GprName, type RegisterFile } from '../abi/registers.ts';
import {
  decodeStatus,
  decodeTdvmcallStatus,
  formatDecodedStatus,
  formatExitReason,
  formatTdvmcallStatus,
  type DecodedStatus,
} from '../abi/status-decode.ts';
import { statusCode } from '../abi/status.ts';
import type { TraceStatus } from './events.ts';

/** Widest field still printed in decimal. */
const DECIMAL_FIELD_MAX_WIDTH = 8;

/** The registers `names` hold in `regs`, keyed by lower-case name, in the order given. */
export function registerRecord(regs: RegisterFile, names: Iterable<GprName>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) out[gprKey(Gpr[n])] = hex64(regs.gpr[Gpr[n]]!);
  return out;
}

/** RAX (leaf word in, status out) followed by the operands' registers, each once. */
export function operandRegisters(operands: readonly RegOperand[]): GprName[] {
  const regs = new Set<GprName>(['RAX']);
  for (const op of operands) regs.add(op.reg);
  return [...regs];
}

/** The GPRs a 16-bit GPR-select mask names (bit i = GPR i), in architectural order. */
export function selectedGprs(mask: bigint): GprName[] {
  return GPR_NAMES.filter((_n, i) => ((mask >> BigInt(i)) & 1n) === 1n);
}

function fieldText(width: number, value: bigint): string {
  return width <= DECIMAL_FIELD_MAX_WIDTH ? value.toString() : '0x' + value.toString(16).toUpperCase();
}

/** Add one packed value's fields under `prefix` (skipping zero reserved fields). */
export function addBitfieldFields(out: Record<string, string>, prefix: string, layout: Bitfield, value: bigint): void {
  for (const f of layout.fields) {
    const v = (value & f.mask) >> BigInt(f.lsb);
    if (f.name.startsWith('reserved') && v === 0n) continue;
    out[`${prefix}.${f.name}`] = fieldText(f.width, v);
  }
}

/** Add the named operands of one direction (`in` or `out`), decoding packed ones. */
export function addOperandFields(out: Record<string, string>, dir: 'in' | 'out', operands: readonly RegOperand[], regs: RegisterFile): void {
  for (const op of operands) {
    const value = regs.gpr[Gpr[op.reg]]!;
    if (op.layout) addBitfieldFields(out, `${dir}.${op.name}`, op.layout, value);
    else out[`${dir}.${op.name}`] = hex64(value);
  }
}

/** What bits 31:0 of a module status say, in words (absent when they carry nothing). */
function statusDetail(d: DecodedStatus): string | undefined {
  switch (d.detailsKind) {
    case 'operand':
      return d.operand?.name ?? `operand ${d.operand?.id}`;
    case 'septLevel':
      return `level ${d.level?.name ?? d.level?.value}`;
    case 'msr':
      return `MSR 0x${(d.msr ?? 0).toString(16).toUpperCase()}`;
    case 'exitReason':
      return d.exitReason ? formatExitReason(d.exitReason) : undefined;
    case 'trapVector':
      return d.trapVector?.name ?? `vector ${d.trapVector?.value}`;
    case 'raw':
      return `details 0x${d.detailsL2.toString(16).toUpperCase()}`;
    case 'vmfailMarker':
    case 'none':
      return undefined;
  }
}

/** A module completion status (RAX after SEAMCALL/TDCALL, or TDH.VP.ENTER's exit status). */
export function tdxTraceStatus(value: bigint): TraceStatus {
  const d = decodeStatus(value);
  const detail = statusDetail(d);
  const flags: string[] = [];
  if (d.error) flags.push('error');
  if (d.nonRecoverable) flags.push('non-recoverable');
  if (d.fatal) flags.push('fatal');
  if (d.hostRecoverabilityHint) flags.push('host-recoverability-hint');
  if (d.software) flags.push('software');
  return {
    value: d.hex,
    ...(d.name !== undefined && { name: d.name }),
    ...(detail !== undefined && { detail, detailKind: d.detailsKind }),
    error: d.error,
    domain: 'tdx',
    // Success and TD exits carry code 0 in bits 63:32; any other code without the error bit is a
    // warning (PAGE_ALREADY_ACCEPTED, KEY_CONFIGURED, the NON_RECOVERABLE TD exits).
    warning: !d.error && statusCode(value) !== 0n,
    flags,
    text: formatDecodedStatus(d),
  };
}

/** The VMM's TDVMCALL status (R10 after TDG.VP.VMCALL). RETRY is a warning: call again. */
export function tdvmcallTraceStatus(r10: bigint): TraceStatus {
  const d = decodeTdvmcallStatus(r10);
  return {
    value: d.hex,
    ...(d.name !== undefined && { name: d.name }),
    error: d.error,
    domain: 'tdvmcall',
    warning: !d.error && r10 !== 0n,
    flags: d.error ? ['error'] : [],
    text: formatTdvmcallStatus(d),
  };
}

/** A value from outside the ABI tables (exit records, replies) as trace data. */
export type TraceScalar = string | number | boolean;

/**
 * Flatten a host or userspace record (an exit record, a reply) into trace data: bigints become
 * hex64 strings, arrays become `key[i]`, nested objects `key.sub`; functions and undefined are
 * dropped. Only own enumerable properties are read.
 */
export function flattenRecord(record: object, out: Record<string, TraceScalar> = {}, prefix = ''): Record<string, TraceScalar> {
  for (const [key, value] of Object.entries(record)) flattenValue(out, prefix + key, value);
  return out;
}

function flattenValue(out: Record<string, TraceScalar>, key: string, value: unknown): void {
  switch (typeof value) {
    case 'bigint':
      out[key] = hex64(value);
      return;
    case 'number':
    case 'string':
    case 'boolean':
      out[key] = value;
      return;
    case 'object':
      if (value === null) return;
      if (Array.isArray(value)) value.forEach((v, i) => flattenValue(out, `${key}[${i}]`, v));
      else flattenRecord(value, out, `${key}.`);
      return;
    default:
      return;
  }
}
