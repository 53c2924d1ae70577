/**
 * What TDH.MNG.INIT accepts in TD_PARAMS: the bits of ATTRIBUTES, XFAM, CONFIG_FLAGS,
 * EPTP_CONTROLS and IA32_ARCH_CAPABILITIES_CONFIG, and the ranges of the scalar fields. The byte
 * layout of TD_PARAMS itself is in td-params.ts.
 *
 * Sources: TDX module 1.5 `td_control_structures.h` (ATTRIBUTES/XFAM/CONFIG_FLAGS fixed masks),
 * `helpers.c` (`verify_td_attributes`, `check_xfam`, `verify_td_config_flags`,
 * `verify_and_set_td_eptp_controls`), `virt_msr_helpers.c` (`init_virt_ia32_arch_capabilities`);
 * facts tdx-module.md §10.1.
 */
import { bitfield } from './bitfield.ts';

/** TD ATTRIBUTES bit numbers (`td_param_attributes_t`). */
export const TdAttributesBit = Object.freeze({
  /** Debug TD: the host may read and write its private state. */
  DEBUG: 0,
  /** #VE on a guest access to a PENDING page is disabled (TD_CTLS.PENDING_VE_DISABLE). */
  SEPT_VE_DISABLE: 28,
  MIGRATABLE: 29,
  PKS: 30,
  KL: 31,
  PERFMON: 63,
} as const);

/** Bits a TD may set in ATTRIBUTES in this module (ATTRIBUTES_FIXED0: 1 = allowed). */
export const ATTRIBUTES_FIXED0 = 0x8000_0000_7000_0001n;
/** Bits every TD must set in ATTRIBUTES (ATTRIBUTES_FIXED1). */
export const ATTRIBUTES_FIXED1 = 0n;

/** XFAM bit numbers the module checks in combination (XCR0/IA32_XSS layout). */
export const XfamBit = Object.freeze({
  X87: 0,
  SSE: 1,
  AVX: 2,
  AVX512_KMASK: 5,
  AVX512_ZMM_HI256: 6,
  AVX512_HI16_ZMM: 7,
  PT: 8,
  PKRU: 9,
  CET_U: 11,
  CET_S: 12,
  ULI: 14,
  LBR: 15,
  AMX_XTILECFG: 17,
  AMX_XTILEDATA: 18,
} as const);

/** XFAM bits the module allows (TDX_XFAM_FIXED0, 1 = may be set), on a CPU supporting them all. */
export const XFAM_FIXED0 = 0x0006_dbe7n;
/** XFAM bits every TD must set (x87 and SSE). */
export const XFAM_FIXED1 = 0x0000_0003n;

/** CONFIG_FLAGS bits (`config_flags_t`); the module reports a bad value as EXEC_CONTROLS. */
export const ConfigFlagsBit = Object.freeze({
  /** 1: 52-bit GPAs, shared bit 51 (needs a 5-level EPT); 0: 48-bit, shared bit 47. */
  GPAW: 0,
  FLEXIBLE_PENDING_VE: 1,
  /** TDG.VP.VMCALL leaves RBP alone unless the guest exposes it. */
  NO_RBP_MOD: 2,
} as const);

/** CONFIG_FLAGS bits a TD may set (CONFIG_FLAGS_FIXED0). */
export const CONFIG_FLAGS_FIXED0 = 0x7n;
/** CONFIG_FLAGS bits a TD must set (CONFIG_FLAGS_FIXED1). */
export const CONFIG_FLAGS_FIXED1 = 0n;

/** EPTP_CONTROLS (an EPTP with no root address): Intel SDM Vol. 3C 25.6.11. */
export const EPTP_CONTROLS = bitfield('ia32e_eptp_t', [
  { name: 'memory_type', width: 3, doc: 'paging-structure memory type: must be 6 (WB)' },
  { name: 'pwl_minus_1', width: 3, doc: 'page-walk length - 1: 3 (4-level) or 4 (5-level)' },
  { name: 'enable_ad_bits', width: 1, doc: 'must be 0' },
  { name: 'enable_sss_control', width: 1, doc: 'must be 0' },
  { name: 'reserved0', width: 4 },
  { name: 'base_pa', width: 40, doc: 'root table address: must be 0 (the module supplies the SEPT root)' },
  { name: 'reserved1', width: 12 },
]);

/** EPT memory type write-back. */
export const EPT_MEMORY_TYPE_WB = 6n;
/** EPTP page-walk length - 1 for a 4-level and a 5-level EPT. */
export const EPT_PWL_MINUS_1_4LEVEL = 3n;
export const EPT_PWL_MINUS_1_5LEVEL = 4n;

/** TSC_FREQUENCY is in units of 25 MHz (VIRT_TSC_FREQUENCY_UNIT). */
export const TSC_FREQUENCY_UNIT_HZ = 25_000_000;
/** Allowed TSC_FREQUENCY range: 100 MHz .. 10 GHz. */
export const TSC_FREQUENCY_MIN = 4;
export const TSC_FREQUENCY_MAX = 400;

/** Maximum L2 VMs (TD partitioning) a TD may ask for (MAX_L2_VMS). */
export const MAX_L2_VMS = 3;

/** MSR_CONFIG_CTLS (TD_PARAMS byte 19): bit 0 enables IA32_ARCH_CAPABILITIES_CONFIG. */
export const MSR_CONFIG_CTLS_IA32_ARCH_CAP = 0x1;

/**
 * IA32_ARCH_CAPABILITIES bits a TD may configure: SSB_NO (4), RRSBA (19), BHI_NO (20) and
 * PBRSB_NO (24). Any other bit, or any bit with MSR_CONFIG_CTLS.IA32_ARCH_CAP clear, is refused.
 */
export const IA32_ARCH_CAPABILITIES_CONFIGURABLE = (1n << 4n) | (1n << 19n) | (1n << 20n) | (1n << 24n);

/** TD_CTLS bits (TDCS, guest-writable controls). */
export const TdCtlsBit = Object.freeze({
  PENDING_VE_DISABLE: 0,
  ENUM_TOPOLOGY: 1,
  VIRT_CPUID2: 2,
  REDUCE_VE: 3,
  LOCK: 63,
} as const);

/**
 * TDCS HP_LOCK_TIMEOUT as TDH.MNG.RD/WR present it, in microseconds (the module stores TSC ticks):
 * how long a guest leaf may keep failing on a host-priority lock before the module exits to the
 * host. Default 1 s; a host may set 10 ms..100 s (MIN/MAX_HP_LOCK_TIMEOUT_USEC), with a full write
 * mask only. Source: TDX module 1.5 `td_control_structures.h`, `metadata_td.c`; facts §1.
 */
export const HP_LOCK_TIMEOUT_DEFAULT_US = 1_000_000n;
export const HP_LOCK_TIMEOUT_MIN_US = 10_000n;
export const HP_LOCK_TIMEOUT_MAX_US = 100_000_000n;
