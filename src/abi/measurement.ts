/**
 * The byte-level recipe of a TD's build-time measurement (MRTD) and run-time measurement
 * registers (RTMRs).
 *
 * MRTD is one incremental SHA-384 over 128-byte blocks, started by TDH.MNG.INIT and finalised by
 * TDH.MR.FINALIZE. TDH.MEM.PAGE.ADD adds one block naming the page's GPA (not its contents);
 * TDH.MR.EXTEND adds one such block for a 256-byte chunk followed by the chunk itself. Anyone
 * holding the initial image can recompute MRTD from this description alone.
 *
 * Source: TDX module 1.5 `ac/tdh_mem_page_add.c`, `ac/tdh_mr_extend.c`, `ac/tdh_mr_finalize.c`,
 * `src/common/crypto/sha384.h` (`sha384_128B_block_t`: 16-byte API name, 8-byte GPA, zero
 * padding); `ve/tdg_mr_rtmr_extend.c`. Facts: tdx-module.md §7.1–7.2.
 */

/** Size of one MRTD update block (one SHA-384 block). */
export const MRTD_BLOCK_BYTES = 128;

/** Layout of an MRTD update block (`sha384_128B_block_t` as the API leaves fill it). */
export const MrtdBlock = Object.freeze({
  /** ASCII leaf tag, zero-padded. */
  TAG_OFFSET: 0,
  TAG_BYTES: 16,
  /** GPA, u64 little-endian. */
  GPA_OFFSET: 16,
  GPA_BYTES: 8,
  /** Bytes 24..127 are zero. */
} as const);

/** Tag of the block TDH.MEM.PAGE.ADD hashes (12 ASCII bytes). */
export const MRTD_TAG_PAGE_ADD = 'MEM.PAGE.ADD';
/** Tag of the block TDH.MR.EXTEND hashes before the chunk (9 ASCII bytes). */
export const MRTD_TAG_MR_EXTEND = 'MR.EXTEND';

/** TDH.MR.EXTEND measures this many bytes of TD memory per call (two SHA-384 blocks). */
export const MR_EXTEND_CHUNK_BYTES = 256;

/** SHA-384 digest size: MRTD, RTMRs and the extend data of TDG.MR.RTMR.EXTEND. */
export const MEASUREMENT_DIGEST_BYTES = 48;
