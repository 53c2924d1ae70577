/**
 * The exit records `vcpu.run()` returns to userspace, and the replies `vcpu.complete()` accepts.
 *
 * They mirror `struct kvm_run` after KVM_RUN returns (include/uapi/linux/kvm.h): `exitReason` is
 * the KVM_EXIT_* number and the other fields are the union member KVM fills for that exit, with
 * KVM's presets (e.g. GetQuote's `ret` preset to SUBFUNC_UNSUPPORTED) so that userspace that does
 * not answer leaves the guest exactly what KVM would. Facts linux-tdx.md §4.2–4.6.
 *
 * Every GPA here has the shared bit stripped, as KVM hands it to userspace.
 */
import type { KvmExitReason } from '../abi/kvm.ts';

type R = typeof KvmExitReason;

/** KVM_EXIT_IO: a port access the kernel has no device for. */
export interface IoExit {
  readonly kind: 'io';
  readonly exitReason: R['IO'];
  readonly direction: 'in' | 'out';
  readonly size: 1 | 2 | 4;
  readonly port: number;
  /** Always 1: TDX guests cannot do string I/O through TDVMCALL. */
  readonly count: 1;
  /** OUT: the value written (low `size` bytes). IN: 0. */
  readonly data: bigint;
}

/** KVM_EXIT_MMIO: an access to shared memory no memslot or in-kernel device backs. */
export interface MmioExit {
  readonly kind: 'mmio';
  readonly exitReason: R['MMIO'];
  /** GPA with the shared bit stripped. */
  readonly physAddr: bigint;
  readonly len: 1 | 2 | 4 | 8;
  readonly isWrite: boolean;
  /** Write: the value (low `len` bytes). Read: 0. */
  readonly data: bigint;
}

/** KVM_EXIT_HYPERCALL: one ≤ 2 MB chunk of a TDVMCALL<MapGPA> (KVM_HC_MAP_GPA_RANGE). */
export interface HypercallExit {
  readonly kind: 'hypercall';
  readonly exitReason: R['HYPERCALL'];
  readonly nr: bigint;
  /** args[0] = GPA (shared bit stripped), args[1] = 4K pages, args[2] = ENCRYPTED/DECRYPTED. */
  readonly args: readonly bigint[];
  /** Preset to 0 (KVM keeps QEMU ≤ 9.2's assumption). */
  readonly ret: bigint;
  /** KVM_EXIT_HYPERCALL_LONG_MODE. */
  readonly flags: bigint;
}

/** KVM_EXIT_SYSTEM_EVENT with type KVM_SYSTEM_EVENT_TDX_FATAL: TDVMCALL<ReportFatalError>. */
export interface SystemEventExit {
  readonly kind: 'system_event';
  readonly exitReason: R['SYSTEM_EVENT'];
  readonly type: number;
  readonly ndata: number;
  /** The 16 GPRs in VCPU_REGS order; [0] = raw TDH.VP.ENTER result, [4] = RSP = 0, [5] = RBP = 0. */
  readonly data: readonly bigint[];
  /** Convenience decode of the 64-byte message in R14, R15, RBX, RDI, RSI, R8, R9, RDX. */
  readonly message: string;
}

export interface GetQuoteExitInfo {
  readonly ret: bigint;
  /** Shared buffer GPA with the shared bit stripped. */
  readonly gpa: bigint;
  readonly size: bigint;
}
export interface GetTdvmcallInfoExitInfo {
  readonly ret: bigint;
  readonly leaf: bigint;
  readonly r11: bigint;
  readonly r12: bigint;
  readonly r13: bigint;
  readonly r14: bigint;
}
export interface SetupEventNotifyExitInfo {
  readonly ret: bigint;
  readonly vector: bigint;
}

/** KVM_EXIT_TDX: a GHCI call KVM forwards to userspace. */
export type TdxExit = {
  readonly kind: 'tdx';
  readonly exitReason: R['TDX'];
  readonly flags: bigint;
  /** The TDVMCALL sub-function number. */
  readonly nr: bigint;
} & (
  | { readonly call: 'get_quote'; readonly getQuote: GetQuoteExitInfo }
  | { readonly call: 'get_tdvmcall_info'; readonly getTdvmcallInfo: GetTdvmcallInfoExitInfo }
  | { readonly call: 'setup_event_notify'; readonly setupEventNotify: SetupEventNotifyExitInfo }
);

/** KVM_EXIT_SHUTDOWN: the vCPU triple-faulted (TDX_NON_RECOVERABLE_VCPU). */
export interface ShutdownExit {
  readonly kind: 'shutdown';
  readonly exitReason: R['SHUTDOWN'];
}

/** KVM_EXIT_INTERNAL_ERROR: an exit KVM cannot handle. */
export interface InternalErrorExit {
  readonly kind: 'internal_error';
  readonly exitReason: R['INTERNAL_ERROR'];
  readonly suberror: number;
  readonly ndata: number;
  /** [0] = raw TDH.VP.ENTER result, [1] = the LP of the last entry. */
  readonly data: readonly bigint[];
  /** Decoded explanation for people. */
  readonly reason: string;
}

/** KVM_EXIT_FAIL_ENTRY: VM entry failed (the exit reason word had bit 31 set). */
export interface FailEntryExit {
  readonly kind: 'fail_entry';
  readonly exitReason: R['FAIL_ENTRY'];
  readonly hardwareEntryFailureReason: bigint;
  readonly cpu: number;
}

/** KVM_EXIT_EXCEPTION: an exception exit KVM does not handle (not NMI or #MC). */
export interface ExceptionExit {
  readonly kind: 'exception';
  readonly exitReason: R['EXCEPTION'];
  readonly exception: number;
  readonly errorCode: number;
}

/** KVM_EXIT_MEMORY_FAULT: the guest touched a GFN whose private/shared attribute disagrees. */
export interface MemoryFaultExit {
  readonly kind: 'memory_fault';
  readonly exitReason: R['MEMORY_FAULT'];
  /** KVM_MEMORY_EXIT_FLAG_PRIVATE when the access was private. */
  readonly flags: bigint;
  /** GPA (shared bit stripped), 4K-aligned. */
  readonly gpa: bigint;
  readonly size: bigint;
}

/**
 * The vCPU halted (TDVMCALL<HLT>) and nothing can wake it: KVM would block in the kernel; this
 * single-threaded host returns instead so userspace can post an interrupt, run another vCPU, or
 * stop. `interruptsBlocked` is the guest's R12 (only an NMI would wake it).
 */
export interface HltExit {
  readonly kind: 'hlt';
  readonly exitReason: R['HLT'];
  readonly interruptsBlocked: boolean;
}

/**
 * KVM_RUN returned -EINTR: the run handled `maxInKernelExits` exits without anything for
 * userspace (a guest spinning on CPUID, say). Call run() again to continue.
 */
export interface IntrExit {
  readonly kind: 'intr';
  readonly exitReason: R['INTR'];
}

export type ExitRecord =
  | IoExit
  | MmioExit
  | HypercallExit
  | SystemEventExit
  | TdxExit
  | ShutdownExit
  | InternalErrorExit
  | FailEntryExit
  | ExceptionExit
  | MemoryFaultExit
  | HltExit
  | IntrExit;

export type ExitKind = ExitRecord['kind'];

/** Userspace's answer to an `io` IN (`data` = the value read). OUT needs no data. */
export interface IoReply {
  readonly kind: 'io';
  readonly data?: bigint;
}
/** Userspace's answer to an `mmio` read (`data` = the value read). */
export interface MmioReply {
  readonly kind: 'mmio';
  readonly data?: bigint;
}
/** `hypercall.ret`: 0 = done; anything else fails the MapGPA with INVALID_OPERAND. */
export interface HypercallReply {
  readonly kind: 'hypercall';
  readonly ret: bigint;
}
/** `tdx.*.ret` (a TDVMCALL status), plus R11–R14 for GetTdVmCallInfo leaf 1. */
export interface TdxReply {
  readonly kind: 'tdx';
  readonly ret: bigint;
  readonly r11?: bigint;
  readonly r12?: bigint;
  readonly r13?: bigint;
  readonly r14?: bigint;
}

export type ExitReply = IoReply | MmioReply | HypercallReply | TdxReply;

/** Exit kinds whose completion takes a reply; others are simply followed by another run(). */
export const REPLY_KINDS: ReadonlySet<ExitKind> = new Set<ExitKind>(['io', 'mmio', 'hypercall', 'tdx']);
