/**
 * TD measurement: the MRTD blocks of the build leaves, MRTD finalisation, and the RTMR extend.
 *
 * MRTD records how the TD was built, not just what it contains: TDH.MEM.PAGE.ADD hashes the GPA
 * of every added page (so the layout is measured) and TDH.MR.EXTEND hashes 256-byte chunks of
 * content the host chose to measure. A host that loads a different image, at different GPAs or
 * in a different order, produces a different MRTD, which a verifier compares with the expected
 * value in the TD's quote. Formats: src/abi/measurement.ts; facts tdx-module.md §7.1–7.2.
 */
import { createHash, type Hash } from 'node:crypto';
import {
  MEASUREMENT_DIGEST_BYTES,
  MR_EXTEND_CHUNK_BYTES,
  MRTD_BLOCK_BYTES,
  MRTD_TAG_MR_EXTEND,
  MRTD_TAG_PAGE_ADD,
  MrtdBlock,
} from '../abi/measurement.ts';
import type { Td } from './td.ts';

/** One 128-byte MRTD update block: the ASCII leaf tag, then the GPA, then zeros. */
export function mrtdBlock(tag: string, gpa: bigint): Uint8Array {
  const block = new Uint8Array(MRTD_BLOCK_BYTES);
  writeMrtdBlock(block, 0, tagBytes(tag), gpa);
  return block;
}

/** Write an MRTD block for an encoded tag at `offset` of `into` (which must be zero there). */
function writeMrtdBlock(into: Uint8Array, offset: number, tag: Uint8Array, gpa: bigint): void {
  into.set(tag, offset + MrtdBlock.TAG_OFFSET);
  new DataView(into.buffer, into.byteOffset + offset, MRTD_BLOCK_BYTES).setBigUint64(MrtdBlock.GPA_OFFSET, gpa, true);
}

const TAGS = new Map<string, Uint8Array>();

/** A tag's ASCII bytes (encoded once per tag). */
function tagBytes(tag: string): Uint8Array {
  let ascii = TAGS.get(tag);
  if (!ascii) {
    ascii = new TextEncoder().encode(tag);
    if (ascii.length > MrtdBlock.TAG_BYTES) throw new RangeError(`MRTD tag ${tag} is longer than ${MrtdBlock.TAG_BYTES} bytes`);
    TAGS.set(tag, ascii);
  }
  return ascii;
}

/** Bytes collected before they are handed to SHA-384 in one update. */
const STAGING_BYTES = 64 * 1024;

/**
 * MRTD while it is being built: SHA-384 over the blocks and chunks in order, as the module's
 * incremental hash is. A build hashes tens of thousands of 128- and 256-byte pieces; each call
 * into node:crypto costs far more than hashing 128 bytes, so pieces are staged and hashed 64 KiB
 * at a time. SHA-384 of a concatenation does not depend on how it is split, so the digest is
 * exactly the one piece-by-piece hashing gives. `copy()` (a snapshot, as Hash.copy) and
 * `digest()` hash what is staged first.
 */
export class MrtdHash {
  private readonly hash: Hash = createHash('sha384');
  private readonly staging = new Uint8Array(STAGING_BYTES);
  private staged = 0;

  /** Append a block for `tag` and `gpa`. */
  block(tag: string, gpa: bigint): this {
    this.room(MRTD_BLOCK_BYTES);
    this.staging.fill(0, this.staged, this.staged + MRTD_BLOCK_BYTES);
    writeMrtdBlock(this.staging, this.staged, tagBytes(tag), gpa);
    this.staged += MRTD_BLOCK_BYTES;
    return this;
  }

  update(data: Uint8Array): this {
    if (data.length > STAGING_BYTES) {
      this.flush();
      this.hash.update(data);
      return this;
    }
    this.room(data.length);
    this.staging.set(data, this.staged);
    this.staged += data.length;
    return this;
  }

  /** A node:crypto Hash holding everything appended so far (this one keeps going). */
  copy(): Hash {
    this.flush();
    return this.hash.copy();
  }

  digest(): Buffer {
    this.flush();
    return this.hash.digest();
  }

  private room(bytes: number): void {
    if (this.staged + bytes > STAGING_BYTES) this.flush();
  }

  private flush(): void {
    if (this.staged === 0) return;
    this.hash.update(this.staging.subarray(0, this.staged));
    this.staged = 0;
  }
}

/** The MRTD hash of a TD, which must be in the build phase (MNG.INIT done, not finalised). */
function mrtdHash(td: Td): MrtdHash {
  if (!td.mrtdHash) throw new Error('MRTD is not being built: TDH.MNG.INIT has not run or MRTD is finalised');
  return td.mrtdHash;
}

/** TDH.MEM.PAGE.ADD: extend MRTD with the "MEM.PAGE.ADD" block of the page's GPA. */
export function measurePageAdd(td: Td, gpa: bigint): void {
  mrtdHash(td).block(MRTD_TAG_PAGE_ADD, gpa);
}

/** TDH.MR.EXTEND: extend MRTD with the "MR.EXTEND" block of the chunk's GPA, then the chunk. */
export function measureExtend(td: Td, gpa: bigint, chunk: Uint8Array): void {
  if (chunk.length !== MR_EXTEND_CHUNK_BYTES) throw new RangeError(`MR.EXTEND chunk must be ${MR_EXTEND_CHUNK_BYTES} bytes`);
  mrtdHash(td).block(MRTD_TAG_MR_EXTEND, gpa).update(chunk);
}

/** TDH.MR.FINALIZE: finish the hash (standard SHA-384 padding) into TDCS.MR_TD. */
export function finalizeMrtd(td: Td): void {
  td.mrtd = new Uint8Array(mrtdHash(td).digest());
  td.mrtdHash = undefined;
}

/**
 * RTMR extend (TDG.MR.RTMR.EXTEND): RTMR[i] = SHA-384(RTMR[i] || data), with 48 bytes of data.
 * Returns the new register value; the caller stores it and invalidates the cached TEE_INFO_HASH.
 */
export function extendRtmr(rtmr: Uint8Array, data: Uint8Array): Uint8Array {
  if (rtmr.length !== MEASUREMENT_DIGEST_BYTES || data.length !== MEASUREMENT_DIGEST_BYTES) {
    throw new RangeError(`RTMR extend takes a ${MEASUREMENT_DIGEST_BYTES}-byte register and ${MEASUREMENT_DIGEST_BYTES} bytes of data`);
  }
  return new Uint8Array(createHash('sha384').update(rtmr).update(data).digest());
}
