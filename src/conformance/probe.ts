/**
 * Probing one SEAMCALL leaf the way a conformance case wants to see it.
 *
 * `probe` starts from sentinel registers (sentinel.ts), loads the named inputs, issues the leaf
 * and keeps both images. `expectProbe` then checks the registers the case names exactly and,
 * for every other GPR that is not one of the leaf's output registers (per the leaf table), that
 * it came back exactly as it went in — the module writes only its outputs and restores every
 * other GPR (facts tdx-module.md §1 "Register preservation for normal SEAMCALLs").
 */
import { GPR_NAMES, type RegisterFile } from '../abi/registers.ts';
import type { GuestCpu, GuestGen } from '../platform/guest-cpu.ts';
import { writeOperands, type LeafDef, type OperandValues } from '../abi/leaf.ts';
import { LEAF_WORD } from '../abi/operands.ts';
import type { Machine } from './machine.ts';
import { sentinelRegs } from './sentinel.ts';
import { expectRegs, regValue, type RegExpectation, type RegKey, type RegSource } from './expect.ts';

export interface Probe {
  readonly leaf: LeafDef;
  /** Registers as the SEAMCALL (or TDCALL) received them. */
  readonly before: RegSource;
  /** Registers after SEAMRET (or after the TDCALL completed). */
  readonly after: RegSource;
  readonly status: bigint;
}

/** A SEAMCALL probe keeps the live register files. */
export interface SeamcallProbe extends Probe {
  readonly before: RegisterFile;
  readonly after: RegisterFile;
}

export interface ProbeOptions {
  readonly lp?: number;
  readonly version?: number;
  /** Start from these registers instead of the sentinels (operands are still loaded on top). */
  readonly regs?: RegisterFile;
}

/** Issue `leaf` on LP `lp` with sentinel registers plus `inputs`. */
export function probe<L extends LeafDef>(m: Machine, leaf: L, inputs: Partial<OperandValues<L['inputs']>> = {}, options: ProbeOptions = {}): SeamcallProbe {
  const before = (options.regs ?? sentinelRegs()).clone();
  writeOperands(leaf.inputs, before, inputs);
  before.set('RAX', LEAF_WORD.encode({ leaf: leaf.number, version: options.version ?? 0 }));
  const after = m.lp(options.lp ?? 0).seamcall(before.clone());
  return { leaf, before, after, status: after.get('RAX') };
}

/**
 * The same from inside a TD: issue TDCALL `leaf` from guest sentinel registers plus `inputs`
 * (RSP excepted), returning both images as snapshots for the case's check.
 */
export function* guestProbe<L extends LeafDef>(cpu: GuestCpu, leaf: L, inputs: Partial<OperandValues<L['inputs']>> = {}, version = 0): GuestGen<Probe> {
  const start = sentinelRegs();
  for (const n of GPR_NAMES) if (n !== 'RSP') cpu.regs.set(n, start.get(n));
  writeOperands(leaf.inputs, cpu.regs, inputs);
  cpu.regs.set('RAX', LEAF_WORD.encode({ leaf: leaf.number, version }));
  const before = cpu.regs.toRecord();
  yield* cpu.tdcall();
  const after = cpu.regs.toRecord();
  return { leaf, before, after, status: after.RAX };
}

/**
 * Expect the named registers, and every other GPR that is not an output of the leaf to be
 * unchanged. Works on SEAMCALL and TDCALL probes alike. `alsoWritten` names registers the leaf may write beyond its table outputs (e.g. a
 * version-1 output), which are then not checked unless named.
 */
export function expectProbe(p: Probe, expected: RegExpectation, what = p.leaf.mnemonic, alsoWritten: readonly string[] = []): void {
  const outputs = new Set<string>([...p.leaf.outputs.map((o) => o.reg.toLowerCase()), ...alsoWritten.map((r) => r.toLowerCase())]);
  const full: RegExpectation = { ...expected };
  for (const n of GPR_NAMES) {
    const k = n.toLowerCase() as RegKey;
    if (n === 'RAX' || n === 'RSP' || k in full || outputs.has(k)) continue;
    full[k] = regValue(p.before, n)!;
  }
  expectRegs(p.after, full, { what });
}
