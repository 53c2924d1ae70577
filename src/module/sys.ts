/**
 * Platform bring-up leaves: TDH.SYS.INIT, TDH.SYS.LP.INIT, TDH.SYS.INFO, TDH.SYS.CONFIG,
 * TDH.SYS.KEY.CONFIG, TDH.SYS.TDMR.INIT and the deprecated TDH.SYS.LP.SHUTDOWN.
 *
 * The module moves SYSINIT_PENDING → SYSINIT_DONE (SYS.INIT) → SYSCONFIG_DONE (SYS.CONFIG, once
 * every LP ran SYS.LP.INIT) → SYS_READY (SYS.KEY.CONFIG on the last package); TDMR.INIT then
 * initialises each TDMR's PAMT in 4 MB chunks. Source: TDX module 1.5 `tdh_sys_*.c`; facts
 * tdx-module.md §4.1, §5.1, §10.2. The global lock (exclusive for INIT, CONFIG and KEY.CONFIG,
 * shared for LP.INIT) keeps two LPs from racing through the state machine; a busy global lock is
 * TDX_SYS_BUSY.
 */
import { SysState, TDCS_BASE_PAGES, TDVPS_BASE_PAGES } from '../abi/lifecycle.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { readOperands, writeOperands } from '../abi/leaf.ts';
import { OperandId, TdxStatus, withOperand } from '../abi/status.ts';
import { PAGE_SIZE, PAMT_ENTRY_BYTES, PamtPageType, SIZE_1G, TDMR_INIT_CHUNK_BYTES } from '../abi/pamt.ts';
import { HKID_OPERAND } from '../abi/operands.ts';
import { ATTRIBUTES_FIXED0, ATTRIBUTES_FIXED1, XFAM_FIXED0, XFAM_FIXED1 } from '../abi/td-config.ts';
import { CPUID_CONFIGURABLE, NUM_CPUID_CONFIG, cpuidConfigurableBits } from '../abi/cpuid-config.ts';
import { CMR_INFO, CMR_INFO_ARRAY_ALIGNMENT, MAX_CMRS, MAX_RESERVED_PER_TDMR, MAX_TDMRS, TDMR_INFO_ALIGNMENT, TDMR_INFO_PA_ARRAY_ALIGNMENT, TDMR_INFO_SIZE } from '../abi/tdmr.ts';
import { TDSYSINFO_CPUID_ENTRY, TDSYSINFO_STRUCT, TDSYSINFO_STRUCT_ALIGNMENT, TDSYSINFO_STRUCT_SIZE, TDX_VENDOR_ID_INTEL } from '../abi/tdsysinfo.ts';
import type { SeamcallContext, SeamcallHandler, SeamcallHandlerTable } from './context.ts';
import { LockKey } from './locks.ts';
import { withLocks } from './lock-scope.ts';
import { isSharedHpa, readShared, writeShared } from './hpa.ts';
import { checkTdmr, decodeTdmrInfo, type TdmrInfo } from './tdmr-check.ts';
import { programKey } from './kot.ts';
import { Pamt } from './pamt.ts';
import type { Tdmr } from './module.ts';

const L = SeamcallLeaf;
const invalid = (operand: number): bigint => withOperand(TdxStatus.TDX_OPERAND_INVALID, operand);

/** TDH.SYS.INIT: global initialisation. Outputs RCX, RDX, R8–R10 are 0 unless a CPUID check fails. */
const sysInit: SeamcallHandler = ({ module, regs }) => {
  const { attributes } = readOperands(L.TDH_SYS_INIT.inputs, regs);
  writeOperands(L.TDH_SYS_INIT.outputs, regs, { detail0: 0n, detail1: 0n, detail2: 0n, detail3: 0n, detail4: 0n });
  return withLocks(module.locks, (scope) => {
    if (scope.acquire(LockKey.GLOBAL, 'exclusive') !== 'ok') return TdxStatus.TDX_SYS_BUSY;
    // RCX (module attributes) is reserved in this version.
    if (attributes !== 0n) return invalid(OperandId.RCX);
    if (module.sysState !== SysState.SYSINIT_PENDING) return TdxStatus.TDX_SYS_INIT_NOT_PENDING;
    // The platform checks (CPUID, MSRs, SMRRs, CMRs) cannot fail on the simulated platform: its
    // constructor already refuses CMRs that are misaligned or outside memory.
    module.sysState = SysState.SYSINIT_DONE;
    module.numInitLps = 0;
    return TdxStatus.TDX_SUCCESS;
  });
};

/** TDH.SYS.LP.INIT: per-LP initialisation, once on every LP. */
const sysLpInit: SeamcallHandler = ({ module, lp }) =>
  withLocks(module.locks, (scope) => {
    if (scope.acquire(LockKey.GLOBAL, 'shared') !== 'ok') return TdxStatus.TDX_SYS_BUSY;
    if (module.sysState !== SysState.SYSINIT_DONE) return TdxStatus.TDX_SYS_LP_INIT_NOT_PENDING;
    const state = module.lpState[lp.id]!;
    if (state.lpInit) return TdxStatus.TDX_SYS_LP_INIT_DONE;
    state.lpInit = true;
    module.numInitLps++;
    return TdxStatus.TDX_SUCCESS;
  });

/** TDSYSINFO_STRUCT as this module fills it (facts tdx-module.md §10.2). */
function encodeSysInfo(ctx: SeamcallContext): Uint8Array {
  const { identity } = ctx.module;
  const cpuid = TDSYSINFO_CPUID_ENTRY.encodeArray(
    CPUID_CONFIGURABLE.map((c) => ({ leaf: c.leaf, subleaf: c.subleaf, ...cpuidConfigurableBits(c) })),
  );
  return TDSYSINFO_STRUCT.encode({
    attributes: 0,
    vendor_id: TDX_VENDOR_ID_INTEL,
    build_date: identity.buildDate,
    build_num: identity.buildNumber,
    minor_version: identity.minorVersion,
    major_version: identity.majorVersion,
    // SYS_RD = 1: TDH.SYS.RD/RDALL are available and should be preferred.
    sys_rd: 1,
    max_tdmrs: MAX_TDMRS,
    max_reserved_per_tdmr: MAX_RESERVED_PER_TDMR,
    pamt_entry_size: PAMT_ENTRY_BYTES,
    tdcs_base_size: TDCS_BASE_PAGES * Number(PAGE_SIZE),
    tdvps_base_size: TDVPS_BASE_PAGES * Number(PAGE_SIZE),
    tdvps_xfam_dependent_size: 0,
    attributes_fixed0: ATTRIBUTES_FIXED0,
    attributes_fixed1: ATTRIBUTES_FIXED1,
    // The simulated CPU supports every XFAM component the module allows.
    xfam_fixed0: XFAM_FIXED0,
    xfam_fixed1: XFAM_FIXED1,
    num_cpuid_config: NUM_CPUID_CONFIG,
    cpuid_config: cpuid,
  });
}

/** CMR_INFO: the platform's CMRs, then null entries up to 32. */
function encodeCmrInfo(ctx: SeamcallContext): Uint8Array {
  const cmrs = ctx.module.platform.cmrs.slice(0, MAX_CMRS);
  return CMR_INFO.encodeArray(Array.from({ length: MAX_CMRS }, (_, i) => cmrs[i] ?? { base: 0n, size: 0n }));
}

/**
 * TDH.SYS.INFO: write TDSYSINFO_STRUCT and CMR_INFO into host (shared) memory. RDX and R9 are 0
 * on failure and report the sizes written on success. The buffers must be shared HPAs, so the
 * host cannot make the module overwrite private memory with them.
 */
const sysInfo: SeamcallHandler = (ctx) => {
  const { module, lp, regs } = ctx;
  const platform = module.platform;
  const { sysInfo: infoPa, sysInfoSize, cmrArray, cmrEntries } = readOperands(L.TDH_SYS_INFO.inputs, regs);
  writeOperands(L.TDH_SYS_INFO.outputs, regs, { sysInfoSizeWritten: 0n, cmrEntriesWritten: 0n });
  if (!module.lpState[lp.id]!.lpInit) return TdxStatus.TDX_SYS_LP_INIT_NOT_DONE;
  if (!isSharedHpa(platform, infoPa, BigInt(TDSYSINFO_STRUCT_ALIGNMENT))) return invalid(OperandId.RCX);
  if (sysInfoSize < BigInt(TDSYSINFO_STRUCT_SIZE)) return invalid(OperandId.RDX);
  // The module clears the output structure before it checks the CMR operands.
  writeShared(platform, infoPa, new Uint8Array(TDSYSINFO_STRUCT_SIZE));
  if (!isSharedHpa(platform, cmrArray, BigInt(CMR_INFO_ARRAY_ALIGNMENT))) return invalid(OperandId.R8);
  if (cmrEntries < BigInt(MAX_CMRS)) return invalid(OperandId.R9);
  writeShared(platform, infoPa, encodeSysInfo(ctx));
  writeShared(platform, cmrArray, encodeCmrInfo(ctx));
  writeOperands(L.TDH_SYS_INFO.outputs, regs, {
    sysInfoSizeWritten: BigInt(TDSYSINFO_STRUCT_SIZE),
    cmrEntriesWritten: BigInt(MAX_CMRS),
  });
  return TdxStatus.TDX_SUCCESS;
};

/**
 * TDH.SYS.CONFIG: take the TDMRs (with their PAMTs and reserved areas) and the global HKID.
 *
 * Checks in the module's order: global lock; SYSINIT_DONE with every LP initialised; the TDMR_INFO
 * pointer array (shared, 512-aligned) → OPERAND_INVALID|RCX; 1..64 entries → OPERAND_INVALID|RDX;
 * a private global HKID with reserved bits 0 → OPERAND_INVALID|R8; then each TDMR_INFO (its
 * pointer shared and 512-aligned → OPERAND_INVALID|RCX) checked against those before it.
 */
const sysConfig: SeamcallHandler = ({ module, regs }) => {
  const platform = module.platform;
  const { tdmrArray, tdmrCount, globalHkid } = readOperands(L.TDH_SYS_CONFIG.inputs, regs);
  return withLocks(module.locks, (scope) => {
    if (scope.acquire(LockKey.GLOBAL, 'exclusive') !== 'ok') return TdxStatus.TDX_SYS_BUSY;
    if (module.sysState !== SysState.SYSINIT_DONE) return TdxStatus.TDX_SYS_CONFIG_NOT_PENDING;
    if (module.numInitLps < platform.lps.length) return TdxStatus.TDX_SYS_CONFIG_NOT_PENDING;
    if (!isSharedHpa(platform, tdmrArray, BigInt(TDMR_INFO_PA_ARRAY_ALIGNMENT))) return invalid(OperandId.RCX);
    if (tdmrCount > BigInt(MAX_TDMRS) || tdmrCount < 1n) return invalid(OperandId.RDX);
    const hkid = Number(HKID_OPERAND.get(globalHkid, 'hkid'));
    if (HKID_OPERAND.hasReservedBits(globalHkid) || !platform.isPrivateKeyId(hkid)) return invalid(OperandId.R8);
    // The module records the global HKID before it reads the TDMRs; a later TDMR error leaves it
    // RESERVED, and the state stays SYSINIT_DONE so the host can retry.
    module.kot.reserve(hkid);
    module.globalHkid = hkid;

    const count = Number(tdmrCount);
    const pointers = readShared(platform, tdmrArray, 8 * count);
    const pdv = new DataView(pointers.buffer, pointers.byteOffset, pointers.byteLength);
    const infos: TdmrInfo[] = [];
    for (let i = 0; i < count; i++) {
      const pa = pdv.getBigUint64(8 * i, true);
      if (!isSharedHpa(platform, pa, BigInt(TDMR_INFO_ALIGNMENT))) return invalid(OperandId.RCX);
      infos.push(decodeTdmrInfo(readShared(platform, pa, TDMR_INFO_SIZE)));
      const status = checkTdmr(platform, infos, i);
      if (status !== TdxStatus.TDX_SUCCESS) return status;
    }

    module.tdmrs = infos.map(
      (t): Tdmr => ({
        base: t.base,
        size: t.size,
        pamt: t.pamt.map((p) => ({ base: p.base, size: p.size })),
        reserved: t.reserved.filter((r) => r.size !== 0n).map((r) => ({ offset: r.offset, size: r.size })),
      }),
    );
    module.pamt = new Pamt(infos.map((t) => ({ base: t.base, size: t.size })));
    module.keyConfiguredPackages.clear();
    module.sysState = SysState.SYSCONFIG_DONE;
    return TdxStatus.TDX_SUCCESS;
  });
};

/**
 * TDH.SYS.KEY.CONFIG: program the global private key on this LP's package. The last package to
 * do so makes the module SYS_READY.
 */
const sysKeyConfig: SeamcallHandler = ({ module, lp }) =>
  withLocks(module.locks, (scope) => {
    if (scope.acquire(LockKey.GLOBAL, 'exclusive') !== 'ok') return TdxStatus.TDX_SYS_BUSY;
    if (module.sysState !== SysState.SYSCONFIG_DONE) return TdxStatus.TDX_SYS_KEY_CONFIG_NOT_PENDING;
    const pkg = lp.pkg.id;
    if (module.keyConfiguredPackages.has(pkg)) return TdxStatus.TDX_KEY_CONFIGURED;
    const status = programKey(module, lp, module.globalHkid, module.keyConfiguredPackages.size === 0);
    if (status !== TdxStatus.TDX_SUCCESS) return status;
    module.keyConfiguredPackages.add(pkg);
    if (module.keyConfiguredPackages.size === module.platform.packages.length) module.sysState = SysState.SYS_READY;
    return TdxStatus.TDX_SUCCESS;
  });

/**
 * Mark the pages of [start, end) that lie in a reserved area of `tdmr` PT_RSVD, as PAMT
 * initialisation does (`pamt_init`): the host can never hand them, or the PAMT they hold, to a TD.
 */
function reserveChunk(module: SeamcallContext['module'], tdmr: Tdmr, start: bigint, end: bigint): void {
  for (const r of tdmr.reserved) {
    const rs = tdmr.base + r.offset;
    const from = rs > start ? rs : start;
    const to = rs + r.size < end ? rs + r.size : end;
    for (let pa = from; pa < to; pa += PAGE_SIZE) module.pamt.set(pa, 0, PamtPageType.PT_RSVD, 0n);
  }
}

/**
 * TDH.SYS.TDMR.INIT: initialise the next TDMR_INIT_CHUNK_BYTES (1024 PAMT 4K entries, 4 MB) of
 * the TDMR at RCX. RDX = the next address to initialise, rounded down to 1 GB so the host never
 * uses a partly initialised gigabyte; RDX is 0 on failure.
 */
const sysTdmrInit: SeamcallHandler = ({ module, regs }) => {
  const { tdmrBase } = readOperands(L.TDH_SYS_TDMR_INIT.inputs, regs);
  writeOperands(L.TDH_SYS_TDMR_INIT.outputs, regs, { nextToInit: 0n });
  const platform = module.platform;
  if (tdmrBase % SIZE_1G !== 0n || tdmrBase >> BigInt(platform.maxPa) !== 0n) return invalid(OperandId.RCX);
  const tdmr = module.tdmrs.find((t) => t.base === tdmrBase);
  if (!tdmr) return invalid(OperandId.RCX);
  return withLocks(module.locks, (scope) => {
    if (scope.acquire(LockKey.tdmr(tdmr.base), 'exclusive') !== 'ok') return withOperand(TdxStatus.TDX_OPERAND_BUSY, OperandId.RCX);
    const range = module.pamt.ranges().find((r) => r.base === tdmr.base)!;
    if (range.initialized >= tdmr.size) return TdxStatus.TDX_TDMR_ALREADY_INITIALIZED;
    const start = tdmr.base + range.initialized;
    const done = module.pamt.initialize(tdmr.base, TDMR_INIT_CHUNK_BYTES);
    reserveChunk(module, tdmr, start, tdmr.base + done);
    writeOperands(L.TDH_SYS_TDMR_INIT.outputs, regs, { nextToInit: (tdmr.base + done) & ~(SIZE_1G - 1n) });
    return TdxStatus.TDX_SUCCESS;
  });
};

/** TDH.SYS.LP.SHUTDOWN: deprecated in TDX 1.5; does nothing and succeeds. */
const sysLpShutdown: SeamcallHandler = () => TdxStatus.TDX_SUCCESS;

export const SYS_HANDLERS: SeamcallHandlerTable = {
  [L.TDH_SYS_INIT.number]: sysInit,
  [L.TDH_SYS_LP_INIT.number]: sysLpInit,
  [L.TDH_SYS_INFO.number]: sysInfo,
  [L.TDH_SYS_CONFIG.number]: sysConfig,
  [L.TDH_SYS_KEY_CONFIG.number]: sysKeyConfig,
  [L.TDH_SYS_TDMR_INIT.number]: sysTdmrInit,
  [L.TDH_SYS_LP_SHUTDOWN.number]: sysLpShutdown,
};
