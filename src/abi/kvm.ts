/**
 * The KVM userspace ABI numbers tdxsim's host reproduces: errno values, KVM_RUN exit reasons, the
 * exit sub-codes of the records `vcpu.run()` returns, and the KVM hypercall numbers a TD may use.
 *
 * The host VMM (src/host/) is shaped like Linux KVM, so its errors and exit records carry the same
 * numbers a real VMM would see from /dev/kvm. Sources: Linux `include/uapi/asm-generic/errno-base.h`
 * and `errno.h` (errno), `include/uapi/linux/kvm.h` (KVM_EXIT_*, KVM_SYSTEM_EVENT_*,
 * KVM_INTERNAL_ERROR_*, KVM_EXIT_HYPERCALL_LONG_MODE, KVM_EXIT_MEMORY_FAULT), `include/uapi/linux/
 * kvm_para.h` (KVM_HC_*, KVM_ENOSYS), `arch/x86/include/uapi/asm/kvm_para.h` (MAP_GPA_RANGE flags),
 * `arch/x86/include/uapi/asm/kvm.h` (KVM_X86_TDX_VM, struct kvm_tdx_cmd ids); facts linux-tdx.md §1.3,
 * §4.2–4.6.
 */

/** Linux errno values (positive; the kernel returns them negated). */
export const Errno = Object.freeze({
  EPERM: 1,
  EINTR: 4,
  EIO: 5,
  E2BIG: 7,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  EOPNOTSUPP: 95,
} as const);
export type ErrnoName = keyof typeof Errno;

/** `kvm_run.exit_reason` values of the exits a TD can produce. */
export const KvmExitReason = Object.freeze({
  EXCEPTION: 1,
  IO: 2,
  HYPERCALL: 3,
  /** Used by KVM only when the local APIC is in userspace; tdxsim reports a halted vCPU with it. */
  HLT: 5,
  MMIO: 6,
  SHUTDOWN: 8,
  FAIL_ENTRY: 9,
  /** KVM_RUN returned -EINTR (a pending signal); here: the run's in-kernel exit budget ran out. */
  INTR: 10,
  INTERNAL_ERROR: 17,
  SYSTEM_EVENT: 24,
  MEMORY_FAULT: 39,
  TDX: 40,
} as const);
export type KvmExitReasonName = keyof typeof KvmExitReason;

/** `kvm_run.io.direction`. */
export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

/** `kvm_run.system_event.type` for a TDVMCALL<ReportFatalError> (after SEV_TERM = 6). */
export const KVM_SYSTEM_EVENT_TDX_FATAL = 7;
/** `kvm_run.system_event.ndata` of a TDX fatal-error event: the 16 GPRs in VCPU_REGS order. */
export const KVM_SYSTEM_EVENT_TDX_FATAL_NDATA = 16;

/** `kvm_run.internal.suberror` for an exit KVM cannot handle; data[0] = raw TDH.VP.ENTER result. */
export const KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON = 4;

/** `kvm_run.hypercall.flags` bit 0: the guest was in 64-bit mode. */
export const KVM_EXIT_HYPERCALL_LONG_MODE = 1n << 0n;

/** `kvm_run.memory_fault.flags` bit 3: the faulting access was to private memory. */
export const KVM_MEMORY_EXIT_FLAG_PRIVATE = 1n << 3n;

/** KVM paravirtual hypercall numbers (guest RAX on VMCALL; R10 on a TDX guest). */
export const KvmHypercall = Object.freeze({
  VAPIC_POLL_IRQ: 1,
  KICK_CPU: 5,
  SCHED_YIELD: 11,
  MAP_GPA_RANGE: 12,
} as const);

/** KVM hypercall error: unknown hypercall. The guest sees -1000 as a 64-bit two's complement. */
export const KVM_ENOSYS = 1000;

/** `KVM_HC_MAP_GPA_RANGE` args[2] attribute: the range becomes private (encrypted). */
export const KVM_MAP_GPA_RANGE_ENCRYPTED = 1n << 4n;
/** `KVM_HC_MAP_GPA_RANGE` args[2] attribute: the range becomes shared. */
export const KVM_MAP_GPA_RANGE_DECRYPTED = 0n;

/** `KVM_SET_MEMORY_ATTRIBUTES` attribute bit: the GFN is private. */
export const KVM_MEMORY_ATTRIBUTE_PRIVATE = 1n << 3n;

/** VM type of a TD (`KVM_CREATE_VM` argument). */
export const KVM_X86_TDX_VM = 5;

/** `kvm_tdx_init_mem_region` flag: extend MRTD with the page contents (16 × TDH.MR.EXTEND). */
export const KVM_TDX_MEASURE_MEMORY_REGION = 1 << 0;

/** Bytes of page contents one TDH.MR.EXTEND measures (`TDX_EXTENDMR_CHUNKSIZE`). */
export const TDX_EXTENDMR_CHUNKSIZE = 256n;

/** KVM's TD states (`enum kvm_tdx_state`) and vCPU states (`enum vcpu_tdx_state`). */
export const KvmTdState = Object.freeze({
  TD_STATE_UNINITIALIZED: 0,
  TD_STATE_INITIALIZED: 1,
  TD_STATE_RUNNABLE: 2,
} as const);
export const KvmVcpuTdState = Object.freeze({
  VCPU_TD_STATE_UNINITIALIZED: 0,
  VCPU_TD_STATE_INITIALIZED: 1,
} as const);

/** TD attributes KVM lets userspace set (`KVM_SUPPORTED_TD_ATTRS`): SEPT_VE_DISABLE only. */
export const KVM_SUPPORTED_TD_ATTRS = 1n << 28n;

/** How many times PHYMEM.CACHE.WB may be resumed before KVM gives up (`TDX_SEAMCALL_RETRIES`). */
export const TDX_SEAMCALL_RETRIES = 10000;

/**
 * How many times `sc_retry()` repeats a SEAMCALL that returned TDX_RND_NO_ENTROPY
 * (`RDRAND_RETRY_LOOPS`, arch/x86/include/asm/archrandom.h).
 */
export const RDRAND_RETRY_LOOPS = 10;

/** GetTdVmCallInfo leaf 1 R11 bits KVM reports itself (`kernel_tdvmcallinfo_1_r11`): none. */
export const KERNEL_TDVMCALLINFO_1_R11 = 0n;
/** Bits KVM leaves to userspace (`user_tdvmcallinfo_1_r11`): bit 1 SetupEventNotifyInterrupt. */
export const USER_TDVMCALLINFO_1_R11 = 1n << 1n;
