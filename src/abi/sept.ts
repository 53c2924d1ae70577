/**
 * Secure EPT: levels, the public entry states the module reports, and the SEPT entry bits.
 *
 * Source: TDX module 1.5 `src/common/x86_defs/x86_defs.h` (levels), `sept_state_lookup.h` and
 * `sept_manager.h` (states and bits). Facts: tdx-module.md §4.7.
 */

/** Secure-EPT levels as the ABI numbers them (`GPA_AND_LEVEL.level`). */
export const SeptLevel = Object.freeze({
  /** 4K leaf (page table entry). */
  PT: 0,
  /** 2M (page directory entry). */
  PD: 1,
  /** 1G (PDPT entry). */
  PDPT: 2,
  PML4: 3,
  PML5: 4,
} as const);

export type SeptLevelValue = (typeof SeptLevel)[keyof typeof SeptLevel];

/** Human names of mapping levels. */
export const SEPT_LEVEL_NAMES: readonly string[] = Object.freeze(['4K', '2M', '1G', 'PML4', 'PML5']);

/** Bytes mapped by one entry at a level: 4K << 9*level. */
export function levelSize(level: number): bigint {
  return LEVEL_SIZES[level] ?? 4096n << BigInt(9 * level);
}

/** levelSize of the five levels, computed once (the Secure-EPT walks ask for them constantly). */
const LEVEL_SIZES: readonly bigint[] = [0, 1, 2, 3, 4].map((l) => 4096n << BigInt(9 * l));

/** Entries in one SEPT page. */
export const SEPT_ENTRIES_PER_PAGE = 512;

/**
 * Public SEPT entry states: the value reported in SEPT_ENTRY_INFO.state (RDX bits 15:8) by
 * TDH.MEM.SEPT.RD and on Secure-EPT errors. Migration-only states are included for decoding.
 */
export const SeptState = Object.freeze({
  FREE: 0,
  BLOCKED: 1,
  PENDING: 2,
  PENDING_BLOCKED: 3,
  MAPPED: 4,
  REMOVED: 5,
  BLOCKEDW: 8,
  EXPORTED_BLOCKEDW: 9,
  EXPORTED_DIRTY: 11,
  EXPORTED_DIRTY_BLOCKEDW: 12,
  PENDING_BLOCKEDW: 16,
  PENDING_EXPORTED_BLOCKEDW: 17,
  PENDING_EXPORTED_DIRTY: 19,
  PENDING_EXPORTED_DIRTY_BLOCKEDW: 20,
  NL_BLOCKED: 0x81,
  NL_MAPPED: 0x84,
} as const);

export type SeptStateName = keyof typeof SeptState;
export type SeptStateValue = (typeof SeptState)[SeptStateName];

/** Architectural SEPT entry bits the simulator sets or reports (sept_manager.h). */
export const SepteBit = Object.freeze({
  R: 0,
  W: 1,
  X: 2,
  /** Bits 5:3: memory type (6 = WB). */
  MT0: 3,
  IPAT: 6,
  /** Page size: a leaf entry above level 0. */
  PS: 7,
  TDGL: 8,
  D: 9,
  XU: 10,
  /** Entry lock held by a host or guest leaf. */
  TDEL: 11,
  /** Host priority request on the entry lock. */
  TDHP: 52,
  TDEX: 53,
  TDBW: 54,
  TDB: 55,
  TDP: 56,
  VPW: 57,
  PW: 58,
  TDWR: 59,
  TDSA: 60,
  TDIO: 62,
  /** Suppress #VE: set in every non-present entry. */
  SVE: 63,
} as const);

/** Memory type WB in SEPT entry bits 5:3. */
export const SEPTE_MEMTYPE_WB = 6n;

/** Mask of the physical-address bits of a SEPT entry (bits 51:12). */
export const SEPTE_PA_MASK = 0x000f_ffff_ffff_f000n;

/**
 * The value a FREE entry is reported as in RCX on an EPT error: only SVE (bit 63). A freshly
 * initialised SEPT page is filled with this value.
 */
export const SEPTE_FREE_REPORTED = 1n << 63n;
