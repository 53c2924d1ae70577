/**
 * TD_PARAMS: the 1024-byte structure the host passes to TDH.MNG.INIT (RDX = its PA, 1024-aligned,
 * in shared memory) to fix a TD's configuration: attributes, XFAM, vCPU count, EPT shape, TSC
 * frequency, the three software-defined measurement fields and the CPUID configuration.
 *
 * This file holds the byte layout and the register-shaped (64-bit) fields as bitfields. The
 * allowed values of those fields (FIXED0/FIXED1 masks, TSC range, EPTP values, …) are in
 * td-config.ts, next to the module rules they come from.
 *
 * Source: TDX module 1.5 `td_params_t` in `include/tdx_api_defs.h`; facts tdx-module.md §10.1.
 * KVM fills the same structure (linux-tdx.md §1.6).
 */
import { bitfield } from './bitfield.ts';
import { CPUID_CONFIGURABLE, CPUID_NO_SUBLEAF, NUM_CPUID_CONFIG, type CpuidRegs } from './cpuid-config.ts';
import { defineLayout } from './layout.ts';
import { EPTP_CONTROLS, EPT_MEMORY_TYPE_WB, EPT_PWL_MINUS_1_4LEVEL, EPT_PWL_MINUS_1_5LEVEL, XfamBit } from './td-config.ts';

/** Size of TD_PARAMS in bytes. */
export const TD_PARAMS_SIZE = 1024;
/** Required alignment of the TD_PARAMS physical address. */
export const TD_PARAMS_ALIGNMENT = 1024;
/** Size of one CPUID_CONFIG value entry in TD_PARAMS: EAX, EBX, ECX, EDX. */
export const TD_PARAMS_CPUID_ENTRY_SIZE = 16;
/** Size of a SHA-384 measurement (MRCONFIGID, MROWNER, MROWNERCONFIG, MRTD, RTMRs). */
export const SHA384_SIZE = 48;

/** TD_PARAMS byte layout (`td_params_t`, tdx-module.md §10.1). */
export const TD_PARAMS = defineLayout('TD_PARAMS', TD_PARAMS_SIZE, [
  { name: 'attributes', offset: 0, size: 8, kind: 'u64', doc: 'TD ATTRIBUTES (TD_ATTRIBUTES); must lie within ATTRIBUTES_FIXED0' },
  { name: 'xfam', offset: 8, size: 8, kind: 'u64', doc: 'extended features allowed (XCR0|IA32_XSS format, TD_XFAM)' },
  { name: 'max_vcpus', offset: 16, size: 2, kind: 'u16', doc: 'maximum vCPUs, at least 1' },
  { name: 'num_l2_vms', offset: 18, size: 1, kind: 'u8', doc: 'L2 VMs for TD partitioning, 0..MAX_L2_VMS' },
  { name: 'msr_config_ctls', offset: 19, size: 1, kind: 'u8', doc: 'bit 0: IA32_ARCH_CAPABILITIES_CONFIG is valid' },
  { name: 'reserved0', offset: 20, size: 4, kind: 'reserved' },
  { name: 'eptp_controls', offset: 24, size: 8, kind: 'u64', doc: 'EPT memory type and page-walk length (EPTP_CONTROLS_4LEVEL or _5LEVEL)' },
  { name: 'config_flags', offset: 32, size: 8, kind: 'u64', doc: 'non-measured controls (TD_CONFIG_FLAGS); the module calls it exec_controls' },
  { name: 'tsc_frequency', offset: 40, size: 2, kind: 'u16', doc: 'virtual TSC frequency in 25 MHz units, 4..400' },
  { name: 'reserved1', offset: 42, size: 38, kind: 'reserved' },
  { name: 'mrconfigid', offset: 80, size: SHA384_SIZE, kind: 'bytes', doc: 'software-defined ID of the TD configuration (copied to TDINFO)' },
  { name: 'mrowner', offset: 128, size: SHA384_SIZE, kind: 'bytes', doc: "software-defined ID of the TD's owner" },
  { name: 'mrownerconfig', offset: 176, size: SHA384_SIZE, kind: 'bytes', doc: "software-defined ID of the owner's configuration" },
  { name: 'ia32_arch_capabilities_config', offset: 224, size: 8, kind: 'u64', doc: 'virtual IA32_ARCH_CAPABILITIES bits (needs msr_config_ctls bit 0)' },
  { name: 'reserved2', offset: 232, size: 24, kind: 'reserved' },
  {
    name: 'cpuid_config',
    offset: 256,
    size: NUM_CPUID_CONFIG * TD_PARAMS_CPUID_ENTRY_SIZE,
    kind: 'bytes',
    doc: '12 CPUID value entries {eax, ebx, ecx, edx} in CPUID_CONFIG_LEAVES order; see decodeCpuidValues',
  },
  { name: 'reserved3', offset: 448, size: 576, kind: 'reserved' },
]);

/** One TD_PARAMS CPUID_CONFIG entry (`cpuid_config_return_values_t`); leaf and sub-leaf are implicit. */
export const TD_PARAMS_CPUID_ENTRY = defineLayout('TD_PARAMS.CPUID_CONFIG', TD_PARAMS_CPUID_ENTRY_SIZE, [
  { name: 'eax', offset: 0, size: 4, kind: 'u32' },
  { name: 'ebx', offset: 4, size: 4, kind: 'u32' },
  { name: 'ecx', offset: 8, size: 4, kind: 'u32' },
  { name: 'edx', offset: 12, size: 4, kind: 'u32' },
]);

/**
 * The CPUID leaves/sub-leaves the CPUID_CONFIG entries stand for, in order (tdx-module.md §10.1:
 * 1; 4/0; 4/1; 4/2; 4/3; 7/0; 7/1; 0xA; 0x1C; 0x80000008; 7/2; 0x23/0). `subleaf` is null for a
 * leaf without sub-leaves (the module reports 0xFFFFFFFF there). Derived from cpuid-config.ts so
 * the order has one source.
 */
export const CPUID_CONFIG_LEAVES: readonly { readonly leaf: number; readonly subleaf: number | null }[] = Object.freeze(
  CPUID_CONFIGURABLE.map((c) => Object.freeze({ leaf: c.leaf, subleaf: c.subleaf === CPUID_NO_SUBLEAF ? null : c.subleaf })),
);

/** One decoded CPUID_CONFIG entry, with the leaf and sub-leaf it applies to made explicit. */
export interface CpuidValues extends CpuidRegs {
  readonly leaf: number;
  readonly subleaf: number | null;
}

/** Decode the 12 entries of TD_PARAMS.cpuid_config (the 192-byte field, as `decode` returns it). */
export function decodeCpuidValues(cpuidConfig: Uint8Array): CpuidValues[] {
  return TD_PARAMS_CPUID_ENTRY.decodeArray(cpuidConfig, NUM_CPUID_CONFIG).map((regs, i) => ({
    ...CPUID_CONFIG_LEAVES[i]!,
    ...regs,
  }));
}

/** Encode TD_PARAMS.cpuid_config from exactly 12 register sets, in CPUID_CONFIG_LEAVES order. */
export function encodeCpuidValues(values: readonly CpuidRegs[]): Uint8Array {
  if (values.length !== NUM_CPUID_CONFIG) {
    throw new RangeError(`TD_PARAMS.cpuid_config has ${NUM_CPUID_CONFIG} entries, got ${values.length}`);
  }
  return TD_PARAMS_CPUID_ENTRY.encodeArray(values.map(({ eax, ebx, ecx, edx }) => ({ eax, ebx, ecx, edx })));
}

// -------------------------------------------------------------------------------------------------
// The 64-bit fields as bitfields. Fields named reserved* are bits the spec leaves undefined; the
// module refuses them, so ~reservedMask equals the FIXED0 mask in td-config.ts, except for the
// ATTRIBUTES bit KL, which is defined but which this module does not allow either.

/**
 * TD ATTRIBUTES (`td_param_attributes_t`). Bits 27:1 and 62:32 are reserved in TDX 1.5 (Linux
 * names some of them for later modules: HGS_PLUS_PROF 4, PERF_PROF 5, PMT_PROF 6, ICSSD 16,
 * LASS 27, TPA 62; linux-tdx.md §1.6). This module's ATTRIBUTES_FIXED0 (0x8000000070000001)
 * allows DEBUG, SEPT_VE_DISABLE, MIGRATABLE, PKS and PERFMON: KL is defined but refused.
 * MIGRATABLE is incompatible with DEBUG and PERFMON.
 */
export const TD_ATTRIBUTES = bitfield('td_param_attributes_t', [
  { name: 'debug', width: 1, doc: 'debug TD: the host may read and write its private state' },
  { name: 'reserved0', width: 27 },
  { name: 'sept_ve_disable', width: 1, doc: 'no #VE on access to a PENDING page: the access exits to the host' },
  { name: 'migratable', width: 1, doc: 'the TD may be live-migrated' },
  { name: 'pks', width: 1, doc: 'protection keys for supervisor pages' },
  { name: 'kl', width: 1, doc: 'Key Locker' },
  { name: 'reserved1', width: 31 },
  { name: 'perfmon', width: 1, doc: 'the TD may use performance monitoring' },
]);

/**
 * XFAM: the XSAVE state components the TD may enable (XCR0 | IA32_XSS layout). The reserved
 * fields are components the module never allows (MPX 3–4, PASID 10, HDC 13, HWP 16, bits 63:19);
 * the allowed set is XFAM_FIXED0 = 0x0006DBE7 and bits 0 and 1 (x87, SSE) are required.
 */
export const TD_XFAM = bitfield('xfam', [
  { name: 'x87', width: 1, doc: 'required' },
  { name: 'sse', width: 1, doc: 'required' },
  { name: 'avx', width: 1 },
  { name: 'reserved0', width: 2, doc: 'MPX BNDREGS/BNDCSR: not supported' },
  { name: 'avx512_kmask', width: 1 },
  { name: 'avx512_zmm_hi256', width: 1 },
  { name: 'avx512_hi16_zmm', width: 1 },
  { name: 'pt', width: 1, doc: 'processor trace (supervisor state)' },
  { name: 'pkru', width: 1 },
  { name: 'reserved1', width: 1, doc: 'PASID: not supported' },
  { name: 'cet_u', width: 1 },
  { name: 'cet_s', width: 1 },
  { name: 'reserved2', width: 1, doc: 'HDC: not supported' },
  { name: 'uli', width: 1, doc: 'user interrupts' },
  { name: 'lbr', width: 1, doc: 'architectural LBRs' },
  { name: 'reserved3', width: 1, doc: 'HWP: not supported' },
  { name: 'amx_xtilecfg', width: 1 },
  { name: 'amx_xtiledata', width: 1 },
  { name: 'reserved4', width: 45 },
]);

/** How a group of XFAM bits must be set together (facts tdx-module.md §10.1, `check_xfam`). */
export interface XfamConstraint {
  /** `all-or-none`: the bits are all set or all clear. `requires`: if any is set, `requires` must all be set. */
  readonly kind: 'all-or-none' | 'requires';
  readonly bits: readonly number[];
  readonly requires?: readonly number[];
  readonly doc: string;
}

export const XFAM_CONSTRAINTS: readonly XfamConstraint[] = Object.freeze([
  {
    kind: 'all-or-none',
    bits: [XfamBit.AVX512_KMASK, XfamBit.AVX512_ZMM_HI256, XfamBit.AVX512_HI16_ZMM],
    doc: 'the three AVX-512 components are enabled together',
  },
  {
    kind: 'requires',
    bits: [XfamBit.AVX512_KMASK, XfamBit.AVX512_ZMM_HI256, XfamBit.AVX512_HI16_ZMM],
    requires: [XfamBit.AVX],
    doc: 'AVX-512 requires AVX',
  },
  { kind: 'all-or-none', bits: [XfamBit.CET_U, XfamBit.CET_S], doc: 'CET user and supervisor state together' },
  { kind: 'all-or-none', bits: [XfamBit.AMX_XTILECFG, XfamBit.AMX_XTILEDATA], doc: 'AMX tile configuration and data together' },
]);

/** The first XFAM_CONSTRAINTS entry `xfam` violates, or undefined. (Range checks are separate.) */
export function xfamConstraintViolated(xfam: bigint): XfamConstraint | undefined {
  const has = (b: number): boolean => ((xfam >> BigInt(b)) & 1n) === 1n;
  return XFAM_CONSTRAINTS.find((c) => {
    const set = c.bits.filter(has).length;
    if (c.kind === 'all-or-none') return set !== 0 && set !== c.bits.length;
    return set !== 0 && !(c.requires ?? []).every(has);
  });
}

/** CONFIG_FLAGS (`config_flags_t`; the module's exec_controls). Only bits 2:0 are defined. */
export const TD_CONFIG_FLAGS = bitfield('config_flags_t', [
  { name: 'gpaw', width: 1, doc: '1: 52-bit GPAs, shared bit 51 (needs 5-level EPT); 0: 48-bit, shared bit 47' },
  { name: 'flexible_pending_ve', width: 1, doc: 'the guest may choose #VE on PENDING pages through TD_CTLS' },
  { name: 'no_rbp_mod', width: 1, doc: 'TDG.VP.VMCALL and TDH.VP.ENTER do not modify RBP unless exposed' },
  { name: 'reserved0', width: 61 },
]);

/**
 * TD_CTLS: guest-controlled TD controls in the TDCS (metadata field TD_CTLS, written with
 * TDG.VM.WR). Facts linux-tdx.md §2.1.
 */
export const TD_CTLS = bitfield('td_ctls_t', [
  { name: 'pending_ve_disable', width: 1, doc: 'access to a PENDING page exits to the host instead of raising #VE' },
  { name: 'enum_topology', width: 1, doc: 'CPU topology enumeration through CPUID 0x1F/0xB is enabled' },
  { name: 'virt_cpuid2', width: 1, doc: 'virtual CPUID leaf 2' },
  { name: 'reduce_ve', width: 1, doc: 'reduce #VEs the guest does not need' },
  { name: 'reserved0', width: 59 },
  { name: 'lock', width: 1, doc: 'TD_CTLS can no longer be changed' },
]);

/** EPTP_CONTROLS for a 4-level EPT (GPAW 48): WB, page-walk length 4 = 0x1E. */
export const EPTP_CONTROLS_4LEVEL = EPTP_CONTROLS.encode({ memory_type: EPT_MEMORY_TYPE_WB, pwl_minus_1: EPT_PWL_MINUS_1_4LEVEL });
/** EPTP_CONTROLS for a 5-level EPT (GPAW 52): WB, page-walk length 5 = 0x26. */
export const EPTP_CONTROLS_5LEVEL = EPTP_CONTROLS.encode({ memory_type: EPT_MEMORY_TYPE_WB, pwl_minus_1: EPT_PWL_MINUS_1_5LEVEL });
/** The only EPTP_CONTROLS values TDH.MNG.INIT accepts. */
export const EPTP_CONTROLS_VALID: readonly bigint[] = Object.freeze([EPTP_CONTROLS_4LEVEL, EPTP_CONTROLS_5LEVEL]);
