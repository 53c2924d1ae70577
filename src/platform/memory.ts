/**
 * Sparse physical memory with MKTME/TDX memory encryption.
 *
 * Only pages that hold data cost memory. Each 64-byte cache line remembers the KeyID it was last
 * written with; the stored content is the plaintext under that key. A read with the same KeyID
 * returns the plaintext (the fast path). A read with another KeyID returns what real hardware
 * would: the line's ciphertext (AES-XTS under the writer's key, tweaked by the physical address)
 * "decrypted" with the reader's key — i.e. garbage. So:
 *   - the host (KeyID 0, or a shared/MKTME KeyID) reading a TD-private page sees ciphertext;
 *   - a host write to a TD-private line replaces it with the host's data under the host's key,
 *     so what the TD reads afterwards is corrupted, as with integrity-protected TDX memory.
 * Keys are programmed per KeyID by PCONFIG (`programKey`). Lines remember the key *generation*
 * they were written with, not just the KeyID, so reprogramming or freeing a KeyID makes data
 * written under its old key unreadable through it, as a key change does.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { u64ToNumber } from '../abi/u64.ts';
import { SparseArray } from './sparse-array.ts';

export const PAGE_BYTES = 4096;
export const LINE_BYTES = 64;
const LINES_PER_PAGE = PAGE_BYTES / LINE_BYTES;
/** KeyID 0: no TDX key (TME bypass / host shared memory). */
export const KEYID_NONE = 0;

/**
 * A key generation: one programming of one KeyID. Generation 0 is "no key" (KeyID 0, identity).
 * Pages store generations, so a line written before a KeyID was reprogrammed keeps its old key.
 */
type KeyGen = number;
const GEN_NONE: KeyGen = 0;

interface Page {
  /** Plaintext of each line under its key generation; null while the page is all zero. */
  data: Uint8Array | null;
  /** Key generation of each line, or null when every line uses `key`. */
  lineKey: Uint32Array | null;
  key: KeyGen;
}

export class MemoryError extends Error {
  override readonly name = 'MemoryError';
}

export class PhysicalMemory {
  /** Pages that hold data or mix keys between lines. */
  private readonly pages = new Map<number, Page>();
  /**
   * Every other page is all zero under one key generation, recorded here (0 = never written, no
   * key): 2 bytes a page instead of a Page object, for the millions of pages a TD accepts and never
   * writes. A generation too large for 16 bits is kept as a Page instead.
   */
  private readonly zeroKeys = SparseArray.u16();
  /** Current key generation of each programmed KeyID. */
  private readonly current = new Map<number, KeyGen>();
  /** AES-XTS key of each generation (index 0 unused: no encryption). */
  private readonly genKeys: Buffer[] = [Buffer.alloc(0)];

  /** `size` as a number (exact: memory is far below 2^53 bytes), for the hot paths. */
  readonly sizeNumber: number;

  constructor(
    /** Highest physical address + 1 that exists (bytes). */
    readonly size: bigint,
  ) {
    this.sizeNumber = Number(size);
  }

  /** Program (or reprogram) the AES-XTS key of a KeyID, as PCONFIG does. */
  programKey(keyId: number, key: Buffer = randomBytes(32)): void {
    if (key.length !== 32) throw new MemoryError('AES-XTS-128 needs a 32-byte key');
    if (keyId === KEYID_NONE) throw new MemoryError('KeyID 0 has no key');
    this.current.set(keyId, this.genKeys.length);
    this.genKeys.push(key);
  }

  /** Forget a KeyID's key (TDH.MNG.KEY.FREEID makes it reusable): old data stays unreadable. */
  clearKey(keyId: number): void {
    this.current.delete(keyId);
  }

  /** The key generation a KeyID reads and writes with now; an unprogrammed KeyID gets a random key. */
  private gen(keyId: number): KeyGen {
    if (keyId === KEYID_NONE) return GEN_NONE;
    let g = this.current.get(keyId);
    if (g === undefined) {
      g = this.genKeys.length;
      this.genKeys.push(randomBytes(32));
      this.current.set(keyId, g);
    }
    return g;
  }

  contains(pa: bigint, length: number): boolean {
    // Once pa is known to be inside memory it is exact as a number: add without a bigint.
    return pa >= 0n && length >= 0 && pa <= this.size && u64ToNumber(pa) + length <= this.sizeNumber;
  }

  /** Number of pages that hold data (for tests and the memory benchmark). */
  residentPages(): number {
    let n = 0;
    for (const p of this.pages.values()) if (p.data) n++;
    return n;
  }

  read(pa: bigint, length: number, keyId: number): Uint8Array {
    return this.readInto(pa, new Uint8Array(length), keyId);
  }

  /**
   * `read` into a buffer the caller owns (`out.length` bytes): for hot paths that read the same
   * size again and again (TDH.MR.EXTEND's 256-byte chunks), where allocating a fresh typed array
   * per read costs more than the read. Returns `out`.
   */
  readInto(pa: bigint, out: Uint8Array, keyId: number): Uint8Array {
    const length = out.length;
    this.check(pa, length);
    out.fill(0);
    const gen = this.gen(keyId);
    // Addresses as numbers from here (exact: memory is below 2^53 bytes), not bigints per page.
    const start = u64ToNumber(pa);
    let done = 0;
    while (done < length) {
      const addr = start + done;
      const off = addr % PAGE_BYTES;
      const n = Math.min(length - done, PAGE_BYTES - off);
      this.readInPage((addr - off) / PAGE_BYTES, off, n === length ? out : out.subarray(done, done + n), gen);
      done += n;
    }
    return out;
  }

  write(pa: bigint, data: Uint8Array, keyId: number): void {
    this.check(pa, data.length);
    const gen = this.gen(keyId);
    const start = u64ToNumber(pa);
    let done = 0;
    while (done < data.length) {
      const addr = start + done;
      const off = addr % PAGE_BYTES;
      const n = Math.min(data.length - done, PAGE_BYTES - off);
      this.writeInPage((addr - off) / PAGE_BYTES, off, n === data.length ? data : data.subarray(done, done + n), gen);
      done += n;
    }
  }

  /**
   * Zero whole pages under a KeyID (MOVDIR64B of zeros, as TDG.MEM.PAGE.ACCEPT and the host's
   * page clearing do). Costs no backing memory: the page is recorded as "all zero under key".
   */
  zeroPages(pa: bigint, count: number, keyId: number): void {
    if (pa & 4095n) throw new MemoryError(`zeroPages: ${pa} is not page-aligned`);
    this.check(pa, count * PAGE_BYTES);
    const first = u64ToNumber(pa) / PAGE_BYTES;
    const gen = this.gen(keyId);
    const compact = gen <= this.zeroKeys.max;
    for (let i = 0; i < count; i++) {
      this.pages.delete(first + i);
      this.zeroKeys.set(first + i, compact ? gen : GEN_NONE);
      if (!compact) this.pages.set(first + i, { data: null, lineKey: null, key: gen });
    }
  }

  readU64(pa: bigint, keyId: number): bigint {
    if (pa >= 0n && pa < this.size) return this.readU64At(u64ToNumber(pa), keyId);
    const b = this.read(pa, 8, keyId); // outside memory: throws as every access does
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  }

  /**
   * One byte at an address given as a number (0 ≤ addr < size), as a number: for polling a flag
   * bit at every TD entry without building a bigint.
   */
  readU8At(addr: number, keyId: number): number {
    const off = addr % PAGE_BYTES;
    const pfn = (addr - off) / PAGE_BYTES;
    const page = this.pages.get(pfn);
    const gen = this.gen(keyId);
    if (page === undefined ? gen === this.zeroKeys.get(pfn) : !page.lineKey && page.key === gen) return page?.data?.[off] ?? 0;
    return this.read(BigInt(addr), 1, keyId)[0]!;
  }

  /** `readU64` at an address given as a number (0 ≤ addr < size), for per-entry polling. */
  readU64At(addr: number, keyId: number): bigint {
    const off = addr % PAGE_BYTES;
    if (off <= PAGE_BYTES - 8 && addr + 8 <= this.sizeNumber) {
      // Fast path (descriptors polled at every TD entry): a page read with the key it was written
      // with, or never written and read without a key, needs no decryption and no copy.
      const pfn = (addr - off) / PAGE_BYTES;
      const page = this.pages.get(pfn);
      const gen = this.gen(keyId);
      if (page === undefined ? gen === this.zeroKeys.get(pfn) : !page.lineKey && page.key === gen) {
        const d = page?.data;
        if (!d) return 0n;
        const lo = (d[off]! | (d[off + 1]! << 8) | (d[off + 2]! << 16) | (d[off + 3]! << 24)) >>> 0;
        const hi = (d[off + 4]! | (d[off + 5]! << 8) | (d[off + 6]! << 16) | (d[off + 7]! << 24)) >>> 0;
        return (BigInt(hi) << 32n) | BigInt(lo);
      }
    }
    const b = this.read(BigInt(addr), 8, keyId);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  }

  writeU64(pa: bigint, value: bigint, keyId: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, value, true);
    this.write(pa, b, keyId);
  }

  private check(pa: bigint, length: number): void {
    if (!this.contains(pa, length)) {
      throw new MemoryError(`physical access [${pa.toString(16)}, +${length}) outside memory of ${this.size} bytes`);
    }
  }

  private lineKeyOf(page: Page, line: number): KeyGen {
    return page.lineKey ? page.lineKey[line]! : page.key;
  }

  private readInPage(pfn: number, off: number, out: Uint8Array, gen: KeyGen): void {
    const page = this.pages.get(pfn);
    if (!page) {
      // All zero plaintext under the page's zero key (none if never written). A reader with
      // another key sees it decrypted with the wrong key.
      const key = this.zeroKeys.get(pfn);
      if (gen !== key) this.crossKeyRead(pfn, off, out, key, null, gen);
      return;
    }
    if (!page.lineKey && page.key === gen) {
      if (page.data) out.set(page.data.subarray(off, off + out.length));
      return;
    }
    // Mixed keys or a foreign reader: go line by line.
    let pos = 0;
    while (pos < out.length) {
      const line = Math.floor((off + pos) / LINE_BYTES);
      const lineEnd = (line + 1) * LINE_BYTES - off;
      const n = Math.min(out.length - pos, lineEnd - pos);
      const lk = this.lineKeyOf(page, line);
      const dst = out.subarray(pos, pos + n);
      if (lk === gen) {
        if (page.data) dst.set(page.data.subarray(off + pos, off + pos + n));
      } else {
        this.crossKeyRead(pfn, off + pos, dst, lk, page.data, gen);
      }
      pos += n;
    }
  }

  /** Read bytes written under `writerKey` through `readerKey`: encrypt, then decrypt with the other key. */
  private crossKeyRead(
    pfn: number,
    off: number,
    out: Uint8Array,
    writerKey: KeyGen,
    data: Uint8Array | null,
    readerKey: KeyGen,
  ): void {
    const lineStart = Math.floor(off / LINE_BYTES) * LINE_BYTES;
    const lineEnd = Math.ceil((off + out.length) / LINE_BYTES) * LINE_BYTES;
    const plain = data ? data.subarray(lineStart, lineEnd) : new Uint8Array(lineEnd - lineStart);
    const pa = BigInt(pfn) * BigInt(PAGE_BYTES) + BigInt(lineStart);
    const cipher = this.xts(writerKey, pa, plain, true);
    const seen = this.xts(readerKey, pa, cipher, false);
    out.set(seen.subarray(off - lineStart, off - lineStart + out.length));
  }

  /** AES-XTS-128 over whole lines, tweaked by PA; generation 0 is the identity (no encryption). */
  private xts(gen: KeyGen, pa: bigint, input: Uint8Array, encrypt: boolean): Uint8Array {
    if (gen === GEN_NONE) return input;
    const key = this.genKeys[gen]!;
    const out = new Uint8Array(input.length);
    for (let i = 0; i < input.length; i += LINE_BYTES) {
      const tweak = Buffer.alloc(16);
      tweak.writeBigUInt64LE(pa + BigInt(i));
      const c = encrypt ? createCipheriv('aes-128-xts', key, tweak) : createDecipheriv('aes-128-xts', key, tweak);
      out.set(c.update(input.subarray(i, i + LINE_BYTES)), i);
      c.final();
    }
    return out;
  }

  private writeInPage(pfn: number, off: number, src: Uint8Array, gen: KeyGen): void {
    let page = this.pages.get(pfn);
    if (!page) {
      page = { data: null, lineKey: null, key: this.zeroKeys.get(pfn) };
      this.zeroKeys.set(pfn, GEN_NONE);
      this.pages.set(pfn, page);
    }
    const firstLine = Math.floor(off / LINE_BYTES);
    const lastLine = Math.floor((off + src.length - 1) / LINE_BYTES);
    // Lines written under a new key: a partial-line write keeps the rest of the line as the new
    // key sees it (the old ciphertext decrypted with the new key).
    for (let line = firstLine; line <= lastLine; line++) {
      const lk = this.lineKeyOf(page, line);
      if (lk === gen) continue;
      const ls = line * LINE_BYTES;
      const fullyCovered = off <= ls && off + src.length >= ls + LINE_BYTES;
      let seen: Uint8Array | null = null;
      if (!fullyCovered) {
        seen = new Uint8Array(LINE_BYTES);
        this.crossKeyRead(pfn, ls, seen, lk, page.data, gen);
      }
      if (!page.lineKey) {
        if (firstLine === 0 && lastLine === LINES_PER_PAGE - 1 && fullyCoveredPage(off, src.length)) {
          page.key = gen; // a whole-page write under one key stays uniform
          break;
        }
        page.lineKey = new Uint32Array(LINES_PER_PAGE).fill(page.key);
      }
      page.lineKey[line] = gen;
      if (seen) {
        page.data ??= new Uint8Array(PAGE_BYTES);
        page.data.set(seen, ls);
      } else if (page.data === null && lk !== GEN_NONE) {
        // Zero-under-key page becoming mixed: materialise so other lines keep their zeros.
        page.data = new Uint8Array(PAGE_BYTES);
      }
    }
    page.data ??= new Uint8Array(PAGE_BYTES);
    page.data.set(src, off);
  }
}

function fullyCoveredPage(off: number, length: number): boolean {
  return off === 0 && length === PAGE_BYTES;
}
