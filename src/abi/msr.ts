/**
 * MSRs a TD accesses without leaving the module's control, and what happens to the rest.
 *
 * The TDX module gives the guest direct access (through the TD VMCS guest state or the MSR
 * bitmaps, context-switched on TD entry and exit) to the MSRs of its own execution environment:
 * the syscall and segment-base MSRs the module saves and scrubs at every TD exit, the SYSENTER
 * MSRs and PAT and EFER held in the VMCS. RDMSR/WRMSR of an MSR it does not virtualise raise #VE
 * so the guest can ask the VMM (TDG.VP.VMCALL<Instruction.RDMSR/WRMSR>); that is how the guest
 * reaches x2APIC, MTRR, MISC_ENABLE and the other MSRs KVM emulates.
 *
 * Sources: TDX module 1.5 `td_exit.c` (`save_guest_td_state_before_td_exit` and
 * `load_vmm_state_before_td_exit` context-switch STAR, LSTAR, FMASK, KERNEL_GS_BASE, TSC_AUX),
 * `td_msr_access.c` (#VE for MSRs outside the lookup table; EFER writes may change only SCE),
 * `td_vmcs_init.c` (initial PAT and EFER, facts tdx-module.md §6.5); MSR numbers: Intel SDM
 * Vol. 4. The real module's full per-MSR table (`msr_config_lookup.c`) also has #GP cases and
 * MSRs that depend on CPUID configuration; tdxsim keeps this documented subset and sends
 * everything else to #VE.
 */

export const Msr = Object.freeze({
  IA32_SYSENTER_CS: 0x174,
  IA32_SYSENTER_ESP: 0x175,
  IA32_SYSENTER_EIP: 0x176,
  IA32_PAT: 0x277,
  IA32_EFER: 0xc000_0080,
  IA32_STAR: 0xc000_0081,
  IA32_LSTAR: 0xc000_0082,
  IA32_FMASK: 0xc000_0084,
  IA32_FS_BASE: 0xc000_0100,
  IA32_GS_BASE: 0xc000_0101,
  IA32_KERNEL_GS_BASE: 0xc000_0102,
  IA32_TSC_AUX: 0xc000_0103,
} as const);

export interface VirtualizedMsr {
  /** Value after TDH.VP.INIT. */
  readonly initial: bigint;
  /** The value must be a canonical linear address; a WRMSR of another value is #GP(0). */
  readonly canonical?: boolean;
  /** Bits the guest may change; a WRMSR changing any other bit raises #VE. Absent: all bits. */
  readonly writableMask?: bigint;
}

/** EFER.SCE (bit 0): the only EFER bit a TD may change. */
export const EFER_SCE = 1n;
/** EFER after TDH.VP.INIT: SCE, LME, LMA, NXE (facts tdx-module.md §6.5). */
export const EFER_INITIAL = 0x901n;
/** PAT after TDH.VP.INIT (facts tdx-module.md §6.5). */
export const PAT_INITIAL = 0x0007_0406_0007_0406n;

/** The MSRs the module virtualises, by index. */
export const VIRTUALIZED_MSRS: ReadonlyMap<number, VirtualizedMsr> = new Map<number, VirtualizedMsr>([
  [Msr.IA32_SYSENTER_CS, { initial: 0n }],
  [Msr.IA32_SYSENTER_ESP, { initial: 0n, canonical: true }],
  [Msr.IA32_SYSENTER_EIP, { initial: 0n, canonical: true }],
  [Msr.IA32_PAT, { initial: PAT_INITIAL }],
  [Msr.IA32_EFER, { initial: EFER_INITIAL, writableMask: EFER_SCE }],
  [Msr.IA32_STAR, { initial: 0n }],
  [Msr.IA32_LSTAR, { initial: 0n, canonical: true }],
  [Msr.IA32_FMASK, { initial: 0n }],
  [Msr.IA32_FS_BASE, { initial: 0n, canonical: true }],
  [Msr.IA32_GS_BASE, { initial: 0n, canonical: true }],
  [Msr.IA32_KERNEL_GS_BASE, { initial: 0n, canonical: true }],
  [Msr.IA32_TSC_AUX, { initial: 0n }],
]);

/** True if `va` is canonical for 48-bit linear addresses (bits 63:47 all equal). */
export function isCanonical48(va: bigint): boolean {
  const top = va >> 47n;
  return top === 0n || top === (1n << 17n) - 1n;
}
