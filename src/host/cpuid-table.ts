/**
 * The vCPU's CPUID table as KVM keeps it (KVM_SET_CPUID2): what KVM answers a TD's
 * TDVMCALL<Instruction.CPUID> with.
 *
 * The TDX module virtualises most leaves itself and only sends the guest a #VE for the rest; a
 * Linux guest forwards only the hypervisor range 0x40000000–0x4FFFFFFF to the VMM (facts
 * linux-tdx.md §6.3), so the table's interesting part is KVM's own signature: leaf 0x40000000
 * returns the highest hypervisor leaf in EAX and "KVMKVMKVM\0\0\0" in EBX, ECX, EDX, leaf
 * 0x40000001 the paravirtual feature bits (none are offered to TDs here). Userspace's entries
 * (the TD's CPUID configuration) are added on top. A leaf with no entry reads as zeros (KVM's
 * "return the highest basic leaf" Intel quirk is not modelled).
 */
import { CPUID_HYPERVISOR_FIRST } from '../abi/cpuid.ts';
import type { CpuidRegs } from '../abi/cpuid-config.ts';

export interface CpuidEntry extends CpuidRegs {
  /** CPUID leaf (EAX input). */
  readonly leaf: number;
  /** Sub-leaf (ECX input), or null when the leaf ignores ECX. */
  readonly subleaf: number | null;
}

/** KVM_CPUID_SIGNATURE and KVM_CPUID_FEATURES. */
const KVM_CPUID_SIGNATURE = CPUID_HYPERVISOR_FIRST;
const KVM_CPUID_FEATURES = CPUID_HYPERVISOR_FIRST + 1;

function signature(text: string): [number, number, number] {
  const b = new TextEncoder().encode(text.padEnd(12, '\0'));
  const dv = new DataView(b.buffer);
  return [dv.getUint32(0, true), dv.getUint32(4, true), dv.getUint32(8, true)];
}

/** The entries KVM provides for every TD before userspace adds its own. */
export function kvmHypervisorLeaves(): CpuidEntry[] {
  const [ebx, ecx, edx] = signature('KVMKVMKVM');
  return [
    { leaf: KVM_CPUID_SIGNATURE, subleaf: null, eax: KVM_CPUID_FEATURES, ebx, ecx, edx },
    { leaf: KVM_CPUID_FEATURES, subleaf: null, eax: 0, ebx: 0, ecx: 0, edx: 0 },
  ];
}

export class CpuidTable {
  private readonly entries: CpuidEntry[];
  /** The entries of each leaf, in table order (a TD can ask for CPUID at every TDVMCALL). */
  private readonly byLeaf = new Map<number, CpuidEntry[]>();

  constructor(userEntries: readonly CpuidEntry[] = []) {
    // Userspace entries override KVM's for the same leaf/sub-leaf.
    const base = kvmHypervisorLeaves().filter((k) => !userEntries.some((u) => u.leaf === k.leaf && u.subleaf === k.subleaf));
    this.entries = [...base, ...userEntries];
    for (const e of this.entries) {
      const list = this.byLeaf.get(e.leaf);
      if (list) list.push(e);
      else this.byLeaf.set(e.leaf, [e]);
    }
  }

  /** CPUID(leaf, subleaf): the first matching entry, or zeros. */
  lookup(leaf: number, subleaf: number): CpuidRegs {
    const list = this.byLeaf.get(leaf);
    if (list) {
      for (const e of list) if (e.subleaf === null || e.subleaf === subleaf) return { eax: e.eax, ebx: e.ebx, ecx: e.ecx, edx: e.edx };
    }
    return { eax: 0, ebx: 0, ecx: 0, edx: 0 };
  }
}
