/**
 * The global metadata the host reads at bring-up with TDH.SYS.RD (Linux
 * `tdx_global_metadata.c`; facts linux-tdx.md §1.4 step 3) and the features it insists on.
 *
 * Linux refuses a module without TDX_FEATURES0.NO_RBP_MOD ("frame pointer (RBP) clobber bug
 * present", -EINVAL); KVM refuses one without TOPOLOGY_ENUM (-EINVAL). Both checks protect the
 * host: without NO_RBP_MOD a TD exit could clobber the host's frame pointer, and without
 * TOPOLOGY_ENUM KVM could not give vCPUs their x2APIC IDs (TDH.VP.INIT version 1).
 */
import type { CpuidRegs } from '../abi/cpuid-config.ts';
import { CPUID_NO_SUBLEAF } from '../abi/cpuid-config.ts';
import { metadataFieldByName } from '../abi/metadata.ts';
import { TdxFeatures0Bit } from '../abi/module-features.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { U32_MASK } from '../abi/bitfield.ts';
import type { LogicalProcessor } from '../platform/processor.ts';
import { HostError } from './errors.ts';
import type { Seamcaller } from './seamcall.ts';

export interface TdxSysInfo {
  readonly version: { readonly major: number; readonly minor: number; readonly update: number };
  readonly features0: bigint;
  readonly maxTdmrs: number;
  readonly maxReservedPerTdmr: number;
  readonly pamtEntrySize: { readonly l4k: number; readonly l2m: number; readonly l1g: number };
  readonly tdrBaseSize: number;
  readonly tdcsBaseSize: number;
  readonly tdvpsBaseSize: number;
  readonly attributesFixed0: bigint;
  readonly attributesFixed1: bigint;
  readonly xfamFixed0: bigint;
  readonly xfamFixed1: bigint;
  readonly maxVcpusPerTd: number;
  /** The configurable CPUID leaves, in CPUID_CONFIG order (subleaf null = no sub-leaf). */
  readonly cpuidConfig: readonly { readonly leaf: number; readonly subleaf: number | null; readonly values: CpuidRegs }[];
}

/** FIELD_ID of a named field, plus an element/field offset. */
export function fieldId(name: string, offset = 0): bigint {
  const f = metadataFieldByName(name);
  if (!f) throw new Error(`no metadata field ${name}`);
  return f.id + BigInt(offset);
}

/** Read every field KVM needs. A failed TDH.SYS.RD is a HostError (EIO). */
export function readSysInfo(sc: Seamcaller, lp: LogicalProcessor): TdxSysInfo {
  const rd = (name: string, offset = 0): bigint =>
    sc.check(lp, SeamcallLeaf.TDH_SYS_RD, { fieldId: fieldId(name, offset) }, `reading global metadata ${name}`).outputs.value;
  const num = (name: string): number => Number(rd(name));
  const n = num('NUM_CPUID_CONFIG');
  const cpuidConfig = Array.from({ length: n }, (_, i) => {
    const ls = rd('CPUID_CONFIG_LEAVES', i);
    const v0 = rd('CPUID_CONFIG_VALUES', 2 * i);
    const v1 = rd('CPUID_CONFIG_VALUES', 2 * i + 1);
    const sub = Number(ls >> 32n);
    return {
      leaf: Number(ls & U32_MASK),
      subleaf: sub === CPUID_NO_SUBLEAF ? null : sub,
      values: { eax: Number(v0 & U32_MASK), ebx: Number(v0 >> 32n), ecx: Number(v1 & U32_MASK), edx: Number(v1 >> 32n) },
    };
  });
  return {
    version: { major: num('MAJOR_VERSION'), minor: num('MINOR_VERSION'), update: num('UPDATE_VERSION') },
    features0: rd('TDX_FEATURES0'),
    maxTdmrs: num('MAX_TDMRS'),
    maxReservedPerTdmr: num('MAX_RESERVED_PER_TDMR'),
    pamtEntrySize: { l4k: num('PAMT_4K_ENTRY_SIZE'), l2m: num('PAMT_2M_ENTRY_SIZE'), l1g: num('PAMT_1G_ENTRY_SIZE') },
    tdrBaseSize: num('TDR_BASE_SIZE'),
    tdcsBaseSize: num('TDCS_BASE_SIZE'),
    tdvpsBaseSize: num('TDVPS_BASE_SIZE'),
    attributesFixed0: rd('ATTRIBUTES_FIXED0'),
    attributesFixed1: rd('ATTRIBUTES_FIXED1'),
    xfamFixed0: rd('XFAM_FIXED0'),
    xfamFixed1: rd('XFAM_FIXED1'),
    maxVcpusPerTd: num('MAX_VCPUS_PER_TD'),
    cpuidConfig,
  };
}

/** Linux's `check_features()` and KVM's TOPOLOGY_ENUM requirement. */
export function checkFeatures(info: TdxSysInfo): void {
  const has = (bit: number) => ((info.features0 >> BigInt(bit)) & 1n) === 1n;
  if (!has(TdxFeatures0Bit.NO_RBP_MOD)) {
    throw new HostError('EINVAL', 'TDX module lacks TDX_FEATURES0.NO_RBP_MOD: frame pointer (RBP) clobber bug present, upgrade TDX module');
  }
  if (!has(TdxFeatures0Bit.TOPOLOGY_ENUM)) {
    throw new HostError('EINVAL', 'TDX module lacks TDX_FEATURES0.TOPOLOGY_ENUM, which KVM requires to give vCPUs their x2APIC IDs');
  }
}
