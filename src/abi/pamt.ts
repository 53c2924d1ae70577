/**
 * PAMT (Physical Address Metadata Table): page types and page sizes.
 *
 * Every 4K page inside a TDMR has a PAMT entry recording what the module uses it for and which TD
 * owns it. Source: TDX module 1.5 `pamt_manager.h`; facts tdx-module.md §4.6.
 */

export const PamtPageType = Object.freeze({
  /** Not assigned to the module: free for the host. */
  PT_NDA: 0,
  /** Reserved (never usable by TDs). */
  PT_RSVD: 1,
  /** A TD private page. */
  PT_REG: 3,
  /** A TD's root structure. */
  PT_TDR: 4,
  /** A TDCS or TDVPS extension page (TDVPX pages are PT_TDCX in 1.5). */
  PT_TDCX: 5,
  /** A vCPU's root page. */
  PT_TDVPR: 6,
  /** A Secure-EPT page. */
  PT_EPT: 8,
} as const);

export type PamtPageTypeName = keyof typeof PamtPageType;
export type PamtPageTypeValue = (typeof PamtPageType)[PamtPageTypeName];

/** PAMT page size levels (`page_size_t`). */
export const PamtPageSize = Object.freeze({
  PT_4KB: 0,
  PT_2MB: 1,
  PT_1GB: 2,
} as const);

/** Size of one PAMT entry in bytes (lock 16 bits, type 8, owner 40, BEPOCH 64). */
export const PAMT_ENTRY_BYTES = 16;

export const PAGE_SIZE = 4096n;
export const PAGE_SHIFT = 12n;
export const PAGE_MASK = ~(PAGE_SIZE - 1n) & ((1n << 64n) - 1n);
export const SIZE_2M = 1n << 21n;
export const SIZE_1G = 1n << 30n;

/** PAMT initialisation granule of TDH.SYS.TDMR.INIT: 1024 4K entries = 4 MB of TDMR per call. */
export const TDMR_INIT_CHUNK_BYTES = 1024n * PAGE_SIZE;
