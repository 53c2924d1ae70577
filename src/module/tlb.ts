/**
 * TLB epoch tracking: how the module knows that no logical processor can still hold a TLB
 * translation for a blocked GPA range, so the page behind it can be removed or the range unblocked.
 *
 * The TD has an epoch counter (TD_EPOCH, 1 after TDH.MNG.INIT) and two reference counts, one per
 * epoch parity, of vCPUs currently running inside the TD:
 *   - TDH.VP.ENTER samples TD_EPOCH into the vCPU (VCPU_EPOCH) and counts the vCPU in
 *     REFCOUNT[epoch & 1]; if the vCPU last ran in another epoch it flushes the TD's TLB entries
 *     first (INVEPT), so it carries no translation older than the epoch it runs in;
 *   - a TD exit uncounts it from REFCOUNT[VCPU_EPOCH & 1];
 *   - TDH.MEM.RANGE.BLOCK records the epoch in which a range was blocked (PAMT.BEPOCH);
 *   - TDH.MEM.TRACK moves to the next epoch, refusing while any vCPU still runs in the previous
 *     one (its parity's count would be reused).
 * A range blocked in epoch b is therefore "tracked" — no running vCPU can have cached it — once
 * every vCPU that entered in epoch b has left: b < EPOCH-1, or b == EPOCH-1 with REFCOUNT[b & 1]
 * back to 0. Source: TDX module 1.5 `helpers.h is_tlb_tracked`, `adjust_tlb_tracking_state`,
 * `ac/tdh_mem_track.c`, `td_exit.c`; facts tdx-module.md §5.3.
 */
import { LockKey, type LockTable } from './locks.ts';
import type { Td } from './td.ts';
import type { Vcpu } from './vcpu.ts';

/** Reference-count slot of an epoch: its parity. */
export function epochParity(epoch: bigint): 0 | 1 {
  return (epoch & 1n) === 0n ? 0 : 1;
}

/**
 * True if a range blocked in epoch `bepoch` can no longer be cached by any vCPU (`is_tlb_tracked`).
 * TDH.MEM.PAGE.REMOVE, TDH.MEM.SEPT.REMOVE and TDH.MEM.RANGE.UNBLOCK require it while the TD may
 * run, so that a guest never keeps using a page the host took back.
 */
export function isTlbTracked(td: Td, bepoch: bigint): boolean {
  const epoch = td.tdEpoch;
  if (bepoch + 1n === epoch && td.epochRefcount[epochParity(bepoch)] === 0) return true;
  return bepoch + 1n < epoch;
}

/** Outcome of counting a vCPU into the current epoch at TDH.VP.ENTER. */
export type EpochEntry =
  | {
      readonly status: 'ok';
      /** The vCPU last ran in an older epoch: flush the TD's TLB translations before entry. */
      readonly flushTlb: boolean;
    }
  | { readonly status: 'busy' };

/**
 * TDH.VP.ENTER: count the vCPU into the current epoch (`adjust_tlb_tracking_state`). With
 * `locks`, the TD epoch lock is taken shared for the update, as the module does; a TDH.MEM.TRACK
 * holding it means `{ status: 'busy' }`, which the caller reports as OPERAND_BUSY | TD_EPOCH.
 */
export function enterEpoch(td: Td, vcpu: Vcpu, locks?: LockTable): EpochEntry {
  // The lock is held only around this update, which nothing can interleave with: probe it.
  if (locks && locks.probe(LockKey.tdEpoch(td.tdrPfn), 'shared') !== 'ok') return { status: 'busy' };
  const epoch = td.tdEpoch;
  td.epochRefcount[epochParity(epoch)]++;
  const flushTlb = vcpu.epoch !== epoch;
  vcpu.epoch = epoch;
  return { status: 'ok', flushTlb };
}

/**
 * TD exit: uncount the vCPU from the epoch it entered in. A count that is already 0 is left at 0
 * (an exit without a matching entry is a simulator bug, not something a party can cause).
 */
export function exitEpoch(td: Td, vcpu: Vcpu): void {
  const slot = epochParity(vcpu.epoch);
  if (td.epochRefcount[slot] > 0) td.epochRefcount[slot]--;
}

/**
 * TDH.MEM.TRACK's core: move to the next epoch unless a vCPU still runs in the previous one
 * (REFCOUNT of the other parity ≠ 0), whose slot the new epoch is about to reuse.
 */
export function advanceEpoch(td: Td): 'ok' | 'previous_epoch_busy' {
  const previous = 1 - epochParity(td.tdEpoch);
  if (td.epochRefcount[previous] !== 0) return 'previous_epoch_busy';
  td.tdEpoch++;
  return 'ok';
}
