/**
 * The TDCALL dispatcher: a guest TDCALL from decoding RAX to the effect on the guest
 * (`td_call` in the TDX module's TD dispatcher; facts tdx-module.md §1).
 *
 *   - TDCALL above CPL 0 is #GP(0): an ISA rule of the instruction (facts §12), so a guest
 *     application cannot reach the module behind its kernel's back;
 *   - RAX bits 63:24 must be 0, a version above the leaf's maximum and a leaf the module does not
 *     dispatch are OPERAND_INVALID | RAX;
 *   - the leaf handler (TDCALL_HANDLERS through `module.tdcallLeaf`) then decides what happens:
 *       `status`  the leaf completed: RAX = status, RIP moves past TDCALL;
 *       `exit`    the leaf leaves the TD (TDG.VP.VMCALL, or an EPT violation on an operand): the
 *                 vCPU runner performs the TD exit and resumes the guest at the next entry;
 *       `inject`  the leaf raises an exception (#VE, #GP…) instead of completing: RIP stays on
 *                 TDCALL, the guest's handler runs;
 *   - a leaf that lost a host-priority lock (OPERAND_BUSY_HOST_PRIORITY) is reported to the guest
 *     as OPERAND_BUSY with the same operand, as the module does for backward compatibility.
 *
 * Not modelled: the HP_LOCK_TIMEOUT TD exit (TDX_HOST_PRIORITY_BUSY_TIMEOUT) needs the TSC, and
 * the simulated platform has no notion of time between instructions.
 */
import { Gpr } from '../abi/registers.ts';
import { OperandId, STATUS_DETAILS_MASK, TdxStatus, statusCode, withOperand } from '../abi/status.ts';
import { Vector } from '../abi/vmx.ts';
import type { OpResult } from '../platform/guest-cpu.ts';
import type { TdcallOutcome, TdExitRequest } from './context.ts';
import type { TdxModule } from './module.ts';
import { decodeLeafWord } from './leaf-word.ts';
import type { Vcpu } from './vcpu.ts';
import { traceTdcallOutcome } from './trace-points.ts';

/** What the vCPU runner does with one TDCALL. */
export type TdcallStep =
  | { readonly kind: 'result'; readonly result: OpResult }
  | { readonly kind: 'exit'; readonly exit: TdExitRequest };

const DONE: OpResult = { kind: 'done' };
const COMPLETED: TdcallStep = Object.freeze({ kind: 'result', result: DONE });
const INVALID_RAX: TdcallOutcome = Object.freeze({ kind: 'status', status: withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RAX) });

/** Execute the guest's TDCALL (leaf word and operands in the guest's registers). */
export function executeTdcall(module: TdxModule, vcpu: Vcpu): TdcallStep {
  if (vcpu.cpu.cpl > 0) return { kind: 'result', result: { kind: 'fault', vector: Vector.GP, errorCode: 0n } };
  const tracer = module.platform.tracer;
  const traceIn = tracer.enabled ? vcpu.cpu.regs.clone() : undefined;
  const outcome = dispatchTdcall(module, vcpu);
  if (traceIn) traceTdcallOutcome(tracer, vcpu, traceIn, outcome);
  switch (outcome.kind) {
    case 'status':
      vcpu.cpu.regs.gpr[Gpr.RAX] = outcome.status;
      return COMPLETED;
    case 'inject':
      return { kind: 'result', result: { kind: 'fault', vector: outcome.vector, ...(outcome.errorCode !== undefined && { errorCode: outcome.errorCode }) } };
    case 'exit':
      return { kind: 'exit', exit: outcome.exit };
  }
}

/** Decode RAX, run the leaf handler, and apply the host-priority status conversion. */
export function dispatchTdcall(module: TdxModule, vcpu: Vcpu): TdcallOutcome {
  const regs = vcpu.cpu.regs;
  const word = decodeLeafWord(regs);
  if (!word) return INVALID_RAX;
  const { number, version } = word;
  const entry = module.tdcallLeaf(number);
  if (!entry || version > entry.leaf.maxVersion) return INVALID_RAX;
  const outcome = entry.handler({ module, vcpu, regs, version });
  if (outcome.kind === 'status' && statusCode(outcome.status) === TdxStatus.TDX_OPERAND_BUSY_HOST_PRIORITY) {
    return { kind: 'status', status: TdxStatus.TDX_OPERAND_BUSY | (outcome.status & STATUS_DETAILS_MASK) };
  }
  return outcome;
}
