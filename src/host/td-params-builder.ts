/**
 * KVM_TDX_INIT_VM's `setup_tdparams()`: TD_PARAMS built from what userspace asked for
 * (arch/x86/kvm/vmx/tdx.c; facts linux-tdx.md §1.5, §1.6, §4.6).
 *
 *   - ATTRIBUTES and XFAM must lie within what the host supports (KVM_TDX_CAPABILITIES), else
 *     EINVAL; the module's FIXED1 bits are added;
 *   - MAX_VCPUS is the VM's vCPU limit, CONFIG_FLAGS always has NO_RBP_MOD (plus MAX_GPAW for a
 *     52-bit GPAW), TSC_FREQUENCY is the TSC rate in 25 MHz units (the module checks its range);
 *   - EPTP_CONTROLS is WB with a 4-level walk for GPAW 48 or a 5-level walk for GPAW 52 (the only
 *     widths accepted; the simulated CPU has 5-level EPT);
 *   - CPUID values are copied into the module's CPUID_CONFIG order; an entry the module cannot
 *     configure is EINVAL (KVM: "copy_cnt != nent"); EAX[23:16] of 0x80000008 is cleared, as the
 *     module refuses it (GPAW is chosen through CONFIG_FLAGS);
 *   - MRCONFIGID, MROWNER and MROWNERCONFIG are copied verbatim (48 bytes each).
 */
import { CPUID_ADDRESS_SIZES_LEAF, CPUID_80000008_EAX } from '../abi/cpuid.ts';
import type { CpuidRegs } from '../abi/cpuid-config.ts';
import { GPAW_48, GPAW_52 } from '../abi/gpa.ts';
import { TD_CONFIG_FLAGS, TD_PARAMS, EPTP_CONTROLS_4LEVEL, EPTP_CONTROLS_5LEVEL, SHA384_SIZE, encodeCpuidValues } from '../abi/td-params.ts';
import { TSC_FREQUENCY_UNIT_HZ } from '../abi/td-config.ts';
import { HostError } from './errors.ts';
import type { CpuidEntry } from './cpuid-table.ts';
import type { TdxCapabilities } from './tdx-host.ts';
import type { TdxSysInfo } from './sysinfo.ts';

export interface TdParamsRequest {
  readonly attributes: bigint;
  readonly xfam: bigint;
  readonly maxVcpus: number;
  readonly gpaw: number;
  readonly tscKhz: number;
  readonly mrConfigId: Uint8Array;
  readonly mrOwner: Uint8Array;
  readonly mrOwnerConfig: Uint8Array;
  readonly cpuid: readonly CpuidEntry[];
}

const hex = (v: bigint | number) => '0x' + v.toString(16);

/** The 1024 TD_PARAMS bytes, or a HostError(EINVAL) saying what KVM would refuse. */
export function buildTdParams(req: TdParamsRequest, sys: TdxSysInfo, caps: TdxCapabilities): Uint8Array {
  if (req.attributes & ~caps.supportedAttributes) {
    throw new HostError('EINVAL', `TD attributes ${hex(req.attributes)} include bits KVM does not support (supported: ${hex(caps.supportedAttributes)})`);
  }
  if (req.xfam & ~caps.supportedXfam) {
    throw new HostError('EINVAL', `XFAM ${hex(req.xfam)} includes bits the host does not support (supported: ${hex(caps.supportedXfam)})`);
  }
  if (req.gpaw !== GPAW_48 && req.gpaw !== GPAW_52) throw new HostError('EINVAL', `GPAW ${req.gpaw} is neither 48 nor 52`);
  for (const [name, v] of [['MRCONFIGID', req.mrConfigId], ['MROWNER', req.mrOwner], ['MROWNERCONFIG', req.mrOwnerConfig]] as const) {
    if (v.length !== SHA384_SIZE) throw new HostError('EINVAL', `${name} must be ${SHA384_SIZE} bytes, got ${v.length}`);
  }

  const values: CpuidRegs[] = sys.cpuidConfig.map(() => ({ eax: 0, ebx: 0, ecx: 0, edx: 0 }));
  for (const e of req.cpuid) {
    const i = sys.cpuidConfig.findIndex((c) => c.leaf === e.leaf && c.subleaf === e.subleaf);
    if (i < 0) {
      throw new HostError('EINVAL', `CPUID leaf ${hex(e.leaf)}${e.subleaf === null ? '' : `.${e.subleaf}`} is not configurable by the TDX module`);
    }
    const eax = e.leaf === CPUID_ADDRESS_SIZES_LEAF ? Number(CPUID_80000008_EAX.set(BigInt(e.eax >>> 0), 'guest_physical_address_bits', 0n)) : e.eax;
    values[i] = { eax: eax >>> 0, ebx: e.ebx >>> 0, ecx: e.ecx >>> 0, edx: e.edx >>> 0 };
  }

  const big52 = req.gpaw === GPAW_52;
  return TD_PARAMS.encode({
    attributes: req.attributes | sys.attributesFixed1,
    xfam: req.xfam | sys.xfamFixed1,
    max_vcpus: req.maxVcpus,
    eptp_controls: big52 ? EPTP_CONTROLS_5LEVEL : EPTP_CONTROLS_4LEVEL,
    config_flags: TD_CONFIG_FLAGS.encode({ gpaw: big52 ? 1 : 0, no_rbp_mod: 1 }),
    tsc_frequency: tscFrequencyUnits(req.tscKhz),
    mrconfigid: req.mrConfigId,
    mrowner: req.mrOwner,
    mrownerconfig: req.mrOwnerConfig,
    cpuid_config: encodeCpuidValues(values),
  });
}

/** KVM's TDX_TSC_KHZ_TO_25MHZ: kHz → 25 MHz units, truncated; clamped to the u16 field. */
export function tscFrequencyUnits(khz: number): number {
  const units = Math.floor((khz * 1000) / TSC_FREQUENCY_UNIT_HZ);
  return Math.max(0, Math.min(units, U16_MAX));
}
const U16_MAX = 65535;
