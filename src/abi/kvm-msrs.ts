/**
 * The MSRs KVM emulates for a TD, and the reset values it gives them.
 *
 * A TD's RDMSR/WRMSR of an MSR the TDX module does not virtualise raises #VE, and the guest turns
 * it into TDG.VP.VMCALL<Instruction.RDMSR/WRMSR>. KVM answers only for the MSRs in
 * `tdx_has_emulated_msr()` and refuses the rest (TDVMCALL_STATUS_INVALID_OPERAND); APICBASE, EFER
 * and FEATURE_CONTROL are read-only (`tdx_is_read_only_msr()`); x2APIC registers the CPU
 * virtualises through the virtual-APIC page (TPR, PPR, EOI, ISR, TMR, IRR) are not emulated
 * because KVM cannot see that page. MSR numbers: Intel SDM Vol. 4 / Linux
 * `arch/x86/include/asm/msr-index.h`; the policy: KVM `arch/x86/kvm/vmx/tdx.c`; facts linux-tdx.md
 * §4.3.
 */

import { Msr } from './msr.ts';

/**
 * MSR numbers KVM emulates for a TD, beyond those src/abi/msr.ts names for the module's own
 * virtualisation (IA32_PAT and IA32_EFER are taken from there).
 */
export const KvmMsr = Object.freeze({
  IA32_APICBASE: 0x1b,
  IA32_FEAT_CTL: 0x3a,
  IA32_UCODE_REV: 0x8b,
  PLATFORM_INFO: 0xce,
  MTRRCAP: 0xfe,
  IA32_ARCH_CAPABILITIES: 0x10a,
  MISC_FEATURES_ENABLES: 0x140,
  IA32_MCG_CAP: 0x179,
  IA32_MCG_STATUS: 0x17a,
  IA32_MCG_CTL: 0x17b,
  IA32_MISC_ENABLE: 0x1a0,
  IA32_POWER_CTL: 0x1fc,
  /** MTRRphysBase0 … MTRRfix4K_F8000 form one contiguous range. */
  MTRR_PHYS_BASE0: 0x200,
  MTRR_FIX4K_F8000: 0x26f,
  IA32_CR_PAT: Msr.IA32_PAT,
  /** IA32_MC0_CTL2 … IA32_MC31_CTL2. */
  IA32_MC0_CTL2: 0x280,
  MTRR_DEF_TYPE: 0x2ff,
  /** IA32_MC0_CTL … (4 MSRs per bank: CTL, STATUS, ADDR, MISC). */
  IA32_MC0_CTL: 0x400,
  IA32_MCG_EXT_CTL: 0x4d0,
  IA32_TSC_DEADLINE: 0x6e0,
  /** x2APIC registers: 0x800 + (xAPIC MMIO offset >> 4). */
  X2APIC_BASE: 0x800,
  X2APIC_ID: 0x802,
  X2APIC_VERSION: 0x803,
  X2APIC_TPR: 0x808,
  X2APIC_PPR: 0x80a,
  X2APIC_EOI: 0x80b,
  X2APIC_ISR0: 0x810,
  X2APIC_TMR0: 0x818,
  X2APIC_IRR0: 0x820,
  X2APIC_ICR: 0x830,
  X2APIC_LAST: 0x8ff,
  IA32_EFER: Msr.IA32_EFER,
  /** KVM's paravirtual poll-control MSR. */
  KVM_POLL_CONTROL: 0x4b56_4d05,
} as const);

/** Machine-check banks KVM exposes (`KVM_MAX_MCE_BANKS`). */
export const KVM_MAX_MCE_BANKS = 32;
/** MSRs per machine-check bank (CTL, STATUS, ADDR, MISC). */
export const MCE_MSRS_PER_BANK = 4;
/** Registers per ISR/TMR/IRR block (8 × 32 bits = 256 vectors). */
export const X2APIC_VECTOR_BLOCK_REGS = 8;

/** IA32_APIC_BASE: the default xAPIC base address. */
export const APIC_DEFAULT_PHYS_BASE = 0xfee0_0000n;
/** IA32_APIC_BASE bit 8: this is the bootstrap processor. */
export const APIC_BASE_BSP = 1n << 8n;
/** IA32_APIC_BASE bit 10: x2APIC mode (TDX vCPUs are always in x2APIC mode). */
export const APIC_BASE_X2APIC_ENABLE = 1n << 10n;
/** IA32_APIC_BASE bit 11: the APIC is globally enabled. */
export const APIC_BASE_ENABLE = 1n << 11n;

/**
 * EFER as KVM presets it for a TD vCPU (`tdx_vcpu_create`: SCE | LME | LMA | NX). KVM cannot read
 * the TD's real EFER; this is what it answers a TDVMCALL<RDMSR> of EFER with.
 */
export const TD_VCPU_EFER = (1n << 0n) | (1n << 8n) | (1n << 10n) | (1n << 11n);
/** IA32_FEATURE_CONTROL bit 0: locked (what KVM reports to a TD). */
export const FEAT_CTL_LOCKED = 1n << 0n;
/** x2APIC version register value KVM reports: version 0x14, max LVT entry 6 (bits 23:16). */
export const X2APIC_VERSION_VALUE = 0x0006_0014n;
/** x2APIC ICR: delivery mode bits 10:8 (0 = fixed), vector bits 7:0, destination bits 63:32. */
export const ICR_VECTOR_MASK = 0xffn;
export const ICR_DELIVERY_MODE_SHIFT = 8n;
export const ICR_DELIVERY_MODE_MASK = 0x7n;
export const ICR_DEST_SHIFT = 32n;
