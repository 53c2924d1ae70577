/**
 * TDCS.CPUID_VALUES: the TD's virtual CPUID, computed once by TDH.MNG.INIT from the CPU's values
 * and the host's TD_PARAMS.CPUID_CONFIG, then read by the vCPU's CPUID virtualisation, by
 * TDH.MNG.RD/TDG.VM.RD of CPUID_VALUES, and by TDH.VP.INIT (guest RDX = CPUID(1).EAX).
 *
 * For each leaf the module virtualises (SIMULATED_CPUID order), per register, as the module's
 * `read_and_set_cpuid_configurations` does:
 *   - CONFIG_DIRECT bits take the host's value;
 *   - ALLOW_DIRECT bits keep the CPU's value only where the host also set them (a host may hide a
 *     feature, never invent one the CPU lacks);
 *   - every other bit keeps the CPU's value.
 * CPUID(1).EAX is the virtual family/model/stepping: a configured value of 0 means "the CPU's
 * own"; TDH.MNG.INIT has already refused other values for a non-migratable TD
 * (td-params-check.ts). Per-vCPU fields (initial APIC ID, address sizes) are filled at CPUID time.
 */
import { CPUID_CONFIGURABLE, CPUID_NO_SUBLEAF, type CpuidRegs } from '../abi/cpuid-config.ts';
import { CPUID_VERSION_LEAF, SIMULATED_CPUID, type SimulatedCpuidLeaf } from '../abi/cpuid.ts';
import type { CpuidValue } from './td.ts';

const REGS = ['eax', 'ebx', 'ecx', 'edx'] as const;

/** Index in CPUID_CONFIGURABLE of the entry configuring `native`, or -1. */
function configIndex(native: SimulatedCpuidLeaf): number {
  return CPUID_CONFIGURABLE.findIndex(
    (c) => c.leaf === native.leaf && (c.subleaf === CPUID_NO_SUBLEAF || c.subleaf === native.subleaf),
  );
}

function merge(native: number, host: number, direct: number, allow: number): number {
  return ((native & ~(direct | allow)) | (host & direct) | (host & allow & native)) >>> 0;
}

/** The TD's CPUID values, one per SIMULATED_CPUID entry, in the same order. */
export function computeTdCpuid(cpuidConfig: readonly CpuidValue[]): SimulatedCpuidLeaf[] {
  return SIMULATED_CPUID.map((native) => {
    const i = configIndex(native);
    const host = cpuidConfig[i];
    if (i < 0 || !host) return native;
    const entry = CPUID_CONFIGURABLE[i]!;
    const out: Record<keyof CpuidRegs, number> = { eax: 0, ebx: 0, ecx: 0, edx: 0 };
    for (const r of REGS) out[r] = merge(native[r], host[r], entry.configDirect[r], entry.allowDirect[r]);
    if (native.leaf === CPUID_VERSION_LEAF && out.eax === 0) out.eax = native.eax;
    return Object.freeze({ leaf: native.leaf, subleaf: native.subleaf, ...out });
  });
}

/** The TD's value of CPUID(1).EAX (its virtual family/model/stepping). */
export function tdFamilyModelStepping(values: readonly SimulatedCpuidLeaf[]): number {
  return values.find((v) => v.leaf === CPUID_VERSION_LEAF)?.eax ?? 0;
}
