/**
 * The guest kernel's physical page allocator: hands out 4K pages of private memory the kernel
 * has accepted, for its own buffers (TDREPORT and REPORTDATA, RTMR extend data, GetQuote
 * buffers). First-fit over a bitmap, contiguous runs for multi-page buffers, deterministic.
 *
 * The allocator trusts no one and is trusted by no one outside the guest: it only tracks which
 * pages guest code is using. Misuse by guest code (freeing what was not allocated) throws.
 */
import { SeptLevel, levelSize } from '../abi/sept.ts';

const PAGE = levelSize(SeptLevel.PT);

export class GuestPageAllocatorError extends Error {
  override readonly name = 'GuestPageAllocatorError';
}

export class GuestPageAllocator {
  private readonly used: Uint8Array;
  /** Allocated runs: first GPA → number of pages. */
  private readonly runs = new Map<bigint, number>();

  constructor(
    /** First GPA of the pool (4K-aligned, private, accepted). */
    readonly base: bigint,
    /** Pool size in bytes (a multiple of 4K; 0 for an empty pool). */
    readonly size: bigint,
  ) {
    if (base < 0n || size < 0n || base % PAGE !== 0n || size % PAGE !== 0n) {
      throw new GuestPageAllocatorError(`pool 0x${base.toString(16)}+0x${size.toString(16)} must be 4K-aligned`);
    }
    this.used = new Uint8Array(Number(size / PAGE));
  }

  /** Pages not allocated. */
  get freePages(): number {
    return this.used.reduce((n, u) => n + (u ? 0 : 1), 0);
  }

  /** Allocate `count` contiguous pages; undefined if no run is free. */
  alloc(count = 1): bigint | undefined {
    if (!Number.isInteger(count) || count < 1) throw new GuestPageAllocatorError(`cannot allocate ${count} pages`);
    for (let i = 0; i + count <= this.used.length; i++) {
      if (this.used.subarray(i, i + count).every((u) => u === 0)) {
        this.used.fill(1, i, i + count);
        const gpa = this.base + BigInt(i) * PAGE;
        this.runs.set(gpa, count);
        return gpa;
      }
    }
    return undefined;
  }

  /** Free a run by the GPA `alloc` returned. */
  free(gpa: bigint): void {
    const count = this.runs.get(gpa);
    if (count === undefined) throw new GuestPageAllocatorError(`0x${gpa.toString(16)} was not allocated`);
    this.runs.delete(gpa);
    const i = Number((gpa - this.base) / PAGE);
    this.used.fill(0, i, i + count);
  }

  /**
   * Forget a run without making it allocatable again: for pages whose state the kernel can no
   * longer vouch for (e.g. left shared after a failed conversion back to private).
   */
  retire(gpa: bigint): void {
    if (!this.runs.delete(gpa)) throw new GuestPageAllocatorError(`0x${gpa.toString(16)} was not allocated`);
  }
}
