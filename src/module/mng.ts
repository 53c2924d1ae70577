/**
 * TD management leaves: TDH.MNG.CREATE, TDH.MNG.KEY.CONFIG, TDH.MNG.ADDCX, TDH.MNG.INIT (build),
 * TDH.MNG.VPFLUSHDONE, TDH.MNG.KEY.FREEID (teardown) and the no-op TDH.MNG.KEY.RECLAIMID.
 *
 * Life cycle (TDR): CREATE → HKID_ASSIGNED → KEY.CONFIG on every package → KEYS_CONFIGURED →
 * VPFLUSHDONE → BLOCKED → KEY.FREEID → TEARDOWN; OP_STATE (TDCS): UNINITIALIZED → MNG.INIT →
 * INITIALIZED. Source: TDX module 1.5 `tdh_mng_*.c`; facts tdx-module.md §4.2–4.4, §5.2, §5.4,
 * §9.2. Every leaf takes the TDR's PAMT lock exclusively; CREATE, VPFLUSHDONE and FREEID also
 * take the KOT exclusively, because they change HKID ownership that other TDs' leaves rely on.
 */
import { randomBytes } from 'node:crypto';
import { OpState, TdLifecycle, TDCS_MAX_PAGES, TDCS_BASE_PAGES } from '../abi/lifecycle.ts';
import { KotState } from '../abi/lifecycle.ts';
import { HKID_OPERAND } from '../abi/operands.ts';
import { PamtPageSize, PamtPageType, PAGE_SIZE } from '../abi/pamt.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { readOperands, writeOperands } from '../abi/leaf.ts';
import { OperandId, TdxStatus, withOperand } from '../abi/status.ts';
import { SEPTE_INIT_VALUE } from '../abi/sept-state.ts';
import { TdcsPageIndex } from '../abi/tdcs.ts';
import { TD_PARAMS_ALIGNMENT, TD_PARAMS_SIZE } from '../abi/td-params.ts';
import type { SeamcallHandler, SeamcallHandlerTable } from './context.ts';
import { isSharedHpa, lockExplicitPage, readShared } from './hpa.ts';
import { programKey } from './kot.ts';
import { LockKey } from './locks.ts';
import { withLocks } from './lock-scope.ts';
import type { TdxModule } from './module.ts';
import { SecureEpt } from './sept.ts';
import { Td } from './td.ts';
import { checkTdBuildState, lockTdr } from './td-state-check.ts';
import { checkTdParams, type TdConfig } from './td-params-check.ts';
import { computeTdCpuid } from './td-cpuid.ts';

const L = SeamcallLeaf;
/** TD_UUID is 256 bits (`generate_256bit_random`). */
const TD_UUID_BYTES = 32;
const kotBusy = withOperand(TdxStatus.TDX_OPERAND_BUSY, OperandId.KOT);

/** TDH.MNG.CREATE: turn a free page into a TDR and give the new TD an HKID. */
const mngCreate: SeamcallHandler = ({ module, regs }) => {
  const { tdr, hkid: hkidOperand } = readOperands(L.TDH_MNG_CREATE.inputs, regs);
  const hkid = Number(HKID_OPERAND.get(hkidOperand, 'hkid'));
  // Only a private KeyID can protect a TD; a shared (MKTME) KeyID would expose it to the host.
  if (HKID_OPERAND.hasReservedBits(hkidOperand) || !module.platform.isPrivateKeyId(hkid)) {
    return withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RDX);
  }
  return withLocks(module.locks, (scope) => {
    const page = lockExplicitPage(scope, module, tdr, OperandId.RCX, 'exclusive', PamtPageType.PT_NDA);
    if (!page.ok) return page.status;
    if (scope.acquire(LockKey.KOT, 'exclusive') !== 'ok') return kotBusy;
    // An HKID in use (or the module's own) must never be shared by two TDs.
    if (module.kot.state(hkid) !== KotState.HKID_FREE) return TdxStatus.TDX_HKID_NOT_FREE;
    // The TDR page is cleared through the module's global key; the host can no longer read it.
    module.platform.memory.zeroPages(tdr, 1, module.globalHkid);
    module.kot.assign(hkid);
    module.tds.set(tdr, new Td(tdr, hkid, new Uint8Array(randomBytes(TD_UUID_BYTES))));
    module.pamt.set(tdr, PamtPageSize.PT_4KB, PamtPageType.PT_TDR, 0n);
    return TdxStatus.TDX_SUCCESS;
  });
};

/** TDH.MNG.KEY.CONFIG: program the TD's key on this LP's package. */
const mngKeyConfig: SeamcallHandler = ({ module, lp, regs }) => {
  const { tdr } = readOperands(L.TDH_MNG_KEY_CONFIG.inputs, regs);
  return withLocks(module.locks, (scope) => {
    const found = lockTdr(scope, module, tdr, 'exclusive', OperandId.RCX);
    if (!found.ok) return found.status;
    const td = found.td;
    if (td.fatal) return TdxStatus.TDX_TD_FATAL;
    if (td.lifecycle !== TdLifecycle.TD_HKID_ASSIGNED) return TdxStatus.TDX_LIFECYCLE_STATE_INCORRECT;
    const pkg = lp.pkg.id;
    if (td.keyConfiguredPackages.has(pkg)) return TdxStatus.TDX_KEY_CONFIGURED;
    const status = programKey(module, lp, td.hkid, td.keyConfiguredPackages.size === 0);
    if (status !== TdxStatus.TDX_SUCCESS) return status;
    td.keyConfiguredPackages.add(pkg);
    // Usable only once every package that runs the module can en/decrypt the TD's memory.
    if (td.keyConfiguredPackages.size === module.keyConfiguredPackages.size) td.lifecycle = TdLifecycle.TD_KEYS_CONFIGURED;
    return TdxStatus.TDX_SUCCESS;
  });
};

/** Fill a newly added TDCS page through the TD's key, as the module does for its role. */
function initTdcxPage(module: TdxModule, td: Td, page: bigint, index: number): void {
  const memory = module.platform.memory;
  if (index === TdcsPageIndex.MSR_BITMAPS || index === TdcsPageIndex.SEPT_ROOT) {
    const bytes = new Uint8Array(Number(PAGE_SIZE));
    if (index === TdcsPageIndex.MSR_BITMAPS) bytes.fill(0xff);
    else {
      const dv = new DataView(bytes.buffer);
      for (let off = 0; off < bytes.length; off += 8) dv.setBigUint64(off, SEPTE_INIT_VALUE, true);
    }
    memory.write(page, bytes, td.hkid);
  } else {
    memory.zeroPages(page, 1, td.hkid);
  }
}

/** TDH.MNG.ADDCX: add the next TDCS page (6 for an L1-only TD, at most 9). */
const mngAddCx: SeamcallHandler = ({ module, regs }) => {
  const { page, tdr } = readOperands(L.TDH_MNG_ADDCX.inputs, regs);
  return withLocks(module.locks, (scope) => {
    const found = lockTdr(scope, module, tdr, 'exclusive', OperandId.RDX);
    if (!found.ok) return found.status;
    const td = found.td;
    if (td.fatal) return TdxStatus.TDX_TD_FATAL;
    // The page is written through the TD's key, so the key must be on every package first.
    if (td.lifecycle !== TdLifecycle.TD_KEYS_CONFIGURED) return TdxStatus.TDX_TD_KEYS_NOT_CONFIGURED;
    const index = td.tdcx.length;
    if (index > TDCS_MAX_PAGES - 1) return TdxStatus.TDX_TDCX_NUM_INCORRECT;
    const cx = lockExplicitPage(scope, module, page, OperandId.RCX, 'exclusive', PamtPageType.PT_NDA);
    if (!cx.ok) return cx.status;
    // OP_STATE lives in the TDCS, so it can only be checked once the minimum TDCS exists: extra
    // (L2) pages may be added only before MNG.INIT. Checked before the page is touched, so a
    // refused page keeps the host's contents.
    if (index + 1 > TDCS_BASE_PAGES && td.opState !== OpState.UNINITIALIZED) return TdxStatus.TDX_OP_STATE_INCORRECT;
    initTdcxPage(module, td, page, index);
    td.tdcx.push(page);
    td.childCount++;
    module.pamt.set(page, PamtPageSize.PT_4KB, PamtPageType.PT_TDCX, tdr);
    return TdxStatus.TDX_SUCCESS;
  });
};

/** Store a checked TD configuration and start the TD's measurement (MNG.INIT after all checks). */
function applyTdConfig(td: Td, config: TdConfig): void {
  td.attributes = config.attributes;
  td.xfam = config.xfam;
  td.maxVcpus = config.maxVcpus;
  td.numVcpus = 0;
  td.numAssocVcpus = 0;
  td.numL2Vms = config.numL2Vms;
  td.eptpControls = config.eptpControls;
  td.configFlags = config.configFlags;
  td.gpaw = config.gpaw;
  td.tscFrequency = config.tscFrequency;
  td.tdCtls = config.tdCtls;
  td.mrConfigId = config.mrConfigId;
  td.mrOwner = config.mrOwner;
  td.mrOwnerConfig = config.mrOwnerConfig;
  td.cpuidConfig = config.cpuidConfig;
  td.cpuidValues = computeTdCpuid(config.cpuidConfig);
  td.rtmr.forEach((r) => r.fill(0));
  td.startMeasurement();
  td.tdEpoch = 1n;
  td.epochRefcount[0] = 0;
  td.epochRefcount[1] = 0;
  // The Secure EPT's root is TDCS page 3, filled with non-present entries by ADDCX.
  td.sept = new SecureEpt(td.tdcx[TdcsPageIndex.SEPT_ROOT]!, config.eptLevels);
  td.opState = OpState.INITIALIZED;
}

/** TDH.MNG.INIT: configure the TD from TD_PARAMS; OP_STATE becomes INITIALIZED. */
const mngInit: SeamcallHandler = ({ module, regs }) => {
  const { tdr, tdParams } = readOperands(L.TDH_MNG_INIT.inputs, regs);
  writeOperands(L.TDH_MNG_INIT.outputs, regs, { extendedError: 0n });
  return withLocks(module.locks, (scope) => {
    const found = lockTdr(scope, module, tdr, 'exclusive', OperandId.RCX);
    if (!found.ok) return found.status;
    const td = found.td;
    const state = checkTdBuildState(module, td);
    if (state !== TdxStatus.TDX_SUCCESS) return state;
    // MNG.INIT runs once: a TD's configuration is immutable after it (and measured into MRTD).
    if (td.opState !== OpState.UNINITIALIZED) return withOperand(TdxStatus.TDX_OP_STATE_INCORRECT, td.opState);
    if (!isSharedHpa(module.platform, tdParams, BigInt(TD_PARAMS_ALIGNMENT))) return withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RDX);
    const checked = checkTdParams(readShared(module.platform, tdParams, TD_PARAMS_SIZE), td.tdcx.length);
    if (!checked.ok) {
      writeOperands(L.TDH_MNG_INIT.outputs, regs, { extendedError: checked.rcx });
      return checked.status;
    }
    applyTdConfig(td, checked.config);
    return TdxStatus.TDX_SUCCESS;
  });
};

/**
 * TDH.MNG.VPFLUSHDONE: check that no vCPU is still associated with an LP (their cached state
 * was flushed by TDH.VP.FLUSH), then block the TD and mark its HKID FLUSHED with every package
 * still to write back its caches.
 */
const mngVpFlushDone: SeamcallHandler = ({ module, regs }) => {
  const { tdr } = readOperands(L.TDH_MNG_VPFLUSHDONE.inputs, regs);
  return withLocks(module.locks, (scope) => {
    const found = lockTdr(scope, module, tdr, 'exclusive', OperandId.RCX);
    if (!found.ok) return found.status;
    const td = found.td;
    if (scope.acquire(LockKey.KOT, 'exclusive') !== 'ok') return kotBusy;
    if (td.lifecycle !== TdLifecycle.TD_KEYS_CONFIGURED && td.lifecycle !== TdLifecycle.TD_HKID_ASSIGNED) {
      return TdxStatus.TDX_LIFECYCLE_STATE_INCORRECT;
    }
    // The vCPU count is in the TDCS: only meaningful once the TDCS exists and was initialised.
    if (td.tdcx.length >= TDCS_BASE_PAGES && td.opState !== OpState.UNINITIALIZED && td.numAssocVcpus !== 0) {
      return TdxStatus.TDX_FLUSHVP_NOT_DONE;
    }
    module.kot.flush(td.hkid, module.keyConfiguredPackages);
    td.lifecycle = TdLifecycle.TD_BLOCKED;
    return TdxStatus.TDX_SUCCESS;
  });
};

/**
 * TDH.MNG.KEY.FREEID: once every package wrote back its caches (TDH.PHYMEM.CACHE.WB), free the
 * HKID for another TD; the TD enters TEARDOWN and its pages can be reclaimed.
 */
const mngKeyFreeId: SeamcallHandler = ({ module, regs }) => {
  const { tdr } = readOperands(L.TDH_MNG_KEY_FREEID.inputs, regs);
  return withLocks(module.locks, (scope) => {
    const found = lockTdr(scope, module, tdr, 'exclusive', OperandId.RCX);
    if (!found.ok) return found.status;
    const td = found.td;
    if (td.lifecycle !== TdLifecycle.TD_BLOCKED) return TdxStatus.TDX_LIFECYCLE_STATE_INCORRECT;
    if (scope.acquire(LockKey.KOT, 'exclusive') !== 'ok') return kotBusy;
    // Freeing earlier would let the next owner of the HKID meet this TD's dirty cache lines.
    if (module.kot.pendingPackages(td.hkid).size !== 0) return TdxStatus.TDX_WBCACHE_NOT_COMPLETE;
    module.kot.free(td.hkid);
    module.platform.memory.clearKey(td.hkid);
    td.lifecycle = TdLifecycle.TD_TEARDOWN;
    return TdxStatus.TDX_SUCCESS;
  });
};

/** TDH.MNG.KEY.RECLAIMID: kept for compatibility; does nothing in TDX 1.5. */
const mngKeyReclaimId: SeamcallHandler = () => TdxStatus.TDX_SUCCESS;

export const MNG_HANDLERS: SeamcallHandlerTable = {
  [L.TDH_MNG_CREATE.number]: mngCreate,
  [L.TDH_MNG_KEY_CONFIG.number]: mngKeyConfig,
  [L.TDH_MNG_ADDCX.number]: mngAddCx,
  [L.TDH_MNG_INIT.number]: mngInit,
  [L.TDH_MNG_VPFLUSHDONE.number]: mngVpFlushDone,
  [L.TDH_MNG_KEY_FREEID.number]: mngKeyFreeId,
  [L.TDH_MNG_KEY_RECLAIMID.number]: mngKeyReclaimId,
};
