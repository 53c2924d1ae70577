/**
 * The CPUID leaves a host may configure for a TD through TD_PARAMS.CPUID_CONFIG, in the module's
 * CPUID_CONFIG order, with the bits it may configure.
 *
 * For each leaf/sub-leaf: `configDirect` bits take the host's value; `allowDirect` bits take the
 * host's value only where the CPU supports the feature (the host may clear them, not force them);
 * any other bit set in the host's value is refused with OPERAND_INVALID|CPUID_CONFIG and RCX =
 * the leaf/sub-leaf. TDH.SYS.INFO and TDH.SYS.RD report, per entry, configDirect | the natively
 * supported allowDirect bits.
 *
 * Source: TDX module `include/auto_gen/cpuid_configurations.c` (`cpuid_configurable`, entries
 * 0..11, the 12 entries of TDX 1.5; later trees append 0x1F sub-leaves), facts tdx-module.md
 * §10.1 (order) and linux-tdx.md §1.4 (CPUID_CONFIG_LEAVES: subleaf 0xFFFFFFFF = none).
 */

/** Sub-leaf value meaning "this leaf has no sub-leaves". */
export const CPUID_NO_SUBLEAF = 0xffff_ffff;

export interface CpuidRegs {
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
}

export interface CpuidConfigurable {
  readonly leaf: number;
  /** Sub-leaf, or CPUID_NO_SUBLEAF. */
  readonly subleaf: number;
  readonly configDirect: CpuidRegs;
  readonly allowDirect: CpuidRegs;
}

const r = (v: Partial<CpuidRegs>): CpuidRegs => ({ eax: 0, ebx: 0, ecx: 0, edx: 0, ...v });

const LEAF4 = r({ eax: 0xffff_c3ff, ebx: 0xffff_f000, ecx: 0xffff_ffff, edx: 0xffff_fffb });

export const CPUID_CONFIGURABLE: readonly CpuidConfigurable[] = Object.freeze([
  { leaf: 0x1, subleaf: CPUID_NO_SUBLEAF, configDirect: r({ eax: 0x0fff_3fff, ebx: 0x00ff_0000 }), allowDirect: r({ ecx: 0x3104_4d88, edx: 0xb844_0000 }) },
  { leaf: 0x4, subleaf: 0, configDirect: LEAF4, allowDirect: r({}) },
  { leaf: 0x4, subleaf: 1, configDirect: LEAF4, allowDirect: r({}) },
  { leaf: 0x4, subleaf: 2, configDirect: LEAF4, allowDirect: r({}) },
  { leaf: 0x4, subleaf: 3, configDirect: r({ eax: 0xffff_c3ff, ebx: 0xffff_f000, ecx: 0xffff_ffff, edx: 0x7 }), allowDirect: r({}) },
  { leaf: 0x7, subleaf: 0, configDirect: r({}), allowDirect: r({ ebx: 0xdc2b_9b18, ecx: 0x0241_7f65, edx: 0x0005_411c }) },
  { leaf: 0x7, subleaf: 1, configDirect: r({}), allowDirect: r({ eax: 0x0400_1d30, edx: 0x0000_0430 }) },
  { leaf: 0xa, subleaf: CPUID_NO_SUBLEAF, configDirect: r({}), allowDirect: r({}) },
  { leaf: 0x1c, subleaf: CPUID_NO_SUBLEAF, configDirect: r({}), allowDirect: r({ eax: 0xff }) },
  { leaf: 0x8000_0008, subleaf: CPUID_NO_SUBLEAF, configDirect: r({}), allowDirect: r({ ebx: 0x200 }) },
  { leaf: 0x7, subleaf: 2, configDirect: r({}), allowDirect: r({ edx: 0x28 }) },
  { leaf: 0x23, subleaf: 0, configDirect: r({}), allowDirect: r({ eax: 0xf }) },
]);

/** Number of CPUID_CONFIG entries (TDSYSINFO num_cpuid_config, TD_PARAMS CPUID_CONFIG). */
export const NUM_CPUID_CONFIG = CPUID_CONFIGURABLE.length;

/** The leaf/sub-leaf word the module reports (RCX on a CPUID_CONFIG error, CPUID_CONFIG_LEAVES). */
export function cpuidLeafSubleaf(c: Pick<CpuidConfigurable, 'leaf' | 'subleaf'>): bigint {
  return (BigInt(c.subleaf >>> 0) << 32n) | BigInt(c.leaf >>> 0);
}

/**
 * The bits TDH.SYS.INFO and TDH.SYS.RD (CPUID_CONFIG_VALUES) report as configurable for an entry:
 * CONFIG_DIRECT, plus the ALLOW_DIRECT bits the CPU supports natively — on the simulated CPU all of
 * them (`tdh_sys_info.c`: config_direct | (allow_direct & native)).
 */
export function cpuidConfigurableBits(c: CpuidConfigurable): CpuidRegs {
  return {
    eax: (c.configDirect.eax | c.allowDirect.eax) >>> 0,
    ebx: (c.configDirect.ebx | c.allowDirect.ebx) >>> 0,
    ecx: (c.configDirect.ecx | c.allowDirect.ecx) >>> 0,
    edx: (c.configDirect.edx | c.allowDirect.edx) >>> 0,
  };
}
