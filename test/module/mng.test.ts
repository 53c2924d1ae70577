import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bringUp, cacheWbAll, createTd, tdParamsBytes, writeHost, type ModuleEnv } from '../helpers/module-harness.ts';
import { TdxStatus, OperandId, withOperand } from '../../src/abi/status.ts';
import { KotState, OpState, TdLifecycle } from '../../src/abi/lifecycle.ts';
import { PamtPageType } from '../../src/abi/pamt.ts';
import { RegisterFile } from '../../src/abi/registers.ts';
import { SEPTE_INIT_VALUE } from '../../src/abi/sept-state.ts';
import { LockKey } from '../../src/module/locks.ts';
import { SecureEpt } from '../../src/module/sept.ts';

const S = TdxStatus;
const inv = (op: number) => withOperand(S.TDX_OPERAND_INVALID, op);
const busy = (op: number) => withOperand(S.TDX_OPERAND_BUSY, op);
const metadata = (op: number) => withOperand(S.TDX_PAGE_METADATA_INCORRECT, op);

function junkRegs(): RegisterFile {
  const r = new RegisterFile();
  for (let i = 0; i < 16; i++) r.gpr[i] = 0x2222_0000_0000_0000n + BigInt(i);
  return r;
}

/** Every GPR but RAX equals the junk it started with (the leaf writes no outputs). */
function assertUntouched(regs: RegisterFile, skip: string[] = []): void {
  const names = ['RCX', 'RDX', 'RBX', 'RSP', 'RBP', 'RSI', 'RDI', 'R8', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15'] as const;
  for (const n of names) if (!skip.includes(n)) assert.equal(regs.get(n), junkRegs().get(n), n);
}

describe('TDH.MNG.CREATE', () => {
  test('turns a free page into a TDR (owner 0) and assigns the HKID; writes no registers', () => {
    const env = bringUp();
    const tdr = env.alloc.alloc4k();
    const hkid = env.nextHkid();
    const regs = junkRegs();
    const r = env.tdh.MNG_CREATE({ tdr, hkid: BigInt(hkid) }, { regs });
    assert.equal(r.status, S.TDX_SUCCESS);
    assertUntouched(r.regs, ['RCX', 'RDX']);
    assert.equal(r.regs.get('RCX'), tdr);
    const e = env.module.pamt.lookup(tdr)!;
    assert.deepEqual([e.type, e.owner, e.level], [PamtPageType.PT_TDR, 0n, 0]);
    const td = env.module.td(tdr)!;
    assert.equal(td.hkid, hkid);
    assert.equal(td.lifecycle, TdLifecycle.TD_HKID_ASSIGNED);
    assert.equal(td.opState, OpState.UNINITIALIZED);
    assert.equal(td.uuid.length, 32);
    assert.ok(td.uuid.some((b) => b !== 0));
    assert.equal(env.module.kot.state(hkid), KotState.HKID_ASSIGNED);
    // The TDR page is cleared through the module's global key.
    assert.ok(env.platform.memory.read(tdr, 4096, env.globalHkid).every((b) => b === 0));
    assert.ok(env.module.locks.idle());
  });

  test('two TDs get different UUIDs', () => {
    const env = bringUp();
    const a = createTd(env, { until: 'create' });
    const b = createTd(env, { until: 'create' });
    assert.notDeepEqual(a.td.uuid, b.td.uuid);
  });

  test('HKID operand is checked first: shared KeyID, out of range, reserved bits → OPERAND_INVALID|RDX', () => {
    const env = bringUp();
    const tdr = env.alloc.alloc4k();
    const p = env.platform;
    for (const hkid of [0n, BigInt(p.mktmeKeyIds), BigInt(p.firstTdxKeyId + p.tdxKeyIds), (1n << 16n) | BigInt(env.nextHkid())]) {
      assert.equal(env.tdh.MNG_CREATE({ tdr, hkid }).status, 0xc000_0100_0000_0002n);
    }
    // Even with a bad TDR as well, RDX is reported.
    assert.equal(env.tdh.MNG_CREATE({ tdr: tdr + 8n, hkid: 0n }).status, inv(OperandId.RDX));
    assert.equal(env.module.pamt.lookup(tdr)!.type, PamtPageType.PT_NDA);
  });

  test('TDR operand: alignment, KeyID bits, outside TDMR, not free, busy', () => {
    const env = bringUp();
    const hkid = BigInt(env.nextHkid());
    const tdr = env.alloc.alloc4k();
    const keyBits = BigInt(env.platform.firstTdxKeyId) << BigInt(env.platform.keyIdShift);
    assert.equal(env.tdh.MNG_CREATE({ tdr: tdr + 2048n, hkid }).status, inv(OperandId.RCX));
    assert.equal(env.tdh.MNG_CREATE({ tdr: tdr | keyBits, hkid }).status, inv(OperandId.RCX));
    assert.equal(env.tdh.MNG_CREATE({ tdr: 1n << 52n, hkid }).status, inv(OperandId.RCX));
    assert.equal(env.tdh.MNG_CREATE({ tdr: env.shared.alloc4k(), hkid }).status, 0xc000_0101_0000_0001n);
    const other = createTd(env, { until: 'create' });
    assert.equal(env.tdh.MNG_CREATE({ tdr: other.tdr, hkid }).status, metadata(OperandId.RCX));
    const release = env.module.locks.hold(LockKey.pamt(tdr >> 12n), 'shared');
    assert.equal(env.tdh.MNG_CREATE({ tdr, hkid }).status, busy(OperandId.RCX));
    release();
    assert.equal(env.module.kot.state(Number(hkid)), KotState.HKID_FREE);
  });

  test('KOT busy → OPERAND_BUSY|KOT; an HKID in use → TDX_HKID_NOT_FREE; nothing changes', () => {
    const env = bringUp();
    const tdr = env.alloc.alloc4k();
    const hkid = env.nextHkid();
    const release = env.module.locks.hold(LockKey.KOT, 'shared');
    assert.equal(env.tdh.MNG_CREATE({ tdr, hkid: BigInt(hkid) }).status, 0x8000_0200_0000_00ban);
    release();
    assert.equal(env.tdh.MNG_CREATE({ tdr, hkid: BigInt(env.globalHkid) }).status, S.TDX_HKID_NOT_FREE);
    const used = createTd(env, { until: 'create' });
    assert.equal(env.tdh.MNG_CREATE({ tdr, hkid: BigInt(used.hkid) }).status, S.TDX_HKID_NOT_FREE);
    assert.equal(env.module.pamt.lookup(tdr)!.type, PamtPageType.PT_NDA);
    assert.equal(env.module.td(tdr), undefined);
    assert.ok(env.module.locks.idle());
  });
});

describe('TDH.MNG.KEY.CONFIG', () => {
  test('once per package; KEYS_CONFIGURED after the last; a repeat → TDX_KEY_CONFIGURED', () => {
    const env = bringUp();
    const { tdr, hkid } = createTd(env, { until: 'create' });
    const td = env.module.td(tdr)!;
    assert.equal(env.on(0).MNG_KEY_CONFIG({ tdr }).status, S.TDX_SUCCESS);
    assert.equal(td.lifecycle, TdLifecycle.TD_HKID_ASSIGNED);
    assert.equal(env.on(1).MNG_KEY_CONFIG({ tdr }).status, 0x0000_0815_0000_0000n);
    assert.equal(env.on(3).MNG_KEY_CONFIG({ tdr }).status, S.TDX_SUCCESS);
    assert.equal(td.lifecycle, TdLifecycle.TD_KEYS_CONFIGURED);
    assert.equal(env.on(2).MNG_KEY_CONFIG({ tdr }).status, S.TDX_LIFECYCLE_STATE_INCORRECT);
    // The TD's key is programmed.
    const pa = env.alloc.alloc4k();
    env.platform.memory.write(pa, new Uint8Array(64).fill(9), hkid);
    assert.deepEqual(env.platform.memory.read(pa, 64, hkid), new Uint8Array(64).fill(9));
  });

  test('failures: not a TDR, TDR busy, fatal TD, PCONFIG busy', () => {
    const env = bringUp();
    const { tdr, td } = createTd(env, { until: 'create' });
    assert.equal(env.tdh.MNG_KEY_CONFIG({ tdr: env.alloc.alloc4k() }).status, metadata(OperandId.RCX));
    assert.equal(env.tdh.MNG_KEY_CONFIG({ tdr: tdr + 1n }).status, inv(OperandId.RCX));
    let release = env.module.locks.hold(LockKey.pamt(tdr >> 12n), 'shared');
    assert.equal(env.tdh.MNG_KEY_CONFIG({ tdr }).status, busy(OperandId.RCX));
    release();
    release = env.module.locks.hold(LockKey.ket(0), 'exclusive');
    assert.equal(env.tdh.MNG_KEY_CONFIG({ tdr }).status, busy(OperandId.KET));
    release();
    assert.equal(td.keyConfiguredPackages.size, 0);
    td.fatal = true;
    assert.equal(env.tdh.MNG_KEY_CONFIG({ tdr }).status, 0xe000_0604_0000_0000n);
  });
});

describe('TDH.MNG.ADDCX', () => {
  test('adds TDCS pages owned by the TDR, filled for their role through the TD key', () => {
    const env = bringUp();
    const { tdr, td, tdcx, hkid } = createTd(env, { until: 'addcx' });
    assert.equal(td.tdcx.length, 6);
    assert.deepEqual(td.tdcx, tdcx);
    assert.equal(td.childCount, 6n);
    for (const page of tdcx) {
      const e = env.module.pamt.lookup(page)!;
      assert.deepEqual([e.type, e.owner, e.level], [PamtPageType.PT_TDCX, tdr, 0]);
    }
    const mem = env.platform.memory;
    assert.ok(mem.read(tdcx[2]!, 4096, hkid).every((b) => b === 0xff), 'MSR bitmaps: all ones');
    const root = mem.read(tdcx[3]!, 4096, hkid);
    const dv = new DataView(root.buffer, root.byteOffset, root.byteLength);
    assert.equal(dv.getBigUint64(0, true), SEPTE_INIT_VALUE);
    assert.equal(dv.getBigUint64(4088, true), SEPTE_INIT_VALUE);
    assert.ok(mem.read(tdcx[0]!, 4096, hkid).every((b) => b === 0));
    // The host sees ciphertext, not the TD's view.
    assert.ok(!mem.read(tdcx[2]!, 64, 0).every((b) => b === 0xff));
  });

  test('before KEYS_CONFIGURED → TDX_TD_KEYS_NOT_CONFIGURED; fatal → TDX_TD_FATAL', () => {
    const env = bringUp();
    const { tdr, td } = createTd(env, { until: 'create' });
    const page = env.alloc.alloc4k();
    assert.equal(env.tdh.MNG_ADDCX({ page, tdr }).status, 0x8000_0810_0000_0000n);
    td.fatal = true;
    assert.equal(env.tdh.MNG_ADDCX({ page, tdr }).status, S.TDX_TD_FATAL);
    assert.equal(env.module.pamt.lookup(page)!.type, PamtPageType.PT_NDA);
  });

  test('operand errors: TDR in RDX, page in RCX', () => {
    const env = bringUp();
    const { tdr } = createTd(env, { until: 'keyconfig' });
    const page = env.alloc.alloc4k();
    assert.equal(env.tdh.MNG_ADDCX({ page, tdr: page }).status, metadata(OperandId.RDX));
    assert.equal(env.tdh.MNG_ADDCX({ page, tdr: tdr + 16n }).status, inv(OperandId.RDX));
    assert.equal(env.tdh.MNG_ADDCX({ page: page + 16n, tdr }).status, inv(OperandId.RCX));
    // The TDR's own PAMT entry is already locked by this leaf: the module reports it busy.
    assert.equal(env.tdh.MNG_ADDCX({ page: tdr, tdr }).status, busy(OperandId.RCX));
    assert.equal(env.tdh.MNG_ADDCX({ page: createTd(env, { until: 'create' }).tdr, tdr }).status, metadata(OperandId.RCX));
    assert.equal(env.tdh.MNG_ADDCX({ page: env.shared.alloc4k(), tdr }).status, withOperand(S.TDX_OPERAND_ADDR_RANGE_ERROR, OperandId.RCX));
    const release = env.module.locks.hold(LockKey.pamt(page >> 12n), 'exclusive');
    assert.equal(env.tdh.MNG_ADDCX({ page, tdr }).status, busy(OperandId.RCX));
    release();
    assert.equal(env.module.td(tdr)!.tdcx.length, 0);
    assert.ok(env.module.locks.idle());
  });

  test('a 7th–9th page only before MNG.INIT; a 10th → TDX_TDCX_NUM_INCORRECT', () => {
    const env = bringUp();
    const { tdr, td } = createTd(env, { until: 'addcx' });
    for (let i = 0; i < 3; i++) assert.equal(env.tdh.MNG_ADDCX({ page: env.alloc.alloc4k(), tdr }).status, S.TDX_SUCCESS);
    assert.equal(td.tdcx.length, 9);
    assert.equal(env.tdh.MNG_ADDCX({ page: env.alloc.alloc4k(), tdr }).status, 0xc000_0610_0000_0000n);

    const env2 = bringUp();
    const built = createTd(env2);
    const page = env2.alloc.alloc4k();
    assert.equal(env2.tdh.MNG_ADDCX({ page, tdr: built.tdr }).status, S.TDX_OP_STATE_INCORRECT);
    assert.equal(built.td.tdcx.length, 6);
    assert.equal(built.td.childCount, 6n);
    assert.equal(env2.module.pamt.lookup(page)!.type, PamtPageType.PT_NDA);
  });
});

describe('TDH.MNG.INIT', () => {
  test('configures the TD from TD_PARAMS; RCX = 0; OP_STATE INITIALIZED', () => {
    const env = bringUp();
    const mrconfigid = new Uint8Array(48).fill(0x11);
    const mrowner = new Uint8Array(48).fill(0x22);
    const mrownerconfig = new Uint8Array(48).fill(0x33);
    const built = createTd(env, { until: 'addcx' });
    const tdParams = env.shared.alloc4k();
    writeHost(env, tdParams, tdParamsBytes({ maxVcpus: 8, tscFrequency: 120, mrconfigid, mrowner, mrownerconfig, cpuid: { 0: { ecx: 0x8 } } }));
    const regs = junkRegs();
    const r = env.tdh.MNG_INIT({ tdr: built.tdr, tdParams }, { regs });
    assert.equal(r.status, S.TDX_SUCCESS);
    assert.equal(r.outputs.extendedError, 0n);
    assertUntouched(r.regs, ['RCX', 'RDX']);
    const td = built.td;
    assert.equal(td.opState, OpState.INITIALIZED);
    assert.equal(td.maxVcpus, 8);
    assert.equal(td.tscFrequency, 120);
    assert.equal(td.gpaw, 48);
    assert.equal(td.attributes, 1n << 28n);
    assert.equal(td.tdCtls, 1n, 'PENDING_VE_DISABLE from SEPT_VE_DISABLE');
    assert.equal(td.xfam, 7n);
    assert.equal(td.eptpControls, 0x1en);
    assert.equal(td.configFlags, 4n);
    assert.deepEqual(td.mrConfigId, mrconfigid);
    assert.deepEqual(td.mrOwner, mrowner);
    assert.deepEqual(td.mrOwnerConfig, mrownerconfig);
    assert.equal(td.tdEpoch, 1n);
    assert.deepEqual(td.epochRefcount, [0, 0]);
    assert.ok(td.rtmr.every((m) => m.every((b) => b === 0)));
    assert.ok(td.mrtdHash !== undefined);
    assert.ok(td.sept instanceof SecureEpt);
    assert.equal(td.sept.rootPa, built.tdcx[3]);
    assert.equal(td.sept.levels, 4);
    assert.equal(td.cpuidConfig.length, 12);
    assert.deepEqual(td.cpuidConfig[0], { leaf: 1, subleaf: null, eax: 0, ebx: 0, ecx: 8, edx: 0 });
    assert.deepEqual(td.cpuidConfig[1], { leaf: 4, subleaf: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 });
  });

  test('GPAW 52 with a 5-level EPT', () => {
    const env = bringUp();
    const { td } = createTd(env, { gpaw52: true });
    assert.equal(td.gpaw, 52);
    assert.equal(td.eptpControls, 0x26n);
    assert.equal(td.sharedBit, 1n << 51n);
    assert.equal(td.sept!.levels, 5);
  });

  test('state checks: keys, TDCS pages, fatal, already initialised (operand = OP_STATE)', () => {
    const env = bringUp();
    const params = env.shared.alloc4k();
    writeHost(env, params, tdParamsBytes());
    const a = createTd(env, { until: 'create' });
    assert.equal(env.tdh.MNG_INIT({ tdr: a.tdr, tdParams: params }).status, S.TDX_TD_KEYS_NOT_CONFIGURED);
    const b = createTd(env, { until: 'keyconfig' });
    env.tdh.MNG_ADDCX({ page: env.alloc.alloc4k(), tdr: b.tdr });
    assert.equal(env.tdh.MNG_INIT({ tdr: b.tdr, tdParams: params }).status, 0xc000_0606_0000_0000n);
    const c = createTd(env);
    assert.equal(env.tdh.MNG_INIT({ tdr: c.tdr, tdParams: params }).status, 0xc000_0608_0000_0001n);
    c.td.fatal = true;
    assert.equal(env.tdh.MNG_INIT({ tdr: c.tdr, tdParams: params }).status, S.TDX_TD_FATAL);
  });

  test('TD_PARAMS pointer: 1024-aligned and shared, else OPERAND_INVALID|RDX', () => {
    const env = bringUp();
    const built = createTd(env, { until: 'addcx' });
    const params = env.shared.alloc4k();
    writeHost(env, params, tdParamsBytes());
    const privateKey = BigInt(env.platform.firstTdxKeyId) << BigInt(env.platform.keyIdShift);
    for (const tdParams of [params + 512n, params | privateKey, 1n << 52n]) {
      assert.equal(env.tdh.MNG_INIT({ tdr: built.tdr, tdParams }).status, inv(OperandId.RDX));
    }
    // Pointing at memory that does not exist reads all ones: rejected on ATTRIBUTES, no exception.
    assert.equal(env.tdh.MNG_INIT({ tdr: built.tdr, tdParams: 1n << 40n }).status, inv(OperandId.ATTRIBUTES));
    assert.equal(built.td.opState, OpState.UNINITIALIZED);
  });

  test('a bad field leaves the TD untouched and retryable', () => {
    const env = bringUp();
    const built = createTd(env, { until: 'addcx' });
    const params = env.shared.alloc4k();
    writeHost(env, params, tdParamsBytes({ maxVcpus: 0, mrconfigid: new Uint8Array(48).fill(1) }));
    assert.equal(env.tdh.MNG_INIT({ tdr: built.tdr, tdParams: params }).status, inv(OperandId.MAX_VCPUS));
    assert.equal(built.td.opState, OpState.UNINITIALIZED);
    assert.equal(built.td.maxVcpus, 0);
    assert.ok(built.td.mrConfigId.every((b) => b === 0));
    assert.equal(built.td.sept, undefined);
    writeHost(env, params, tdParamsBytes());
    assert.equal(env.tdh.MNG_INIT({ tdr: built.tdr, tdParams: params }).status, S.TDX_SUCCESS);
  });

  test('a CPUID_CONFIG error reports the leaf/sub-leaf in RCX', () => {
    const env = bringUp();
    const built = createTd(env, { until: 'addcx' });
    const params = env.shared.alloc4k();
    // CPUID(4,1).EDX bit 2 is not configurable.
    writeHost(env, params, tdParamsBytes({ cpuid: { 2: { edx: 4 } } }));
    const r = env.tdh.MNG_INIT({ tdr: built.tdr, tdParams: params });
    assert.equal(r.status, 0xc000_0100_0000_0045n);
    assert.equal(r.outputs.extendedError, 0x0000_0001_0000_0004n);
  });

  test('NUM_L2_VMS needs one more TDCS page each', () => {
    const env = bringUp();
    const six = createTd(env, { until: 'addcx' });
    const params = env.shared.alloc4k();
    writeHost(env, params, tdParamsBytes({ numL2Vms: 1 }));
    assert.equal(env.tdh.MNG_INIT({ tdr: six.tdr, tdParams: params }).status, S.TDX_TDCS_NOT_ALLOCATED);
    const seven = createTd(env, { numL2Vms: 1 });
    assert.equal(seven.td.numL2Vms, 1);
    assert.equal(seven.td.tdcx.length, 7);
  });
});

function blocked(env: ModuleEnv) {
  const built = createTd(env);
  assert.equal(env.tdh.MNG_VPFLUSHDONE({ tdr: built.tdr }).status, S.TDX_SUCCESS);
  return built;
}

describe('TDH.MNG.VPFLUSHDONE', () => {
  test('blocks the TD and marks its HKID FLUSHED with every package pending write-back', () => {
    const env = bringUp();
    const { td, hkid } = blocked(env);
    assert.equal(td.lifecycle, TdLifecycle.TD_BLOCKED);
    assert.equal(env.module.kot.state(hkid), KotState.HKID_FLUSHED);
    assert.deepEqual([...env.module.kot.pendingPackages(hkid)].sort(), [0, 1]);
  });

  test('an associated vCPU → TDX_FLUSHVP_NOT_DONE', () => {
    const env = bringUp();
    const { tdr, td, hkid } = createTd(env);
    td.numAssocVcpus = 1;
    assert.equal(env.tdh.MNG_VPFLUSHDONE({ tdr }).status, 0x8000_0824_0000_0000n);
    assert.equal(td.lifecycle, TdLifecycle.TD_KEYS_CONFIGURED);
    assert.equal(env.module.kot.state(hkid), KotState.HKID_ASSIGNED);
  });

  test('allowed from HKID_ASSIGNED (a build that failed before KEY.CONFIG); not twice', () => {
    const env = bringUp();
    const { tdr, td } = createTd(env, { until: 'create' });
    assert.equal(env.tdh.MNG_VPFLUSHDONE({ tdr }).status, S.TDX_SUCCESS);
    assert.equal(td.lifecycle, TdLifecycle.TD_BLOCKED);
    assert.equal(env.tdh.MNG_VPFLUSHDONE({ tdr }).status, S.TDX_LIFECYCLE_STATE_INCORRECT);
  });

  test('KOT busy → OPERAND_BUSY|KOT; bad TDR → RCX errors', () => {
    const env = bringUp();
    const { tdr } = createTd(env);
    const release = env.module.locks.hold(LockKey.KOT, 'shared');
    assert.equal(env.tdh.MNG_VPFLUSHDONE({ tdr }).status, busy(OperandId.KOT));
    release();
    assert.equal(env.tdh.MNG_VPFLUSHDONE({ tdr: env.alloc.alloc4k() }).status, metadata(OperandId.RCX));
  });
});

describe('TDH.MNG.KEY.FREEID', () => {
  test('needs BLOCKED, then every package written back; frees the HKID and its key', () => {
    const env = bringUp();
    const live = createTd(env);
    assert.equal(env.tdh.MNG_KEY_FREEID({ tdr: live.tdr }).status, S.TDX_LIFECYCLE_STATE_INCORRECT);
    const { tdr, td, hkid } = blocked(env);
    assert.equal(env.tdh.MNG_KEY_FREEID({ tdr }).status, 0x8000_0817_0000_0000n);
    // One package is not enough.
    env.module.kot.subBlocksPerCall = Infinity;
    assert.equal(env.on(0).PHYMEM_CACHE_WB({ resume: 0n }).status, S.TDX_SUCCESS);
    assert.equal(env.tdh.MNG_KEY_FREEID({ tdr }).status, S.TDX_WBCACHE_NOT_COMPLETE);
    assert.equal(env.on(2).PHYMEM_CACHE_WB({ resume: 0n }).status, S.TDX_SUCCESS);
    assert.equal(env.tdh.MNG_KEY_FREEID({ tdr }).status, S.TDX_SUCCESS);
    assert.equal(td.lifecycle, TdLifecycle.TD_TEARDOWN);
    assert.equal(env.module.kot.state(hkid), KotState.HKID_FREE);
    // The HKID can be given to a new TD.
    const again = createTd(env, { hkid });
    assert.equal(again.td.hkid, hkid);
  });

  test('KOT busy → OPERAND_BUSY|KOT', () => {
    const env = bringUp();
    const { tdr } = blocked(env);
    cacheWbAll(env);
    const release = env.module.locks.hold(LockKey.KOT, 'shared');
    assert.equal(env.tdh.MNG_KEY_FREEID({ tdr }).status, busy(OperandId.KOT));
    release();
    assert.equal(env.tdh.MNG_KEY_FREEID({ tdr }).status, S.TDX_SUCCESS);
  });
});

describe('TDH.MNG.KEY.RECLAIMID', () => {
  test('no-op: TDX_SUCCESS, registers untouched', () => {
    const env = bringUp();
    const r = env.tdh.MNG_KEY_RECLAIMID({}, { regs: junkRegs() });
    assert.equal(r.status, S.TDX_SUCCESS);
    assertUntouched(r.regs);
  });
});
