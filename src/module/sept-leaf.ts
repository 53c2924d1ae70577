/**
 * The checks the Secure-EPT and measurement leaves share, in the order the module performs them:
 *
 *   1. the TDR operand (`lockTdr`: page checks and the TDR's PAMT lock, shared or exclusive);
 *   2. the TD's build state (`checkTdBuildState`);
 *   3. the OP_STATE lock (shared, host priority; not taken by the leaves that hold the TDR
 *      exclusively) → OPERAND_BUSY | OP_STATE, and the OP_STATE the leaf allows →
 *      TDX_OP_STATE_INCORRECT;
 *   4. the GPA|level operand → OPERAND_INVALID | RCX;
 *   5. the private GPA's validity → OPERAND_INVALID | RCX, the SEPT tree lock →
 *      OPERAND_BUSY | SEPT_TREE, and the walk to the requested level → TDX_EPT_WALK_FAILED | RCX
 *      with the SEPT error outputs;
 *   6. the SEPT entry lock → OPERAND_BUSY | RCX with the SEPT error outputs.
 *
 * Each check protects a different thing: 1–2 that the operand really is a live, usable TD; 3 that
 * the leaf fits the TD's life cycle (no adding pages after finalisation, no AUG before MNG.INIT);
 * 4–5 that the walk names exactly the entry the host meant and never a shared or out-of-range
 * GPA; the locks that no concurrent leaf changes the tree or the entry underneath this one.
 * Source: TDX module 1.5 `helpers.c` (`check_state_map_tdcs_and_lock`,
 * `lock_sept_check_and_walk_private_gpa`), `sept_manager.c`, each `ac/tdh_mem_*.c`.
 */
import { OperandId, TdxStatus, withOperand } from '../abi/status.ts';
import { writeOperands, type RegOperand } from '../abi/leaf.ts';
import { PAGE_SIZE, PamtPageType, SIZE_2M } from '../abi/pamt.ts';
import { SEPT_ENTRIES_PER_PAGE } from '../abi/sept.ts';
import type { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import type { RegisterFile } from '../abi/registers.ts';
import type { LockMode } from './locks.ts';
import { LockKey } from './locks.ts';
import type { LockScope } from './lock-scope.ts';
import type { TdxModule } from './module.ts';
import type { Td } from './td.ts';
import { lockTdr } from './td-state-check.ts';
import { checkTdcs } from './tdcs-check.ts';
import { isPrivateHpa, lockExplicitPage } from './hpa.ts';
import { isValidPrivateGpa, verifyPageInfo } from './gpa-check.ts';
import type { SecureEpt, SeptWalk } from './sept.ts';

type LeafKey = keyof typeof SeamcallLeaf;

export type Checked<T> = ({ readonly ok: true } & T) | { readonly ok: false; readonly status: bigint };

const failed = (status: bigint): { ok: false; status: bigint } => ({ ok: false, status });

/**
 * Steps 1–3: resolve and lock the TDR, check the build state, and check OP_STATE (taking its
 * lock shared when `opStateLock` is set). Also returns the TD's Secure EPT, which exists from
 * TDH.MNG.INIT on (OP_STATE ≥ INITIALIZED, which every leaf using this helper requires).
 */
export function openTd(
  scope: LockScope,
  module: TdxModule,
  leaf: LeafKey,
  tdr: bigint,
  operand: number,
  tdrMode: LockMode,
  opStateLock: boolean,
): Checked<{ td: Td; sept: SecureEpt }> {
  const found = lockTdr(scope, module, tdr, tdrMode, operand);
  if (!found.ok) return found;
  const td = found.td;
  const state = checkTdcs(scope, module, td, leaf, opStateLock);
  if (state !== TdxStatus.TDX_SUCCESS) return failed(state);
  // OP_STATE ≥ INITIALIZED here, and TDH.MNG.INIT creates the Secure EPT.
  if (!td.sept) throw new Error(`TD ${td.tdr.toString(16)} passed the OP_STATE check without a Secure EPT`);
  return { ok: true, td, sept: td.sept };
}

/** A failed walk or entry check: the status, and the entry to report in RCX/RDX if any. */
export interface SeptFailure {
  readonly ok: false;
  readonly status: bigint;
  readonly walk?: SeptWalk;
  /** Level reported in RDX (the walk's level unless the module reports the requested one). */
  readonly level?: number;
}

export type WalkChecked = { readonly ok: true; readonly walk: SeptWalk; readonly gpa: bigint; readonly level: number } | SeptFailure;

export interface WalkRequest {
  /** The GPA|level operand (RCX). */
  readonly gpaLevel: bigint;
  readonly minLevel: number;
  readonly maxLevel: number;
  /** SEPT tree lock mode (§9.2), or undefined for leaves protected by the exclusive TDR lock. */
  readonly treeLock: LockMode | undefined;
  /** Take the SEPT entry lock once the walk reached the entry. */
  readonly entryLock: boolean;
}

/** Steps 4–6: decode GPA|level, check the GPA, lock the tree, walk, lock the entry. */
export function walkToEntry(scope: LockScope, module: TdxModule, td: Td, sept: SecureEpt, req: WalkRequest): WalkChecked {
  const info = verifyPageInfo(req.gpaLevel, req.minLevel, req.maxLevel);
  if (!info.ok) return failed(withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX));
  if (!isValidPrivateGpa(info.gpa, td.gpaw, module.platform.maxPa)) {
    return failed(withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX));
  }
  if (req.treeLock && scope.acquire(LockKey.septTree(td.tdrPfn), req.treeLock) !== 'ok') {
    return failed(withOperand(TdxStatus.TDX_OPERAND_BUSY, OperandId.SEPT_TREE));
  }
  const walk = sept.walk(info.gpa, info.level);
  if (!walk.reached) return { ok: false, status: withOperand(TdxStatus.TDX_EPT_WALK_FAILED, OperandId.RCX), walk };
  if (req.entryLock && scope.acquire(LockKey.septEntry(td.tdrPfn, info.gpa, info.level), 'exclusive', 'host') !== 'ok') {
    return { ok: false, status: withOperand(TdxStatus.TDX_OPERAND_BUSY, OperandId.RCX), walk };
  }
  return { ok: true, walk, gpa: info.gpa, level: info.level };
}

/** The SEPT error outputs every Secure-EPT leaf defines: RCX = entry, RDX = SEPT_ENTRY_INFO. */
const SEPT_OUTPUTS: readonly RegOperand<'septEntry' | 'septInfo'>[] = [
  { reg: 'RCX', name: 'septEntry', doc: 'architectural SEPT entry' },
  { reg: 'RDX', name: 'septInfo', doc: 'SEPT_ENTRY_INFO' },
];

/** Clear RCX and RDX: the "no extended error information" default every SEPT leaf starts with. */
export function clearSeptOutputs(regs: RegisterFile): void {
  writeOperands(SEPT_OUTPUTS, regs, { septEntry: 0n, septInfo: 0n });
}

/** Write the SEPT error outputs of `walk` into RCX/RDX, reporting `level` (default: the walk's). */
export function writeSeptOutputs(regs: RegisterFile, sept: SecureEpt, walk: SeptWalk, level: number = walk.level): void {
  const out = sept.errorOutputs(walk, level);
  writeOperands(SEPT_OUTPUTS, regs, { septEntry: out.rcx, septInfo: out.rdx });
}

/** Report a failure: write its SEPT error outputs (if it carries an entry) and return its status. */
export function reportFailure(regs: RegisterFile, sept: SecureEpt, failure: SeptFailure): bigint {
  if (failure.walk) writeSeptOutputs(regs, sept, failure.walk, failure.level);
  return failure.status;
}

/**
 * Check and lock a page the leaf is about to give the TD (`check_and_lock_free_range_hpa`): a 4K
 * page, or for level 1 a 2M range. In order: aligned to the size with KeyID bits 0 →
 * OPERAND_INVALID; inside initialised TDMR memory → OPERAND_ADDR_RANGE_ERROR; its PAMT entry lock
 * → OPERAND_BUSY; free (PT_NDA) at that size, and for 2M all 512 4K entries free →
 * PAGE_METADATA_INCORRECT; each with `operand`. This keeps the host from handing a TD a page that
 * is already in use by the module, another TD or a 1G page.
 */
export function lockFreePage(scope: LockScope, module: TdxModule, pa: bigint, level: number, operand: number): Checked<object> {
  if (level === 0) {
    const page = lockExplicitPage(scope, module, pa, operand, 'exclusive', PamtPageType.PT_NDA);
    return page.ok ? { ok: true } : page;
  }
  if (!isPrivateHpa(module.platform, pa, SIZE_2M)) return failed(withOperand(TdxStatus.TDX_OPERAND_INVALID, operand));
  const entry = module.pamt.lookup(pa);
  if (!entry) return failed(withOperand(TdxStatus.TDX_OPERAND_ADDR_RANGE_ERROR, operand));
  if (scope.acquire(LockKey.pamt(pa / PAGE_SIZE), 'exclusive') !== 'ok') {
    return failed(withOperand(TdxStatus.TDX_OPERAND_BUSY, operand));
  }
  // lookup() reports the 1G or 2M entry when that one is in use, else the 4K entry at `pa`.
  if (entry.level > 0 || !module.pamt.rangeFree(pa, SEPT_ENTRIES_PER_PAGE)) {
    return failed(withOperand(TdxStatus.TDX_PAGE_METADATA_INCORRECT, operand));
  }
  return { ok: true };
}
