/**
 * TDH.MNG.INIT's validation of TD_PARAMS: decode the 1024-byte structure the host wrote and check
 * every field in the module's order, producing the TD configuration or the exact failure.
 *
 * Source: TDX module 1.5 `tdh_mng_init.c` (`read_and_set_td_configurations`,
 * `read_and_set_cpuid_configurations`), `helpers.c` (`verify_td_attributes`, `check_xfam`,
 * `verify_td_config_flags`, `verify_and_set_td_eptp_controls`) and `virt_msr_helpers.c`
 * (`init_virt_ia32_arch_capabilities`); facts tdx-module.md §10.1.
 *
 * Every field is host input that becomes the TD's immutable, measured configuration: a bad value
 * is refused with OPERAND_INVALID and the field's operand ID (reserved bytes: RDX, the TD_PARAMS
 * pointer), so neither a TD nor the module ever runs with a configuration it does not support.
 * Nothing is applied to the TD until every check passed.
 *
 * Simplifications (the simulated CPU has no native CPUID/MSR values): bits a host may configure
 * are checked exactly; the stored CPUID values are the configured values of the configurable bits
 * (the vCPU's CPUID emulation supplies the rest); CPUID(1).EAX family/model/stepping is not
 * compared with a native value.
 */
import { MAX_VCPUS_PER_TD, TDCS_BASE_PAGES } from '../abi/lifecycle.ts';
import { OperandId, TdxStatus, withOperand } from '../abi/status.ts';
import {
  ATTRIBUTES_FIXED0,
  ATTRIBUTES_FIXED1,
  EPT_MEMORY_TYPE_WB,
  EPT_PWL_MINUS_1_4LEVEL,
  EPT_PWL_MINUS_1_5LEVEL,
  EPTP_CONTROLS,
  IA32_ARCH_CAPABILITIES_CONFIGURABLE,
  MAX_L2_VMS,
  MSR_CONFIG_CTLS_IA32_ARCH_CAP,
  TSC_FREQUENCY_MAX,
  TSC_FREQUENCY_MIN,
  XFAM_FIXED0,
  XFAM_FIXED1,
} from '../abi/td-config.ts';
import { CPUID_CONFIGURABLE, cpuidConfigurableBits, cpuidLeafSubleaf } from '../abi/cpuid-config.ts';
import { GPAW_48, GPAW_52 } from '../abi/gpa.ts';
import {
  TD_ATTRIBUTES,
  TD_CONFIG_FLAGS,
  TD_CTLS,
  TD_PARAMS,
  decodeCpuidValues,
  xfamConstraintViolated,
  type CpuidValues,
} from '../abi/td-params.ts';
import type { CpuidValue } from './td.ts';
import { CPUID_VERSION_LEAF, SIMULATED_CPUID } from '../abi/cpuid.ts';
import { tdFamilyModelStepping } from './td-cpuid.ts';

/** The TD configuration TD_PARAMS yields, ready to store in the TDCS. */
export interface TdConfig {
  readonly attributes: bigint;
  readonly xfam: bigint;
  readonly maxVcpus: number;
  readonly numL2Vms: number;
  readonly eptpControls: bigint;
  /** Secure-EPT levels from EPTP_CONTROLS. */
  readonly eptLevels: 4 | 5;
  readonly configFlags: bigint;
  readonly gpaw: number;
  readonly tscFrequency: number;
  readonly mrConfigId: Uint8Array<ArrayBuffer>;
  readonly mrOwner: Uint8Array<ArrayBuffer>;
  readonly mrOwnerConfig: Uint8Array<ArrayBuffer>;
  readonly cpuidConfig: CpuidValue[];
  readonly ia32ArchCapabilitiesConfig: bigint;
  /** TD_CTLS: PENDING_VE_DISABLE follows ATTRIBUTES.SEPT_VE_DISABLE. */
  readonly tdCtls: bigint;
}

export type TdParamsCheck =
  | { readonly ok: true; readonly config: TdConfig }
  /** `rcx`: the extended error TDH.MNG.INIT returns in RCX (CPUID_CONFIG errors), else 0. */
  | { readonly ok: false; readonly status: bigint; readonly rcx: bigint };

/** `verify_td_attributes`: inside FIXED0/FIXED1, and MIGRATABLE excludes DEBUG and PERFMON. */
export function attributesValid(attributes: bigint): boolean {
  if ((attributes & ~ATTRIBUTES_FIXED0) !== 0n || (attributes & ATTRIBUTES_FIXED1) !== ATTRIBUTES_FIXED1) return false;
  const a = TD_ATTRIBUTES.decode(attributes);
  return !(a.migratable && (a.debug || a.perfmon));
}

/** `check_xfam`: allowed components only, x87+SSE set, and the feature groups set together. */
export function xfamValid(xfam: bigint): boolean {
  if ((xfam & ~XFAM_FIXED0) !== 0n || (xfam & XFAM_FIXED1) !== XFAM_FIXED1) return false;
  return xfamConstraintViolated(xfam) === undefined;
}

/**
 * `verify_and_set_td_eptp_controls`: WB, a 4- or 5-level walk, no A/D or SSS, no root address.
 * A 52-bit GPAW needs a 5-level EPT (its shared bit 51 is above a 4-level walk); a 48-bit TD may
 * still use a 5-level EPT. Returns the EPT level count, or 0 if invalid.
 */
export function eptLevelsOf(eptp: bigint, gpaw52: boolean): 0 | 4 | 5 {
  const f = EPTP_CONTROLS.decode(eptp);
  if (f.memory_type !== EPT_MEMORY_TYPE_WB) return 0;
  if (f.pwl_minus_1 !== EPT_PWL_MINUS_1_4LEVEL && f.pwl_minus_1 !== EPT_PWL_MINUS_1_5LEVEL) return 0;
  if (f.enable_ad_bits || f.enable_sss_control || f.base_pa || EPTP_CONTROLS.hasReservedBits(eptp)) return 0;
  if (gpaw52 && f.pwl_minus_1 !== EPT_PWL_MINUS_1_5LEVEL) return 0;
  return f.pwl_minus_1 === EPT_PWL_MINUS_1_5LEVEL ? 5 : 4;
}

/** TSX: CPUID(7,0).EBX HLE (bit 4) and RTM (bit 11) must be configured alike. */
const CPUID7_HLE = 4;
const CPUID7_RTM = 11;

/**
 * `read_and_set_cpuid_configurations`, the host-visible part: per entry, bits outside CONFIG_DIRECT
 * | ALLOW_DIRECT refuse the leaf (a bit the host may not configure could enable a feature the
 * module cannot virtualise safely), and so do HLE and RTM configured differently. CPUID(1).EAX
 * is the virtual family/model/stepping: 0 means the CPU's own; a non-migratable TD may not claim
 * any other CPU (only a migratable TD may run with a model it was not created on). Failure
 * returns the leaf/sub-leaf word for RCX.
 */
function checkCpuid(
  entries: CpuidValues[],
  migratable: boolean,
): { ok: true; values: CpuidValue[] } | { ok: false; rcx: bigint } {
  const values: CpuidValue[] = [];
  entries.forEach((e) => values.push({ ...e }));
  for (let i = 0; i < CPUID_CONFIGURABLE.length; i++) {
    const c = CPUID_CONFIGURABLE[i]!;
    const e = entries[i]!;
    const allowed = cpuidConfigurableBits(c);
    const outside = (['eax', 'ebx', 'ecx', 'edx'] as const).some((r) => (e[r] & ~allowed[r]) >>> 0 !== 0);
    if (outside) return { ok: false, rcx: cpuidLeafSubleaf(c) };
    if (c.leaf === 0x7 && c.subleaf === 0 && ((e.ebx >>> CPUID7_HLE) & 1) !== ((e.ebx >>> CPUID7_RTM) & 1)) {
      return { ok: false, rcx: cpuidLeafSubleaf(c) };
    }
    if (c.leaf === CPUID_VERSION_LEAF && !migratable) {
      const nativeFms = (tdFamilyModelStepping(SIMULATED_CPUID) & c.configDirect.eax) >>> 0;
      if (e.eax !== 0 && e.eax >>> 0 !== nativeFms) return { ok: false, rcx: cpuidLeafSubleaf(c) };
    }
  }
  return { ok: true, values };
}

type TdParamsReserved = 'reserved0' | 'reserved1' | 'reserved2' | 'reserved3';

/** True if the named reserved run of TD_PARAMS is all zero. */
function reservedZero(bytes: Uint8Array, name: TdParamsReserved): boolean {
  const f = TD_PARAMS.field(name);
  return bytes.subarray(f.offset, f.offset + f.size).every((b) => b === 0);
}

/**
 * Check TD_PARAMS (`bytes`, 1024 bytes as read from host memory) for a TD with `tdcxPages` TDCS
 * pages. Field order and failures are the module's:
 *   ATTRIBUTES → XFAM → MAX_VCPUS → NUM_L2_VMS → (TDCS pages for the L2 VMs: TDCS_NOT_ALLOCATED)
 *   → reserved → CONFIG_FLAGS (EXEC_CONTROLS) → EPTP_CONTROLS → TSC_FREQUENCY → reserved →
 *   MSR_CONFIG_CTLS reserved bits → reserved → CPUID_CONFIG (RCX = leaf/sub-leaf) → reserved →
 *   IA32_ARCH_CAPABILITIES_CONFIG.
 */
export function checkTdParams(bytes: Uint8Array, tdcxPages: number): TdParamsCheck {
  const p = TD_PARAMS.decode(bytes);
  const fail = (operand: number | null, status: bigint = TdxStatus.TDX_OPERAND_INVALID, rcx = 0n): TdParamsCheck => ({
    ok: false,
    status: operand === null ? status : withOperand(status, operand),
    rcx,
  });

  if (!attributesValid(p.attributes)) return fail(OperandId.ATTRIBUTES);
  if (!xfamValid(p.xfam)) return fail(OperandId.XFAM);
  if (p.max_vcpus === 0 || p.max_vcpus > MAX_VCPUS_PER_TD) return fail(OperandId.MAX_VCPUS);
  if (p.num_l2_vms > MAX_L2_VMS) return fail(OperandId.NUM_L2_VMS);
  // Each L2 VM needs one more TDCS page: refuse before anything would use the missing page.
  if (tdcxPages < TDCS_BASE_PAGES + p.num_l2_vms) return fail(null, TdxStatus.TDX_TDCS_NOT_ALLOCATED);
  if (!reservedZero(bytes, 'reserved0')) return fail(OperandId.RDX);
  // The module reports CONFIG_FLAGS errors with the EXEC_CONTROLS operand ID (its old name).
  if (TD_CONFIG_FLAGS.hasReservedBits(p.config_flags)) return fail(OperandId.EXEC_CONTROLS);
  const gpaw52 = TD_CONFIG_FLAGS.get(p.config_flags, 'gpaw') === 1n;
  const eptLevels = eptLevelsOf(p.eptp_controls, gpaw52);
  if (eptLevels === 0) return fail(OperandId.EPTP_CONTROLS);
  if (p.tsc_frequency < TSC_FREQUENCY_MIN || p.tsc_frequency > TSC_FREQUENCY_MAX) return fail(OperandId.TSC_FREQUENCY);
  if (!reservedZero(bytes, 'reserved1')) return fail(OperandId.RDX);
  if ((p.msr_config_ctls & ~MSR_CONFIG_CTLS_IA32_ARCH_CAP) !== 0) return fail(OperandId.RDX);
  if (!reservedZero(bytes, 'reserved2')) return fail(OperandId.RDX);
  const cpuid = checkCpuid(decodeCpuidValues(p.cpuid_config), TD_ATTRIBUTES.get(p.attributes, 'migratable') === 1n);
  if (!cpuid.ok) return fail(OperandId.CPUID_CONFIG, TdxStatus.TDX_OPERAND_INVALID, cpuid.rcx);
  if (!reservedZero(bytes, 'reserved3')) return fail(OperandId.RDX);
  const archCap = p.ia32_arch_capabilities_config;
  const archCapEnabled = (p.msr_config_ctls & MSR_CONFIG_CTLS_IA32_ARCH_CAP) !== 0;
  if ((!archCapEnabled && archCap !== 0n) || (archCap & ~IA32_ARCH_CAPABILITIES_CONFIGURABLE) !== 0n) {
    return fail(OperandId.IA32_ARCH_CAPABILITIES_CONFIG);
  }

  return {
    ok: true,
    config: {
      attributes: p.attributes,
      xfam: p.xfam,
      maxVcpus: p.max_vcpus,
      numL2Vms: p.num_l2_vms,
      eptpControls: p.eptp_controls,
      eptLevels,
      configFlags: p.config_flags,
      gpaw: gpaw52 ? GPAW_52 : GPAW_48,
      tscFrequency: p.tsc_frequency,
      mrConfigId: new Uint8Array(p.mrconfigid),
      mrOwner: new Uint8Array(p.mrowner),
      mrOwnerConfig: new Uint8Array(p.mrownerconfig),
      cpuidConfig: cpuid.values,
      ia32ArchCapabilitiesConfig: archCap,
      tdCtls: TD_CTLS.encode({ pending_ve_disable: TD_ATTRIBUTES.get(p.attributes, 'sept_ve_disable') }),
    },
  };
}
