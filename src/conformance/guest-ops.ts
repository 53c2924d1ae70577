/**
 * Raw guest instructions the suite's own guest parts use: a TDCALL of any leaf word and a
 * TDG.VP.VMCALL with exactly the registers a case names. They bypass the guest library on
 * purpose: a host or module case must present the same registers whatever library is under
 * test, and a module case must be able to present malformed ones.
 *
 * Each returns a snapshot of the guest's registers right after the instruction, which is what
 * the case asserts on.
 */
import { Gpr, type GprName } from '../abi/registers.ts';
import { LEAF_WORD, TDVMCALL_CONTROL } from '../abi/operands.ts';
import { TdcallLeaf } from '../abi/tdcall-leaves.ts';
import { TDVMCALL_EXPOSE_REGS_MASK, TDVMCALL_REGS, TDX_HYPERCALL_STANDARD } from '../abi/tdvmcall.ts';
import type { GuestCpu, GuestGen } from '../platform/guest-cpu.ts';

export type RegSnapshot = Record<GprName, bigint>;

/** TDCALL with RAX = leaf word (`leaf`, `version`) and the given registers. */
export function* rawTdcall(cpu: GuestCpu, leaf: number, regs: Partial<Record<GprName, bigint>> = {}, version = 0): GuestGen<RegSnapshot> {
  for (const [name, v] of Object.entries(regs) as [GprName, bigint][]) cpu.regs.set(name, v);
  cpu.regs.set('RAX', LEAF_WORD.encode({ leaf, version }));
  yield* cpu.tdcall();
  return cpu.regs.toRecord();
}

/** TDCALL with an arbitrary RAX (for reserved-bit checks). */
export function* rawTdcallRax(cpu: GuestCpu, rax: bigint, regs: Partial<Record<GprName, bigint>> = {}): GuestGen<RegSnapshot> {
  for (const [name, v] of Object.entries(regs) as [GprName, bigint][]) cpu.regs.set(name, v);
  cpu.regs.set('RAX', rax);
  yield* cpu.tdcall();
  return cpu.regs.toRecord();
}

/**
 * TDG.VP.VMCALL exposing `mask` (default Linux's 0xFFCC), after loading `regs`. Exposed registers
 * the case does not name are loaded with 0, as Linux's zero-initialised argument block does.
 */
export function* rawTdvmcall(cpu: GuestCpu, regs: Partial<Record<GprName, bigint>>, mask: bigint = TDVMCALL_EXPOSE_REGS_MASK): GuestGen<RegSnapshot> {
  for (let i = 0; i < 16; i++) if ((mask >> BigInt(i)) & 1n) cpu.regs.gpr[i] = 0n;
  for (const [name, v] of Object.entries(regs) as [GprName, bigint][]) cpu.regs.set(name, v);
  cpu.regs.set('RCX', mask);
  return yield* rawTdcall(cpu, TdcallLeaf.TDG_VP_VMCALL.number);
}

/** A standard GHCI call: R10 = TDX_HYPERCALL_STANDARD, R11 = sub-function, then `args`. */
export function* rawGhci(cpu: GuestCpu, subfunction: number, args: Partial<Record<GprName, bigint>> = {}): GuestGen<RegSnapshot> {
  return yield* rawTdvmcall(cpu, { [TDVMCALL_REGS.callType]: TDX_HYPERCALL_STANDARD, [TDVMCALL_REGS.subfunction]: BigInt(subfunction), ...args });
}

/** A gpr_select bitmap exposing exactly `names`. */
export function exposing(...names: GprName[]): bigint {
  return TDVMCALL_CONTROL.encode({ gpr_select: names.reduce((m, n) => m | (1n << BigInt(Gpr[n])), 0n) });
}
