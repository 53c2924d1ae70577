/**
 * The host's KeyID allocator (Linux `tdx_guest_keyid_alloc` over an IDA range).
 *
 * IA32_MKTME_KEYID_PARTITIONING splits the KeyIDs: 1..NUM_MKTME_KIDS are MKTME (shared) KeyIDs,
 * the next NUM_TDX_KIDS are TDX private KeyIDs. Linux gives the first TDX KeyID to the TDX module
 * as its global KeyID (TDH.SYS.CONFIG) and hands the others out to TDs, lowest free first; when
 * none is left, creating a TD fails with ENOSPC. Facts linux-tdx.md §1.4 step 1, §1.5.
 */
import { HostError } from './errors.ts';

export class HkidAllocator {
  private readonly used = new Set<number>();

  constructor(
    /** First guest KeyID (the one after the global KeyID). */
    readonly first: number,
    /** Number of guest KeyIDs. */
    readonly count: number,
  ) {}

  /** The lowest free guest KeyID. */
  alloc(): number {
    for (let k = this.first; k < this.first + this.count; k++) {
      if (!this.used.has(k)) {
        this.used.add(k);
        return k;
      }
    }
    throw new HostError('ENOSPC', `no free TDX KeyID (all ${this.count} guest KeyIDs are assigned to TDs)`);
  }

  /** Return a KeyID (after TDH.MNG.KEY.FREEID succeeded). */
  free(hkid: number): void {
    if (!this.used.delete(hkid)) throw new Error(`HKID ${hkid} was not allocated`);
  }

  get inUse(): number {
    return this.used.size;
  }
}
