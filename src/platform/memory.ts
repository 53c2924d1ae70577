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
 * Keys are programmed per KeyID by PCONFIG (`programKey`); reprogramming a KeyID makes old data
 * written under it unreadable, as a key change does.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const PAGE_BYTES = 4096;
export const LINE_BYTES = 64;
const LINES_PER_PAGE = PAGE_BYTES / LINE_BYTES;
/** KeyID 0: no TDX key (TME bypass / host shared memory). */
export const KEYID_NONE = 0;

interface Page {
  /** Plaintext of each line under `lineKey[i]`; null while the page is all zero under `zeroKey`. */
  data: Uint8Array | null;
  /** KeyID of each line, or null when every line uses `key`. */
  lineKey: Uint16Array | null;
  key: number;
}

export class MemoryError extends Error {
  override readonly name = 'MemoryError';
}

export class PhysicalMemory {
  private readonly pages = new Map<number, Page>();
  private readonly keys = new Map<number, Buffer>();

  constructor(
    /** Highest physical address + 1 that exists (bytes). */
    readonly size: bigint,
  ) {}

  /** Program (or reprogram) the AES-XTS key of a KeyID, as PCONFIG does. */
  programKey(keyId: number, key: Buffer = randomBytes(32)): void {
    if (key.length !== 32) throw new MemoryError('AES-XTS-128 needs a 32-byte key');
    this.keys.set(keyId, key);
  }

  /** Forget a KeyID's key (TDH.MNG.KEY.FREEID makes it reusable). */
  clearKey(keyId: number): void {
    this.keys.delete(keyId);
  }

  contains(pa: bigint, length: number): boolean {
    return pa >= 0n && length >= 0 && pa + BigInt(length) <= this.size;
  }

  /** Number of pages that hold data (for tests and the memory benchmark). */
  residentPages(): number {
    let n = 0;
    for (const p of this.pages.values()) if (p.data) n++;
    return n;
  }

  read(pa: bigint, length: number, keyId: number): Uint8Array {
    this.check(pa, length);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const addr = pa + BigInt(done);
      const pfn = Number(addr >> 12n);
      const off = Number(addr & 4095n);
      const n = Math.min(length - done, PAGE_BYTES - off);
      this.readInPage(pfn, off, out.subarray(done, done + n), keyId);
      done += n;
    }
    return out;
  }

  write(pa: bigint, data: Uint8Array, keyId: number): void {
    this.check(pa, data.length);
    let done = 0;
    while (done < data.length) {
      const addr = pa + BigInt(done);
      const pfn = Number(addr >> 12n);
      const off = Number(addr & 4095n);
      const n = Math.min(data.length - done, PAGE_BYTES - off);
      this.writeInPage(pfn, off, data.subarray(done, done + n), keyId);
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
    const first = Number(pa >> 12n);
    for (let i = 0; i < count; i++) {
      if (keyId === KEYID_NONE) this.pages.delete(first + i);
      else this.pages.set(first + i, { data: null, lineKey: null, key: keyId });
    }
  }

  readU64(pa: bigint, keyId: number): bigint {
    const b = this.read(pa, 8, keyId);
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

  private lineKeyOf(page: Page, line: number): number {
    return page.lineKey ? page.lineKey[line]! : page.key;
  }

  private readInPage(pfn: number, off: number, out: Uint8Array, keyId: number): void {
    const page = this.pages.get(pfn);
    if (!page) {
      // Never written: zero plaintext under "no key". A reader with a real key sees it decrypted.
      if (keyId !== KEYID_NONE) this.crossKeyRead(pfn, off, out, KEYID_NONE, null, keyId);
      return;
    }
    if (!page.lineKey && page.key === keyId) {
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
      if (lk === keyId) {
        if (page.data) dst.set(page.data.subarray(off + pos, off + pos + n));
      } else {
        this.crossKeyRead(pfn, off + pos, dst, lk, page.data, keyId);
      }
      pos += n;
    }
  }

  /** Read bytes written under `writerKey` through `readerKey`: encrypt, then decrypt with the other key. */
  private crossKeyRead(
    pfn: number,
    off: number,
    out: Uint8Array,
    writerKey: number,
    data: Uint8Array | null,
    readerKey: number,
  ): void {
    const lineStart = Math.floor(off / LINE_BYTES) * LINE_BYTES;
    const lineEnd = Math.ceil((off + out.length) / LINE_BYTES) * LINE_BYTES;
    const plain = data ? data.subarray(lineStart, lineEnd) : new Uint8Array(lineEnd - lineStart);
    const pa = BigInt(pfn) * BigInt(PAGE_BYTES) + BigInt(lineStart);
    const cipher = this.xts(writerKey, pa, plain, true);
    const seen = this.xts(readerKey, pa, cipher, false);
    out.set(seen.subarray(off - lineStart, off - lineStart + out.length));
  }

  /** AES-XTS-128 over whole lines, tweaked by PA; KeyID 0 is the identity (no encryption). */
  private xts(keyId: number, pa: bigint, input: Uint8Array, encrypt: boolean): Uint8Array {
    if (keyId === KEYID_NONE) return input;
    const key = this.keys.get(keyId) ?? this.unprogrammedKey(keyId);
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

  /** A KeyID nobody programmed decrypts with an arbitrary key of its own. */
  private unprogrammedKey(keyId: number): Buffer {
    const key = randomBytes(32);
    this.keys.set(keyId, key);
    return key;
  }

  private writeInPage(pfn: number, off: number, src: Uint8Array, keyId: number): void {
    let page = this.pages.get(pfn);
    if (!page) {
      page = { data: null, lineKey: null, key: KEYID_NONE };
      this.pages.set(pfn, page);
    }
    const firstLine = Math.floor(off / LINE_BYTES);
    const lastLine = Math.floor((off + src.length - 1) / LINE_BYTES);
    // Lines written under a new key: a partial-line write keeps the rest of the line as the new
    // key sees it (the old ciphertext decrypted with the new key).
    for (let line = firstLine; line <= lastLine; line++) {
      const lk = this.lineKeyOf(page, line);
      if (lk === keyId) continue;
      const ls = line * LINE_BYTES;
      const fullyCovered = off <= ls && off + src.length >= ls + LINE_BYTES;
      let seen: Uint8Array | null = null;
      if (!fullyCovered) {
        seen = new Uint8Array(LINE_BYTES);
        this.crossKeyRead(pfn, ls, seen, lk, page.data, keyId);
      }
      if (!page.lineKey) {
        if (firstLine === 0 && lastLine === LINES_PER_PAGE - 1 && fullyCoveredPage(off, src.length)) {
          page.key = keyId; // a whole-page write under one key stays uniform
          break;
        }
        page.lineKey = new Uint16Array(LINES_PER_PAGE).fill(page.key);
      }
      page.lineKey[line] = keyId;
      if (seen) {
        page.data ??= new Uint8Array(PAGE_BYTES);
        page.data.set(seen, ls);
      } else if (page.data === null && lk !== KEYID_NONE) {
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
