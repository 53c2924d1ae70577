/**
 * TDCS page roles: what each page the host adds with TDH.MNG.ADDCX holds, by its index.
 * Source: TDX module 1.5 `td_control_structures.h` (`MSR_BITMAPS_PAGE_INDEX`,
 * `SEPT_ROOT_PAGE_INDEX`, …); facts tdx-module.md §5.2, §10.3 "Page counts".
 */
export const TdcsPageIndex = Object.freeze({
  /** VMX MSR bitmaps, filled with all ones (every MSR intercepted) when the page is added. */
  MSR_BITMAPS: 2,
  /** The Secure-EPT root page, filled with SEPTE_INIT (non-present entries with SVE set). */
  SEPT_ROOT: 3,
  /** A page of zeros the module maps where it needs one. */
  ZERO_PAGE: 4,
  /** Migration stream context links. */
  MIGSC_LINKS: 5,
} as const);
