/**
 * The module's trace emit points, one function per crossing or state change, so each call site
 * in the leaf handlers is a single `if (tracer.enabled) …` line and the handlers stay as they
 * read in the spec. Each function gathers what the trace helpers (src/trace/record.ts) need from
 * the module's state — which TD, vCPU and LP, the register files, the Secure-EPT state after the
 * change, the measurement so far — and never changes that state. They are only called while
 * tracing is on, so they may copy register files and hashes freely.
 */
import { Gpr, type RegisterFile } from '../abi/registers.ts';
import type { SeptStateName } from '../abi/sept.ts';
import type { TraceMeasureOp } from '../trace/events.ts';
import { traceTdcallRegs } from '../trace/crossings.ts';
import { traceGuestResume, traceMeasure, tracePage, traceTdEntry, traceTdExit, traceVe, type TraceWhere } from '../trace/record.ts';
import type { Tracer } from '../trace/tracer.ts';
import type { TdcallOutcome } from './context.ts';
import type { Td } from './td.ts';
import type { Vcpu } from './vcpu.ts';

/** Where a vCPU crossing happens: its TD (by TDR), its index and the LP it is associated with. */
export function vcpuWhere(vcpu: Vcpu): TraceWhere {
  return { td: vcpu.td.tdr, vcpu: vcpu.index, ...(vcpu.assocLp >= 0 && { lp: vcpu.assocLp }) };
}

/**
 * A guest TDCALL the dispatcher has decided: `regsIn` are the guest's registers before it. A
 * completed leaf is traced with its status (as it will be in RAX); TDG.VP.VMCALL leaving the TD
 * opens the round trip the TD exit, the host and the guest's resume continue. A TDCALL that
 * raises an exception is traced by the exception (#VE), and one that leaves the TD for another
 * reason (an EPT violation on an operand) by the asynchronous TD exit.
 */
export function traceTdcallOutcome(tracer: Tracer, vcpu: Vcpu, regsIn: RegisterFile, outcome: TdcallOutcome): void {
  if (outcome.kind === 'status') {
    const regsOut = vcpu.cpu.regs.clone();
    regsOut.gpr[Gpr.RAX] = outcome.status;
    traceTdcallRegs(tracer, vcpuWhere(vcpu), regsIn, regsOut);
  } else if (outcome.kind === 'exit' && outcome.exit.kind === 'tdvmcall') {
    traceTdcallRegs(tracer, vcpuWhere(vcpu), regsIn);
  }
}

/** TDH.VP.ENTER passed its checks: `hostRegs` are the host's inputs (the VMM's reply, if any). */
export function traceVpEntry(tracer: Tracer, vcpu: Vcpu, hostRegs: RegisterFile): void {
  traceTdEntry(tracer, vcpuWhere(vcpu), hostRegs);
}

/**
 * The guest continues after a TDVMCALL, its registers loaded from the host's reply: the end of the
 * round trip the guest's TDCALL opened.
 */
export function traceVmcallResume(tracer: Tracer, vcpu: Vcpu): void {
  traceGuestResume(tracer, vcpuWhere(vcpu), vcpu.cpu.regs);
}

/**
 * A TD exit: `hostRegs` is the register image built for the host and `rax` the exit status the
 * SEAMCALL is about to return in RAX (the dispatcher writes it after the handler returns).
 */
export function traceVpExit(tracer: Tracer, vcpu: Vcpu, hostRegs: RegisterFile, rax: bigint): void {
  const regs = hostRegs.clone();
  regs.gpr[Gpr.RAX] = rax;
  traceTdExit(tracer, vcpuWhere(vcpu), regs);
}

/**
 * A #VE delivered to the guest (the runner hands it to the guest's handler): VE_INFO holds what
 * TDG.VP.VEINFO.GET will return. Covers every source — an instruction the module makes the guest
 * emulate, and an EPT violation on a PENDING page or host MMIO.
 */
export function traceVeDelivered(tracer: Tracer, vcpu: Vcpu): void {
  const { exitReason, exitQualification, gla, gpa } = vcpu.veInfo;
  traceVe(tracer, vcpuWhere(vcpu), { exitReason, exitQualification, gla, gpa });
}

/**
 * A Secure-EPT entry changed: `from` is its state before, the state after is read back from the
 * tree (so the trace shows what the SEPT holds, not what the caller meant to write).
 */
export function traceSeptChange(tracer: Tracer, td: Td, gpa: bigint, level: number, from: SeptStateName): void {
  const to = td.sept?.walk(gpa, level).stateName;
  if (to === undefined || to === from) return;
  tracePage(tracer, { td: td.tdr, gpa, from, to, level });
}

/**
 * MRTD was extended (TDH.MEM.PAGE.ADD, TDH.MR.EXTEND) or finalised (TDH.MR.FINALIZE). While the
 * TD is being built MRTD is a running SHA-384; the trace shows the digest it would have if it
 * were finalised now (a copy of the hash is finished, the TD's own hash goes on).
 */
export function traceMrtd(tracer: Tracer, td: Td, op: TraceMeasureOp, gpa?: bigint): void {
  const digest = td.mrtdHash ? new Uint8Array(td.mrtdHash.copy().digest()) : td.mrtd;
  traceMeasure(tracer, { td: td.tdr, register: 'MRTD', op, digest, ...(gpa !== undefined && { gpa }) });
}

/** RTMR[index] was extended with `input` (read from the guest's buffer at `gpa`). */
export function traceRtmr(tracer: Tracer, td: Td, index: number, gpa: bigint, input: Uint8Array): void {
  const register = (['RTMR0', 'RTMR1', 'RTMR2', 'RTMR3'] as const)[index];
  if (register === undefined) return;
  traceMeasure(tracer, { td: td.tdr, register, op: 'RTMR.EXTEND', digest: td.rtmr[index]!, gpa, input });
}
