/**
 * The TDH.MEM.* leaves: how the host builds and maintains a TD's private memory.
 *
 *   TDH.MEM.SEPT.ADD      add a Secure-EPT page under a FREE entry (the entry becomes NL_MAPPED)
 *   TDH.MEM.PAGE.ADD      during build: copy a host page into a new private page, MAPPED, and
 *                         measure its GPA into MRTD
 *   TDH.MEM.PAGE.AUG      after MNG.INIT: give the TD a PENDING page (4K or 2M) it must accept
 *   TDH.MEM.RANGE.BLOCK   stop new translations of a GPA range; record the blocking epoch
 *   TDH.MEM.RANGE.UNBLOCK undo a BLOCK
 *   TDH.MEM.TRACK         start a new TLB epoch (see tlb.ts)
 *   TDH.MEM.PAGE.REMOVE   take a page back (blocked and TLB-tracked if the TD may run)
 *   TDH.MEM.SEPT.REMOVE   take an empty Secure-EPT page back
 *   TDH.MEM.SEPT.RD       read an entry
 *
 * Each handler follows its `ac/tdh_mem_*.c` in the TDX module 1.5: RCX and RDX are cleared first
 * (they are the SEPT error outputs), then the shared checks of sept-leaf.ts, then the leaf's own
 * checks, and only when every check passed does anything change. Facts: tdx-module.md §4.4,
 * §4.7, §5.2–5.3, §9.2.
 */
import { readOperands, writeOperands } from '../abi/leaf.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { OperandId, TdxStatus, withOperand } from '../abi/status.ts';
import { TDR_AND_SEPT_ADD_FLAGS } from '../abi/operands.ts';
import { PAGE_SIZE, PamtPageType } from '../abi/pamt.ts';
import { SeptLevel, levelSize } from '../abi/sept.ts';
import { SEPT_LEAF_ALLOWED_STATES, SEPT_STATE_FLAGS, TLB_TRACKING_OP_STATES } from '../abi/sept-state.ts';
import { NULL_PA, SEPT_ADD_PAGE_NOT_USED, SEPT_ADD_V1_L2_PAGES, SEPT_ADD_V1_OUTPUTS, SEPT_RD_L2_ATTRIBUTES, SEPT_REMOVE_V1_OUTPUTS, TDR_FLAG_BIT0 } from '../abi/sept-leaf-operands.ts';
import { TdAttributesBit } from '../abi/td-config.ts';
import type { RegisterFile } from '../abi/registers.ts';
import type { SeamcallContext, SeamcallHandler, SeamcallHandlerTable } from './context.ts';
import { LockKey } from './locks.ts';
import { withLocks, type LockScope } from './lock-scope.ts';
import { isSharedHpa, lockExplicitPage, readShared } from './hpa.ts';
import { advanceEpoch, isTlbTracked } from './tlb.ts';
import { measurePageAdd } from './measurement.ts';
import { traceMrtd, traceSeptChange } from './trace-points.ts';
import { clearSeptOutputs, lockFreePage, openTd, reportFailure, walkToEntry, writeSeptOutputs } from './sept-leaf.ts';
import type { SecureEpt, SeptWalk } from './sept.ts';
import type { Td } from './td.ts';

const L = SeamcallLeaf;

/** Run a handler body with a lock scope that is released on every return path. */
const withScope =
  (body: (ctx: SeamcallContext, scope: LockScope) => bigint): SeamcallHandler =>
  (ctx) =>
    withLocks(ctx.module.locks, (scope) => body(ctx, scope));

/** Is the walked entry in a state this leaf accepts (`seamcall_sept_state_lookup`)? */
function stateAllowed(leaf: keyof typeof SEPT_LEAF_ALLOWED_STATES, walk: SeptWalk): boolean {
  return SEPT_LEAF_ALLOWED_STATES[leaf]!.includes(walk.stateName);
}

/** Fail with TDX_EPT_ENTRY_STATE_INCORRECT | RCX and the entry's details. */
function stateIncorrect(regs: RegisterFile, sept: SecureEpt, walk: SeptWalk, level = walk.level): bigint {
  writeSeptOutputs(regs, sept, walk, level);
  return withOperand(TdxStatus.TDX_EPT_ENTRY_STATE_INCORRECT, OperandId.RCX);
}

/**
 * BLOCK + TRACK is required before removing or unblocking when both the entry's state and the
 * TD's OP_STATE say translations of it may be cached (the TD may be running). Returns the failure
 * status or undefined. `notTrackedOperand`: the operand TDX_TLB_TRACKING_NOT_DONE carries.
 */
function checkBlockedAndTracked(
  regs: RegisterFile,
  td: Td,
  sept: SecureEpt,
  walk: SeptWalk,
  bepoch: bigint,
  requireBlocked: boolean,
  notTrackedOperand: number,
): bigint | undefined {
  if (!SEPT_STATE_FLAGS[walk.stateName].tlbTrackingRequired || !TLB_TRACKING_OP_STATES.includes(td.opState)) return undefined;
  if (requireBlocked && !SEPT_STATE_FLAGS[walk.stateName].anyBlocked) {
    writeSeptOutputs(regs, sept, walk);
    return withOperand(TdxStatus.TDX_GPA_RANGE_NOT_BLOCKED, OperandId.RCX);
  }
  if (!isTlbTracked(td, bepoch)) return withOperand(TdxStatus.TDX_TLB_TRACKING_NOT_DONE, notTrackedOperand);
  return undefined;
}

/** Add 4K-page equivalents to (or, negative, remove them from) TDR.CHLDCNT. */
function adjustChildCount(td: Td, level: number, sign: 1n | -1n): void {
  td.childCount += sign * (levelSize(level) / PAGE_SIZE);
}

/**
 * TDH.MEM.SEPT.ADD (v0, v1). The entry at the requested level (1..PWL-1) must be FREE; it becomes
 * NL_MAPPED to the new page R8, which becomes PT_EPT, all entries FREE, CHLDCNT + 1. With
 * RDX.ALLOW_EXISTING an entry that already maps a SEPT page is success without using R8 (v1
 * reports R8 with bit 63 set); v1 also accepts R8 = NULL_PA meaning "must already exist". v1
 * writes R8–R11 on every outcome after the RDX check.
 */
const septAdd = withScope((ctx, scope) => {
  const { regs, version } = ctx;
  const { gpaLevel, tdrFlags, page: pageIn } = readOperands(L.TDH_MEM_SEPT_ADD.inputs, regs);
  const l2In = version > 0 ? readOperands(SEPT_ADD_V1_L2_PAGES, regs) : undefined;
  // Bit 63 of a page PA is ignored on input (it is the "not used" flag of the output).
  const strip = (pa: bigint): bigint => (pa === NULL_PA ? pa : pa & ~SEPT_ADD_PAGE_NOT_USED);
  const out = {
    page: strip(pageIn),
    l2Page1: strip(l2In?.l2Page1 ?? NULL_PA),
    l2Page2: strip(l2In?.l2Page2 ?? NULL_PA),
    l2Page3: strip(l2In?.l2Page3 ?? NULL_PA),
  };
  clearSeptOutputs(regs);
  const status = septAddBody(ctx, scope, gpaLevel, tdrFlags, out.page, out);
  if (version > 0) writeOperands(SEPT_ADD_V1_OUTPUTS, regs, out);
  return status;
});

function septAddBody(
  ctx: SeamcallContext,
  scope: LockScope,
  gpaLevel: bigint,
  tdrFlags: bigint,
  page: bigint,
  out: { page: bigint; l2Page1: bigint; l2Page2: bigint; l2Page3: bigint },
): bigint {
  const { regs, module, version } = ctx;
  // RDX carries the TDR with a flag in bit 0; the other low bits and the top bits are reserved.
  if (TDR_AND_SEPT_ADD_FLAGS.hasReservedBits(tdrFlags)) return withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RDX);
  const tdr = TDR_AND_SEPT_ADD_FLAGS.get(tdrFlags, 'tdr_page') << 12n;
  const allowExisting = TDR_AND_SEPT_ADD_FLAGS.get(tdrFlags, 'allow_existing') === 1n;
  const opened = openTd(scope, module, 'TDH_MEM_SEPT_ADD', tdr, OperandId.RDX, 'shared', true);
  if (!opened.ok) return opened.status;
  const { td, sept } = opened;
  const found = walkToEntry(scope, module, td, sept, {
    gpaLevel,
    minLevel: SeptLevel.PD,
    maxLevel: sept.maxLevel,
    treeLock: 'shared',
    entryLock: true,
  });
  if (!found.ok) return reportFailure(regs, sept, found);
  const { walk } = found;
  if (!stateAllowed('TDH_MEM_SEPT_ADD', walk)) return stateIncorrect(regs, sept, walk);

  // The L1 page: a new one under a FREE entry, or (ALLOW_EXISTING / NULL_PA) an existing one.
  if (page === NULL_PA) {
    if (version === 0) return withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.R8);
    if (walk.stateName !== 'NL_MAPPED') return stateIncorrect(regs, sept, walk);
  } else if (walk.stateName === 'FREE') {
    const checked = lockFreePage(scope, module, page, SeptLevel.PT, OperandId.R8);
    if (!checked.ok) return checked.status;
  } else if (allowExisting) {
    out.page = page | SEPT_ADD_PAGE_NOT_USED;
  } else {
    return stateIncorrect(regs, sept, walk);
  }

  // L2 SEPT pages (v1) are for L2 VMs; tdxsim models none (TD partitioning), so a page given for
  // VM n is refused as the module refuses one for a VM the TD does not have.
  const l2 = [out.l2Page1, out.l2Page2, out.l2Page3];
  for (let vm = 1; vm <= l2.length; vm++) {
    if (l2[vm - 1] !== NULL_PA) return withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.R8 + vm);
  }

  if ((out.page & SEPT_ADD_PAGE_NOT_USED) === 0n) {
    // The new page is initialised with the TD's key (its content lives in `sept`; the physical
    // page is claimed under the TD key so the host sees only ciphertext there).
    module.platform.memory.zeroPages(page, 1, td.hkid);
    module.pamt.set(page, SeptLevel.PT, PamtPageType.PT_EPT, td.tdr);
    module.pamt.setBepoch(page, SeptLevel.PT, 0n);
    td.childCount += 1n;
    sept.addTable(walk, page);
    out.page = NULL_PA;
  }
  return TdxStatus.TDX_SUCCESS;
}

/**
 * TDH.MEM.PAGE.ADD: during build (OP_STATE INITIALIZED, TDR exclusive — which also stands for
 * the SEPT tree lock), map a new 4K page at a FREE level-0 entry as MAPPED, copy the shared source
 * page R9 into it under the TD's key, and extend MRTD with the GPA. The source is read with the
 * KeyID its PA carries, which must be a shared one: a private KeyID would let the host copy
 * another TD's memory.
 */
const pageAdd = withScope((ctx, scope) => {
  const { regs, module } = ctx;
  const { gpaLevel, tdr, page, source } = readOperands(L.TDH_MEM_PAGE_ADD.inputs, regs);
  clearSeptOutputs(regs);
  const opened = openTd(scope, module, 'TDH_MEM_PAGE_ADD', tdr, OperandId.RDX, 'exclusive', false);
  if (!opened.ok) return opened.status;
  const { td, sept } = opened;
  const found = walkToEntry(scope, module, td, sept, {
    gpaLevel,
    minLevel: SeptLevel.PT,
    maxLevel: SeptLevel.PT,
    treeLock: undefined,
    entryLock: false,
  });
  if (!found.ok) return reportFailure(regs, sept, found);
  const { walk, gpa } = found;
  if (!stateAllowed('TDH_MEM_PAGE_ADD', walk)) return stateIncorrect(regs, sept, walk);
  if (!isSharedHpa(module.platform, source, PAGE_SIZE)) return withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.R9);
  const target = lockExplicitPage(scope, module, page, OperandId.R8, 'exclusive', PamtPageType.PT_NDA);
  if (!target.ok) return target.status;

  const data = readShared(module.platform, source, Number(PAGE_SIZE));
  module.platform.memory.write(page, data, td.hkid);
  sept.mapLeaf(walk, page, 'MAPPED');
  if (module.platform.tracer.enabled) traceSeptChange(module.platform.tracer, td, gpa, SeptLevel.PT, walk.stateName);
  measurePageAdd(td, gpa);
  if (module.platform.tracer.enabled) traceMrtd(module.platform.tracer, td, 'MEM.PAGE.ADD', gpa);
  td.childCount += 1n;
  module.pamt.set(page, SeptLevel.PT, PamtPageType.PT_REG, td.tdr);
  module.pamt.setBepoch(page, SeptLevel.PT, 0n);
  return TdxStatus.TDX_SUCCESS;
});

/**
 * TDH.MEM.PAGE.AUG: map a PENDING page (4K, or a 2M range of free 4K pages) at a FREE entry. The
 * page is not cleared here: it keeps whatever it held until the guest's TDG.MEM.PAGE.ACCEPT
 * zeroes it with the TD's key, and until then the guest cannot access it.
 */
const pageAug = withScope((ctx, scope) => {
  const { regs, module } = ctx;
  const { gpaLevel, tdr, page } = readOperands(L.TDH_MEM_PAGE_AUG.inputs, regs);
  clearSeptOutputs(regs);
  const opened = openTd(scope, module, 'TDH_MEM_PAGE_AUG', tdr, OperandId.RDX, 'shared', true);
  if (!opened.ok) return opened.status;
  const { td, sept } = opened;
  const found = walkToEntry(scope, module, td, sept, {
    gpaLevel,
    minLevel: SeptLevel.PT,
    maxLevel: SeptLevel.PD,
    treeLock: 'shared',
    entryLock: true,
  });
  if (!found.ok) return reportFailure(regs, sept, found);
  const { walk, level, gpa } = found;
  if (!stateAllowed('TDH_MEM_PAGE_AUG', walk)) return stateIncorrect(regs, sept, walk);
  const checked = lockFreePage(scope, module, page, level, OperandId.R8);
  if (!checked.ok) return checked.status;

  sept.mapLeaf(walk, page, 'PENDING');
  if (module.platform.tracer.enabled) traceSeptChange(module.platform.tracer, td, gpa, level, walk.stateName);
  adjustChildCount(td, level, 1n);
  module.pamt.set(page, level, PamtPageType.PT_REG, td.tdr);
  module.pamt.setBepoch(page, level, 0n);
  return TdxStatus.TDX_SUCCESS;
});

/**
 * TDH.MEM.RANGE.BLOCK (SEPT tree exclusive): clear the entry's permissions so no new translation
 * of the range can be made, and record TD_EPOCH in the PAMT entry of the page (leaf) or of the
 * child SEPT page (non-leaf) as its blocking epoch. An entry already blocked returns the warning
 * TDX_GPA_RANGE_ALREADY_BLOCKED with its details, reported at the requested level.
 */
const rangeBlock = withScope((ctx, scope) => {
  const { regs, module } = ctx;
  const { gpaLevel, tdr } = readOperands(L.TDH_MEM_RANGE_BLOCK.inputs, regs);
  clearSeptOutputs(regs);
  const opened = openTd(scope, module, 'TDH_MEM_RANGE_BLOCK', tdr, OperandId.RDX, 'shared', true);
  if (!opened.ok) return opened.status;
  const { td, sept } = opened;
  const found = walkToEntry(scope, module, td, sept, {
    gpaLevel,
    minLevel: SeptLevel.PT,
    maxLevel: sept.maxLevel,
    treeLock: 'exclusive',
    entryLock: true,
  });
  if (!found.ok) return reportFailure(regs, sept, found);
  const { walk, level } = found;
  if (!stateAllowed('TDH_MEM_RANGE_BLOCK', walk)) {
    writeSeptOutputs(regs, sept, walk, level);
    const code = SEPT_STATE_FLAGS[walk.stateName].anyBlocked ? TdxStatus.TDX_GPA_RANGE_ALREADY_BLOCKED : TdxStatus.TDX_EPT_ENTRY_STATE_INCORRECT;
    return withOperand(code, OperandId.RCX);
  }
  sept.block(walk);
  if (module.platform.tracer.enabled) traceSeptChange(module.platform.tracer, td, found.gpa, level, walk.stateName);
  module.pamt.setBepoch(walk.hpa, walk.isLeaf ? level : SeptLevel.PT, td.tdEpoch);
  return TdxStatus.TDX_SUCCESS;
});

/**
 * TDH.MEM.RANGE.UNBLOCK (SEPT tree exclusive): restore a blocked entry. While the TD may run, the
 * blocking epoch must be TLB-tracked first (else TDX_TLB_TRACKING_NOT_DONE | SEPT_TREE, as TDX
 * 1.5 reports it), so that a later BLOCK of the same range is not mistaken for an old one.
 */
const rangeUnblock = withScope((ctx, scope) => {
  const { regs, module } = ctx;
  const { gpaLevel, tdr } = readOperands(L.TDH_MEM_RANGE_UNBLOCK.inputs, regs);
  clearSeptOutputs(regs);
  const opened = openTd(scope, module, 'TDH_MEM_RANGE_UNBLOCK', tdr, OperandId.RDX, 'shared', true);
  if (!opened.ok) return opened.status;
  const { td, sept } = opened;
  const found = walkToEntry(scope, module, td, sept, {
    gpaLevel,
    minLevel: SeptLevel.PT,
    maxLevel: sept.maxLevel,
    treeLock: 'exclusive',
    entryLock: true,
  });
  if (!found.ok) return reportFailure(regs, sept, found);
  const { walk, level } = found;
  if (!stateAllowed('TDH_MEM_RANGE_UNBLOCK', walk)) return stateIncorrect(regs, sept, walk, level);
  const bepoch = module.pamt.lookup(walk.hpa)?.bepoch ?? 0n;
  const notReady = checkBlockedAndTracked(regs, td, sept, walk, bepoch, false, OperandId.SEPT_TREE);
  if (notReady !== undefined) return notReady;
  sept.unblock(walk);
  if (module.platform.tracer.enabled) traceSeptChange(module.platform.tracer, td, found.gpa, level, walk.stateName);
  return TdxStatus.TDX_SUCCESS;
});

/**
 * TDH.MEM.TRACK: advance TD_EPOCH under the TD epoch lock (exclusive; TDH.VP.ENTER takes it
 * shared). Refused with TDX_PREVIOUS_TLB_EPOCH_BUSY while a vCPU still runs in the previous epoch.
 * The host then forces every vCPU that entered before the increment out (IPI) to complete
 * tracking; here vCPUs run only inside TDH.VP.ENTER, so that is when they leave.
 */
const memTrack = withScope((ctx, scope) => {
  const { regs, module } = ctx;
  const { tdr } = readOperands(L.TDH_MEM_TRACK.inputs, regs);
  const opened = openTd(scope, module, 'TDH_MEM_TRACK', tdr, OperandId.RCX, 'shared', true);
  if (!opened.ok) return opened.status;
  const { td } = opened;
  if (scope.acquire(LockKey.tdEpoch(td.tdrPfn), 'exclusive') !== 'ok') {
    return withOperand(TdxStatus.TDX_OPERAND_BUSY, OperandId.TD_EPOCH);
  }
  return advanceEpoch(td) === 'ok' ? TdxStatus.TDX_SUCCESS : TdxStatus.TDX_PREVIOUS_TLB_EPOCH_BUSY;
});

/**
 * TDH.MEM.PAGE.REMOVE (4K, 2M, 1G; SEPT tree shared): free a leaf. While the TD may run the entry
 * must be blocked and TLB-tracked, so no vCPU still reaches the page through a cached
 * translation. The page becomes PT_NDA, CHLDCNT drops by its 4K count, and RCX returns its HPA
 * (RDX = 0). The page's content is left for the host to scrub (TDH.PHYMEM.PAGE.WBINVD).
 */
const pageRemove = withScope((ctx, scope) => {
  const { regs, module } = ctx;
  const { gpaLevel, tdr } = readOperands(L.TDH_MEM_PAGE_REMOVE.inputs, regs);
  clearSeptOutputs(regs);
  const opened = openTd(scope, module, 'TDH_MEM_PAGE_REMOVE', tdr, OperandId.RDX, 'shared', true);
  if (!opened.ok) return opened.status;
  const { td, sept } = opened;
  const found = walkToEntry(scope, module, td, sept, {
    gpaLevel,
    minLevel: SeptLevel.PT,
    maxLevel: SeptLevel.PDPT,
    treeLock: 'shared',
    entryLock: true,
  });
  if (!found.ok) return reportFailure(regs, sept, found);
  const { walk, level } = found;
  if (!walk.isLeaf || !stateAllowed('TDH_MEM_PAGE_REMOVE', walk)) return stateIncorrect(regs, sept, walk, level);
  const hpa = walk.hpa;
  if (scope.acquire(LockKey.pamt(hpa / PAGE_SIZE), 'exclusive') !== 'ok') {
    return withOperand(TdxStatus.TDX_OPERAND_BUSY, OperandId.RCX);
  }
  const bepoch = module.pamt.lookup(hpa)?.bepoch ?? 0n;
  const notReady = checkBlockedAndTracked(regs, td, sept, walk, bepoch, true, OperandId.RCX);
  if (notReady !== undefined) return notReady;

  sept.clear(walk);
  if (module.platform.tracer.enabled) traceSeptChange(module.platform.tracer, td, found.gpa, level, walk.stateName);
  adjustChildCount(td, level, -1n);
  module.pamt.free(hpa, level);
  writeOperands(L.TDH_MEM_PAGE_REMOVE.outputs, regs, { septEntry: hpa });
  return TdxStatus.TDX_SUCCESS;
});

/**
 * TDH.MEM.SEPT.REMOVE (SEPT tree exclusive): free an empty SEPT page (all 512 entries FREE, else
 * TDX_EPT_PAGE_NOT_FREE). While the TD may run, its parent entry must be blocked and tracked. The
 * page becomes PT_NDA, CHLDCNT - 1, and RCX returns its PA (RDX = 0). Version 1 also returns the
 * removed L2 SEPT pages in R9–R11, NULL_PA here since no L2 VM exists.
 */
const septRemove = withScope((ctx, scope) => {
  const { regs, module, version } = ctx;
  const { gpaLevel, tdr } = readOperands(L.TDH_MEM_SEPT_REMOVE.inputs, regs);
  clearSeptOutputs(regs);
  if (version > 0) writeOperands(SEPT_REMOVE_V1_OUTPUTS, regs, { l2Page1: NULL_PA, l2Page2: NULL_PA, l2Page3: NULL_PA });
  const opened = openTd(scope, module, 'TDH_MEM_SEPT_REMOVE', tdr, OperandId.RDX, 'shared', true);
  if (!opened.ok) return opened.status;
  const { td, sept } = opened;
  const found = walkToEntry(scope, module, td, sept, {
    gpaLevel,
    minLevel: SeptLevel.PD,
    maxLevel: sept.maxLevel,
    treeLock: 'exclusive',
    entryLock: true,
  });
  if (!found.ok) return reportFailure(regs, sept, found);
  const { walk, level } = found;
  if (!stateAllowed('TDH_MEM_SEPT_REMOVE', walk)) return stateIncorrect(regs, sept, walk, level);
  const child = walk.hpa;
  if (scope.acquire(LockKey.pamt(child / PAGE_SIZE), 'exclusive') !== 'ok') {
    return withOperand(TdxStatus.TDX_OPERAND_BUSY, OperandId.RCX);
  }
  const bepoch = module.pamt.lookup(child)?.bepoch ?? 0n;
  const notReady = checkBlockedAndTracked(regs, td, sept, walk, bepoch, true, OperandId.RCX);
  if (notReady !== undefined) return notReady;
  if (!sept.childTableIsFree(walk)) {
    writeSeptOutputs(regs, sept, walk, level);
    return withOperand(TdxStatus.TDX_EPT_PAGE_NOT_FREE, OperandId.RCX);
  }

  sept.removeTable(walk);
  td.childCount -= 1n;
  module.pamt.free(child, SeptLevel.PT);
  writeOperands(L.TDH_MEM_SEPT_REMOVE.outputs, regs, { septEntry: child });
  return TdxStatus.TDX_SUCCESS;
});

/**
 * TDH.MEM.SEPT.RD (SEPT tree shared): return the entry at the requested level in RCX/RDX, for any
 * TD (not only debug TDs). RDX bit 0 asks for the L2 attributes in R8, which only a debug TD may
 * (OPERAND_INVALID | RDX otherwise); with no L2 VMs they are 0.
 */
const septRd = withScope((ctx, scope) => {
  const { regs, module } = ctx;
  const { gpaLevel, tdr: tdrIn } = readOperands(L.TDH_MEM_SEPT_RD.inputs, regs);
  const readL2 = (tdrIn & TDR_FLAG_BIT0) !== 0n;
  clearSeptOutputs(regs);
  const opened = openTd(scope, module, 'TDH_MEM_SEPT_RD', tdrIn & ~TDR_FLAG_BIT0, OperandId.RDX, 'shared', true);
  if (!opened.ok) return opened.status;
  const { td, sept } = opened;
  if (readL2 && ((td.attributes >> BigInt(TdAttributesBit.DEBUG)) & 1n) === 0n) {
    return withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RDX);
  }
  const found = walkToEntry(scope, module, td, sept, {
    gpaLevel,
    minLevel: SeptLevel.PT,
    maxLevel: sept.maxLevel,
    treeLock: 'shared',
    entryLock: true,
  });
  if (!found.ok) return reportFailure(regs, sept, found);
  if (readL2) writeOperands(SEPT_RD_L2_ATTRIBUTES, regs, { l2Attributes: 0n });
  writeSeptOutputs(regs, sept, found.walk);
  return TdxStatus.TDX_SUCCESS;
});

export const MEM_HANDLERS: SeamcallHandlerTable = Object.freeze({
  [L.TDH_MEM_SEPT_ADD.number]: septAdd,
  [L.TDH_MEM_PAGE_ADD.number]: pageAdd,
  [L.TDH_MEM_PAGE_AUG.number]: pageAug,
  [L.TDH_MEM_RANGE_BLOCK.number]: rangeBlock,
  [L.TDH_MEM_RANGE_UNBLOCK.number]: rangeUnblock,
  [L.TDH_MEM_TRACK.number]: memTrack,
  [L.TDH_MEM_PAGE_REMOVE.number]: pageRemove,
  [L.TDH_MEM_SEPT_REMOVE.number]: septRemove,
  [L.TDH_MEM_SEPT_RD.number]: septRd,
});
