import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LockScope, withLocks } from '../../src/module/lock-scope.ts';
import { LockTable } from '../../src/module/locks.ts';

describe('LockScope', () => {
  test('releases what it took, most recent first, and only that', () => {
    const t = new LockTable();
    const other = t.hold('x', 'shared');
    const s = new LockScope(t);
    assert.equal(s.acquire('x', 'shared'), 'ok');
    assert.equal(s.acquire('y', 'exclusive'), 'ok');
    assert.equal(s.acquire('y', 'shared'), 'busy');
    s.releaseAll();
    assert.equal(t.acquire('y', 'exclusive'), 'ok');
    t.release('y', 'exclusive');
    assert.equal(t.acquire('x', 'exclusive'), 'busy', 'the other holder still has x');
    other();
    assert.ok(t.idle());
  });

  test('release() drops one held lock early; unknown locks are ignored', () => {
    const t = new LockTable();
    const s = new LockScope(t);
    s.acquire('a', 'exclusive');
    s.release('a', 'exclusive');
    s.release('b', 'shared');
    assert.ok(t.idle());
    s.releaseAll();
    assert.ok(t.idle());
  });

  test('withLocks releases on return and on throw', () => {
    const t = new LockTable();
    assert.equal(
      withLocks(t, (s) => {
        s.acquire('k', 'exclusive');
        return 7;
      }),
      7,
    );
    assert.ok(t.idle());
    assert.throws(() =>
      withLocks(t, (s) => {
        s.acquire('k', 'exclusive');
        throw new Error('boom');
      }),
    );
    assert.ok(t.idle());
  });
});
