/**
 * Exits for the GHCI sub-functions (TDG.VP.VMCALL with R10 = 0 and R11 ≥ 0x10000): what KVM
 * handles itself, what it forwards to userspace, and what it refuses (arch/x86/kvm/vmx/tdx.c;
 * facts linux-tdx.md §4.3).
 *
 *   GetTdVmCallInfo   leaf 0: R11–R14 = 0, SUCCESS; leaf 1: KVM_EXIT_TDX (ret preset SUCCESS,
 *                     r11–r14 preset 0), the reply's values go to R10–R14.
 *   MapGPA            KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE) per ≤ 2 MB chunk; a non-zero
 *                     `ret` fails the call (INVALID_OPERAND, R11 = the chunk's GPA); between
 *                     chunks a pending interrupt makes it RETRY with R11 = the next GPA.
 *   GetQuote          KVM_EXIT_TDX (ret preset SUBFUNC_UNSUPPORTED); R10 = the reply's ret.
 *   ReportFatalError  KVM_EXIT_SYSTEM_EVENT(TDX_FATAL) with the 16 GPRs; no completion: running
 *                     again resumes the guest with its registers unchanged.
 *   SetupEventNotify  KVM_EXIT_TDX (ret preset SUBFUNC_UNSUPPORTED); R10 = the reply's ret.
 *   anything else     SUBFUNC_UNSUPPORTED, without exiting to userspace.
 */
import { Gpr, GPR_COUNT } from '../abi/registers.ts';
import { MAP_GPA_MAX_CHUNK, TdvmcallSubfunction } from '../abi/tdvmcall.ts';
import { TdvmcallStatus } from '../abi/tdvmcall-status.ts';
import {
  KVM_EXIT_HYPERCALL_LONG_MODE,
  KVM_MAP_GPA_RANGE_DECRYPTED,
  KVM_MAP_GPA_RANGE_ENCRYPTED,
  KVM_SYSTEM_EVENT_TDX_FATAL,
  KVM_SYSTEM_EVENT_TDX_FATAL_NDATA,
  KvmExitReason,
  KvmHypercall,
} from '../abi/kvm.ts';
import { PAGE_SHIFT } from '../abi/pamt.ts';
import {
  decodeGetQuote,
  decodeGetTdVmCallInfo,
  decodeMapGpa,
  decodeSetupEventNotify,
  fatalErrorMessage,
  mapGpaChunk,
  stripShared,
  isPrivateGpa,
} from './tdvmcall-args.ts';
import { RESUME, setTdvmcallReturn, setTdvmcallStatus, type ExitAction, type ExitContext } from './exit-action.ts';
import { refuse } from './exit-instructions.ts';
import type { ExitReply, TdxReply } from './exit-records.ts';
import type { TdxVcpu } from './vcpu.ts';

const INFO_OUTPUT_REGS = TdvmcallSubfunction.GET_TD_VM_CALL_INFO.outputs.map((o) => o.reg);

function tdxReply(reply: ExitReply | undefined): TdxReply | undefined {
  return reply && reply.kind === 'tdx' ? reply : undefined;
}

export function getTdVmCallInfo(ctx: ExitContext): ExitAction {
  const d = decodeGetTdVmCallInfo(ctx.regs);
  if (!d.ok) return refuse(ctx, d, 'tdvmcallinfo-leaf');
  const g = ctx.regs.gpr;
  if (d.value.leaf === 0) {
    for (const r of INFO_OUTPUT_REGS) g[Gpr[r]] = 0n;
    setTdvmcallStatus(ctx.regs, TdvmcallStatus.SUCCESS);
    return RESUME;
  }
  const sub = TdvmcallSubfunction.GET_TD_VM_CALL_INFO;
  return {
    kind: 'user',
    record: {
      kind: 'tdx',
      exitReason: KvmExitReason.TDX,
      flags: 0n,
      nr: BigInt(sub.number),
      call: 'get_tdvmcall_info',
      getTdvmcallInfo: { ret: TdvmcallStatus.SUCCESS, leaf: 1n, r11: 0n, r12: 0n, r13: 0n, r14: 0n },
    },
    complete: (reply) => {
      const t = tdxReply(reply);
      setTdvmcallStatus(ctx.regs, t?.ret ?? TdvmcallStatus.SUCCESS);
      const values = [t?.r11, t?.r12, t?.r13, t?.r14];
      INFO_OUTPUT_REGS.forEach((r, i) => (g[Gpr[r]] = values[i] ?? 0n));
      return RESUME;
    },
  };
}

export function mapGpa(ctx: ExitContext): ExitAction {
  const vm = ctx.vcpu.vm;
  const d = decodeMapGpa(ctx.regs, vm.addressing, vm.config.exitOnMapGpa ?? true);
  if (!d.ok) return refuse(ctx, d, 'mapgpa-invalid');
  ctx.vcpu.mapGpa = { next: d.value.gpa, end: d.value.gpa + d.value.size };
  return mapGpaChunkExit(ctx);
}

/** `__tdx_map_gpa`: the hypercall exit for the next chunk, with `tdx_complete_vmcall_map_gpa`. */
function mapGpaChunkExit(ctx: ExitContext): ExitAction {
  const vcpu: TdxVcpu = ctx.vcpu;
  const m = vcpu.mapGpa!;
  const a = vcpu.vm.addressing;
  const chunk = mapGpaChunk(m.next, m.end);
  const attrs = isPrivateGpa(chunk.gpa, a) ? KVM_MAP_GPA_RANGE_ENCRYPTED : KVM_MAP_GPA_RANGE_DECRYPTED;
  return {
    kind: 'user',
    record: {
      kind: 'hypercall',
      exitReason: KvmExitReason.HYPERCALL,
      nr: BigInt(KvmHypercall.MAP_GPA_RANGE),
      args: [stripShared(chunk.gpa, a), chunk.size >> PAGE_SHIFT, attrs, 0n, 0n, 0n],
      ret: 0n,
      flags: KVM_EXIT_HYPERCALL_LONG_MODE,
    },
    complete: (reply) => {
      const ret = reply && reply.kind === 'hypercall' ? reply.ret : 0n;
      if (ret !== 0n) {
        setTdvmcallStatus(ctx.regs, TdvmcallStatus.INVALID_OPERAND);
        setTdvmcallReturn(ctx.regs, m.next);
        vcpu.mapGpa = undefined;
        return RESUME;
      }
      m.next += MAP_GPA_MAX_CHUNK;
      if (m.next >= m.end) {
        vcpu.mapGpa = undefined;
        return RESUME;
      }
      // Stop early when an interrupt is pending, so the guest can take it (kvm_vcpu_has_events).
      if (vcpu.pi.pending()) {
        setTdvmcallStatus(ctx.regs, TdvmcallStatus.RETRY);
        setTdvmcallReturn(ctx.regs, m.next);
        vcpu.mapGpa = undefined;
        return RESUME;
      }
      return mapGpaChunkExit(ctx);
    },
  };
}

export function getQuote(ctx: ExitContext): ExitAction {
  const d = decodeGetQuote(ctx.regs, ctx.vcpu.vm.addressing);
  if (!d.ok) return refuse(ctx, d, 'getquote-private');
  return {
    kind: 'user',
    record: {
      kind: 'tdx',
      exitReason: KvmExitReason.TDX,
      flags: 0n,
      nr: BigInt(TdvmcallSubfunction.GET_QUOTE.number),
      call: 'get_quote',
      getQuote: { ret: TdvmcallStatus.SUBFUNC_UNSUPPORTED, gpa: d.value.gpa, size: d.value.size },
    },
    complete: (reply) => {
      setTdvmcallStatus(ctx.regs, tdxReply(reply)?.ret ?? TdvmcallStatus.SUBFUNC_UNSUPPORTED);
      return RESUME;
    },
  };
}

export function setupEventNotify(ctx: ExitContext): ExitAction {
  const d = decodeSetupEventNotify(ctx.regs);
  if (!d.ok) return refuse(ctx, d, 'notify-vector');
  return {
    kind: 'user',
    record: {
      kind: 'tdx',
      exitReason: KvmExitReason.TDX,
      flags: 0n,
      nr: BigInt(TdvmcallSubfunction.SETUP_EVENT_NOTIFY_INTERRUPT.number),
      call: 'setup_event_notify',
      setupEventNotify: { ret: TdvmcallStatus.SUBFUNC_UNSUPPORTED, vector: d.value.vector },
    },
    complete: (reply) => {
      setTdvmcallStatus(ctx.regs, tdxReply(reply)?.ret ?? TdvmcallStatus.SUBFUNC_UNSUPPORTED);
      return RESUME;
    },
  };
}

/**
 * `tdx_report_fatal_error`: the 16 GPRs in VCPU_REGS (architectural) order, RAX replaced by the
 * raw TDH.VP.ENTER result and RSP, RBP reported as 0 (KVM has neither for a TD).
 */
export function reportFatalError(ctx: ExitContext): ExitAction {
  const data = Array.from({ length: GPR_COUNT }, (_, i) => (i === Gpr.RSP || i === Gpr.RBP ? 0n : ctx.regs.gpr[i]!));
  data[Gpr.RAX] = ctx.status;
  return {
    kind: 'user',
    record: {
      kind: 'system_event',
      exitReason: KvmExitReason.SYSTEM_EVENT,
      type: KVM_SYSTEM_EVENT_TDX_FATAL,
      ndata: KVM_SYSTEM_EVENT_TDX_FATAL_NDATA,
      data,
      message: fatalErrorMessage(ctx.regs),
    },
  };
}

/** A sub-function KVM does not know: SUBFUNC_UNSUPPORTED, handled in the kernel. */
export function unsupportedSubfunction(ctx: ExitContext, subfunction: bigint): ExitAction {
  setTdvmcallStatus(ctx.regs, TdvmcallStatus.SUBFUNC_UNSUPPORTED);
  ctx.vcpu.vm.host.warnings.warn(ctx.vcpu.index, 'tdvmcall-unsupported', 'guest', `TDVMCALL sub-function 0x${subfunction.toString(16)} is not supported`);
  return RESUME;
}
