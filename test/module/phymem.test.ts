import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bringUp, cacheWbAll, createTd, tdmrWithPamt, teardownTd, type ModuleEnv, type CreatedTd } from '../helpers/module-harness.ts';
import { TdxStatus, OperandId, withOperand } from '../../src/abi/status.ts';
import { KotState, TdLifecycle } from '../../src/abi/lifecycle.ts';
import { PamtPageType, SIZE_1G } from '../../src/abi/pamt.ts';
import { RegisterFile } from '../../src/abi/registers.ts';
import { LockKey } from '../../src/module/locks.ts';
import { Vcpu } from '../../src/module/vcpu.ts';

const S = TdxStatus;
const MiB = 1n << 20n;
const rcx = (code: bigint) => withOperand(code, OperandId.RCX);

function junkRegs(): RegisterFile {
  const r = new RegisterFile();
  for (let i = 0; i < 16; i++) r.gpr[i] = 0x3333_0000_0000_0000n + BigInt(i);
  return r;
}

/** RCX, RDX, R8, R9, R10, R11 after a call. */
const outs = (regs: RegisterFile) => ['RCX', 'RDX', 'R8', 'R9', 'R10', 'R11'].map((n) => regs.get(n as 'RCX'));

/** Give the TD a private page at `level` (stands in for MEM.PAGE.ADD/AUG, which other leaves own). */
function addPrivatePage(env: ModuleEnv, td: CreatedTd, level: 0 | 1): bigint {
  const pa = level === 0 ? env.alloc.alloc4k() : env.alloc.alloc2m();
  env.module.pamt.set(pa, level, PamtPageType.PT_REG, td.tdr);
  td.td.childCount += 512n ** BigInt(level);
  return pa;
}

describe('TDH.PHYMEM.PAGE.RDMD', () => {
  test('free, TDR, TDCX and reserved pages: RCX type, RDX owner, R8 level, R9–R11 = 0', () => {
    const env = bringUp();
    const built = createTd(env);
    const free = env.alloc.alloc4k();
    const call = (page: bigint) => env.tdh.PHYMEM_PAGE_RDMD({ page }, { regs: junkRegs() });
    let r = call(free);
    assert.equal(r.status, S.TDX_SUCCESS);
    assert.deepEqual(outs(r.regs), [0n, 0n, 0n, 0n, 0n, 0n]);
    assert.equal(r.regs.get('R12'), 0x3333_0000_0000_000cn);
    r = call(built.tdr);
    assert.deepEqual(outs(r.regs), [4n, 0n, 0n, 0n, 0n, 0n]);
    r = call(built.tdcx[0]!);
    assert.deepEqual(outs(r.regs), [5n, built.tdr, 0n, 0n, 0n, 0n]);
  });

  test('BEPOCH is reported for private and SEPT pages only; a 2M page is reported at level 1', () => {
    const env = bringUp();
    const built = createTd(env);
    const p4k = addPrivatePage(env, built, 0);
    env.module.pamt.setBepoch(p4k, 0, 7n);
    let r = env.tdh.PHYMEM_PAGE_RDMD({ page: p4k });
    assert.deepEqual(outs(r.regs), [3n, built.tdr, 0n, 7n, 0n, 0n]);
    env.module.pamt.setBepoch(built.tdcx[1]!, 0, 9n);
    r = env.tdh.PHYMEM_PAGE_RDMD({ page: built.tdcx[1]! });
    assert.deepEqual(outs(r.regs), [5n, built.tdr, 0n, 0n, 0n, 0n]);
    const p2m = addPrivatePage(env, built, 1);
    r = env.tdh.PHYMEM_PAGE_RDMD({ page: p2m + 5n * 4096n });
    assert.deepEqual(outs(r.regs), [3n, built.tdr, 1n, 0n, 0n, 0n]);
  });

  test('a page in a reserved area reads as PT_RSVD', () => {
    const env = bringUp({ tdmrs: [tdmrWithPamt(SIZE_1G, SIZE_1G, 64n * MiB, [{ offset: 0n, size: 4n * MiB }])] });
    const r = env.tdh.PHYMEM_PAGE_RDMD({ page: SIZE_1G + 4096n });
    assert.deepEqual(outs(r.regs), [1n, 0n, 0n, 0n, 0n, 0n]);
  });

  test('errors: alignment, KeyID bits, outside TDMRs, entry locked exclusively — outputs all 0', () => {
    const env = bringUp();
    const page = env.alloc.alloc4k();
    const keyBits = 1n << BigInt(env.platform.keyIdShift);
    const cases: [bigint, bigint][] = [
      [page + 8n, 0xc000_0100_0000_0001n],
      [page | keyBits, rcx(S.TDX_OPERAND_INVALID)],
      [1n << 52n, rcx(S.TDX_OPERAND_INVALID)],
      [env.shared.alloc4k(), 0xc000_0101_0000_0001n],
    ];
    for (const [pa, status] of cases) {
      const r = env.tdh.PHYMEM_PAGE_RDMD({ page: pa }, { regs: junkRegs() });
      assert.equal(r.status, status);
      assert.deepEqual(outs(r.regs), [0n, 0n, 0n, 0n, 0n, 0n]);
    }
    let release = env.module.locks.hold(LockKey.pamt(page >> 12n), 'exclusive');
    assert.equal(env.tdh.PHYMEM_PAGE_RDMD({ page }).status, 0x8000_0200_0000_0001n);
    release();
    release = env.module.locks.hold(LockKey.pamt(page >> 12n), 'shared');
    assert.equal(env.tdh.PHYMEM_PAGE_RDMD({ page }).status, S.TDX_SUCCESS);
    release();
  });
});

/** A TD in TEARDOWN (no vCPUs), with its CreatedTd. */
function tornDown(env: ModuleEnv): CreatedTd {
  const built = createTd(env);
  assert.equal(env.tdh.MNG_VPFLUSHDONE({ tdr: built.tdr }).status, S.TDX_SUCCESS);
  cacheWbAll(env);
  assert.equal(env.tdh.MNG_KEY_FREEID({ tdr: built.tdr }).status, S.TDX_SUCCESS);
  return built;
}

describe('TDH.PHYMEM.PAGE.RECLAIM', () => {
  test('only from a TD in TEARDOWN; the outputs are reported even then', () => {
    const env = bringUp();
    const built = createTd(env);
    const r = env.tdh.PHYMEM_PAGE_RECLAIM({ page: built.tdcx[0]! }, { regs: junkRegs() });
    assert.equal(r.status, 0xc000_0607_0000_0000n);
    assert.deepEqual(outs(r.regs), [5n, built.tdr, 0n, 0n, 0n, 0n]);
    const t = env.tdh.PHYMEM_PAGE_RECLAIM({ page: built.tdr }, { regs: junkRegs() });
    assert.equal(t.status, S.TDX_LIFECYCLE_STATE_INCORRECT);
    assert.deepEqual(outs(t.regs), [4n, 0n, 0n, 0n, 0n, 0n]);
    assert.equal(env.module.pamt.lookup(built.tdcx[0]!)!.type, PamtPageType.PT_TDCX);
  });

  test('TDCX pages, then the TDR; the TDR first → TDX_TD_ASSOCIATED_PAGES_EXIST', () => {
    const env = bringUp();
    const built = tornDown(env);
    const early = env.tdh.PHYMEM_PAGE_RECLAIM({ page: built.tdr }, { regs: junkRegs() });
    assert.equal(early.status, 0xc000_0400_0000_0000n);
    assert.deepEqual(outs(early.regs), [4n, 0n, 0n, 0n, 0n, 0n]);
    for (const page of built.tdcx) {
      const r = env.tdh.PHYMEM_PAGE_RECLAIM({ page }, { regs: junkRegs() });
      assert.equal(r.status, S.TDX_SUCCESS);
      assert.deepEqual(outs(r.regs), [5n, built.tdr, 0n, 0n, 0n, 0n]);
      assert.equal(env.module.pamt.lookup(page)!.type, PamtPageType.PT_NDA);
    }
    assert.equal(built.td.childCount, 0n);
    const last = env.tdh.PHYMEM_PAGE_RECLAIM({ page: built.tdr });
    assert.equal(last.status, S.TDX_SUCCESS);
    assert.deepEqual(outs(last.regs).slice(0, 3), [4n, 0n, 0n]);
    assert.equal(env.module.td(built.tdr), undefined);
  });

  test('a 2M page: named by its first byte, counts 512 children', () => {
    const env = bringUp();
    const built = createTd(env);
    const p2m = addPrivatePage(env, built, 1);
    assert.equal(built.td.childCount, 6n + 512n);
    assert.equal(env.tdh.MNG_VPFLUSHDONE({ tdr: built.tdr }).status, S.TDX_SUCCESS);
    cacheWbAll(env);
    assert.equal(env.tdh.MNG_KEY_FREEID({ tdr: built.tdr }).status, S.TDX_SUCCESS);
    const inner = env.tdh.PHYMEM_PAGE_RECLAIM({ page: p2m + 4096n });
    assert.equal(inner.status, rcx(S.TDX_OPERAND_INVALID));
    assert.deepEqual(outs(inner.regs), [3n, built.tdr, 1n, 0n, 0n, 0n]);
    const r = env.tdh.PHYMEM_PAGE_RECLAIM({ page: p2m });
    assert.equal(r.status, S.TDX_SUCCESS);
    assert.deepEqual(outs(r.regs), [3n, built.tdr, 1n, 0n, 0n, 0n]);
    assert.equal(built.td.childCount, 6n);
    assert.ok(env.module.pamt.rangeFree(p2m, 512));
  });

  test('free and reserved pages → PAGE_METADATA_INCORRECT|RCX; operand errors; busy entries', () => {
    const env = bringUp();
    const built = tornDown(env);
    const free = env.alloc.alloc4k();
    const check = (page: bigint, status: bigint) => {
      const r = env.tdh.PHYMEM_PAGE_RECLAIM({ page }, { regs: junkRegs() });
      assert.equal(r.status, status);
      assert.deepEqual(outs(r.regs), [0n, 0n, 0n, 0n, 0n, 0n]);
    };
    check(free, 0xc000_0300_0000_0001n);
    check(free + 4n, rcx(S.TDX_OPERAND_INVALID));
    check(free | (3n << BigInt(env.platform.keyIdShift)), rcx(S.TDX_OPERAND_INVALID));
    check(env.shared.alloc4k(), rcx(S.TDX_OPERAND_ADDR_RANGE_ERROR));
    const page = built.tdcx[0]!;
    let release = env.module.locks.hold(LockKey.pamt(page >> 12n), 'shared');
    check(page, 0x8000_0200_0000_0001n);
    release();
    // The owner TDR (an implicit operand) is taken shared: an exclusive holder makes it busy.
    release = env.module.locks.hold(LockKey.pamt(built.tdr >> 12n), 'exclusive');
    const r = env.tdh.PHYMEM_PAGE_RECLAIM({ page });
    assert.equal(r.status, 0x8000_0200_0000_0080n);
    assert.deepEqual(outs(r.regs), [5n, built.tdr, 0n, 0n, 0n, 0n]);
    release();
    assert.equal(env.module.pamt.lookup(page)!.type, PamtPageType.PT_TDCX);
    assert.ok(env.module.locks.idle());
  });

  test('reclaiming the TDR forgets its vCPUs; reclaiming a TDVPR forgets that vCPU', () => {
    const env = bringUp();
    const built = tornDown(env);
    const tdvpr = env.alloc.alloc4k();
    const other = env.alloc.alloc4k();
    // Stand-ins for VP.CREATE (owned by another leaf family).
    for (const pa of [tdvpr, other]) {
      env.module.vcpus.set(pa, new Vcpu(pa, built.td));
      env.module.pamt.set(pa, 0, PamtPageType.PT_TDVPR, built.tdr);
      built.td.childCount++;
    }
    assert.equal(env.tdh.PHYMEM_PAGE_RECLAIM({ page: tdvpr }).status, S.TDX_SUCCESS);
    assert.equal(env.module.vcpu(tdvpr), undefined);
    assert.ok(env.module.vcpu(other));
    env.module.pamt.free(other, 0);
    built.td.childCount--;
    for (const page of built.tdcx) env.tdh.PHYMEM_PAGE_RECLAIM({ page });
    assert.equal(env.tdh.PHYMEM_PAGE_RECLAIM({ page: built.tdr }).status, S.TDX_SUCCESS);
    assert.equal(env.module.vcpus.size, 0);
  });
});

describe('TDH.PHYMEM.CACHE.WB', () => {
  test('no FLUSHED HKID → TDX_NO_HKID_READY_TO_WBCACHE (a warning); RCX > 1 → OPERAND_INVALID|RCX', () => {
    const env = bringUp();
    createTd(env);
    assert.equal(env.tdh.PHYMEM_CACHE_WB({ resume: 0n }).status, 0x0000_0821_0000_0000n);
    assert.equal(env.tdh.PHYMEM_CACHE_WB({ resume: 2n }).status, rcx(S.TDX_OPERAND_INVALID));
  });

  test('interrupted once, then resumed to completion; clears only this package', () => {
    const env = bringUp();
    const built = createTd(env);
    env.tdh.MNG_VPFLUSHDONE({ tdr: built.tdr });
    const regs = junkRegs();
    regs.set('RCX', 0n);
    const first = env.on(0).PHYMEM_CACHE_WB({ resume: 0n }, { regs });
    assert.equal(first.status, 0x8000_0003_0000_0000n);
    assert.equal(first.regs.get('RDX'), 0x3333_0000_0000_0002n);
    assert.equal(env.module.kot.wbt[0]!.intrPoint, 2);
    assert.deepEqual([...env.module.kot.pendingPackages(built.hkid)].sort(), [0, 1]);
    // Package 1 has nothing to resume.
    assert.equal(env.on(2).PHYMEM_CACHE_WB({ resume: 1n }).status, 0xc000_0823_0000_0000n);
    // LP 1 is on package 0: it may resume package 0's run.
    assert.equal(env.on(1).PHYMEM_CACHE_WB({ resume: 1n }).status, S.TDX_SUCCESS);
    assert.deepEqual([...env.module.kot.pendingPackages(built.hkid)], [1]);
    assert.equal(env.on(0).PHYMEM_CACHE_WB({ resume: 1n }).status, S.TDX_WBCACHE_RESUME_ERROR);
    assert.deepEqual(cacheWbAll(env), [2, 2]);
    assert.equal(env.module.kot.pendingPackages(built.hkid).size, 0);
  });

  test('a run writes back the HKIDs that were FLUSHED when it started', () => {
    const env = bringUp();
    const a = createTd(env);
    const b = createTd(env);
    env.tdh.MNG_VPFLUSHDONE({ tdr: a.tdr });
    assert.equal(env.tdh.PHYMEM_CACHE_WB({ resume: 0n }).status, S.TDX_INTERRUPTED_RESUMABLE);
    env.tdh.MNG_VPFLUSHDONE({ tdr: b.tdr });
    assert.equal(env.tdh.PHYMEM_CACHE_WB({ resume: 1n }).status, S.TDX_SUCCESS);
    assert.deepEqual([...env.module.kot.pendingPackages(a.hkid)], [1]);
    assert.deepEqual([...env.module.kot.pendingPackages(b.hkid)].sort(), [0, 1]);
  });

  test('a new start discards an interrupted run', () => {
    const env = bringUp();
    const a = createTd(env);
    env.tdh.MNG_VPFLUSHDONE({ tdr: a.tdr });
    env.module.kot.cacheSubBlocks = 6;
    assert.equal(env.tdh.PHYMEM_CACHE_WB({ resume: 0n }).status, S.TDX_INTERRUPTED_RESUMABLE);
    assert.equal(env.tdh.PHYMEM_CACHE_WB({ resume: 1n }).status, S.TDX_INTERRUPTED_RESUMABLE);
    assert.equal(env.module.kot.wbt[0]!.intrPoint, 4);
    assert.equal(env.tdh.PHYMEM_CACHE_WB({ resume: 0n }).status, S.TDX_INTERRUPTED_RESUMABLE);
    assert.equal(env.module.kot.wbt[0]!.intrPoint, 2);
  });

  test('package mutex busy → OPERAND_BUSY|WBCACHE; KOT held exclusively → OPERAND_BUSY|KOT', () => {
    const env = bringUp();
    const a = createTd(env);
    env.tdh.MNG_VPFLUSHDONE({ tdr: a.tdr });
    let release = env.module.locks.hold(LockKey.wbcache(0), 'exclusive');
    assert.equal(env.tdh.PHYMEM_CACHE_WB({ resume: 0n }).status, 0x8000_0200_0000_00bcn);
    release();
    release = env.module.locks.hold(LockKey.KOT, 'exclusive');
    assert.equal(env.tdh.PHYMEM_CACHE_WB({ resume: 0n }).status, withOperand(S.TDX_OPERAND_BUSY, OperandId.KOT));
    release();
    release = env.module.locks.hold(LockKey.KOT, 'shared');
    assert.equal(env.tdh.PHYMEM_CACHE_WB({ resume: 0n }).status, S.TDX_INTERRUPTED_RESUMABLE);
    release();
    assert.ok(env.module.locks.idle());
  });
});

describe('TDH.PHYMEM.PAGE.WBINVD', () => {
  test('a free page with any KeyID in the upper PA bits succeeds; registers untouched', () => {
    const env = bringUp();
    const page = env.alloc.alloc4k();
    const pa = page | (BigInt(env.nextHkid()) << BigInt(env.platform.keyIdShift));
    const regs = junkRegs();
    const r = env.tdh.PHYMEM_PAGE_WBINVD({ page: pa }, { regs });
    assert.equal(r.status, S.TDX_SUCCESS);
    assert.equal(r.regs.get('RCX'), pa);
    assert.equal(r.regs.get('RDX'), 0x3333_0000_0000_0002n);
  });

  test('the page must be free: a TDR → PAGE_METADATA_INCORRECT|RCX; and operand checks', () => {
    const env = bringUp();
    const built = createTd(env, { until: 'create' });
    const key = BigInt(built.hkid) << BigInt(env.platform.keyIdShift);
    assert.equal(env.tdh.PHYMEM_PAGE_WBINVD({ page: built.tdr | key }).status, 0xc000_0300_0000_0001n);
    const page = env.alloc.alloc4k();
    assert.equal(env.tdh.PHYMEM_PAGE_WBINVD({ page: page + 64n }).status, rcx(S.TDX_OPERAND_INVALID));
    assert.equal(env.tdh.PHYMEM_PAGE_WBINVD({ page: 1n << 52n }).status, rcx(S.TDX_OPERAND_INVALID));
    assert.equal(env.tdh.PHYMEM_PAGE_WBINVD({ page: env.shared.alloc4k() | key }).status, rcx(S.TDX_OPERAND_ADDR_RANGE_ERROR));
    const release = env.module.locks.hold(LockKey.pamt(page >> 12n), 'exclusive');
    assert.equal(env.tdh.PHYMEM_PAGE_WBINVD({ page: page | key }).status, rcx(S.TDX_OPERAND_BUSY));
    release();
  });
});

describe('teardown end to end', () => {
  test('bring-up → create → VPFLUSHDONE → CACHE.WB → FREEID → reclaim: PAMT census and KOT back to initial', () => {
    const env = bringUp();
    const initialCensus = env.module.pamt.census();
    const initialKot = env.module.kot.census();
    const built = createTd(env);
    assert.equal(env.module.pamt.census().get(PamtPageType.PT_TDCX), 6);
    assert.equal(env.tdh.MNG_VPFLUSHDONE({ tdr: built.tdr }).status, S.TDX_SUCCESS);
    assert.equal(built.td.lifecycle, TdLifecycle.TD_BLOCKED);
    assert.deepEqual(cacheWbAll(env), [2, 2]);
    assert.equal(env.tdh.MNG_KEY_FREEID({ tdr: built.tdr }).status, S.TDX_SUCCESS);
    for (const page of built.tdcx) assert.equal(env.tdh.PHYMEM_PAGE_RECLAIM({ page }).status, S.TDX_SUCCESS);
    assert.equal(env.tdh.PHYMEM_PAGE_RECLAIM({ page: built.tdr }).status, S.TDX_SUCCESS);
    for (const page of [...built.tdcx, built.tdr]) {
      assert.equal(env.tdh.PHYMEM_PAGE_WBINVD({ page: page | (BigInt(env.globalHkid) << BigInt(env.platform.keyIdShift)) }).status, S.TDX_SUCCESS);
    }
    assert.deepEqual(env.module.pamt.census(), initialCensus);
    assert.deepEqual(env.module.kot.census(), initialKot);
    assert.equal(env.module.kot.state(built.hkid), KotState.HKID_FREE);
    assert.equal(env.module.tds.size, 0);
    assert.ok(env.module.locks.idle());
  });

  test('teardownTd helper returns every page to the allocator', () => {
    const env = bringUp();
    const before = env.alloc.count;
    const built = createTd(env);
    teardownTd(env, built, built.tdcx);
    assert.equal(env.alloc.count, before);
    assert.equal(env.module.pamt.census().size, 0);
  });
});
