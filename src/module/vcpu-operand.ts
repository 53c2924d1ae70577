/**
 * The checks every leaf that names a vCPU by its TDVPR page shares, in the module's order:
 *
 *   1. `lockTdvpr`: the TDVPR operand is a 4K private HPA inside initialised TDMR memory
 *      (OPERAND_INVALID / OPERAND_ADDR_RANGE_ERROR | operand), its PAMT entry lock is free
 *      (OPERAND_BUSY | operand) and the page is a PT_TDVPR (PAGE_METADATA_INCORRECT | operand) —
 *      so a host cannot pass an arbitrary page as a vCPU; then the owner TDR recorded in that
 *      PAMT entry is locked implicitly (OPERAND_BUSY | TDR). The host never names the TD: it is
 *      whatever TD the module itself recorded as the page's owner.
 *   2. `checkTdvpsPages`: the TDVPS has all its pages (TDVPR + 5 TDCX, + 3 per L2 VM), else
 *      TDX_TDCX_NUM_INCORRECT — a vCPU whose state pages are missing cannot be used.
 *   3. `associateVcpu`: the vCPU is usable (READY; DISABLED too for reads) and is not associated
 *      with another LP (TDX_VCPU_ASSOCIATED): its VMCS can be current on only one LP at a time.
 *
 * Source: TDX module 1.5 `helpers.c` (`check_and_lock_explicit_4k_private_hpa`,
 * `lock_and_map_implicit_tdr`, `map_tdvps`, `associate_vcpu`, `check_and_associate_vcpu`);
 * facts tdx-module.md §4.5, §9.2. TDH.VP.ADDCX, VP.INIT, VP.FLUSH, VP.RD/WR and VP.ENTER use them.
 */
import { OperandId, TdxStatus, withOperand } from '../abi/status.ts';
import { PamtPageType } from '../abi/pamt.ts';
import { TDVPS_BASE_PAGES, TDVPS_PAGES_PER_L2_VM, VcpuState } from '../abi/lifecycle.ts';
import type { LogicalProcessor } from '../platform/processor.ts';
import { lockExplicitPage } from './hpa.ts';
import type { LockMode } from './locks.ts';
import type { LockScope } from './lock-scope.ts';
import type { TdxModule } from './module.ts';
import type { Td } from './td.ts';
import { lockImplicitTdr } from './td-state-check.ts';
import type { Vcpu } from './vcpu.ts';

export type VcpuLookup =
  | { readonly ok: true; readonly vcpu: Vcpu; readonly td: Td }
  | { readonly ok: false; readonly status: bigint };

export interface TdvprLocking {
  /** Register the TDVPR came in (OperandId.RCX for most leaves, RDX for TDH.VP.ADDCX). */
  readonly operand: number;
  /** TDVPR PAMT lock: exclusive for ADDCX/INIT/FLUSH, shared for RD/WR/ENTER. */
  readonly mode: LockMode;
  /** Owner TDR PAMT lock: shared, except TDH.VP.INIT version 1 (exclusive). */
  readonly tdrMode: LockMode;
}

/** Step 1: resolve and lock a TDVPR operand and its owner TDR (locks held in `scope`). */
export function lockTdvpr(scope: LockScope, module: TdxModule, tdvpr: bigint, how: TdvprLocking): VcpuLookup {
  const page = lockExplicitPage(scope, module, tdvpr, how.operand, how.mode, PamtPageType.PT_TDVPR);
  if (!page.ok) return page;
  const owner = lockImplicitTdr(scope, module, page.entry.owner, how.tdrMode, OperandId.TDR);
  if (!owner.ok) return owner;
  const vcpu = module.vcpu(tdvpr);
  // A PT_TDVPR page always has its vCPU (TDH.VP.CREATE adds both; reclaim removes both).
  if (!vcpu) return { ok: false, status: withOperand(TdxStatus.TDX_PAGE_METADATA_INCORRECT, how.operand) };
  return { ok: true, vcpu, td: owner.td };
}

/** Pages a complete TDVPS has: the TDVPR plus its TDCX pages (`map_tdvps`). */
export function requiredTdvpsPages(td: Td): number {
  return TDVPS_BASE_PAGES + TDVPS_PAGES_PER_L2_VM * td.numL2Vms;
}

/** Step 2: TDX_SUCCESS, or TDX_TDCX_NUM_INCORRECT while TDH.VP.ADDCX has not added enough pages. */
export function checkTdvpsPages(vcpu: Vcpu, td: Td): bigint {
  return 1 + vcpu.tdcx.length < requiredTdvpsPages(td) ? TdxStatus.TDX_TDCX_NUM_INCORRECT : TdxStatus.TDX_SUCCESS;
}

/**
 * Step 3 (`check_and_associate_vcpu`): the vCPU must be READY (or DISABLED when `allowDisabled`,
 * so a host can still read a dead vCPU's state), else TDX_VCPU_STATE_INCORRECT; then it is
 * associated with `lp`: if it already is, nothing changes; if it is associated with another LP
 * the leaf fails with TDX_VCPU_ASSOCIATED (recoverable: flush it there first); if it was not
 * associated, it now is, and the TD counts one more associated vCPU (TDH.MNG.VPFLUSHDONE waits
 * for that count to drop to 0).
 */
export function associateVcpu(vcpu: Vcpu, td: Td, lp: LogicalProcessor, allowDisabled: boolean): bigint {
  const usable = vcpu.state === VcpuState.VCPU_READY || (allowDisabled && vcpu.state === VcpuState.VCPU_DISABLED);
  if (!usable) return TdxStatus.TDX_VCPU_STATE_INCORRECT;
  if (vcpu.assocLp === lp.id) return TdxStatus.TDX_SUCCESS;
  if (vcpu.assocLp !== -1) return TdxStatus.TDX_VCPU_ASSOCIATED;
  vcpu.assocLp = lp.id;
  td.numAssocVcpus++;
  return TdxStatus.TDX_SUCCESS;
}
