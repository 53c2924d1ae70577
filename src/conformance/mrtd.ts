/**
 * MRTD recomputed from the build recipe alone, independently of the module's measurement code:
 * one SHA-384 over 128-byte blocks — a block naming each TDH.MEM.PAGE.ADD's GPA, and for each
 * TDH.MR.EXTEND a block naming the chunk's GPA followed by the 256 chunk bytes — finalised by
 * TDH.MR.FINALIZE (facts tdx-module.md §7.1; block layout from src/abi/measurement.ts).
 *
 * A case replays the same steps it asked the module to do and compares the digests.
 */
import { createHash, type Hash } from 'node:crypto';
import { MR_EXTEND_CHUNK_BYTES, MRTD_BLOCK_BYTES, MRTD_TAG_MR_EXTEND, MRTD_TAG_PAGE_ADD, MrtdBlock } from '../abi/measurement.ts';

function block(tag: string, gpa: bigint): Uint8Array {
  const b = new Uint8Array(MRTD_BLOCK_BYTES);
  b.set(new TextEncoder().encode(tag), MrtdBlock.TAG_OFFSET);
  new DataView(b.buffer).setBigUint64(MrtdBlock.GPA_OFFSET, gpa, true);
  return b;
}

export class MrtdRecipe {
  private readonly hash: Hash = createHash('sha384');

  /** TDH.MEM.PAGE.ADD of the 4K page at `gpa` (its contents are not measured). */
  pageAdd(gpa: bigint): this {
    this.hash.update(block(MRTD_TAG_PAGE_ADD, gpa));
    return this;
  }

  /** TDH.MR.EXTEND of the 256-byte chunk at `gpa` holding `chunk`. */
  extend(gpa: bigint, chunk: Uint8Array): this {
    if (chunk.length !== MR_EXTEND_CHUNK_BYTES) throw new Error(`an MR.EXTEND chunk is ${MR_EXTEND_CHUNK_BYTES} bytes`);
    this.hash.update(block(MRTD_TAG_MR_EXTEND, gpa));
    this.hash.update(chunk);
    return this;
  }

  /** A page added and fully measured (PAGE.ADD, then MR.EXTEND of each 256-byte chunk). */
  measuredPage(gpa: bigint, page: Uint8Array): this {
    this.pageAdd(gpa);
    for (let off = 0; off < page.length; off += MR_EXTEND_CHUNK_BYTES) this.extend(gpa + BigInt(off), page.subarray(off, off + MR_EXTEND_CHUNK_BYTES));
    return this;
  }

  /** TDH.MR.FINALIZE: the 48-byte MRTD. */
  finalize(): Uint8Array {
    return new Uint8Array(this.hash.digest());
  }
}
