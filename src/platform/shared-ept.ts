/**
 * The shared EPT: the host-owned second-level page table the CPU walks for a TD's *shared* GPAs
 * (those with the shared bit set).
 *
 * Private GPAs are translated by the Secure EPT, which only the TDX module can change; shared GPAs
 * are translated by an ordinary EPT that lives in host memory and that the host edits at will. The
 * host points a vCPU at it through the TD VMCS field SHARED_EPTP (TDH.VP.WR). The CPU, not the
 * module, walks it: a mapped GFN is accessed with the host's KeyID (shared memory is not
 * encrypted with the TD's key), an entry the host marked as MMIO (present-but-no-access with
 * suppress-#VE clear, KVM's TDX MMIO SPTE) raises a convertible EPT violation that the CPU
 * delivers to the guest as #VE, and an unmapped GFN is an EPT violation the module reflects to
 * the host as a TD exit. Facts: tdx-module.md §6.4, linux-tdx.md §4.4.
 *
 * A table is keyed by the full GFN the guest uses, shared bit included (GPA >> 12), as the CPU
 * walks it. The host registers a table with `Platform.registerSharedEpt(rootPa, table)`; the root
 * PA is what SHARED_EPTP carries in bits 51:12.
 */
import { PAGE_SIZE } from '../abi/pamt.ts';

export type SharedEptEntry =
  /** A page of host memory, accessed with KeyID 0. */
  | { readonly kind: 'page'; readonly hpa: bigint }
  /** Emulated MMIO: no page; a guest access raises #VE (suppress-#VE clear). */
  | { readonly kind: 'mmio' };

export class SharedEptError extends Error {
  override readonly name = 'SharedEptError';
}

export class SharedEpt {
  private readonly entries = new Map<bigint, SharedEptEntry>();

  /** Map the 4K page at `gpa` (shared bit included) to host page `hpa`. */
  map(gpa: bigint, hpa: bigint): void {
    if (gpa < 0n || hpa < 0n || hpa % PAGE_SIZE !== 0n) {
      throw new SharedEptError(`shared EPT map: HPA ${hpa.toString(16)} must be a non-negative 4K-aligned address`);
    }
    this.entries.set(gfn(gpa), { kind: 'page', hpa });
  }

  /** Mark the 4K page at `gpa` as emulated MMIO. */
  mapMmio(gpa: bigint): void {
    if (gpa < 0n) throw new SharedEptError('shared EPT MMIO: GPA must be non-negative');
    this.entries.set(gfn(gpa), { kind: 'mmio' });
  }

  /** Remove the entry of the page at `gpa` (a later access is an EPT violation). */
  unmap(gpa: bigint): void {
    this.entries.delete(gfn(gpa));
  }

  /** The entry translating `gpa`, or undefined if the page is not mapped. */
  lookup(gpa: bigint): SharedEptEntry | undefined {
    return this.entries.get(gfn(gpa));
  }

  /** Host physical address of `gpa` through a page entry (page base plus the page offset). */
  static translate(entry: Extract<SharedEptEntry, { kind: 'page' }>, gpa: bigint): bigint {
    return entry.hpa + (gpa & (PAGE_SIZE - 1n));
  }

  /** Number of mapped entries (pages and MMIO). */
  get size(): number {
    return this.entries.size;
  }
}

function gfn(gpa: bigint): bigint {
  return gpa >> 12n;
}
