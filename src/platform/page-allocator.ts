/**
 * A host physical page allocator over one address range: what a host kernel's page allocator is
 * to KVM. Tests, the test harness and the host VMM take TDR/TDCS/TDVPR/private pages from it and
 * give them back after reclaim.
 *
 * 4K pages or naturally aligned 2M blocks; a block is freed by its base address. Allocation is
 * first-fit from the lowest address, so runs are deterministic. Misuse (freeing an address that
 * was not allocated, an unaligned range) throws a PageAllocatorError: it is a bug in the caller,
 * not simulated input.
 */

const PAGE = 4096n;
const PAGES_PER_2M = 512;

export class PageAllocatorError extends Error {
  override readonly name = 'PageAllocatorError';
}

/**
 * What `used` records per page (one byte a page, nothing else per allocation: a host hands out
 * millions of 4K pages to a large TD).
 */
const Use = Object.freeze({ FREE: 0, PAGE_4K: 1, BLOCK_2M_BASE: 2, BLOCK_2M_REST: 3 });

export class PageAllocator {
  /** Per page: a Use value. */
  private readonly used: Uint8Array;
  private inUse = 0;
  /** Lowest index that may be free (first-fit cursor for 4K allocations). */
  private hint = 0;

  constructor(
    /** First byte of the range (4K-aligned). */
    readonly base: bigint,
    /** Size of the range in bytes (multiple of 4K). */
    readonly size: bigint,
  ) {
    if (base < 0n || size <= 0n || base % PAGE !== 0n || size % PAGE !== 0n) {
      throw new PageAllocatorError(`range [${base}, +${size}) must be non-empty and 4K-aligned`);
    }
    this.used = new Uint8Array(Number(size / PAGE));
  }

  /** Number of 4K pages in the range. */
  get capacity(): number {
    return this.used.length;
  }

  /** Number of 4K pages currently allocated. */
  get count(): number {
    return this.inUse;
  }

  /** Number of 4K pages still free. */
  get free4k(): number {
    return this.capacity - this.inUse;
  }

  /** Allocate one 4K page. Throws if the range is exhausted. */
  alloc4k(): bigint {
    for (let i = this.hint; i < this.used.length; i++) {
      if (this.used[i] === Use.FREE) {
        this.used[i] = Use.PAGE_4K;
        this.inUse++;
        this.hint = i + 1;
        return this.pa(i);
      }
    }
    throw new PageAllocatorError(`out of 4K pages (${this.capacity} in use)`);
  }

  /** Allocate `n` 4K pages (each its own block, freed individually). */
  allocMany(n: number): bigint[] {
    return Array.from({ length: n }, () => this.alloc4k());
  }

  /** Allocate a 2M-aligned, physically contiguous 2M block. Throws if none is free. */
  alloc2m(): bigint {
    const align = Number(((1n << 21n) - (this.base % (1n << 21n))) % (1n << 21n) / PAGE);
    for (let i = align; i + PAGES_PER_2M <= this.used.length; i += PAGES_PER_2M) {
      if (this.used.subarray(i, i + PAGES_PER_2M).every((u) => u === Use.FREE)) {
        this.used.fill(Use.BLOCK_2M_REST, i, i + PAGES_PER_2M);
        this.used[i] = Use.BLOCK_2M_BASE;
        this.inUse += PAGES_PER_2M;
        return this.pa(i);
      }
    }
    throw new PageAllocatorError('no free 2M-aligned block');
  }

  /** Return a block (4K page or 2M block) by its base address. */
  free(pa: bigint): void {
    const inRange = pa >= this.base && pa < this.base + this.size && pa % PAGE === 0n;
    const i = inRange ? this.index(pa) : -1;
    const use = inRange ? this.used[i] : Use.FREE;
    if (use !== Use.PAGE_4K && use !== Use.BLOCK_2M_BASE) throw new PageAllocatorError(`free of ${pa.toString(16)}: not allocated`);
    const pages = use === Use.PAGE_4K ? 1 : PAGES_PER_2M;
    this.used.fill(Use.FREE, i, i + pages);
    this.inUse -= pages;
    if (i < this.hint) this.hint = i;
  }

  /** True if `pa` lies inside an allocated block. */
  isAllocated(pa: bigint): boolean {
    if (pa < this.base || pa >= this.base + this.size) return false;
    return this.used[this.index(pa - (pa % PAGE))] !== Use.FREE;
  }

  private pa(i: number): bigint {
    return this.base + BigInt(i) * PAGE;
  }

  private index(pa: bigint): number {
    return Number((pa - this.base) / PAGE);
  }
}
