/**
 * A sparse array of small unsigned integers indexed by page frame number: per-page metadata of
 * memory that may be terabytes large but is touched a few gigabytes at a time.
 *
 * Entries live in chunks of 64 Ki, each a typed array created on the first non-zero write into
 * it, so an entry costs its element size (2 or 4 bytes) once its chunk exists and nothing before;
 * untouched chunks of a typed array are not even resident. Every entry reads as 0 until written.
 * Index must be a non-negative integer below 2^53.
 */

const CHUNK_SHIFT = 16;
const CHUNK_ENTRIES = 1 << CHUNK_SHIFT;
const CHUNK_MASK = CHUNK_ENTRIES - 1;

export type ElementArray = Uint16Array | Uint32Array;

export class SparseArray {
  private readonly chunks: (ElementArray | undefined)[] = [];

  constructor(
    /** Creates one chunk: Uint16Array or Uint32Array of the given length. */
    private readonly makeChunk: (length: number) => ElementArray,
    /** Largest value an entry can hold (0xffff or 0xffffffff). */
    readonly max: number,
  ) {}

  static u16(): SparseArray {
    return new SparseArray((n) => new Uint16Array(n), 2 ** 16 - 1);
  }

  static u32(): SparseArray {
    return new SparseArray((n) => new Uint32Array(n), 2 ** 32 - 1);
  }

  get(i: number): number {
    const c = this.chunks[Math.floor(i / CHUNK_ENTRIES)];
    return c === undefined ? 0 : c[i & CHUNK_MASK]!;
  }

  /** Set entry `i` (0 ≤ v ≤ max; writing 0 to an absent chunk creates nothing). */
  set(i: number, v: number): void {
    const k = Math.floor(i / CHUNK_ENTRIES);
    let c = this.chunks[k];
    if (c === undefined) {
      if (v === 0) return;
      c = this.chunks[k] = this.makeChunk(CHUNK_ENTRIES);
    }
    c[i & CHUNK_MASK] = v;
  }

  /** Every non-zero entry as [index, value], by ascending index. */
  *entries(): Generator<[number, number]> {
    for (let k = 0; k < this.chunks.length; k++) {
      const c = this.chunks[k];
      if (c === undefined) continue;
      for (let j = 0; j < c.length; j++) if (c[j] !== 0) yield [k * CHUNK_ENTRIES + j, c[j]!];
    }
  }

  /** Forget every entry (and the chunks). */
  clear(): void {
    this.chunks.length = 0;
  }
}
