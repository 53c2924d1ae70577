import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kot, programKey, CACHE_WB_SUB_BLOCKS, CACHE_WB_SUB_BLOCKS_PER_CALL } from '../../src/module/kot.ts';
import { KotState, MAX_HKIDS } from '../../src/abi/lifecycle.ts';
import { TdxStatus } from '../../src/abi/status.ts';
import { LockKey } from '../../src/module/locks.ts';
import { bringUp } from '../helpers/module-harness.ts';

describe('Kot', () => {
  test('every HKID starts FREE; the write-back table has one idle entry per package', () => {
    const kot = new Kot(3);
    assert.equal(kot.state(0), KotState.HKID_FREE);
    assert.equal(kot.state(MAX_HKIDS - 1), KotState.HKID_FREE);
    assert.equal(kot.state(MAX_HKIDS + 5), KotState.HKID_FREE);
    assert.equal(kot.wbt.length, 3);
    assert.ok(kot.wbt.every((e) => e.intrPoint === 0 && e.hkidFlushed.size === 0));
    assert.equal(kot.census().size, 0);
    assert.equal(kot.cacheSubBlocks, CACHE_WB_SUB_BLOCKS);
    assert.equal(kot.subBlocksPerCall, CACHE_WB_SUB_BLOCKS_PER_CALL);
  });

  test('FREE → ASSIGNED → FLUSHED (all packages pending) → written back per package → FREE', () => {
    const kot = new Kot(2);
    kot.reserve(16);
    kot.assign(17);
    assert.equal(kot.state(16), KotState.HKID_RESERVED);
    assert.equal(kot.state(17), KotState.HKID_ASSIGNED);
    assert.equal(kot.pendingPackages(17).size, 0);
    kot.flush(17, [0, 1]);
    assert.equal(kot.state(17), KotState.HKID_FLUSHED);
    assert.deepEqual(kot.flushed(), [17]);
    assert.deepEqual([...kot.pendingPackages(17)], [0, 1]);
    kot.writtenBack(17, 1);
    kot.writtenBack(17, 1);
    assert.deepEqual([...kot.pendingPackages(17)], [0]);
    kot.writtenBack(17, 0);
    assert.equal(kot.pendingPackages(17).size, 0);
    assert.equal(kot.state(17), KotState.HKID_FLUSHED, 'write-back alone does not free the HKID');
    kot.free(17);
    assert.equal(kot.state(17), KotState.HKID_FREE);
    assert.deepEqual(kot.flushed(), []);
    assert.deepEqual([...kot.census()], [[KotState.HKID_RESERVED, 1]]);
  });

  test('flushed() lists FLUSHED HKIDs in ascending order; the pending set is a copy of the input', () => {
    const kot = new Kot(1);
    const pkgs = new Set([0]);
    kot.flush(40, pkgs);
    kot.flush(20, pkgs);
    pkgs.clear();
    assert.deepEqual(kot.flushed(), [20, 40]);
    assert.deepEqual([...kot.pendingPackages(40)], [0]);
    assert.deepEqual([...kot.census()], [[KotState.HKID_FLUSHED, 2]]);
  });
});

describe('programKey (PCONFIG)', () => {
  test('programs the key on the first package of a round; KET busy → OPERAND_BUSY|KET', () => {
    const env = bringUp({ until: 'lpinit' });
    const hkid = env.platform.firstTdxKeyId + 3;
    const pa = 64n << 20n;
    const lp2 = env.lps[2]!;
    const release = env.module.locks.hold(LockKey.ket(1), 'exclusive');
    assert.equal(programKey(env.module, lp2, hkid, true), 0x8000_0200_0000_00bbn);
    // Package 0's engine is independent.
    assert.equal(programKey(env.module, env.lps[0]!, hkid, true), TdxStatus.TDX_SUCCESS);
    release();
    env.platform.memory.write(pa, new Uint8Array(64).fill(1), hkid);
    // A later package of the same round keeps the key (data stays readable).
    assert.equal(programKey(env.module, lp2, hkid, false), TdxStatus.TDX_SUCCESS);
    assert.deepEqual(env.platform.memory.read(pa, 64, hkid), new Uint8Array(64).fill(1));
    assert.ok(env.module.locks.idle());
  });
});
