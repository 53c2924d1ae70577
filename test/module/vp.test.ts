import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegisterFile, Gpr, GPR_COUNT } from '../../src/abi/registers.ts';
import { OperandId, TdxStatus, withOperand } from '../../src/abi/status.ts';
import { PamtPageType } from '../../src/abi/pamt.ts';
import { LastTdExit, OpState, TDVPS_MAX_PAGES, VcpuState } from '../../src/abi/lifecycle.ts';
import { RESET_VECTOR } from '../../src/abi/gpa.ts';
import { CPUID_VERSION_LEAF, SIMULATED_CPUID } from '../../src/abi/cpuid.ts';
import { LockKey } from '../../src/module/locks.ts';
import { bringUp, createTd, expectStatus, type ModuleEnv } from '../helpers/module-harness.ts';
import { createVcpu } from '../helpers/vcpu-harness.ts';

const S = TdxStatus;
const FMS = BigInt(SIMULATED_CPUID.find((c) => c.leaf === CPUID_VERSION_LEAF)!.eax);

/** A register file with a distinct sentinel in every GPR, to check what a leaf leaves alone. */
function sentinels(): RegisterFile {
  const r = new RegisterFile();
  for (let i = 0; i < GPR_COUNT; i++) r.gpr[i] = 0x5a5a_0000n + BigInt(i);
  return r;
}

/** Every GPR except RAX and `written` still holds the caller's sentinel. */
function assertPreserved(regs: RegisterFile, written: number[] = []): void {
  for (let i = 1; i < GPR_COUNT; i++) {
    if (written.includes(i)) continue;
    assert.equal(regs.gpr[i], 0x5a5a_0000n + BigInt(i), `GPR ${i} changed`);
  }
}

function setup(maxVcpus = 2): { env: ModuleEnv; tdr: bigint } {
  const env = bringUp();
  const { tdr } = createTd(env, { maxVcpus });
  return { env, tdr };
}

describe('TDH.VP.CREATE', () => {
  it('turns a free page into a TDVPR owned by the TD and counts it in CHLDCNT', () => {
    const { env, tdr } = setup();
    const td = env.module.td(tdr)!;
    const before = td.childCount;
    const tdvpr = env.alloc.alloc4k();
    const r = env.tdh.VP_CREATE({ tdvpr, tdr }, { regs: sentinels() });
    assert.equal(r.status, S.TDX_SUCCESS);
    assertPreserved(r.regs, [Gpr.RCX, Gpr.RDX]);
    assert.equal(r.regs.gpr[Gpr.RCX], tdvpr);
    assert.equal(r.regs.gpr[Gpr.RDX], tdr);
    const e = env.module.pamt.lookup(tdvpr)!;
    assert.equal(e.type, PamtPageType.PT_TDVPR);
    assert.equal(e.owner, tdr);
    assert.equal(td.childCount, before + 1n);
    const vcpu = env.module.vcpu(tdvpr)!;
    assert.equal(vcpu.state, VcpuState.VCPU_UNINITIALIZED);
    assert.equal(vcpu.assocLp, -1);
    assert.equal(vcpu.td, td);
    assert.ok(env.module.locks.idle());
  });

  it('checks the TDR operand (RDX) first', () => {
    const { env, tdr } = setup();
    const tdvpr = env.alloc.alloc4k();
    assert.equal(env.tdh.VP_CREATE({ tdvpr, tdr: tdr + 8n }).status, withOperand(S.TDX_OPERAND_INVALID, OperandId.RDX));
    assert.equal(env.tdh.VP_CREATE({ tdvpr, tdr: 4096n }).status, withOperand(S.TDX_OPERAND_ADDR_RANGE_ERROR, OperandId.RDX));
    const notTdr = env.alloc.alloc4k();
    assert.equal(env.tdh.VP_CREATE({ tdvpr, tdr: notTdr }).status, withOperand(S.TDX_PAGE_METADATA_INCORRECT, OperandId.RDX));
    const release = env.module.locks.hold(LockKey.pamt(tdr >> 12n), 'exclusive');
    assert.equal(env.tdh.VP_CREATE({ tdvpr, tdr }).status, withOperand(S.TDX_OPERAND_BUSY, OperandId.RDX));
    release();
    // Nothing changed: the page is still free and no vCPU exists.
    assert.equal(env.module.pamt.lookup(tdvpr)!.type, PamtPageType.PT_NDA);
    assert.equal(env.module.vcpu(tdvpr), undefined);
  });

  it('needs configured keys and OP_STATE INITIALIZED', () => {
    const env = bringUp();
    const created = createTd(env, { until: 'create' });
    const tdvpr = env.alloc.alloc4k();
    assert.equal(env.tdh.VP_CREATE({ tdvpr, tdr: created.tdr }).status, S.TDX_TD_KEYS_NOT_CONFIGURED);
    const noTdcs = createTd(env, { until: 'keyconfig' });
    assert.equal(env.tdh.VP_CREATE({ tdvpr, tdr: noTdcs.tdr }).status, S.TDX_TDCS_NOT_ALLOCATED);
    const uninit = createTd(env, { until: 'addcx' });
    assert.equal(env.tdh.VP_CREATE({ tdvpr, tdr: uninit.tdr }).status, S.TDX_OP_STATE_INCORRECT);
  });

  it('is refused once the TD is finalised (RUNNABLE)', () => {
    const { env, tdr } = setup();
    createVcpu(env, tdr);
    expectStatus(env.tdh.MR_FINALIZE({ tdr }), 'TDH.MR.FINALIZE');
    assert.equal(env.module.td(tdr)!.opState, OpState.RUNNABLE);
    assert.equal(env.tdh.VP_CREATE({ tdvpr: env.alloc.alloc4k(), tdr }).status, S.TDX_OP_STATE_INCORRECT);
  });

  it('reports a busy OP_STATE lock', () => {
    const { env, tdr } = setup();
    const release = env.module.locks.hold(LockKey.opState(tdr >> 12n), 'exclusive');
    assert.equal(env.tdh.VP_CREATE({ tdvpr: env.alloc.alloc4k(), tdr }).status, withOperand(S.TDX_OPERAND_BUSY, OperandId.OP_STATE));
    release();
  });

  it('checks the new page (RCX): aligned, free, not busy', () => {
    const { env, tdr } = setup();
    const tdvpr = env.alloc.alloc4k();
    assert.equal(env.tdh.VP_CREATE({ tdvpr: tdvpr + 1n, tdr }).status, withOperand(S.TDX_OPERAND_INVALID, OperandId.RCX));
    // A page the TD already uses (a TDCS page) is not free.
    const tdcs = env.module.td(tdr)!.tdcx[0]!;
    assert.equal(env.tdh.VP_CREATE({ tdvpr: tdcs, tdr }).status, withOperand(S.TDX_PAGE_METADATA_INCORRECT, OperandId.RCX));
    // The TDR itself is already locked (shared) by this leaf, so taking it exclusively is busy.
    assert.equal(env.tdh.VP_CREATE({ tdvpr: tdr, tdr }).status, withOperand(S.TDX_OPERAND_BUSY, OperandId.RCX));
    const release = env.module.locks.hold(LockKey.pamt(tdvpr >> 12n), 'shared');
    assert.equal(env.tdh.VP_CREATE({ tdvpr, tdr }).status, withOperand(S.TDX_OPERAND_BUSY, OperandId.RCX));
    release();
    assert.ok(env.module.locks.idle());
  });
});

describe('TDH.VP.ADDCX', () => {
  it('adds PT_TDCX pages owned by the TD to an uninitialised vCPU', () => {
    const { env, tdr } = setup();
    const { tdvpr, vcpu } = createVcpu(env, tdr, { until: 'create' });
    const td = env.module.td(tdr)!;
    const before = td.childCount;
    const page = env.alloc.alloc4k();
    const r = env.tdh.VP_ADDCX({ page, tdvpr }, { regs: sentinels() });
    assert.equal(r.status, S.TDX_SUCCESS);
    assertPreserved(r.regs, [Gpr.RCX, Gpr.RDX]);
    const e = env.module.pamt.lookup(page)!;
    assert.equal(e.type, PamtPageType.PT_TDCX);
    assert.equal(e.owner, tdr);
    assert.deepEqual(vcpu.tdcx, [page]);
    assert.equal(td.childCount, before + 1n);
  });

  it('refuses more than TDVPS_MAX_PAGES pages', () => {
    const { env, tdr } = setup();
    const { tdvpr, vcpu } = createVcpu(env, tdr, { until: 'addcx', tdcxPages: TDVPS_MAX_PAGES - 1 });
    assert.equal(vcpu.tdcx.length, TDVPS_MAX_PAGES - 1);
    const page = env.alloc.alloc4k();
    assert.equal(env.tdh.VP_ADDCX({ page, tdvpr }).status, S.TDX_TDCX_NUM_INCORRECT);
    assert.equal(env.module.pamt.lookup(page)!.type, PamtPageType.PT_NDA);
  });

  it('refuses once the vCPU is initialised', () => {
    const { env, tdr } = setup();
    const { tdvpr } = createVcpu(env, tdr);
    assert.equal(env.tdh.VP_ADDCX({ page: env.alloc.alloc4k(), tdvpr }).status, S.TDX_VCPU_STATE_INCORRECT);
  });

  it('checks the TDVPR (RDX) before the new page (RCX)', () => {
    const { env, tdr } = setup();
    const { tdvpr } = createVcpu(env, tdr, { until: 'create' });
    const page = env.alloc.alloc4k();
    assert.equal(env.tdh.VP_ADDCX({ page, tdvpr: tdr }).status, withOperand(S.TDX_PAGE_METADATA_INCORRECT, OperandId.RDX));
    assert.equal(env.tdh.VP_ADDCX({ page: page + 4n, tdvpr: tdvpr + 4n }).status, withOperand(S.TDX_OPERAND_INVALID, OperandId.RDX));
    assert.equal(env.tdh.VP_ADDCX({ page: page + 4n, tdvpr }).status, withOperand(S.TDX_OPERAND_INVALID, OperandId.RCX));
    const tdcs = env.module.td(tdr)!.tdcx[0]!;
    assert.equal(env.tdh.VP_ADDCX({ page: tdcs, tdvpr }).status, withOperand(S.TDX_PAGE_METADATA_INCORRECT, OperandId.RCX));
    // The owner TDR is locked implicitly: busy → OPERAND_BUSY | TDR.
    const release = env.module.locks.hold(LockKey.pamt(tdr >> 12n), 'exclusive');
    assert.equal(env.tdh.VP_ADDCX({ page, tdvpr }).status, withOperand(S.TDX_OPERAND_BUSY, OperandId.TDR));
    release();
    assert.ok(env.module.locks.idle());
  });
});

describe('TDH.VP.INIT', () => {
  it('sets the reset register image, READY, VCPU_INDEX and associates with the LP', () => {
    const { env, tdr } = setup();
    const td = env.module.td(tdr)!;
    const { tdvpr, vcpu } = createVcpu(env, tdr, { until: 'addcx', lp: 1 });
    // Dirty the guest registers first: INIT must clear everything it does not set.
    vcpu.cpu.regs.gpr.fill(0xdeadn);
    vcpu.cpu.regs.xmm.fill(0xbeefn);
    const r = env.on(1).VP_INIT({ tdvpr, initialRcx: 0x1234_5678_9abc_def0n }, { regs: sentinels() });
    assert.equal(r.status, S.TDX_SUCCESS);
    assertPreserved(r.regs, [Gpr.RCX, Gpr.RDX]);
    const g = vcpu.cpu.regs.toRecord();
    assert.deepEqual(g, {
      RAX: 0n,
      RCX: 0x1234_5678_9abc_def0n,
      RDX: FMS,
      RBX: 48n,
      RSP: 0n,
      RBP: 0n,
      RSI: 0n,
      RDI: 0n,
      R8: 0x1234_5678_9abc_def0n,
      R9: 0n,
      R10: 0n,
      R11: 0n,
      R12: 0n,
      R13: 0n,
      R14: 0n,
      R15: 0n,
    });
    assert.ok(vcpu.cpu.regs.xmm.every((x) => x === 0n));
    assert.equal(vcpu.cpu.rip, RESET_VECTOR);
    assert.equal(vcpu.state, VcpuState.VCPU_READY);
    assert.equal(vcpu.lastTdExit, LastTdExit.ASYNC_FAULT);
    assert.equal(vcpu.index, 0);
    assert.equal(vcpu.assocLp, 1);
    assert.equal(td.numVcpus, 1);
    assert.equal(td.numAssocVcpus, 1);
    assert.equal(td.vcpus[0], vcpu);
    assert.ok(env.module.locks.idle());
  });

  it('gives the next vCPU the next index (RSI) and RBX = 52 for a 52-bit GPAW TD', () => {
    const env = bringUp();
    const { tdr } = createTd(env, { maxVcpus: 3, gpaw52: true });
    createVcpu(env, tdr);
    const { vcpu } = createVcpu(env, tdr, { initialRcx: 7n });
    assert.equal(vcpu.index, 1);
    assert.equal(vcpu.cpu.regs.get('RSI'), 1n);
    assert.equal(vcpu.cpu.regs.get('RBX'), 52n);
    assert.equal(vcpu.cpu.regs.get('RCX'), 7n);
    assert.equal(env.module.td(tdr)!.numVcpus, 2);
  });

  it('needs a complete TDVPS', () => {
    const { env, tdr } = setup();
    const { tdvpr, vcpu } = createVcpu(env, tdr, { until: 'addcx', tdcxPages: 4 });
    assert.equal(env.tdh.VP_INIT({ tdvpr }).status, S.TDX_TDCX_NUM_INCORRECT);
    assert.equal(vcpu.state, VcpuState.VCPU_UNINITIALIZED);
    assert.equal(env.module.td(tdr)!.numVcpus, 0);
  });

  it('refuses a second INIT and more vCPUs than MAX_VCPUS', () => {
    const { env, tdr } = setup(1);
    const { tdvpr } = createVcpu(env, tdr);
    assert.equal(env.tdh.VP_INIT({ tdvpr }).status, S.TDX_VCPU_STATE_INCORRECT);
    const second = createVcpu(env, tdr, { until: 'addcx' });
    assert.equal(env.tdh.VP_INIT({ tdvpr: second.tdvpr }).status, S.TDX_MAX_VCPUS_EXCEEDED);
    assert.equal(second.vcpu.state, VcpuState.VCPU_UNINITIALIZED);
    assert.equal(env.module.td(tdr)!.numVcpus, 1);
    assert.equal(env.module.td(tdr)!.numAssocVcpus, 1);
  });

  it('checks the TDVPR operand (RCX) and the TD state', () => {
    const { env, tdr } = setup();
    assert.equal(env.tdh.VP_INIT({ tdvpr: tdr }).status, withOperand(S.TDX_PAGE_METADATA_INCORRECT, OperandId.RCX));
    assert.equal(env.tdh.VP_INIT({ tdvpr: 1n << 60n }).status, withOperand(S.TDX_OPERAND_INVALID, OperandId.RCX));
    const { tdvpr } = createVcpu(env, tdr, { until: 'addcx' });
    createVcpu(env, tdr);
    expectStatus(env.tdh.MR_FINALIZE({ tdr }), 'TDH.MR.FINALIZE');
    assert.equal(env.tdh.VP_INIT({ tdvpr }).status, S.TDX_OP_STATE_INCORRECT);
  });

  it('version 1 records a unique 32-bit x2APIC ID', () => {
    const { env, tdr } = setup(3);
    const td = env.module.td(tdr)!;
    const a = createVcpu(env, tdr, { x2apicId: 5n });
    assert.equal(a.vcpu.x2apicId, 5n);
    const b = createVcpu(env, tdr, { until: 'addcx' });
    const dup = env.tdh.VP_INIT({ tdvpr: b.tdvpr, x2apicId: 5n }, { version: 1 });
    assert.equal(dup.status, withOperand(S.TDX_X2APIC_ID_NOT_UNIQUE, 5));
    const wide = env.tdh.VP_INIT({ tdvpr: b.tdvpr, x2apicId: 1n << 32n }, { version: 1 });
    assert.equal(wide.status, withOperand(S.TDX_OPERAND_INVALID, OperandId.R8));
    assert.equal(b.vcpu.state, VcpuState.VCPU_UNINITIALIZED);
    assert.equal(td.numVcpus, 1);
    assert.equal(env.tdh.VP_INIT({ tdvpr: b.tdvpr, x2apicId: 6n }, { version: 1 }).status, S.TDX_SUCCESS);
    assert.equal(b.vcpu.x2apicId, 6n);
    assert.equal(td.topologyEnumConfigured, true);
    // A version-0 INIT leaves the topology unconfigured for the whole TD.
    createVcpu(env, tdr);
    assert.equal(td.topologyEnumConfigured, false);
  });

  it('a version-1 ID of 0 collides with a vCPU initialised by version 0', () => {
    const { env, tdr } = setup();
    createVcpu(env, tdr);
    const b = createVcpu(env, tdr, { until: 'addcx' });
    assert.equal(env.tdh.VP_INIT({ tdvpr: b.tdvpr, x2apicId: 0n }, { version: 1 }).status, withOperand(S.TDX_X2APIC_ID_NOT_UNIQUE, 0));
  });

  it('has no version 2', () => {
    const { env, tdr } = setup();
    const { tdvpr } = createVcpu(env, tdr, { until: 'addcx' });
    assert.equal(env.tdh.VP_INIT({ tdvpr }, { version: 2 }).status, withOperand(S.TDX_OPERAND_INVALID, OperandId.RAX));
  });
});

describe('TDH.VP.FLUSH and vCPU association', () => {
  it('flushes only on the associated LP, and VPFLUSHDONE waits for every vCPU', () => {
    const { env, tdr } = setup();
    const td = env.module.td(tdr)!;
    const a = createVcpu(env, tdr, { lp: 0 });
    const b = createVcpu(env, tdr, { lp: 2 });
    assert.equal(td.numAssocVcpus, 2);
    // The wrong LP cannot flush a vCPU another LP caches.
    assert.equal(env.on(1).VP_FLUSH({ tdvpr: a.tdvpr }).status, S.TDX_VCPU_NOT_ASSOCIATED);
    assert.equal(a.vcpu.assocLp, 0);
    assert.equal(env.tdh.MNG_VPFLUSHDONE({ tdr }).status, S.TDX_FLUSHVP_NOT_DONE);

    const r = env.on(0).VP_FLUSH({ tdvpr: a.tdvpr }, { regs: sentinels() });
    assert.equal(r.status, S.TDX_SUCCESS);
    assertPreserved(r.regs, [Gpr.RCX]);
    assert.equal(a.vcpu.assocLp, -1);
    assert.equal(td.numAssocVcpus, 1);
    // Already dissociated: nothing to flush.
    assert.equal(env.on(0).VP_FLUSH({ tdvpr: a.tdvpr }).status, S.TDX_VCPU_NOT_ASSOCIATED);
    assert.equal(env.tdh.MNG_VPFLUSHDONE({ tdr }).status, S.TDX_FLUSHVP_NOT_DONE);

    assert.equal(env.on(2).VP_FLUSH({ tdvpr: b.tdvpr }).status, S.TDX_SUCCESS);
    assert.equal(td.numAssocVcpus, 0);
    assert.equal(env.tdh.MNG_VPFLUSHDONE({ tdr }).status, S.TDX_SUCCESS);
    // The TD is now BLOCKED: its keys are no longer usable for a flush.
    assert.equal(env.on(2).VP_FLUSH({ tdvpr: b.tdvpr }).status, S.TDX_TD_KEYS_NOT_CONFIGURED);
    assert.ok(env.module.locks.idle());
  });

  it('forgets the last vCPU that ran on the LP', () => {
    const { env, tdr } = setup();
    const a = createVcpu(env, tdr);
    env.module.lpState[0]!.lastVcpu = a.vcpu;
    assert.equal(env.tdh.VP_FLUSH({ tdvpr: a.tdvpr }).status, S.TDX_SUCCESS);
    assert.equal(env.module.lpState[0]!.lastVcpu, undefined);
  });

  it('runs in any OP_STATE, needs a complete TDVPS, and checks its operand', () => {
    const { env, tdr } = setup();
    const a = createVcpu(env, tdr);
    const partial = createVcpu(env, tdr, { until: 'addcx', tdcxPages: 2 });
    assert.equal(env.tdh.VP_FLUSH({ tdvpr: partial.tdvpr }).status, S.TDX_TDCX_NUM_INCORRECT);
    assert.equal(env.tdh.VP_FLUSH({ tdvpr: tdr }).status, withOperand(S.TDX_PAGE_METADATA_INCORRECT, OperandId.RCX));
    const release = env.module.locks.hold(LockKey.pamt(a.tdvpr >> 12n), 'shared');
    assert.equal(env.tdh.VP_FLUSH({ tdvpr: a.tdvpr }).status, withOperand(S.TDX_OPERAND_BUSY, OperandId.RCX));
    release();
    expectStatus(env.tdh.MR_FINALIZE({ tdr }), 'TDH.MR.FINALIZE');
    assert.equal(env.tdh.VP_FLUSH({ tdvpr: a.tdvpr }).status, S.TDX_SUCCESS);
  });

  it('an uninitialised vCPU was never associated', () => {
    const { env, tdr } = setup();
    const { tdvpr } = createVcpu(env, tdr, { until: 'addcx' });
    assert.equal(env.tdh.VP_FLUSH({ tdvpr }).status, S.TDX_VCPU_NOT_ASSOCIATED);
  });
});
