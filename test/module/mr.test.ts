import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { bringUp, createTd, type CreatedTd, type ModuleEnv } from '../helpers/module-harness.ts';
import { addPage, addSeptPath, addVcpu, ARCH, finalize, gpaLevel, OP, patternPage, septInfo, ST } from '../helpers/td-memory.ts';
import { LockKey } from '../../src/module/locks.ts';
import { RegisterFile } from '../../src/abi/registers.ts';
import { OpState } from '../../src/abi/lifecycle.ts';
import type { LeafCallResult } from '../../src/platform/leaf-call.ts';
import type { LeafDef } from '../../src/abi/leaf.ts';

function setup(): { env: ModuleEnv; t: CreatedTd } {
  const env = bringUp();
  const t = createTd(env);
  addSeptPath(env, t, 0n);
  return { env, t };
}

function expectRegs(r: LeafCallResult<LeafDef>, rax: bigint, rcx: bigint, rdx: bigint): void {
  assert.deepEqual({ rax: r.status, rcx: r.regs.get('RCX'), rdx: r.regs.get('RDX') }, { rax, rcx, rdx });
}

const extend = (env: ModuleEnv, t: CreatedTd, gpa: bigint, tdr = t.tdr) => env.tdh.MR_EXTEND({ gpa, tdr });

describe('TDH.MR.EXTEND', () => {
  test('a 256-byte chunk of a MAPPED page: success, RCX = RDX = 0, the MRTD context advances', () => {
    const { env, t } = setup();
    addPage(env, t, 0x2000n, patternPage(1));
    const hash = t.td.mrtdHash!;
    const before = hash.copy().digest('hex');
    const regs = new RegisterFile().set('R8', 0x88n);
    const r = env.tdh.MR_EXTEND({ gpa: 0x2f00n, tdr: t.tdr }, { regs });
    expectRegs(r, ST.SUCCESS, 0n, 0n);
    assert.equal(r.regs.get('R8'), 0x88n);
    assert.notEqual(t.td.mrtdHash!.copy().digest('hex'), before);
  });

  test('GPA not 256-byte aligned, shared, or above the GPA width → OPERAND_INVALID | RCX', () => {
    const { env, t } = setup();
    addPage(env, t, 0n);
    expectRegs(extend(env, t, 0x80n), ST.OPERAND_INVALID | OP.RCX, 0n, 0n);
    expectRegs(extend(env, t, 1n << 47n), ST.OPERAND_INVALID | OP.RCX, 0n, 0n);
    expectRegs(extend(env, t, 1n << 50n), ST.OPERAND_INVALID | OP.RCX, 0n, 0n);
  });

  test('no page at the GPA → EPT_ENTRY_NOT_PRESENT | RCX with the entry where the walk stopped', () => {
    const { env, t } = setup();
    expectRegs(extend(env, t, 0x3000n), ST.EPT_ENTRY_NOT_PRESENT | OP.RCX, ARCH.FREE, septInfo(0, 0));
    expectRegs(extend(env, t, 1n << 30n), ST.EPT_ENTRY_NOT_PRESENT | OP.RCX, ARCH.FREE, septInfo(2, 0));
  });

  test('a PENDING or BLOCKED page is not present; a blocked SEPT page stops the walk', () => {
    const { env, t } = setup();
    const pending = env.alloc.alloc4k();
    env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0x1000n, 0), tdr: t.tdr, page: pending });
    expectRegs(extend(env, t, 0x1000n), ST.EPT_ENTRY_NOT_PRESENT | OP.RCX, ARCH.LEAF_NO_PERMS | pending, septInfo(0, 2));
    const page = addPage(env, t, 0x2000n);
    env.tdh.MEM_RANGE_BLOCK({ gpaLevel: gpaLevel(0x2000n, 0), tdr: t.tdr });
    expectRegs(extend(env, t, 0x2000n), ST.EPT_ENTRY_NOT_PRESENT | OP.RCX, ARCH.LEAF_NO_PERMS | page, septInfo(0, 1));
    env.tdh.MEM_RANGE_BLOCK({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr });
    expectRegs(extend(env, t, 0x2000n), ST.EPT_ENTRY_NOT_PRESENT | OP.RCX, ARCH.NON_LEAF_BLOCKED, septInfo(1, 0x81));
  });

  test('needs the TDR exclusively → OPERAND_BUSY | RDX; the TDR operand is RDX', () => {
    const { env, t } = setup();
    addPage(env, t, 0n);
    expectRegs(extend(env, t, 0n, t.tdcx[0]!), ST.PAGE_METADATA_INCORRECT | OP.RDX, 0n, 0n);
    env.module.locks.hold(LockKey.pamt(t.tdr >> 12n), 'shared');
    expectRegs(extend(env, t, 0n), ST.OPERAND_BUSY | OP.RDX, 0n, 0n);
  });

  test('after TDH.MR.FINALIZE → TDX_OP_STATE_INCORRECT', () => {
    const { env, t } = setup();
    addPage(env, t, 0n);
    addVcpu(env, t);
    finalize(env, t);
    expectRegs(extend(env, t, 0n), ST.OP_STATE_INCORRECT, 0n, 0n);
  });
});

describe('TDH.MR.FINALIZE', () => {
  test('seals MRTD and makes the TD RUNNABLE; no register besides RAX changes', () => {
    const { env, t } = setup();
    addVcpu(env, t);
    const regs = new RegisterFile().set('RDX', 0x1111n).set('R8', 0x2222n);
    const r = env.tdh.MR_FINALIZE({ tdr: t.tdr }, { regs });
    expectRegs(r, ST.SUCCESS, t.tdr, 0x1111n);
    assert.equal(r.regs.get('R8'), 0x2222n);
    assert.equal(t.td.opState, OpState.RUNNABLE);
    assert.equal(t.td.mrtdHash, undefined);
    assert.equal(t.td.mrtd.length, 48);
    assert.notDeepEqual(t.td.mrtd, new Uint8Array(48));
  });

  test('no vCPU → TDX_NO_VCPUS, the TD stays INITIALIZED', () => {
    const { env, t } = setup();
    assert.equal(env.tdh.MR_FINALIZE({ tdr: t.tdr }).status, ST.NO_VCPUS);
    assert.equal(t.td.opState, OpState.INITIALIZED);
  });

  test('twice → TDX_OP_STATE_INCORRECT; before MNG.INIT → TDX_OP_STATE_INCORRECT', () => {
    const { env, t } = setup();
    addVcpu(env, t);
    finalize(env, t);
    const mrtd = t.td.mrtd;
    assert.equal(env.tdh.MR_FINALIZE({ tdr: t.tdr }).status, ST.OP_STATE_INCORRECT);
    assert.deepEqual(t.td.mrtd, mrtd);
    const t2 = createTd(env, { until: 'addcx' });
    assert.equal(env.tdh.MR_FINALIZE({ tdr: t2.tdr }).status, ST.OP_STATE_INCORRECT);
  });

  test('the TDR operand is RCX: not a TDR → PAGE_METADATA_INCORRECT | RCX, busy → OPERAND_BUSY | RCX', () => {
    const { env, t } = setup();
    addVcpu(env, t);
    assert.equal(env.tdh.MR_FINALIZE({ tdr: t.tdcx[0]! }).status, ST.PAGE_METADATA_INCORRECT | OP.RCX);
    assert.equal(env.tdh.MR_FINALIZE({ tdr: t.tdr + 1n }).status, ST.OPERAND_INVALID | OP.RCX);
    env.module.locks.hold(LockKey.pamt(t.tdr >> 12n), 'shared');
    assert.equal(env.tdh.MR_FINALIZE({ tdr: t.tdr }).status, ST.OPERAND_BUSY | OP.RCX);
  });

  test('a fatal TD → TDX_TD_FATAL', () => {
    const { env, t } = setup();
    addVcpu(env, t);
    t.td.fatal = true;
    assert.equal(env.tdh.MR_FINALIZE({ tdr: t.tdr }).status, ST.TD_FATAL);
  });
});
