/**
 * RDMSR / WRMSR inside a TD: MSRs the module virtualises complete inside the TD; every other MSR
 * raises #VE so the guest can ask the VMM (TDG.VP.VMCALL<Instruction.RDMSR/WRMSR>), which is how
 * the host gets a say only over MSRs that cannot hurt the TD's confidentiality.
 *
 * The list and the write rules are in src/abi/msr.ts (TDX module 1.5 `td_msr_access.c`,
 * `td_exit.c`): a non-canonical address written to a base/entry-point MSR is #GP(0), as on the
 * CPU; a WRMSR to EFER that changes anything but SCE is #VE. Values are per vCPU (TDVPS), and the
 * module scrubs the context-switched ones from the host at every TD exit.
 */
import { Gpr } from '../abi/registers.ts';
import { U32_MASK } from '../abi/bitfield.ts';
import { VIRTUALIZED_MSRS, isCanonical48 } from '../abi/msr.ts';
import type { Vcpu } from './vcpu.ts';

export type MsrOutcome = { readonly kind: 'done' } | { readonly kind: 've' } | { readonly kind: 'gp' };

/** RDMSR with the MSR index in ECX: EDX:EAX = value (upper halves of RAX and RDX cleared). */
export function virtualizeRdmsr(vcpu: Vcpu): MsrOutcome {
  const g = vcpu.cpu.regs.gpr;
  const index = Number(g[Gpr.RCX]! & U32_MASK);
  const msr = VIRTUALIZED_MSRS.get(index);
  if (!msr) return { kind: 've' };
  const value = vcpu.msrs.get(index) ?? msr.initial;
  g[Gpr.RAX] = value & U32_MASK;
  g[Gpr.RDX] = (value >> 32n) & U32_MASK;
  return { kind: 'done' };
}

/** WRMSR with the MSR index in ECX and the value in EDX:EAX. */
export function virtualizeWrmsr(vcpu: Vcpu): MsrOutcome {
  const g = vcpu.cpu.regs.gpr;
  const index = Number(g[Gpr.RCX]! & U32_MASK);
  const msr = VIRTUALIZED_MSRS.get(index);
  if (!msr) return { kind: 've' };
  const value = ((g[Gpr.RDX]! & U32_MASK) << 32n) | (g[Gpr.RAX]! & U32_MASK);
  if (msr.canonical && !isCanonical48(value)) return { kind: 'gp' };
  const current = vcpu.msrs.get(index) ?? msr.initial;
  if (msr.writableMask !== undefined && ((value ^ current) & ~msr.writableMask) !== 0n) return { kind: 've' };
  vcpu.msrs.set(index, value);
  return { kind: 'done' };
}
