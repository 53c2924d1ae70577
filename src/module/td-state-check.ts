/**
 * The checks most TD leaves start with: resolve the TDR operand to its TD under the TDR's PAMT
 * lock, and check that the TD is in a state where it can be built or run.
 *
 * Source: TDX module 1.5 `helpers.c` (`check_lock_and_map_explicit_tdr`,
 * `lock_and_map_implicit_tdr`, `check_td_in_correct_build_state`); facts tdx-module.md §4.3, §9.2.
 * Every MNG/MEM/VP/MR leaf that names a TDR goes through `lockTdr`; every leaf that needs the
 * TDCS goes through `checkTdBuildState`.
 */
import { PamtPageType } from '../abi/pamt.ts';
import { TdLifecycle, TDCS_BASE_PAGES } from '../abi/lifecycle.ts';
import { TdxStatus, withOperand } from '../abi/status.ts';
import { lockExplicitPage } from './hpa.ts';
import { LockKey, type LockMode } from './locks.ts';
import type { LockScope } from './lock-scope.ts';
import type { TdxModule } from './module.ts';
import type { Td } from './td.ts';

export type TdLookup = { readonly ok: true; readonly td: Td } | { readonly ok: false; readonly status: bigint };

/**
 * An explicit TDR operand (a register the host filled): check the page, lock its PAMT entry in
 * `mode` (held in `scope`) and return the TD. Failures, in the module's order:
 *   OPERAND_INVALID | operand           — misaligned, KeyID bits set, above MAX_PA
 *   OPERAND_ADDR_RANGE_ERROR | operand  — not in (initialised) TDMR memory
 *   OPERAND_BUSY | operand              — another leaf holds the TDR
 *   PAGE_METADATA_INCORRECT | operand   — the page is not a TDR
 * This is what stops a host from passing any page as a TDR: only a page MNG.CREATE turned into
 * PT_TDR resolves to a TD.
 */
export function lockTdr(scope: LockScope, module: TdxModule, tdr: bigint, mode: LockMode, operand: number): TdLookup {
  const page = lockExplicitPage(scope, module, tdr, operand, mode, PamtPageType.PT_TDR);
  if (!page.ok) return page;
  const td = module.td(tdr);
  // A PT_TDR page always has its TD object (MNG.CREATE adds both, TDR reclaim removes both).
  if (!td) return { ok: false, status: withOperand(TdxStatus.TDX_PAGE_METADATA_INCORRECT, operand) };
  return { ok: true, td };
}

/**
 * An implicit TDR (found through another page's PAMT owner, e.g. the TDR of a page being
 * reclaimed or of a vCPU): only its PAMT lock is taken; busy → OPERAND_BUSY | operand.
 */
export function lockImplicitTdr(scope: LockScope, module: TdxModule, tdr: bigint, mode: LockMode, operand: number): TdLookup {
  if (scope.acquire(LockKey.pamtOfPa(tdr), mode) !== 'ok') {
    return { ok: false, status: withOperand(TdxStatus.TDX_OPERAND_BUSY, operand) };
  }
  const td = module.td(tdr);
  if (!td) return { ok: false, status: withOperand(TdxStatus.TDX_PAGE_METADATA_INCORRECT, operand) };
  return { ok: true, td };
}

/**
 * `check_td_in_correct_build_state`: the TD can use its TDCS. Returns TDX_SUCCESS or:
 *   TDX_TD_FATAL                — a TD exit marked the TD fatal (protects a TD whose state is
 *                                 no longer trustworthy from being run or modified);
 *   TDX_TD_KEYS_NOT_CONFIGURED  — its key is not on every package yet, or it is being torn down
 *                                 (its pages cannot be accessed with its key);
 *   TDX_TDCS_NOT_ALLOCATED      — fewer than the 6 TDCS pages it needs exist.
 */
export function checkTdBuildState(_module: TdxModule, td: Td): bigint {
  if (td.fatal) return TdxStatus.TDX_TD_FATAL;
  if (td.lifecycle !== TdLifecycle.TD_KEYS_CONFIGURED) return TdxStatus.TDX_TD_KEYS_NOT_CONFIGURED;
  if (td.tdcx.length < TDCS_BASE_PAGES) return TdxStatus.TDX_TDCS_NOT_ALLOCATED;
  return TdxStatus.TDX_SUCCESS;
}
