/**
 * What an exit handler decides, and the register helpers every handler uses to write KVM's reply
 * into the registers the next TDH.VP.ENTER hands back to the guest.
 */
import { Gpr, type RegisterFile } from '../abi/registers.ts';
import { TDVMCALL_REGS } from '../abi/tdvmcall.ts';
import type { HostError } from './errors.ts';
import type { ExitRecord, ExitReply } from './exit-records.ts';
import type { TdxVcpu } from './vcpu.ts';

export type ExitAction =
  /** Handled in the kernel: re-enter the TD. */
  | { readonly kind: 'resume' }
  /** Return `record` to userspace; `complete` applies its reply (or KVM's presets) later. */
  | { readonly kind: 'user'; readonly record: ExitRecord; readonly complete?: (reply: ExitReply | undefined) => ExitAction }
  /** TDVMCALL<HLT>: block until an interrupt (the vCPU decides whether one is already pending). */
  | { readonly kind: 'halt'; readonly interruptsBlocked: boolean }
  /** KVM_BUG_ON / kvm_vm_dead: the VM is dead and KVM_RUN fails with this error. */
  | { readonly kind: 'dead'; readonly error: HostError };

export const RESUME: ExitAction = Object.freeze({ kind: 'resume' });

export interface ExitContext {
  readonly vcpu: TdxVcpu;
  /** The exit registers; what is left in them goes back to the guest. */
  readonly regs: RegisterFile;
  /** TDH.VP.ENTER's raw RAX. */
  readonly status: bigint;
}

/** R10: the TDVMCALL status the guest sees. */
export function setTdvmcallStatus(regs: RegisterFile, status: bigint): void {
  regs.gpr[Gpr[TDVMCALL_REGS.status]] = status;
}

/** R11: the TDVMCALL's main return value. */
export function setTdvmcallReturn(regs: RegisterFile, value: bigint): void {
  regs.gpr[Gpr[TDVMCALL_REGS.results[0]!]] = value;
}

/** The sub-function (R11) and call type (R10) of a TDVMCALL exit. */
export function tdvmcallCall(regs: RegisterFile): { callType: bigint; subfunction: bigint } {
  return { callType: regs.gpr[Gpr[TDVMCALL_REGS.callType]]!, subfunction: regs.gpr[Gpr[TDVMCALL_REGS.subfunction]]! };
}
