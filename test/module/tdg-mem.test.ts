import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { bringUp, createTd, type CreatedTd, type ModuleEnv } from '../helpers/module-harness.ts';
import { addPage, addSeptPath, addVcpu, ARCH, finalize, gpaLevel, patternPage, septInfo, ST } from '../helpers/td-memory.ts';
import { LockKey } from '../../src/module/locks.ts';
import type { TdcallOutcome } from '../../src/module/context.ts';
import type { Vcpu } from '../../src/module/vcpu.ts';

const ACCEPT_LEAF = 6;
const RCX = 1n;

interface Running {
  env: ModuleEnv;
  t: CreatedTd;
  vcpu: Vcpu;
}

/** A RUNNABLE TD with one vCPU and the SEPT path for GPA 0 down to level `downTo`. */
function running(downTo = 1): Running {
  const env = bringUp();
  const t = createTd(env);
  addSeptPath(env, t, 0n, downTo);
  const tdvpr = addVcpu(env, t);
  finalize(env, t);
  return { env, t, vcpu: env.module.vcpu(tdvpr)! };
}

/** Run TDG.MEM.PAGE.ACCEPT as the guest with RCX = `rcx`, through the module's TDCALL table. */
function accept(s: Running, rcx: bigint): TdcallOutcome {
  const entry = s.env.module.tdcallLeaf(ACCEPT_LEAF);
  assert.ok(entry, 'TDG.MEM.PAGE.ACCEPT is dispatched');
  s.vcpu.cpu.regs.set('RCX', rcx);
  return entry.handler({ module: s.env.module, vcpu: s.vcpu, regs: s.vcpu.cpu.regs, version: 0 });
}

function aug(s: Running, gpa: bigint, level: number, page: bigint): void {
  assert.equal(s.env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(gpa, level), tdr: s.t.tdr, page }).status, ST.SUCCESS);
}

/** The async EPT-violation exit ACCEPT asks for (tdx-module.md §6.3, EEQ type ACCEPT). */
function violation(gpa: bigint, eeq: bigint, qual = 0x2n): TdcallOutcome {
  return {
    kind: 'exit',
    exit: {
      kind: 'async',
      status: 0n,
      exitReason: 48,
      exitQualification: qual,
      extExitQualification: eeq,
      gpa,
      interruptionInfo: 0n,
      retryInstruction: true,
    },
  };
}

/** EEQ of type ACCEPT: info {req_level[2:0], err_level[5:3], err_state[13:6], err_is_leaf[14]} << 32 | 1. */
function eeq(req: number, errLevel: number, state: number, leaf: boolean): bigint {
  const info = BigInt(req) | (BigInt(errLevel) << 3n) | (BigInt(state) << 6n) | ((leaf ? 1n : 0n) << 14n);
  return (info << 32n) | 1n;
}

describe('TDG.MEM.PAGE.ACCEPT: success', () => {
  test('4K: the PENDING page is zeroed with the TD key and becomes MAPPED', () => {
    const s = running();
    const page = s.env.alloc.alloc4k();
    s.env.platform.memory.write(page, patternPage(7), s.t.hkid); // stale TD-key data must not survive
    aug(s, 0x6000n, 0, page);
    assert.deepEqual(accept(s, gpaLevel(0x6000n, 0)), { kind: 'status', status: ST.SUCCESS });
    assert.deepEqual(s.env.platform.memory.read(page, 4096, s.t.hkid), new Uint8Array(4096));
    const rd = s.env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(0x6000n, 0), tdr: s.t.tdr });
    assert.deepEqual([rd.status, rd.regs.get('RCX'), rd.regs.get('RDX')], [ST.SUCCESS, ARCH.MAPPED | page, septInfo(0, 4)]);
    assert.deepEqual(s.t.td.sept!.translate(0x6123n), { kind: 'mapped', hpa: page + 0x123n, level: 0 });
    assert.equal(s.env.module.locks.idle(), true);
  });

  test('2M: all 512 pages zeroed, one MAPPED level-1 leaf', () => {
    const s = running(2);
    const page = s.env.alloc.alloc2m();
    s.env.platform.memory.write(page + 0x1f_f000n, patternPage(8), s.t.hkid);
    aug(s, 0x20_0000n, 1, page);
    assert.deepEqual(accept(s, gpaLevel(0x20_0000n, 1)), { kind: 'status', status: ST.SUCCESS });
    assert.deepEqual(s.env.platform.memory.read(page + 0x1f_f000n, 4096, s.t.hkid), new Uint8Array(4096));
    const rd = s.env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(0x20_0000n, 1), tdr: s.t.tdr });
    assert.deepEqual([rd.status, rd.regs.get('RCX'), rd.regs.get('RDX')], [ST.SUCCESS, ARCH.MAPPED | page, septInfo(1, 4)]);
  });
});

describe('TDG.MEM.PAGE.ACCEPT: warnings and errors', () => {
  test('a page already accepted (or added) → PAGE_ALREADY_ACCEPTED | level', () => {
    const s = running();
    aug(s, 0n, 0, s.env.alloc.alloc4k());
    accept(s, gpaLevel(0n, 0));
    assert.deepEqual(accept(s, gpaLevel(0n, 0)), { kind: 'status', status: ST.PAGE_ALREADY_ACCEPTED | 0n });
  });

  test('a 4K accept inside an accepted 2M page → PAGE_ALREADY_ACCEPTED | 1 (the level found)', () => {
    const s = running(2);
    aug(s, 0n, 1, s.env.alloc.alloc2m());
    accept(s, gpaLevel(0n, 1));
    assert.deepEqual(accept(s, gpaLevel(0x5000n, 0)), { kind: 'status', status: ST.PAGE_ALREADY_ACCEPTED | 1n });
  });

  test('a 2M accept where a SEPT page maps 4K pages → PAGE_SIZE_MISMATCH | 1', () => {
    const s = running(1);
    assert.deepEqual(accept(s, gpaLevel(0n, 1)), { kind: 'status', status: ST.PAGE_SIZE_MISMATCH | 1n });
  });

  test('bad GPA|level: reserved bits, level 2, misaligned, shared or too wide → OPERAND_INVALID | RCX', () => {
    const s = running();
    const invalid = { kind: 'status', status: ST.OPERAND_INVALID | RCX };
    assert.deepEqual(accept(s, gpaLevel(0n, 0) | 0x100n), invalid);
    assert.deepEqual(accept(s, gpaLevel(0n, 2)), invalid);
    assert.deepEqual(accept(s, gpaLevel(0x1000n, 1)), invalid);
    assert.deepEqual(accept(s, gpaLevel(1n << 47n, 0)), invalid);
    assert.deepEqual(accept(s, gpaLevel(1n << 48n, 0)), invalid);
  });

  test('the entry locked by the host → OPERAND_BUSY | RCX, also when the host asked for priority', () => {
    const s = running();
    aug(s, 0n, 0, s.env.alloc.alloc4k());
    const key = LockKey.septEntry(s.t.td.tdrPfn, 0n, 0);
    const release = s.env.module.locks.hold(key, 'exclusive');
    assert.deepEqual(accept(s, gpaLevel(0n, 0)), { kind: 'status', status: ST.OPERAND_BUSY | RCX });
    // A host leaf fails on the entry and sets the host-priority flag; the holder then lets go.
    assert.equal(s.env.module.locks.acquire(key, 'exclusive', 'host'), 'busy');
    release();
    assert.deepEqual(accept(s, gpaLevel(0n, 0)), { kind: 'status', status: ST.OPERAND_BUSY | RCX });
    // The host takes and releases the entry: priority cleared, the guest's retry succeeds.
    assert.equal(s.env.module.locks.acquire(key, 'exclusive', 'host'), 'ok');
    s.env.module.locks.release(key, 'exclusive');
    assert.deepEqual(accept(s, gpaLevel(0n, 0)), { kind: 'status', status: ST.SUCCESS });
  });
});

describe('TDG.MEM.PAGE.ACCEPT: EPT-violation TD exits (EEQ type ACCEPT)', () => {
  test('no page at the level (FREE leaf entry)', () => {
    const s = running();
    assert.deepEqual(accept(s, gpaLevel(0x3000n, 0)), violation(0x3000n, eeq(0, 0, 0, false)));
    assert.equal(s.env.module.locks.idle(), true);
  });

  test('no SEPT page yet: the walk stops at the FREE level-1 entry', () => {
    const s = running(2);
    assert.deepEqual(accept(s, gpaLevel(0x3000n, 0)), violation(0x3000n, eeq(0, 1, 0, false)));
  });

  test('a PENDING 2M page for a 4K request', () => {
    const s = running(2);
    aug(s, 0n, 1, s.env.alloc.alloc2m());
    assert.deepEqual(accept(s, gpaLevel(0x7000n, 0)), violation(0x7000n, eeq(0, 1, 2, true)));
  });

  test('a blocked page, and a page under a blocked SEPT page', () => {
    const s = running();
    aug(s, 0n, 0, s.env.alloc.alloc4k());
    s.env.tdh.MEM_RANGE_BLOCK({ gpaLevel: gpaLevel(0n, 0), tdr: s.t.tdr });
    assert.deepEqual(accept(s, gpaLevel(0n, 0)), violation(0n, eeq(0, 0, 3, true)));
    s.env.tdh.MEM_RANGE_BLOCK({ gpaLevel: gpaLevel(0n, 1), tdr: s.t.tdr });
    assert.deepEqual(accept(s, gpaLevel(0x1000n, 0)), violation(0x1000n, eeq(0, 1, 0x81, false)));
  });

  test('a 2M request with no level-1 SEPT entry above it', () => {
    const s = running(3);
    assert.deepEqual(accept(s, gpaLevel(0x20_0000n, 1)), violation(0x20_0000n, eeq(1, 2, 0, false)));
  });

  test('a page added by PAGE.ADD is already accepted', () => {
    const env = bringUp();
    const t = createTd(env);
    addSeptPath(env, t, 0n);
    addPage(env, t, 0x8000n);
    const tdvpr = addVcpu(env, t);
    finalize(env, t);
    const s = { env, t, vcpu: env.module.vcpu(tdvpr)! };
    assert.deepEqual(accept(s, gpaLevel(0x8000n, 0)), { kind: 'status', status: ST.PAGE_ALREADY_ACCEPTED });
  });
});
