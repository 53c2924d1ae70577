/**
 * The host's trace emit points: the kernel's handling of a TDVMCALL, the exit records KVM_RUN
 * returns to userspace and userspace's answers, and the shared-EPT side of private↔shared
 * conversions. Each is called from a single `if (tracer.enabled) …` line at the place it
 * happens; the events are built by the trace helpers (src/trace/record.ts). The host reaches the
 * tracer through its Platform.
 */
import type { RegisterFile } from '../abi/registers.ts';
import type { LogicalProcessor } from '../platform/processor.ts';
import { SHARED_PAGE_STATE } from '../trace/page-states.ts';
import { tracePage, traceTdvmcall, traceUserComplete, traceUserExit, type TraceWhere } from '../trace/record.ts';
import type { Tracer } from '../trace/tracer.ts';
import type { ExitRecord, ExitReply } from './exit-records.ts';
import type { TdxVcpu } from './vcpu.ts';

/** The tracer of the platform an LP belongs to. */
export function tracerOf(lp: LogicalProcessor): Tracer {
  return lp.platform.tracer;
}

/** Where a vCPU's crossings happen: its TD (by TDR), its index and its LP. */
function where(vcpu: TdxVcpu): TraceWhere {
  return { td: vcpu.vm.tdr, vcpu: vcpu.index, lp: vcpu.lp.id };
}

/**
 * The kernel handled a TDVMCALL: `regsIn` are the exit registers as the guest filled them, and
 * the vCPU's registers now hold the reply so far (userspace may still complete it).
 */
export function traceTdvmcallHandled(tracer: Tracer, vcpu: TdxVcpu, regsIn: RegisterFile): void {
  traceTdvmcall(tracer, where(vcpu), regsIn, vcpu.regs);
}

/** KVM_RUN returns an exit record to userspace. */
export function traceExitToUser(tracer: Tracer, vcpu: TdxVcpu, record: ExitRecord): void {
  traceUserExit(tracer, where(vcpu), record);
}

/** Userspace's answer takes effect as KVM_RUN resumes (none: KVM's presets stand). */
export function traceUserReply(tracer: Tracer, vcpu: TdxVcpu, reply: ExitReply | undefined): void {
  traceUserComplete(tracer, where(vcpu), reply);
}

/**
 * A GFN changed attribute (KVM_SET_MEMORY_ATTRIBUTES). To shared: the private page was zapped
 * first (its BLOCK and REMOVE are traced by the module), so the GFN goes from FREE to the shared
 * EPT. To private: the shared mapping is dropped and the GFN waits, FREE, for PAGE.AUG.
 */
export function traceAttributeChange(tracer: Tracer, tdr: bigint, gpa: bigint, toPrivate: boolean): void {
  tracePage(tracer, toPrivate ? { td: tdr, gpa, from: SHARED_PAGE_STATE, to: 'FREE', level: 0 } : { td: tdr, gpa, from: 'FREE', to: SHARED_PAGE_STATE, level: 0 });
}
