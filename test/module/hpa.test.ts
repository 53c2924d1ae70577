import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isPrivateHpa, isSharedHpa, keyIdOf, lockExplicitPage, readShared, withoutKeyId, writeShared } from '../../src/module/hpa.ts';
import { LockScope } from '../../src/module/lock-scope.ts';
import { LockKey } from '../../src/module/locks.ts';
import { PamtPageType, type PamtPageTypeValue } from '../../src/abi/pamt.ts';
import { TdxStatus, OperandId, withOperand } from '../../src/abi/status.ts';
import { bringUp } from '../helpers/module-harness.ts';

describe('HPA checks', () => {
  const env = bringUp();
  const p = env.platform;
  const shift = BigInt(p.keyIdShift);

  test('KeyID bits sit just below MAX_PA', () => {
    assert.equal(p.keyIdShift, 52 - 6);
    const pa = 0x1234_5000n | (21n << shift);
    assert.equal(keyIdOf(p, pa), 21);
    assert.equal(withoutKeyId(p, pa), 0x1234_5000n);
    assert.equal(keyIdOf(p, 0x1234_5000n), 0);
  });

  test('a private HPA: aligned, KeyID 0, below 2^MAX_PA', () => {
    assert.ok(isPrivateHpa(p, 0x4000n, 4096n));
    assert.ok(!isPrivateHpa(p, 0x4100n, 4096n));
    assert.ok(!isPrivateHpa(p, 0x4000n | (1n << shift), 4096n));
    assert.ok(!isPrivateHpa(p, 1n << 52n, 4096n));
  });

  test('a shared HPA: aligned, below 2^MAX_PA, KeyID below the first private KeyID', () => {
    assert.ok(isSharedHpa(p, 0x4000n, 1024n));
    assert.ok(isSharedHpa(p, 0x4000n | (BigInt(p.mktmeKeyIds) << shift), 1024n));
    assert.ok(!isSharedHpa(p, 0x4000n | (BigInt(p.firstTdxKeyId) << shift), 1024n));
    assert.ok(!isSharedHpa(p, 0x4200n, 1024n));
    assert.ok(!isSharedHpa(p, 1n << 52n, 1024n));
  });

  test('shared reads and writes use the KeyID in the PA; memory holes read as ones and drop writes', () => {
    const page = env.shared.alloc4k();
    writeShared(p, page | (2n << shift), new Uint8Array([1, 2, 3]));
    assert.deepEqual(readShared(p, page | (2n << shift), 3), new Uint8Array([1, 2, 3]));
    assert.deepEqual(p.memory.read(page, 3, 2), new Uint8Array([1, 2, 3]));
    const hole = 1n << 40n;
    assert.deepEqual(readShared(p, hole, 4), new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    writeShared(p, hole, new Uint8Array(8));
  });
});

describe('lockExplicitPage', () => {
  test('checks in order and holds the entry lock in the scope on success', () => {
    const env = bringUp();
    const m = env.module;
    const page = env.alloc.alloc4k();
    const scope = new LockScope(m.locks);
    const op = OperandId.R8;
    const fail = (pa: bigint, expected: PamtPageTypeValue = PamtPageType.PT_NDA) => {
      const r = lockExplicitPage(scope, m, pa, op, 'exclusive', expected);
      return r.ok ? 'ok' : r.status;
    };
    assert.equal(fail(page + 1n), withOperand(TdxStatus.TDX_OPERAND_INVALID, op));
    assert.equal(fail(env.shared.alloc4k()), withOperand(TdxStatus.TDX_OPERAND_ADDR_RANGE_ERROR, op));
    assert.equal(fail(page, PamtPageType.PT_TDR), withOperand(TdxStatus.TDX_PAGE_METADATA_INCORRECT, op));
    assert.ok(m.locks.idle(), 'a type mismatch releases the entry');
    const r = lockExplicitPage(scope, m, page, op, 'exclusive', PamtPageType.PT_NDA);
    assert.ok(r.ok);
    assert.equal(r.entry.base, page);
    assert.equal(m.locks.acquire(LockKey.pamt(page >> 12n), 'shared'), 'busy');
    // Busy is reported even when the type is also wrong (the module locks before comparing).
    assert.equal(fail(page, PamtPageType.PT_TDR), withOperand(TdxStatus.TDX_OPERAND_BUSY, op));
    scope.releaseAll();
    assert.ok(m.locks.idle());
  });
});
