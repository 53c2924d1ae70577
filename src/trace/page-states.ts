/**
 * The page states `page` events carry, and the four categories the viewer's memory map and the
 * Perfetto page counters show.
 *
 * A private page's state is its Secure-EPT leaf state (abi/sept.ts, tdx-module.md §4.7): FREE →
 * PENDING (TDH.MEM.PAGE.AUG) → MAPPED (TDG.MEM.PAGE.ACCEPT), or FREE → MAPPED directly
 * (TDH.MEM.PAGE.ADD during build); BLOCKED on the way out (TDH.MEM.RANGE.BLOCK) and FREE again
 * after TDH.MEM.PAGE.REMOVE. A shared page lives in the host's shared EPT, not the Secure EPT, so
 * it has no SEPT state: the trace calls it SHARED.
 */
import { SeptState, type SeptStateName } from '../abi/sept.ts';

/** A GPA mapped in the shared EPT (after MapGPA to shared). Not a Secure-EPT state. */
export const SHARED_PAGE_STATE = 'SHARED';

export type TracePageState = SeptStateName | typeof SHARED_PAGE_STATE;

export const TRACE_PAGE_STATES: readonly TracePageState[] = Object.freeze([
  ...(Object.keys(SeptState) as SeptStateName[]),
  SHARED_PAGE_STATE,
]);

/** What the memory map colours: `none` is a GPA with no page behind it. */
export type PageCategory = 'private' | 'shared' | 'pending' | 'blocked' | 'none';

/** Categories in legend and counter order. */
export const PAGE_CATEGORIES: readonly Exclude<PageCategory, 'none'>[] = Object.freeze(['private', 'shared', 'pending', 'blocked']);

/**
 * Category of every state. A blocked page (any *BLOCKED* state, including the pending and
 * migration ones) is shown as blocked: the guest cannot reach it until it is unblocked. The
 * migration states without a block are still the guest's private (or pending) memory.
 */
const CATEGORY: Readonly<Record<TracePageState, PageCategory>> = Object.freeze({
  FREE: 'none',
  REMOVED: 'none',
  NL_MAPPED: 'none',
  NL_BLOCKED: 'blocked',
  MAPPED: 'private',
  BLOCKED: 'blocked',
  BLOCKEDW: 'blocked',
  EXPORTED_BLOCKEDW: 'blocked',
  EXPORTED_DIRTY: 'private',
  EXPORTED_DIRTY_BLOCKEDW: 'blocked',
  PENDING: 'pending',
  PENDING_BLOCKED: 'blocked',
  PENDING_BLOCKEDW: 'blocked',
  PENDING_EXPORTED_BLOCKEDW: 'blocked',
  PENDING_EXPORTED_DIRTY: 'pending',
  PENDING_EXPORTED_DIRTY_BLOCKEDW: 'blocked',
  SHARED: 'shared',
});

export function isTracePageState(s: string): s is TracePageState {
  return Object.hasOwn(CATEGORY, s);
}

export function pageCategory(state: TracePageState): PageCategory {
  return CATEGORY[state];
}
