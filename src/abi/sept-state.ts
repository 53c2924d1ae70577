/**
 * How a Secure-EPT entry encodes its state, what each state allows, and what the host is shown
 * of an entry.
 *
 * The module keeps an entry's state in seven SEPTE bits that hardware ignores or that are part of
 * the mapping: D (9), TDEX (53), TDBW (54), TDB (55), TDP (56), IPAT (6) and PS (7). Read as a
 * 7-bit number (bit 0 = D, bits 1..4 = TDEX, TDBW, TDB, TDP, bits 5..6 = IPAT, PS) they form the
 * state *encoding*; each encoding has a public state number (reported in SEPT_ENTRY_INFO.state)
 * and a set of flags the leaves test. Leaf entries always have PS = 1 (even at 4K, where hardware
 * ignores the bit) and non-leaf entries PS = 0, so PS alone tells a leaf from a non-leaf.
 *
 * Sources: TDX module 1.5 `include/auto_gen/sept_state_lookup.h/.c` (encodings, flags, the
 * per-leaf allowed-state tables), `src/common/memory_handlers/sept_manager.h/.c` (bit masks,
 * `set_arch_septe_details_in_vmm_regs`). Facts: tdx-module.md §4.7.
 */
import { SepteBit, SeptState, SEPTE_PA_MASK, type SeptStateName, type SeptStateValue } from './sept.ts';
import { OpState, type OpStateValue } from './lifecycle.ts';
import { HI32, LO32 } from './u64.ts';

const bit = (n: number): bigint => 1n << BigInt(n);

/** The SEPTE bits that hold the state encoding, in encoding-bit order (bit 0 first). */
export const SEPT_STATE_ENCODING_BITS: readonly number[] = Object.freeze([
  SepteBit.D,
  SepteBit.TDEX,
  SepteBit.TDBW,
  SepteBit.TDB,
  SepteBit.TDP,
  SepteBit.IPAT,
  SepteBit.PS,
]);

/** Mask of every SEPTE bit that is part of the state encoding. */
export const SEPT_STATE_ENCODING_MASK: bigint = SEPT_STATE_ENCODING_BITS.reduce((m, b) => m | bit(b), 0n);

/** 7-bit state encodings (`SEPT_STATE_*_ENCODING`). */
export const SeptStateEncoding: Readonly<Record<SeptStateName, number>> = Object.freeze({
  FREE: 0x0e,
  REMOVED: 0x0c,
  NL_MAPPED: 0x00,
  NL_BLOCKED: 0x08,
  MAPPED: 0x60,
  BLOCKED: 0x68,
  BLOCKEDW: 0x64,
  EXPORTED_BLOCKEDW: 0x66,
  EXPORTED_DIRTY: 0x63,
  EXPORTED_DIRTY_BLOCKEDW: 0x67,
  PENDING: 0x70,
  PENDING_BLOCKED: 0x78,
  PENDING_BLOCKEDW: 0x74,
  PENDING_EXPORTED_BLOCKEDW: 0x76,
  PENDING_EXPORTED_DIRTY: 0x73,
  PENDING_EXPORTED_DIRTY_BLOCKEDW: 0x77,
});

/** The SEPTE bits of a state encoding (`SEPT_STATE_ENC_TO_MASK`). */
export function septStateMask(state: SeptStateName): bigint {
  return STATE_MASKS.get(state)!;
}

function computeStateMask(state: SeptStateName): bigint {
  const enc = SeptStateEncoding[state];
  let mask = 0n;
  SEPT_STATE_ENCODING_BITS.forEach((b, i) => {
    if ((enc >> i) & 1) mask |= bit(b);
  });
  return mask;
}

/** Every state's mask, computed once (the Secure EPT rewrites entries on every leaf). */
const STATE_MASKS: ReadonlyMap<SeptStateName, bigint> = new Map(
  (Object.keys(SeptStateEncoding) as SeptStateName[]).map((name) => [name, computeStateMask(name)]),
);

/**
 * Where each encoding bit sits in a 32-bit half of the entry (u64.ts), so decoding an entry reads
 * seven bits as numbers instead of shifting a bigint seven times.
 */
const ENCODING_HALVES = SEPT_STATE_ENCODING_BITS.map((b) => ({ index: b >= 32 ? HI32 : LO32, shift: b % 32 }));
const SCRATCH64 = new BigUint64Array(1);
const SCRATCH32 = new Uint32Array(SCRATCH64.buffer);

/** The 7-bit state encoding held in an entry (`SEPT_CONVERT_TO_ENCODING`). */
export function septStateEncodingOf(entry: bigint): number {
  SCRATCH64[0] = entry;
  let enc = 0;
  for (let i = 0; i < ENCODING_HALVES.length; i++) {
    const h = ENCODING_HALVES[i]!;
    enc |= ((SCRATCH32[h.index]! >>> h.shift) & 1) << i;
  }
  return enc;
}

/** Per-state flags from `sept_special_flags_lookup` (the non-migration ones tdxsim uses). */
export interface SeptStateFlags {
  /** Index into the per-leaf allowed-state tables. */
  readonly index: number;
  readonly public: SeptStateValue;
  /** Removal/unblock of an entry in this state needs BLOCK + TRACK while the TD may run. */
  readonly tlbTrackingRequired: boolean;
  /** NL_BLOCKED, BLOCKED, PENDING_BLOCKED. */
  readonly anyBlocked: boolean;
  readonly anyPending: boolean;
  /** PENDING and PENDING_EXPORTED_DIRTY: TDG.MEM.PAGE.ACCEPT can take it. */
  readonly pendingGuestAcceptable: boolean;
  /** A leaf the guest can read (MAPPED, BLOCKEDW, EXPORTED_*). */
  readonly guestAccessibleLeaf: boolean;
  /** A leaf the guest can read and write (MAPPED, EXPORTED_DIRTY). */
  readonly guestFullyAccessibleLeaf: boolean;
}

type FlagRow = [index: number, tlb: 0 | 1, blocked: 0 | 1, pending: 0 | 1, acceptable: 0 | 1, access: 0 | 1, full: 0 | 1];

const FLAG_ROWS: Readonly<Record<SeptStateName, FlagRow>> = {
  FREE: [0, 0, 0, 0, 0, 0, 0],
  REMOVED: [1, 0, 0, 0, 0, 0, 0],
  NL_MAPPED: [2, 1, 0, 0, 0, 0, 0],
  NL_BLOCKED: [3, 1, 1, 0, 0, 0, 0],
  MAPPED: [4, 1, 0, 0, 0, 1, 1],
  BLOCKED: [5, 1, 1, 0, 0, 0, 0],
  BLOCKEDW: [6, 1, 0, 0, 0, 1, 0],
  EXPORTED_BLOCKEDW: [7, 0, 0, 0, 0, 1, 0],
  EXPORTED_DIRTY: [8, 1, 0, 0, 0, 1, 1],
  EXPORTED_DIRTY_BLOCKEDW: [9, 1, 0, 0, 0, 1, 0],
  PENDING: [10, 1, 0, 1, 1, 0, 0],
  PENDING_BLOCKED: [11, 1, 1, 1, 0, 0, 0],
  PENDING_BLOCKEDW: [12, 1, 0, 1, 0, 0, 0],
  PENDING_EXPORTED_BLOCKEDW: [13, 0, 0, 1, 0, 0, 0],
  PENDING_EXPORTED_DIRTY: [14, 1, 0, 1, 1, 0, 0],
  PENDING_EXPORTED_DIRTY_BLOCKEDW: [15, 1, 0, 1, 0, 0, 0],
};

export const SEPT_STATE_FLAGS: Readonly<Record<SeptStateName, SeptStateFlags>> = Object.freeze(
  Object.fromEntries(
    (Object.entries(FLAG_ROWS) as [SeptStateName, FlagRow][]).map(([name, [index, tlb, blocked, pending, acc, ga, gfa]]) => [
      name,
      Object.freeze({
        index,
        public: SeptState[name],
        tlbTrackingRequired: tlb === 1,
        anyBlocked: blocked === 1,
        anyPending: pending === 1,
        pendingGuestAcceptable: acc === 1,
        guestAccessibleLeaf: ga === 1,
        guestFullyAccessibleLeaf: gfa === 1,
      }),
    ]),
  ) as Record<SeptStateName, SeptStateFlags>,
);

const STATE_BY_ENCODING: ReadonlyMap<number, SeptStateName> = new Map(
  (Object.entries(SeptStateEncoding) as [SeptStateName, number][]).map(([name, enc]) => [enc, name]),
);

/** The state an entry is in, or undefined for an encoding the module never writes. */
export function septStateOf(entry: bigint): SeptStateName | undefined {
  return STATE_BY_ENCODING.get(septStateEncodingOf(entry));
}

/**
 * SEPT states each leaf accepts at the entry it operates on (`seamcall_sept_state_lookup`,
 * `tdcall_sept_state_lookup`); any other state fails with TDX_EPT_ENTRY_STATE_INCORRECT (host)
 * or an EPT-violation exit (TDG.MEM.PAGE.ACCEPT).
 */
export const SEPT_LEAF_ALLOWED_STATES = Object.freeze({
  TDH_MEM_PAGE_ADD: Object.freeze(['FREE']),
  TDH_MEM_SEPT_ADD: Object.freeze(['FREE', 'NL_MAPPED']),
  TDH_MEM_PAGE_AUG: Object.freeze(['FREE', 'REMOVED']),
  TDH_MEM_RANGE_BLOCK: Object.freeze(['NL_MAPPED', 'MAPPED', 'BLOCKEDW', 'PENDING', 'PENDING_BLOCKEDW']),
  TDH_MR_EXTEND: Object.freeze(['MAPPED']),
  TDH_MEM_SEPT_RD: Object.freeze(Object.keys(SeptStateEncoding)),
  TDH_MEM_PAGE_REMOVE: Object.freeze(['MAPPED', 'BLOCKED', 'BLOCKEDW', 'PENDING', 'PENDING_BLOCKED', 'PENDING_BLOCKEDW']),
  TDH_MEM_SEPT_REMOVE: Object.freeze(['NL_MAPPED', 'NL_BLOCKED']),
  TDH_MEM_RANGE_UNBLOCK: Object.freeze(['NL_BLOCKED', 'BLOCKED', 'PENDING_BLOCKED']),
  TDG_MEM_PAGE_ACCEPT: Object.freeze(['PENDING', 'PENDING_EXPORTED_DIRTY']),
} as const satisfies Record<string, readonly string[]>) as Readonly<Record<string, readonly SeptStateName[]>>;

/** R, W, X (supervisor) and XU: the permission bits the module sets and clears together. */
export const SEPTE_PERMISSIONS_MASK = bit(SepteBit.R) | bit(SepteBit.W) | bit(SepteBit.X) | bit(SepteBit.XU);

/** SEPTE bits 5:3: memory type. */
export const SEPTE_MEMTYPE_MASK = 7n << BigInt(SepteBit.MT0);

/**
 * What the host sees of a leaf entry (`SEPT_ARCH_ENTRY_LEAF_MASK`): permissions, memory type,
 * HPA, IPAT, PS and SVE. The TD-private bookkeeping bits (state, lock) are hidden.
 */
export const SEPTE_ARCH_LEAF_MASK =
  SEPTE_PERMISSIONS_MASK | SEPTE_MEMTYPE_MASK | SEPTE_PA_MASK | bit(SepteBit.IPAT) | bit(SepteBit.PS) | bit(SepteBit.SVE);

/**
 * What the host sees of a non-leaf entry (`SEPT_ARCH_ENTRY_NON_LEAF_MASK`): only permissions and
 * PS. The module does not reveal which page holds the next level of the TD's Secure EPT.
 */
export const SEPTE_ARCH_NON_LEAF_MASK = SEPTE_PERMISSIONS_MASK | bit(SepteBit.PS);

/** SEPTE_INIT_VALUE: a FREE entry with suppress-#VE set; every new SEPT page is filled with it. */
export const SEPTE_INIT_VALUE = septStateMask('FREE') | bit(SepteBit.SVE);

/**
 * OP_STATEs in which the TD may be running, so that removing a page or unblocking a range whose
 * SEPT state needs TLB tracking first requires BLOCK + TRACK (`op_state_lookup.c`,
 * `state_flags_lookup.tlb_tracking_required`; facts tdx-module.md §4.4). Before TDH.MR.FINALIZE
 * no vCPU has run, so no TLB can hold a translation of the TD's memory.
 */
export const TLB_TRACKING_OP_STATES: readonly OpStateValue[] = Object.freeze([OpState.RUNNABLE, OpState.LIVE_EXPORT]);
