/**
 * TD measurement: the MRTD blocks of the build leaves, MRTD finalisation, and the RTMR extend.
 *
 * MRTD records how the TD was built, not just what it contains: TDH.MEM.PAGE.ADD hashes the GPA
 * of every added page (so the layout is measured) and TDH.MR.EXTEND hashes 256-byte chunks of
 * content the host chose to measure. A host that loads a different image, at different GPAs or
 * in a different order, produces a different MRTD, which a verifier compares with the expected
 * value in the TD's quote. Formats: src/abi/measurement.ts; facts tdx-module.md §7.1–7.2.
 */
import { createHash } from 'node:crypto';
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
  const ascii = new TextEncoder().encode(tag);
  if (ascii.length > MrtdBlock.TAG_BYTES) throw new RangeError(`MRTD tag ${tag} is longer than ${MrtdBlock.TAG_BYTES} bytes`);
  block.set(ascii, MrtdBlock.TAG_OFFSET);
  new DataView(block.buffer).setBigUint64(MrtdBlock.GPA_OFFSET, gpa, true);
  return block;
}

/** The MRTD hash of a TD, which must be in the build phase (MNG.INIT done, not finalised). */
function mrtdHash(td: Td) {
  if (!td.mrtdHash) throw new Error('MRTD is not being built: TDH.MNG.INIT has not run or MRTD is finalised');
  return td.mrtdHash;
}

/** TDH.MEM.PAGE.ADD: extend MRTD with the "MEM.PAGE.ADD" block of the page's GPA. */
export function measurePageAdd(td: Td, gpa: bigint): void {
  mrtdHash(td).update(mrtdBlock(MRTD_TAG_PAGE_ADD, gpa));
}

/** TDH.MR.EXTEND: extend MRTD with the "MR.EXTEND" block of the chunk's GPA, then the chunk. */
export function measureExtend(td: Td, gpa: bigint, chunk: Uint8Array): void {
  if (chunk.length !== MR_EXTEND_CHUNK_BYTES) throw new RangeError(`MR.EXTEND chunk must be ${MR_EXTEND_CHUNK_BYTES} bytes`);
  const h = mrtdHash(td);
  h.update(mrtdBlock(MRTD_TAG_MR_EXTEND, gpa));
  h.update(chunk);
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
