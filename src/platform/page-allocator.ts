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

export class PageAllocator {
  /** 1 = page in use. */
  private readonly used: Uint8Array;
  /** Allocated blocks: base PA → number of 4K pages. */
  private readonly blocks = new Map<bigint, number>();
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
      if (!this.used[i]) {
        this.take(i, 1);
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
      if (this.used.subarray(i, i + PAGES_PER_2M).every((u) => u === 0)) {
        this.take(i, PAGES_PER_2M);
        return this.pa(i);
      }
    }
    throw new PageAllocatorError('no free 2M-aligned block');
  }

  /** Return a block (4K page or 2M block) by its base address. */
  free(pa: bigint): void {
    const pages = this.blocks.get(pa);
    if (pages === undefined) throw new PageAllocatorError(`free of ${pa.toString(16)}: not allocated`);
    const i = this.index(pa);
    this.used.fill(0, i, i + pages);
    this.blocks.delete(pa);
    this.inUse -= pages;
    if (i < this.hint) this.hint = i;
  }

  /** True if `pa` lies inside an allocated block. */
  isAllocated(pa: bigint): boolean {
    if (pa < this.base || pa >= this.base + this.size) return false;
    return this.used[this.index(pa - (pa % PAGE))] === 1;
  }

  private take(i: number, pages: number): void {
    this.used.fill(1, i, i + pages);
    this.blocks.set(this.pa(i), pages);
    this.inUse += pages;
  }

  private pa(i: number): bigint {
    return this.base + BigInt(i) * PAGE;
  }

  private index(pa: bigint): number {
    return Number((pa - this.base) / PAGE);
  }
}
