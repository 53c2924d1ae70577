/**
 * The host kernel's page allocator: every byte of convertible memory the host did not give to
 * the TDX module (the PAMTs) is free for TDs' control pages, private and shared memory, and the
 * host's own buffers (TD_PARAMS, TDMR_INFO, source pages for TDH.MEM.PAGE.ADD).
 *
 * One PageAllocator per usable range (a CMR with the PAMTs cut out), taken lowest first, so runs
 * are deterministic. Running out is ENOMEM, as alloc_page failing is for KVM.
 */
import { PageAllocator, PageAllocatorError } from '../platform/page-allocator.ts';
import type { PhysicalMemory } from '../platform/memory.ts';
import { KEYID_NONE } from '../platform/memory.ts';
import { HostError } from './errors.ts';
import { PAGE_SIZE } from '../abi/pamt.ts';

export interface Range {
  readonly base: bigint;
  readonly size: bigint;
}

export class HostMemory {
  private readonly pools: PageAllocator[];

  constructor(
    readonly memory: PhysicalMemory,
    ranges: readonly Range[],
  ) {
    this.pools = ranges.filter((r) => r.size >= PAGE_SIZE).map((r) => new PageAllocator(r.base, r.size));
  }

  /** Allocate a 4K page, zeroed with KeyID 0 (what the kernel hands out). */
  allocPage(): bigint {
    for (const p of this.pools) {
      if (p.free4k > 0) {
        try {
          const pa = p.alloc4k();
          this.memory.zeroPages(pa, 1, KEYID_NONE);
          return pa;
        } catch (e) {
          if (!(e instanceof PageAllocatorError)) throw e;
        }
      }
    }
    throw new HostError('ENOMEM', 'host memory exhausted: no free 4K page');
  }

  /** Return a page to the allocator. */
  freePage(pa: bigint): void {
    const pool = this.pools.find((p) => pa >= p.base && pa < p.base + p.size);
    if (!pool) throw new Error(`page ${pa.toString(16)} is not host memory`);
    pool.free(pa);
  }

  /**
   * Clear a page with MOVDIR64B of zeros under KeyID 0 (`tdx_clear_page`: this also clears any
   * poison a TD-key write left) and return it to the allocator.
   */
  clearAndFree(pa: bigint): void {
    this.memory.zeroPages(pa, 1, KEYID_NONE);
    this.freePage(pa);
  }

  /** Pages currently allocated. */
  get pagesInUse(): number {
    return this.pools.reduce((n, p) => n + p.count, 0);
  }

  /** Pages still free. */
  get pagesFree(): number {
    return this.pools.reduce((n, p) => n + p.free4k, 0);
  }
}
