/**
 * The canary guest: a TD program that checks, from inside the TD, what a hostile host may do to
 * it across TDG.VP.VMCALL.
 *
 * It loops forever. Each round it loads every GPR it may set (all but RAX, RCX and RSP, which the
 * TDCALL itself uses or cannot change) and every XMM register: the ones it is about to expose get
 * public round-numbered values, the others get TD secrets — random words registered in the
 * SecretWords set, so the host-side scans flag them if they ever appear in a host register. Then
 * it issues TDG.VP.VMCALL exposing a varying subset of the registers Linux may expose, and when it
 * resumes (whatever the host replied) it checks that every register it did not expose still holds
 * its value (checkUnexposedRegisters). A failure is left in `state.violation` for the fuzz step to
 * collect; the guest keeps running.
 */
import { Gpr, GPR_COUNT, RegisterFile, XMM_COUNT } from '../abi/registers.ts';
import { LEAF_WORD, TDVMCALL_CONTROL } from '../abi/operands.ts';
import { TdcallLeaf } from '../abi/tdcall-leaves.ts';
import { TDVMCALL_EXPOSE_REGS_MASK } from '../abi/tdvmcall.ts';
import { hex64 } from '../abi/bitfield.ts';
import type { GuestCpu, GuestGen, GuestProgram } from '../platform/guest-cpu.ts';
import { checkUnexposedRegisters, Invariant, violation, type SecretWords, type Violation } from './invariants.ts';
import { Rng } from './rng.ts';

export interface CanaryState {
  /** First violation the guest saw since the fuzz step last collected it. */
  violation: Violation | undefined;
  /** TDVMCALLs completed. */
  rounds: number;
}

/** Fixed seed: a canary's secrets and masks are the same in every replay of a world. */
const CANARY_SEED = 20_251_122n;

/** A canary program whose secrets go into `secrets` and whose findings go into `state`. */
export function canaryProgram(state: CanaryState, secrets: SecretWords, stream: number): GuestProgram {
  const rng = new Rng(CANARY_SEED + BigInt(stream));
  const secretGpr = Array.from({ length: GPR_COUNT }, () => rng.u64());
  const secretXmm = Array.from({ length: XMM_COUNT * 2 }, () => rng.u64());
  for (const w of [...secretGpr, ...secretXmm]) secrets.add(w);
  const exposable = [...Array(GPR_COUNT).keys()].filter((i) => (TDVMCALL_EXPOSE_REGS_MASK >> BigInt(i)) & 1n);
  return function* canary(cpu: GuestCpu): GuestGen<void> {
    const before = new RegisterFile();
    for (;;) {
      let mask = 0n;
      for (const i of exposable) if (rng.chance(0.5)) mask |= 1n << BigInt(i);
      yield* round(cpu, state, mask, secretGpr, secretXmm, before);
    }
  };
}

function* round(cpu: GuestCpu, state: CanaryState, mask: bigint, secretGpr: bigint[], secretXmm: bigint[], before: RegisterFile): GuestGen<void> {
  const g = cpu.regs.gpr;
  const n = BigInt(state.rounds + 1);
  for (let i = 0; i < GPR_COUNT; i++) {
    if (i === Gpr.RAX || i === Gpr.RCX || i === Gpr.RSP) continue;
    g[i] = (mask >> BigInt(i)) & 1n ? (n << 8n) | BigInt(i) : secretGpr[i]!;
  }
  cpu.regs.xmm.set(secretXmm);
  g[Gpr.RAX] = LEAF_WORD.encode({ leaf: TdcallLeaf.TDG_VP_VMCALL.number, version: 0 });
  g[Gpr.RCX] = TDVMCALL_CONTROL.encode({ gpr_select: mask, xmm_select: 0n });
  before.copyFrom(cpu.regs);
  yield* cpu.tdcall();
  state.rounds++;
  const status = g[Gpr.RAX]!;
  // A valid control word cannot fail; if the module failed it anyway nothing may have changed.
  const where = `canary TDVMCALL ${state.rounds} (TDCALL status ${hex64(status)})`;
  const v = checkUnexposedRegisters(before, cpu.regs, status === 0n ? mask : 0n, where);
  if (v) state.violation ??= v;
  for (let i = 0; i < secretXmm.length; i++) {
    if (cpu.regs.xmm[i] !== secretXmm[i]) {
      state.violation ??= violation(Invariant.UNEXPOSED_REGISTERS, `${where}: unexposed XMM${i >> 1} changed to ${hex64(cpu.regs.xmm[i]!)}`);
      break;
    }
  }
}
