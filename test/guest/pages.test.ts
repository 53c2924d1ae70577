import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestPageAllocator, GuestPageAllocatorError } from '../../src/guest/pages.ts';

test('pages are handed out first-fit, contiguous runs included, and come back on free', () => {
  const pool = new GuestPageAllocator(0x10_0000n, 0x4000n);
  assert.equal(pool.freePages, 4);
  assert.equal(pool.alloc(), 0x10_0000n);
  assert.equal(pool.alloc(2), 0x10_1000n);
  assert.equal(pool.alloc(2), undefined, 'only one page left');
  assert.equal(pool.alloc(), 0x10_3000n);
  pool.free(0x10_1000n);
  assert.equal(pool.freePages, 2);
  assert.equal(pool.alloc(2), 0x10_1000n);
});

test('retired pages never come back', () => {
  const pool = new GuestPageAllocator(0n, 0x2000n);
  const a = pool.alloc(2)!;
  pool.retire(a);
  assert.equal(pool.freePages, 0);
  assert.equal(pool.alloc(), undefined);
  assert.throws(() => pool.free(a), GuestPageAllocatorError);
});

test('misuse throws', () => {
  assert.throws(() => new GuestPageAllocator(0x1001n, 0x1000n), GuestPageAllocatorError);
  assert.throws(() => new GuestPageAllocator(0n, 0x1001n), GuestPageAllocatorError);
  const pool = new GuestPageAllocator(0n, 0x1000n);
  assert.throws(() => pool.alloc(0), GuestPageAllocatorError);
  assert.throws(() => pool.free(0x1000n), GuestPageAllocatorError);
  assert.equal(new GuestPageAllocator(0n, 0n).alloc(), undefined, 'an empty pool has nothing');
});
