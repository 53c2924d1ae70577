/**
 * A Map from page frame numbers to page addresses (both bigint, as at every API), in 8 bytes per
 * entry: what a host keeps per guest page (GFN → the host page behind it), where a 16 GiB guest
 * has four million entries and a Map would spend ~100 bytes on each.
 *
 * A 4K-aligned address below 16 TiB is stored as its page frame number plus one in a SparseArray
 * (0 = absent); any other value, or a key beyond 2^53, goes to an ordinary Map instead, so every
 * bigint works. It iterates in insertion order, as a Map does (a host that tears a TD down in that
 * order reclaims its pages in the same order run after run). While keys arrive in ascending order
 * — a guest accepting its memory front to back — insertion order is key order and costs nothing;
 * from the first key that arrives out of order on, each entry records when it was inserted (4
 * more bytes), and iteration — rare: teardown, checks — sorts by that.
 */
import { PAGE_SHIFT, PAGE_SIZE } from '../abi/pamt.ts';
import { SparseArray } from './sparse-array.ts';

const COMPACT_KEY_LIMIT = 2n ** 53n;
const PAGE_OFFSET = PAGE_SIZE - 1n;

export class PageMap implements Map<bigint, bigint> {
  private readonly compact = SparseArray.u32();
  /** Insertion stamp of each compact entry (1, 2, 3, …; renumbered before it would overflow). */
  private readonly stamps = SparseArray.u32();
  private readonly other = new Map<bigint, { value: bigint; stamp: number }>();
  private compactSize = 0;
  private nextStamp = 1;
  /** False while every key was inserted above all keys before it (see the file comment). */
  private stamped = false;
  /** The largest compact key inserted so far (while not stamped). */
  private maxKey = -1;

  get size(): number {
    return this.compactSize + this.other.size;
  }

  get [Symbol.toStringTag](): string {
    return 'PageMap';
  }

  private static compactKey(key: bigint): number | undefined {
    return key >= 0n && key < COMPACT_KEY_LIMIT ? Number(key) : undefined;
  }

  get(key: bigint): bigint | undefined {
    const k = PageMap.compactKey(key);
    if (k !== undefined) {
      const v = this.compact.get(k);
      if (v !== 0) return BigInt(v - 1) << PAGE_SHIFT;
    }
    return this.other.get(key)?.value;
  }

  has(key: bigint): boolean {
    return this.get(key) !== undefined;
  }

  set(key: bigint, value: bigint): this {
    const k = PageMap.compactKey(key);
    const pfn = value >> PAGE_SHIFT;
    const fits = k !== undefined && value >= 0n && (value & PAGE_OFFSET) === 0n && pfn < BigInt(this.compact.max);
    const isNew = !this.has(key);
    if (!this.stamped && (!fits || (isNew && k! <= this.maxKey))) this.startStamping();
    // A Map keeps an existing key's place; a new key goes last.
    const stamp = this.stamped ? (this.stampOf(key, k) ?? this.takeStamp()) : 0;
    this.delete(key);
    if (fits) {
      this.compact.set(k, Number(pfn) + 1);
      if (this.stamped) this.stamps.set(k, stamp);
      else this.maxKey = Math.max(this.maxKey, k);
      this.compactSize++;
    } else {
      this.other.set(key, { value, stamp });
    }
    return this;
  }

  /** Keys stop arriving in order: stamp the entries so far in key order, which was their order. */
  private startStamping(): void {
    this.stamped = true;
    for (const [k] of this.compact.entries()) this.stamps.set(k, this.nextStamp++);
  }

  delete(key: bigint): boolean {
    const k = PageMap.compactKey(key);
    if (k !== undefined && this.compact.get(k) !== 0) {
      this.compact.set(k, 0);
      this.stamps.set(k, 0);
      this.compactSize--;
      return true;
    }
    return this.other.delete(key);
  }

  clear(): void {
    this.compact.clear();
    this.stamps.clear();
    this.compactSize = 0;
    this.other.clear();
    this.nextStamp = 1;
    this.stamped = false;
    this.maxKey = -1;
  }

  *entries(): MapIterator<[bigint, bigint]> {
    for (const e of this.ordered()) yield [e.key, e.value];
  }

  *keys(): MapIterator<bigint> {
    for (const e of this.ordered()) yield e.key;
  }

  *values(): MapIterator<bigint> {
    for (const e of this.ordered()) yield e.value;
  }

  [Symbol.iterator](): MapIterator<[bigint, bigint]> {
    return this.entries();
  }

  forEach(fn: (value: bigint, key: bigint, map: Map<bigint, bigint>) => void, thisArg?: unknown): void {
    for (const e of this.ordered()) fn.call(thisArg, e.value, e.key, this);
  }

  /** Every entry with its stamp, in insertion order. */
  private ordered(): { key: bigint; value: bigint; stamp: number }[] {
    const all: { key: bigint; value: bigint; stamp: number }[] = [];
    for (const [k, v] of this.compact.entries()) all.push({ key: BigInt(k), value: BigInt(v - 1) << PAGE_SHIFT, stamp: this.stamps.get(k) });
    if (!this.stamped) return all; // key order (the SparseArray's) is insertion order
    for (const [key, e] of this.other) all.push({ key, value: e.value, stamp: e.stamp });
    return all.sort((a, b) => a.stamp - b.stamp);
  }

  private stampOf(key: bigint, k: number | undefined): number | undefined {
    if (k !== undefined && this.compact.get(k) !== 0) return this.stamps.get(k);
    return this.other.get(key)?.stamp;
  }

  /** The next insertion stamp; before the counter would overflow, renumber the entries 1…size. */
  private takeStamp(): number {
    if (this.nextStamp >= this.stamps.max) {
      const entries = this.ordered();
      this.nextStamp = 1;
      for (const e of entries) {
        const k = PageMap.compactKey(e.key);
        if (k !== undefined && this.compact.get(k) !== 0) this.stamps.set(k, this.nextStamp++);
        else this.other.get(e.key)!.stamp = this.nextStamp++;
      }
    }
    return this.nextStamp++;
  }
}
