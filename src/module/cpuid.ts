/**
 * CPUID virtualisation: what a guest CPUID returns inside a TD (`td_cpuid_exit`).
 *
 * The TDX module answers CPUID itself, from values fixed when the TD was initialised, so the host
 * cannot lie to the guest about the platform. In the module's order:
 *   1. leaves 0x40000000–0x4FFFFFFF (the hypervisor range) always raise #VE — they are the VMM's
 *      to answer, through TDG.VP.VMCALL<Instruction.CPUID>;
 *   2. if the guest asked for #VE on every CPUID at its privilege level (TDG.VP.CPUIDVE.SET),
 *      #VE;
 *   3. a leaf above the maximum of its range reads as the maximum basic leaf (native behaviour);
 *   4. a leaf/sub-leaf the module does not virtualise raises #VE;
 *   5. otherwise the TD's value: the simulated CPU's value (src/abi/cpuid.ts) with the bits the
 *      host configured in TD_PARAMS.CPUID_CONFIG replaced by the host's choice, and the dynamic
 *      fields filled per vCPU — CPUID(1).EBX's initial APIC ID (VCPU_INDEX, or the x2APIC id
 *      with TD_CTLS.ENUM_TOPOLOGY) and CPUID(0x80000008)'s physical width (the TD's GPAW).
 * CPUID(0x21) is the module's own: "IntelTDX    ", how a guest learns it runs in a TD.
 * Source: TDX module 1.5 `td_cpuid.c`; facts tdx-module.md §6.4, linux-tdx.md §6.1.
 */
import {
  CPUID1_EBX,
  CPUID_80000008_EAX,
  CPUID_ADDRESS_SIZES_LEAF,
  CPUID_ANY_SUBLEAF,
  CPUID_FIRST_EXTENDED_LEAF,
  CPUID_HYPERVISOR_FIRST,
  CPUID_HYPERVISOR_LAST,
  CPUID_VERSION_LEAF,
  SIMULATED_CPUID,
  type SimulatedCpuidLeaf,
} from '../abi/cpuid.ts';
import { TdCtlsBit } from '../abi/td-config.ts';
import type { Td } from './td.ts';
import type { Vcpu } from './vcpu.ts';

export interface CpuidRegisters {
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
}

export type CpuidOutcome = { readonly kind: 'values'; readonly values: CpuidRegisters } | { readonly kind: 've' };

const VE: CpuidOutcome = { kind: 've' };

/** Virtualise CPUID(leaf, subleaf) for `vcpu` at its current privilege level. */
export function virtualizeCpuid(vcpu: Vcpu, leaf: number, subleaf: number): CpuidOutcome {
  const td = vcpu.td;
  leaf >>>= 0;
  subleaf >>>= 0;
  if (leaf >= CPUID_HYPERVISOR_FIRST && leaf <= CPUID_HYPERVISOR_LAST) return VE;
  const userMode = vcpu.cpu.cpl > 0;
  if ((userMode && vcpu.cpuidVeUser) || (!userMode && vcpu.cpuidVeSupervisor)) return VE;
  const effectiveLeaf = clampLeaf(leaf);
  const base = lookup(effectiveLeaf, subleaf);
  if (!base) return VE;
  const values = tdValue(td, base);
  return { kind: 'values', values: applyDynamicFields(td, vcpu, effectiveLeaf, values) };
}

/** A leaf above the last leaf of its range behaves as the last basic leaf (Intel SDM CPUID). */
function clampLeaf(leaf: number): number {
  const lastBasic = lookup(0, 0)!.eax >>> 0;
  const lastExtended = lookup(CPUID_FIRST_EXTENDED_LEAF, 0)!.eax >>> 0;
  if (leaf > lastExtended || (leaf > lastBasic && leaf < CPUID_FIRST_EXTENDED_LEAF)) return lastBasic;
  return leaf;
}

function lookup(leaf: number, subleaf: number): SimulatedCpuidLeaf | undefined {
  return SIMULATED_CPUID.find((e) => e.leaf === leaf && (e.subleaf === CPUID_ANY_SUBLEAF || e.subleaf === subleaf));
}

/** The TD's stored value for a simulated leaf (TDCS.CPUID_VALUES, computed at TDH.MNG.INIT). */
function tdValue(td: Td, base: SimulatedCpuidLeaf): CpuidRegisters {
  return td.cpuidValues[SIMULATED_CPUID.indexOf(base)] ?? base;
}

/** Fields the module computes per vCPU at the time of the CPUID (`td_cpuid_exit` special cases). */
function applyDynamicFields(td: Td, vcpu: Vcpu, leaf: number, v: CpuidRegisters): CpuidRegisters {
  if (leaf === CPUID_VERSION_LEAF) {
    const enumTopology = ((td.tdCtls >> BigInt(TdCtlsBit.ENUM_TOPOLOGY)) & 1n) === 1n;
    const apicId = enumTopology ? vcpu.x2apicId : BigInt(vcpu.index);
    // The field is 8 bits wide: set() truncates the ID, as the module does.
    return { ...v, ebx: Number(CPUID1_EBX.set(BigInt(v.ebx >>> 0), 'initial_apic_id', apicId)) };
  }
  if (leaf === CPUID_ADDRESS_SIZES_LEAF) {
    return { ...v, eax: Number(CPUID_80000008_EAX.set(BigInt(v.eax >>> 0), 'physical_address_bits', BigInt(td.gpaw))) };
  }
  return v;
}
