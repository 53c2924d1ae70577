/**
 * Classifying a TD exit and routing it, as KVM's `tdx_handle_exit` does (facts linux-tdx.md §4.2).
 *
 *   1. OPERAND_BUSY from TDH.VP.ENTER (zero-step mitigation or TD_EPOCH contention): re-enter.
 *   2. The exit reason is RAX bits 31:0 when the status is SUCCESS or one of the four
 *      NON_RECOVERABLE codes KVM knows; for any other status it is -1 (all ones).
 *   3. A software-defined status (#UD, #GP, VMfailInvalid: SEAMCALL never reached the module) is an
 *      unexpected exit and a KVM bug: KVM_EXIT_INTERNAL_ERROR, and the VM is dead afterwards.
 *   4. A failed VM entry (exit-reason bit 31 — which an error status's -1 also has) is
 *      KVM_EXIT_FAIL_ENTRY; without the NON_RECOVERABLE bit on a production TD it is also a KVM bug.
 *   5. An error or non-recoverable status other than a triple fault is an unexpected exit.
 *   6. By reason: TRIPLE_FAULT → KVM_EXIT_SHUTDOWN; EXCEPTION_NMI → re-enter for NMI/#MC, else
 *      KVM_EXIT_EXCEPTION; EXTERNAL_INTERRUPT and OTHER_SMI → re-enter; TDCALL → the TDVMCALL
 *      (R10 ≠ 0: a KVM hypercall; else by sub-function in R11); EPT_VIOLATION → exit-ept.ts;
 *      anything else is unexpected.
 * Unexpected exits are KVM_EXIT_INTERNAL_ERROR (UNEXPECTED_EXIT_REASON, data = raw RAX and the LP).
 *
 * Note on codes: KVM compares NON_RECOVERABLE_TD and _WRONG_APIC_MODE with Linux's values, which
 * differ from the module's (status.ts). tdxsim uses the module's values, so its host classifies
 * those exits as a module-faithful KVM would.
 */
import { Gpr, type RegisterFile } from '../abi/registers.ts';
import { U32_MASK } from '../abi/bitfield.ts';
import { EXIT_REASON_WORD } from '../abi/operands.ts';
import { STATUS_LAYOUT, TdxSoftwareStatus, TdxStatus, statusCode } from '../abi/status.ts';
import { decodeExitReason, decodeStatus, formatStatusShort } from '../abi/status-decode.ts';
import { VmxExitReason } from '../abi/vmx.ts';
import { INTERRUPTION_INFO, InterruptionType } from '../abi/vmx-events.ts';
import { KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, KvmExitReason } from '../abi/kvm.ts';
import { TDVMCALL_REGS, TdvmcallSubfunction } from '../abi/tdvmcall.ts';
import { HI32, LO32 } from '../abi/u64.ts';
import { TD_ATTRIBUTES } from '../abi/td-params.ts';
import { hex64 } from '../abi/bitfield.ts';
import { HostError } from './errors.ts';
import { RESUME, tdvmcallCall, type ExitAction, type ExitContext } from './exit-action.ts';
import { emulateCpuid, emulateHlt, emulateIo, emulateKvmHypercall, emulateMmio, emulateRdmsr, emulateWrmsr } from './exit-instructions.ts';
import { getQuote, getTdVmCallInfo, mapGpa, reportFatalError, setupEventNotify, unsupportedSubfunction } from './exit-ghci.ts';
import { handleEptViolation } from './exit-ept.ts';
import { traceTdvmcallHandled, tracerOf } from './trace-points.ts';
import type { TdxVcpu } from './vcpu.ts';

/** Statuses whose low 32 bits KVM reads as an exit reason. */
const EXIT_STATUSES: ReadonlySet<bigint> = new Set([
  TdxStatus.TDX_SUCCESS,
  TdxStatus.TDX_NON_RECOVERABLE_VCPU,
  TdxStatus.TDX_NON_RECOVERABLE_TD,
  TdxStatus.TDX_NON_RECOVERABLE_TD_NON_ACCESSIBLE,
  TdxStatus.TDX_NON_RECOVERABLE_TD_WRONG_APIC_MODE,
]);

/** #MC: handled by the host like an NMI. */
const MACHINE_CHECK_VECTOR = 18n;

type Handler = (ctx: ExitContext) => ExitAction;

/**
 * TDVMCALL sub-functions KVM handles, by R11 (all below 2^32, so keyed by number: see
 * `subfunctionOf`), with the name their exits are counted under.
 */
interface TdvmcallEntry {
  readonly name: string;
  readonly statName: string;
  readonly handler: Handler;
}

const TDVMCALL_HANDLERS: ReadonlyMap<number, TdvmcallEntry> = new Map(
  (
    [
      [TdvmcallSubfunction.CPUID, emulateCpuid],
      [TdvmcallSubfunction.HLT, emulateHlt],
      [TdvmcallSubfunction.IO, emulateIo],
      [TdvmcallSubfunction.RDMSR, emulateRdmsr],
      [TdvmcallSubfunction.WRMSR, emulateWrmsr],
      [TdvmcallSubfunction.MMIO, emulateMmio],
      [TdvmcallSubfunction.GET_TD_VM_CALL_INFO, getTdVmCallInfo],
      [TdvmcallSubfunction.MAP_GPA, mapGpa],
      [TdvmcallSubfunction.GET_QUOTE, getQuote],
      [TdvmcallSubfunction.REPORT_FATAL_ERROR, reportFatalError],
      [TdvmcallSubfunction.SETUP_EVENT_NOTIFY_INTERRUPT, setupEventNotify],
    ] as const
  ).map(([sub, handler]) => [sub.number, { name: sub.name, statName: `TDVMCALL<${sub.name}>`, handler }]),
);

/** Where the call type and sub-function of a TDVMCALL exit are (TDVMCALL_REGS). */
const CALL_TYPE_REG = Gpr[TDVMCALL_REGS.callType];
const SUBFUNCTION_REG = Gpr[TDVMCALL_REGS.subfunction];

/** The handler entry of a GHCI TDVMCALL exit's R11 (read as 32-bit halves), if KVM has one. */
function subfunctionOf(regs: RegisterFile): TdvmcallEntry | undefined {
  const words = regs.gpr32;
  return words[2 * SUBFUNCTION_REG + HI32] === 0 ? TDVMCALL_HANDLERS.get(words[2 * SUBFUNCTION_REG + LO32]!) : undefined;
}

/** R10 ≠ 0: a KVM hypercall rather than a GHCI call. */
function isKvmHypercall(regs: RegisterFile): boolean {
  const words = regs.gpr32;
  return (words[2 * CALL_TYPE_REG + LO32]! | words[2 * CALL_TYPE_REG + HI32]!) !== 0;
}

/**
 * RAX of the commonest exit: TDG.VP.VMCALL (status SUCCESS, exit reason TDCALL). Such an exit
 * takes the fast path below, which is the general path's own outcome for that status.
 */
const TDVMCALL_EXIT = TdxStatus.TDX_SUCCESS | BigInt(VmxExitReason.TDCALL);

/** Handle one TD exit of `vcpu` (its registers are in `vcpu.regs`, the raw RAX in `status`). */
export function handleExit(vcpu: TdxVcpu, status: bigint): ExitAction {
  const ctx: ExitContext = { vcpu, regs: vcpu.regs, status };
  if (status === TDVMCALL_EXIT) {
    // The sub-function's entry names the exit and handles it: look it up once.
    const h = isKvmHypercall(ctx.regs) ? undefined : subfunctionOf(ctx.regs);
    vcpu.countTdExit(h ? h.statName : exitName(ctx, VmxExitReason.TDCALL));
    return handleTdvmcall(ctx, h);
  }
  const code = statusCode(status);
  if (code === TdxStatus.TDX_OPERAND_BUSY) {
    vcpu.countTdExit('OPERAND_BUSY');
    return RESUME;
  }
  const sw = TdxSoftwareStatus.TDX_SW_ERROR;
  if ((status & sw) === sw) {
    vcpu.countTdExit('SEAMCALL failure');
    const rec = unexpected(ctx, 'TDH.VP.ENTER did not reach the TDX module');
    vcpu.vm.kill(new HostError('EIO', `TDH.VP.ENTER failed with ${formatStatusShort(decodeStatus(status))} (KVM_BUG_ON)`, { status }));
    return rec;
  }
  const reason = EXIT_STATUSES.has(code) ? status & U32_MASK : U32_MASK;
  const basic = Number(EXIT_REASON_WORD.get(reason, 'basic_reason'));
  const nonRecoverable = STATUS_LAYOUT.get(status, 'non_recoverable') === 1n;
  if (EXIT_REASON_WORD.get(reason, 'failed_vmentry') === 1n) {
    vcpu.countTdExit('failed VM entry');
    const debug = TD_ATTRIBUTES.get(vcpu.vm.config.attributes ?? 0n, 'debug') === 1n;
    if (!nonRecoverable && !debug) {
      vcpu.vm.kill(new HostError('EIO', `TDH.VP.ENTER failed: ${formatStatusShort(decodeStatus(status))} (KVM_BUG_ON)`, { status }));
    }
    return { kind: 'user', record: { kind: 'fail_entry', exitReason: KvmExitReason.FAIL_ENTRY, hardwareEntryFailureReason: reason, cpu: vcpu.lp.id } };
  }
  vcpu.countTdExit(exitName(ctx, basic));
  if ((STATUS_LAYOUT.get(status, 'error') === 1n || nonRecoverable) && basic !== VmxExitReason.TRIPLE_FAULT) {
    return unexpected(ctx, `TD exit with ${formatStatusShort(decodeStatus(status))}`);
  }
  switch (basic) {
    case VmxExitReason.TRIPLE_FAULT:
      return { kind: 'user', record: { kind: 'shutdown', exitReason: KvmExitReason.SHUTDOWN } };
    case VmxExitReason.EXCEPTION_OR_NMI: {
      const info = INTERRUPTION_INFO.decode(ctx.regs.gpr[Gpr.R9]!);
      if (info.interruption_type === BigInt(InterruptionType.NMI) || info.vector === MACHINE_CHECK_VECTOR) return RESUME;
      return { kind: 'user', record: { kind: 'exception', exitReason: KvmExitReason.EXCEPTION, exception: Number(info.vector), errorCode: 0 } };
    }
    case VmxExitReason.EXTERNAL_INTERRUPT:
    case VmxExitReason.OTHER_SMI:
      return RESUME;
    case VmxExitReason.TDCALL:
      return handleTdvmcall(ctx);
    case VmxExitReason.EPT_VIOLATION:
      return handleEptViolation(ctx);
    default:
      return unexpected(ctx, `unexpected exit reason ${decodeExitReason(reason).name ?? basic}`);
  }
}

/** `entry`: the GHCI sub-function's handler entry when the caller already looked it up. */
function handleTdvmcall(ctx: ExitContext, entry?: TdvmcallEntry): ExitAction {
  const tracer = tracerOf(ctx.vcpu.lp);
  const traceIn = tracer.enabled ? ctx.regs.clone() : undefined;
  const action = dispatchTdvmcall(ctx, entry);
  if (traceIn) traceTdvmcallHandled(tracer, ctx.vcpu, traceIn);
  return action;
}

function dispatchTdvmcall(ctx: ExitContext, entry?: TdvmcallEntry): ExitAction {
  if (isKvmHypercall(ctx.regs)) return emulateKvmHypercall(ctx);
  const h = entry ?? subfunctionOf(ctx.regs);
  return h ? h.handler(ctx) : unsupportedSubfunction(ctx, tdvmcallCall(ctx.regs).subfunction);
}

/** A readable name for the exit statistics: `TDVMCALL<IO>`, `EPT_VIOLATION`, … */
function exitName(ctx: ExitContext, basic: number): string {
  if (basic !== VmxExitReason.TDCALL) return basicExitName(basic);
  if (isKvmHypercall(ctx.regs)) return 'TDVMCALL<KVM hypercall>';
  return subfunctionOf(ctx.regs)?.statName ?? `TDVMCALL<0x${tdvmcallCall(ctx.regs).subfunction.toString(16)}>`;
}

/** Statistics names of basic exit reasons, decoded once each (EPT violations come by the million). */
const BASIC_EXIT_NAMES = new Map<number, string>();

function basicExitName(basic: number): string {
  let name = BASIC_EXIT_NAMES.get(basic);
  if (name === undefined) {
    name = decodeExitReason(basic).name ?? `reason ${basic}`;
    BASIC_EXIT_NAMES.set(basic, name);
  }
  return name;
}

/** KVM_EXIT_INTERNAL_ERROR / UNEXPECTED_EXIT_REASON with the raw status and the LP. */
function unexpected(ctx: ExitContext, reason: string): ExitAction {
  ctx.vcpu.vm.host.warnings.warn(ctx.vcpu.index, 'unexpected-exit', 'module', `${reason} (RAX ${hex64(ctx.status)})`);
  return {
    kind: 'user',
    record: {
      kind: 'internal_error',
      exitReason: KvmExitReason.INTERNAL_ERROR,
      suberror: KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON,
      ndata: 2,
      data: [ctx.status, BigInt(ctx.vcpu.lp.id)],
      reason,
    },
  };
}
