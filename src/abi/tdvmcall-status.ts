/**
 * TDVMCALL completion status: the VMM's answer to a TDG.VP.VMCALL, returned to the guest in R10.
 *
 * This is a second status, separate from the TDCALL status in RAX. RAX says whether the TDX module
 * carried the call to the VMM at all; R10 says what the VMM made of the request. The TDX module
 * never interprets R10; the values are fixed by the GHCI (Guest-Hypervisor Communication
 * Interface), not by the module ABI. Bit 63 marks an error, as it does in a module status, but
 * there are no class or operand fields.
 *
 * Sources: Linux `arch/x86/include/asm/shared/tdx.h` (`TDVMCALL_STATUS_*`), KVM's use of them in
 * `arch/x86/kvm/vmx/tdx.c`; facts linux-tdx.md §2.4 and §4.3, tdx-module.md §6.6.
 */

/** Bit 63 of R10: the VMM refused or failed the request. */
export const TDVMCALL_STATUS_ERROR_BIT = 1n << 63n;

/**
 * The TDVMCALL status values the GHCI defines. Linux spells them `TDVMCALL_STATUS_<key>`; the
 * GHCI spells them `TDG.VP.VMCALL_<key>`.
 */
export const TdvmcallStatus = Object.freeze({
  /** The request was carried out. */
  SUCCESS: 0x0000000000000000n,
  /**
   * Not an error: the VMM did part of the work and the guest should call again. KVM returns it
   * from MapGPA when an event is pending, with R11 = the GPA to continue from.
   */
  RETRY: 0x0000000000000001n,
  /** An argument was out of range, or the VMM refused the request (KVM's catch-all refusal). */
  INVALID_OPERAND: 0x8000000000000000n,
  /**
   * MapGPA: the range is in use and cannot be converted. Defined by the GHCI and by QEMU
   * (`TDG_VP_VMCALL_GPA_INUSE` in `target/i386/kvm/tdx.h`), but NOT by any Linux header: neither
   * the Linux guest nor KVM uses it (facts linux-tdx.md §2.4, §7).
   */
  GPA_INUSE: 0x8000000000000001n,
  /** MapGPA: the GPA or size is not 4K-aligned. */
  ALIGN_ERROR: 0x8000000000000002n,
  /** The sub-function in R11 is not supported by this VMM. */
  SUBFUNC_UNSUPPORTED: 0x8000000000000003n,
} as const);

export type TdvmcallStatusName = keyof typeof TdvmcallStatus;

/** The statuses Linux defines (all of the table except GPA_INUSE). */
export const LINUX_TDVMCALL_STATUSES: readonly TdvmcallStatusName[] = Object.freeze([
  'SUCCESS',
  'RETRY',
  'INVALID_OPERAND',
  'ALIGN_ERROR',
  'SUBFUNC_UNSUPPORTED',
]);
