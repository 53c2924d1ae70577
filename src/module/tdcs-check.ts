/**
 * `check_state_map_tdcs_and_lock` for a TD whose TDR is already resolved and locked: the checks a
 * leaf runs before it touches the TDCS, in the module's order.
 *
 *   1. the build state (`checkTdBuildState`): TD_FATAL, KEYS_NOT_CONFIGURED, TDCS_NOT_ALLOCATED —
 *      a TD that is fatal, being torn down, or has no TDCS yet cannot be read or changed;
 *   2. optionally the OP_STATE lock, shared with host priority → OPERAND_BUSY | OP_STATE — it
 *      keeps OP_STATE from changing (e.g. TDH.MR.FINALIZE) while the leaf relies on it;
 *   3. the OP_STATE the leaf allows (op-state-lookup.ts) → TDX_OP_STATE_INCORRECT, which keeps
 *      each leaf to its place in the TD's life (no vCPU creation after finalisation, no metadata
 *      access before TDH.MNG.INIT has given the TDCS its contents).
 *
 * Source: TDX module 1.5 `helpers.c` (`check_any_td_state_map_tdcs_and_lock`); the 1.5 module
 * returns TDX_OP_STATE_INCORRECT without an operand (later trees add the state). Facts
 * tdx-module.md §4.3–4.4, §9.2.
 */
import { OperandId, TdxStatus, withOperand } from '../abi/status.ts';
import { isOpStateAllowed } from '../abi/op-state-lookup.ts';
import type { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { LockKey } from './locks.ts';
import type { LockScope } from './lock-scope.ts';
import type { TdxModule } from './module.ts';
import type { Td } from './td.ts';
import { checkTdBuildState } from './td-state-check.ts';

/** Returns TDX_SUCCESS, with the OP_STATE lock held in `scope` when `lockOpState` is set. */
export function checkTdcs(
  scope: LockScope,
  module: TdxModule,
  td: Td,
  leaf: keyof typeof SeamcallLeaf,
  lockOpState: boolean,
): bigint {
  const build = checkTdBuildState(module, td);
  if (build !== TdxStatus.TDX_SUCCESS) return build;
  if (lockOpState && scope.acquire(LockKey.opState(td.tdrPfn), 'shared', 'host') !== 'ok') {
    return withOperand(TdxStatus.TDX_OPERAND_BUSY, OperandId.OP_STATE);
  }
  if (!isOpStateAllowed(leaf, td.opState)) return TdxStatus.TDX_OP_STATE_INCORRECT;
  return TdxStatus.TDX_SUCCESS;
}
