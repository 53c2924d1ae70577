/**
 * The physical pages of one host session: a page allocator over the platform's convertible memory
 * (the CMRs, where every TDMR must lie), and the record of which pages the wire client owns.
 *
 * A host client owns exactly the pages ALLOC_PAGES gave it and has not freed. Ownership is what
 * HOST_MEM_READ/WRITE and SHARED_EPT check: the client's view of physical memory is the pages it
 * holds — including pages it has since handed to a TD, which it then reads as ciphertext, as a
 * real host would. The check protects the server's own bookkeeping and keeps a client inside the
 * machine it was given; it does not stand in for any TDX rule (the module's PAMT does that).
 *
 * Pages SETUP_PLATFORM gave the module for PAMTs are `reserved`: neither free nor the client's.
 * Allocation is first-fit from the lowest address, so runs are deterministic; a run is contiguous
 * and lies inside one CMR. Freshly allocated pages are zeroed with KeyID 0, as a kernel does.
 */
import type { Cmr } from '../platform/platform.ts';
import { KEYID_NONE, type PhysicalMemory } from '../platform/memory.ts';
import { PAGE_SIZE } from '../abi/pamt.ts';

const FREE = 0;
const OWNED = 1;
const RESERVED = 2;

interface Pool {
  readonly base: bigint;
  /** Page states: FREE, OWNED or RESERVED. */
  readonly state: Uint8Array;
}

export class HostPages {
  private readonly pools: Pool[];
  private owned = 0;
  private reserved = 0;

  constructor(
    private readonly memory: PhysicalMemory,
    cmrs: readonly Cmr[],
  ) {
    this.pools = cmrs
      .filter((c) => c.size >= PAGE_SIZE)
      .map((c) => ({ base: c.base, state: new Uint8Array(Number(c.size / PAGE_SIZE)) }));
  }

  /** 4K pages neither owned nor reserved. */
  get freePages(): number {
    return this.pools.reduce((n, p) => n + p.state.length, 0) - this.owned - this.reserved;
  }

  /** 4K pages the client owns. */
  get ownedPages(): number {
    return this.owned;
  }

  /**
   * Allocate `count` contiguous pages whose base is a multiple of `alignment` (a power of two ≥
   * 4 KiB). Returns the base, or undefined if no such run is free.
   */
  alloc(count: number, alignment: bigint): bigint | undefined {
    for (const pool of this.pools) {
      const step = Number(alignment / PAGE_SIZE);
      const misalign = Number((pool.base / PAGE_SIZE) % BigInt(step));
      // Candidate starts are first, first + step, …: the pages whose address is aligned.
      const first = misalign === 0 ? 0 : step - misalign;
      let i = first;
      while (i + count <= pool.state.length) {
        const busy = lastBusy(pool.state, i, count);
        if (busy < 0) {
          pool.state.fill(OWNED, i, i + count);
          this.owned += count;
          const base = pool.base + BigInt(i) * PAGE_SIZE;
          this.memory.zeroPages(base, count, KEYID_NONE);
          return base;
        }
        // No run starting at or before the busy page can work: next aligned start after it.
        i = first + Math.ceil((busy + 1 - first) / step) * step;
      }
    }
    return undefined;
  }

  /** Give back `count` pages from `base`; false (and no change) unless the client owns them all. */
  free(base: bigint, count: number): boolean {
    const where = this.locate(base, count);
    if (!where || !every(where.pool.state, where.index, count, OWNED)) return false;
    where.pool.state.fill(FREE, where.index, where.index + count);
    this.owned -= count;
    return true;
  }

  /** True if the client owns every page that `[pa, pa + length)` touches (length ≥ 1). */
  owns(pa: bigint, length: number): boolean {
    if (pa < 0n || length < 1) return false;
    const first = pa - (pa % PAGE_SIZE);
    const last = pa + BigInt(length) - 1n;
    const count = Number((last - first) / PAGE_SIZE) + 1;
    const where = this.locate(first, count);
    return where !== undefined && every(where.pool.state, where.index, count, OWNED);
  }

  /** Mark free pages as the module's (PAMTs); false (and no change) if any is already in use. */
  reserve(base: bigint, size: bigint): boolean {
    const count = Number(size / PAGE_SIZE);
    const where = this.locate(base, count);
    if (!where || !every(where.pool.state, where.index, count, FREE)) return false;
    where.pool.state.fill(RESERVED, where.index, where.index + count);
    this.reserved += count;
    return true;
  }

  /** The pool and page index of a page-aligned run that lies inside one pool. */
  private locate(base: bigint, count: number): { pool: Pool; index: number } | undefined {
    if (base % PAGE_SIZE !== 0n || count < 1) return undefined;
    for (const pool of this.pools) {
      const end = pool.base + BigInt(pool.state.length) * PAGE_SIZE;
      if (base >= pool.base && base + BigInt(count) * PAGE_SIZE <= end) return { pool, index: Number((base - pool.base) / PAGE_SIZE) };
    }
    return undefined;
  }
}

/** Index of the last non-free page in [i, i + count), or -1 if all are free. */
function lastBusy(state: Uint8Array, i: number, count: number): number {
  for (let j = i + count - 1; j >= i; j--) if (state[j] !== FREE) return j;
  return -1;
}

function every(state: Uint8Array, i: number, count: number, value: number): boolean {
  for (let j = i; j < i + count; j++) if (state[j] !== value) return false;
  return true;
}
