/**
 * Physical-memory leaves: TDH.PHYMEM.PAGE.RDMD (read a page's PAMT entry),
 * TDH.PHYMEM.PAGE.RECLAIM (take a page back from a torn-down TD), TDH.PHYMEM.CACHE.WB (write back
 * the package's caches for flushed HKIDs) and TDH.PHYMEM.PAGE.WBINVD (write back one page).
 *
 * Source: TDX module 1.5 `tdh_phymem_*.c`; facts tdx-module.md §4.2, §5.4, §9.2. These leaves are
 * how the host gets memory back: reclaim only from a TD in TEARDOWN (its HKID freed, so its key
 * can never again decrypt the page) and the TDR last (so no child page outlives its TD's
 * record).
 */
import { PamtPageType, PAGE_SIZE } from '../abi/pamt.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { readOperands, writeOperands } from '../abi/leaf.ts';
import { TdLifecycle } from '../abi/lifecycle.ts';
import { OperandId, TdxStatus, withOperand } from '../abi/status.ts';
import type { SeamcallHandler, SeamcallHandlerTable } from './context.ts';
import { isPrivateHpa, lockExplicitPage, withoutKeyId } from './hpa.ts';
import { LockKey, type LockMode } from './locks.ts';
import { withLocks, type LockScope } from './lock-scope.ts';
import type { TdxModule } from './module.ts';
import type { PamtEntry } from './pamt.ts';
import { lockImplicitTdr } from './td-state-check.ts';

const L = SeamcallLeaf;
const rcx = (code: bigint): bigint => withOperand(code, OperandId.RCX);

type EntryLookup = { ok: true; entry: PamtEntry } | { ok: false; status: bigint };

/**
 * Find and lock the PAMT entry that describes the page at `pa`, at whatever level it is
 * recorded (a 4K page, or the 2M/1G page containing `pa`): a 4K-aligned, KeyID-free PA →
 * else OPERAND_INVALID|RCX; inside initialised TDMR memory → else OPERAND_ADDR_RANGE_ERROR|RCX;
 * the entry's lock → else OPERAND_BUSY|RCX.
 */
function lockPageEntry(scope: LockScope, module: TdxModule, pa: bigint, mode: LockMode): EntryLookup {
  if (!isPrivateHpa(module.platform, pa, PAGE_SIZE)) return { ok: false, status: rcx(TdxStatus.TDX_OPERAND_INVALID) };
  const entry = module.pamt.lookup(pa);
  if (!entry) return { ok: false, status: rcx(TdxStatus.TDX_OPERAND_ADDR_RANGE_ERROR) };
  if (scope.acquire(LockKey.pamt(entry.base >> 12n), mode) !== 'ok') return { ok: false, status: rcx(TdxStatus.TDX_OPERAND_BUSY) };
  return { ok: true, entry };
}

/** TDH.PHYMEM.PAGE.RDMD: RCX = page type, RDX = owner, R8 = PAMT level, R9 = BEPOCH, R10 = R11 = 0. */
const pageRdmd: SeamcallHandler = ({ module, regs }) => {
  const { page } = readOperands(L.TDH_PHYMEM_PAGE_RDMD.inputs, regs);
  const out = L.TDH_PHYMEM_PAGE_RDMD.outputs;
  writeOperands(out, regs, { pageType: 0n, owner: 0n, pageSize: 0n, bepoch: 0n, reserved10: 0n, reserved11: 0n });
  return withLocks(module.locks, (scope) => {
    const found = lockPageEntry(scope, module, page, 'shared');
    if (!found.ok) return found.status;
    const e = found.entry;
    // BEPOCH is only meaningful for pages that can be blocked (private pages and SEPT pages).
    const blockable = e.type === PamtPageType.PT_REG || e.type === PamtPageType.PT_EPT;
    writeOperands(out, regs, { pageType: BigInt(e.type), owner: e.owner, pageSize: BigInt(e.level), bepoch: blockable ? e.bepoch : 0n });
    return TdxStatus.TDX_SUCCESS;
  });
};

/** Forget the module objects a reclaimed page stood for (a TD with its TDR, a vCPU with its TDVPR). */
function dropObjects(module: TdxModule, entry: PamtEntry): void {
  if (entry.type === PamtPageType.PT_TDR) {
    const td = module.tds.get(entry.base);
    module.tds.delete(entry.base);
    for (const [pa, vcpu] of module.vcpus) if (vcpu.td === td) module.vcpus.delete(pa);
  } else if (entry.type === PamtPageType.PT_TDVPR) {
    module.vcpus.delete(entry.base);
  }
}

/**
 * TDH.PHYMEM.PAGE.RECLAIM: return a page of a TD in TEARDOWN to PT_NDA. RCX/RDX/R8 = the page's
 * type, owner and PAMT level (set as soon as the entry is found, so they are also reported when
 * the TD is not in TEARDOWN); R9–R11 = 0.
 */
const pageReclaim: SeamcallHandler = ({ module, regs }) => {
  const { page } = readOperands(L.TDH_PHYMEM_PAGE_RECLAIM.inputs, regs);
  const out = L.TDH_PHYMEM_PAGE_RECLAIM.outputs;
  writeOperands(out, regs, { pageType: 0n, owner: 0n, pageSize: 0n, reserved9: 0n, reserved10: 0n, reserved11: 0n });
  return withLocks(module.locks, (scope) => {
    const found = lockPageEntry(scope, module, page, 'exclusive');
    if (!found.ok) return found.status;
    const e = found.entry;
    // Free and reserved pages belong to no TD: there is nothing to reclaim.
    if (e.type === PamtPageType.PT_NDA || e.type === PamtPageType.PT_RSVD) return rcx(TdxStatus.TDX_PAGE_METADATA_INCORRECT);
    writeOperands(out, regs, { pageType: BigInt(e.type), owner: e.owner, pageSize: BigInt(e.level) });
    // A large page must be named by its first byte.
    if (page !== e.base) return rcx(TdxStatus.TDX_OPERAND_INVALID);
    if (e.type !== PamtPageType.PT_TDR) {
      const owner = lockImplicitTdr(scope, module, e.owner, 'shared', OperandId.TDR);
      if (!owner.ok) return owner.status;
      if (owner.td.lifecycle !== TdLifecycle.TD_TEARDOWN) return TdxStatus.TDX_LIFECYCLE_STATE_INCORRECT;
      owner.td.childCount -= 512n ** BigInt(e.level);
    } else {
      const td = module.td(e.base);
      if (!td || td.lifecycle !== TdLifecycle.TD_TEARDOWN) return TdxStatus.TDX_LIFECYCLE_STATE_INCORRECT;
      // The TDR goes last: it is the only record of which pages the TD still owns.
      if (td.childCount !== 0n) return TdxStatus.TDX_TD_ASSOCIATED_PAGES_EXIST;
    }
    dropObjects(module, e);
    module.pamt.free(e.base, e.level);
    return TdxStatus.TDX_SUCCESS;
  });
};

/** TDH.PHYMEM.CACHE.WB RCX commands. */
const CACHE_WB_START = 0n;
const CACHE_WB_RESUME = 1n;

/**
 * TDH.PHYMEM.CACHE.WB: write back this package's caches so no line of a FLUSHED HKID survives,
 * then clear the package's bit for every HKID that was FLUSHED when the run started. Interruptible
 * (see `Kot.subBlocksPerCall`): TDX_INTERRUPTED_RESUMABLE means "call again with RCX = 1".
 */
const cacheWb: SeamcallHandler = ({ module, lp, regs }) => {
  const { resume } = readOperands(L.TDH_PHYMEM_CACHE_WB.inputs, regs);
  if (resume > CACHE_WB_RESUME) return rcx(TdxStatus.TDX_OPERAND_INVALID);
  const pkg = lp.pkg.id;
  const kot = module.kot;
  return withLocks(module.locks, (scope) => {
    if (scope.acquire(LockKey.wbcache(pkg), 'exclusive') !== 'ok') return withOperand(TdxStatus.TDX_OPERAND_BUSY, OperandId.WBCACHE);
    if (scope.acquire(LockKey.KOT, 'shared') !== 'ok') return withOperand(TdxStatus.TDX_OPERAND_BUSY, OperandId.KOT);
    const wbt = kot.wbt[pkg]!;
    if (resume === CACHE_WB_START) {
      wbt.intrPoint = 0;
      const flushed = kot.flushed();
      if (flushed.length === 0) return TdxStatus.TDX_NO_HKID_READY_TO_WBCACHE;
      wbt.hkidFlushed.clear();
      for (const h of flushed) wbt.hkidFlushed.add(h);
    } else if (wbt.intrPoint === 0) {
      // Resuming needs a run that was interrupted on this package.
      return TdxStatus.TDX_WBCACHE_RESUME_ERROR;
    }
    let point = wbt.intrPoint;
    let done = 0;
    do {
      point++;
      done++;
      if (point < kot.cacheSubBlocks && done >= kot.subBlocksPerCall) {
        wbt.intrPoint = point;
        return TdxStatus.TDX_INTERRUPTED_RESUMABLE;
      }
    } while (point < kot.cacheSubBlocks);
    wbt.intrPoint = 0;
    for (const h of wbt.hkidFlushed) kot.writtenBack(h, pkg);
    return TdxStatus.TDX_SUCCESS;
  });
};

/**
 * TDH.PHYMEM.PAGE.WBINVD: write back and invalidate one page's cache lines under the KeyID in the
 * PA's upper bits (the host's step before reusing a reclaimed page). The page must already be
 * free (PT_NDA), so the host cannot use this on a page a TD still owns.
 */
const pageWbinvd: SeamcallHandler = ({ module, regs }) => {
  const { page } = readOperands(L.TDH_PHYMEM_PAGE_WBINVD.inputs, regs);
  return withLocks(module.locks, (scope) => {
    const checked = lockExplicitPage(scope, module, withoutKeyId(module.platform, page), OperandId.RCX, 'shared', PamtPageType.PT_NDA);
    // tdxsim's memory has no cache: once the checks pass there is nothing left to flush.
    return checked.ok ? TdxStatus.TDX_SUCCESS : checked.status;
  });
};

export const PHYMEM_HANDLERS: SeamcallHandlerTable = {
  [L.TDH_PHYMEM_PAGE_RDMD.number]: pageRdmd,
  [L.TDH_PHYMEM_PAGE_RECLAIM.number]: pageReclaim,
  [L.TDH_PHYMEM_CACHE_WB.number]: cacheWb,
  [L.TDH_PHYMEM_PAGE_WBINVD.number]: pageWbinvd,
};
