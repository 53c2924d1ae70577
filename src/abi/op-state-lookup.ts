/**
 * Which SEAMCALL leaves the module allows in which TD operation state (OP_STATE, kept in the
 * TDCS). A leaf that names a TD in a state not listed for it fails with TDX_OP_STATE_INCORRECT.
 * Leaves absent from this table do not check OP_STATE (MNG.CREATE, KEY.CONFIG, VPFLUSHDONE,
 * KEY.FREEID, PHYMEM.*, SYS.*).
 *
 * Source: TDX module 1.5 `include/auto_gen/op_state_lookup.c` (`seamcall_state_lookup`); facts
 * tdx-module.md §4.4. States 3..10 belong to live migration, which tdxsim does not model, but
 * they are listed so the table stays the module's own.
 */
import { OpState, type OpStateValue } from './lifecycle.ts';
import type { SeamcallLeaf } from './seamcall-leaves.ts';

type LeafKey = keyof typeof SeamcallLeaf;

const S = OpState;

const ALL: readonly OpStateValue[] = Object.values(S);
const allBut = (...except: OpStateValue[]): readonly OpStateValue[] => ALL.filter((s) => !except.includes(s));

/** Range and mapping leaves (BLOCK, UNBLOCK, RELOCATE, PROMOTE, DEMOTE). */
const RANGE_OPS: readonly OpStateValue[] = [
  S.INITIALIZED,
  S.RUNNABLE,
  S.LIVE_EXPORT,
  S.PAUSED_EXPORT,
  S.POST_EXPORT,
  S.POST_IMPORT,
  S.LIVE_IMPORT,
];

/** Metadata and memory writes (MNG.WR, MEM.WR, VP.WR). */
const WRITES: readonly OpStateValue[] = [
  S.INITIALIZED,
  S.RUNNABLE,
  S.LIVE_EXPORT,
  S.MEMORY_IMPORT,
  S.STATE_IMPORT,
  S.POST_IMPORT,
  S.LIVE_IMPORT,
  S.FAILED_IMPORT,
];

/** Allowed OP_STATEs by SEAMCALL leaf. */
export const OP_STATE_ALLOWED: Readonly<Partial<Record<LeafKey, ReadonlySet<OpStateValue>>>> = Object.freeze({
  TDH_VP_ENTER: new Set([S.RUNNABLE, S.LIVE_EXPORT, S.LIVE_IMPORT]),
  // MNG.ADDCX checks OP_STATE only for the 7th and later pages (facts §4.4).
  TDH_MNG_ADDCX: new Set([S.UNINITIALIZED]),
  TDH_MNG_INIT: new Set([S.UNINITIALIZED]),
  TDH_MEM_PAGE_ADD: new Set([S.INITIALIZED]),
  TDH_MR_EXTEND: new Set([S.INITIALIZED]),
  TDH_MR_FINALIZE: new Set([S.INITIALIZED]),
  TDH_VP_INIT: new Set([S.INITIALIZED]),
  TDH_VP_CREATE: new Set([S.INITIALIZED, S.STATE_IMPORT]),
  TDH_VP_ADDCX: new Set([S.INITIALIZED, S.STATE_IMPORT]),
  TDH_MEM_SEPT_ADD: new Set([
    S.INITIALIZED,
    S.RUNNABLE,
    S.LIVE_EXPORT,
    S.MEMORY_IMPORT,
    S.STATE_IMPORT,
    S.POST_IMPORT,
    S.LIVE_IMPORT,
  ]),
  TDH_MEM_PAGE_AUG: new Set([S.INITIALIZED, S.RUNNABLE, S.LIVE_EXPORT, S.LIVE_IMPORT]),
  TDH_MEM_RANGE_BLOCK: new Set(RANGE_OPS),
  TDH_MEM_RANGE_UNBLOCK: new Set(RANGE_OPS),
  TDH_MEM_PAGE_RELOCATE: new Set(RANGE_OPS),
  TDH_MEM_PAGE_PROMOTE: new Set(RANGE_OPS),
  TDH_MEM_PAGE_DEMOTE: new Set(RANGE_OPS),
  TDH_MEM_PAGE_REMOVE: new Set([...RANGE_OPS, S.FAILED_IMPORT]),
  TDH_MNG_RD: new Set(allBut(S.UNINITIALIZED)),
  TDH_MEM_RD: new Set(allBut(S.UNINITIALIZED)),
  TDH_MEM_SEPT_RD: new Set(allBut(S.UNINITIALIZED)),
  TDH_VP_RD: new Set(allBut(S.UNINITIALIZED)),
  TDH_MEM_SEPT_REMOVE: new Set(allBut(S.UNINITIALIZED)),
  TDH_MNG_WR: new Set(WRITES),
  TDH_MEM_WR: new Set(WRITES),
  TDH_VP_WR: new Set(WRITES),
  TDH_MEM_TRACK: new Set(allBut(S.UNINITIALIZED, S.FAILED_IMPORT)),
  TDH_VP_FLUSH: new Set(ALL),
});

/** True if `leaf` may run on a TD in OP_STATE `state`; true for leaves that do not check it. */
export function isOpStateAllowed(leaf: LeafKey, state: OpStateValue): boolean {
  const allowed = OP_STATE_ALLOWED[leaf];
  return allowed === undefined || allowed.has(state);
}
