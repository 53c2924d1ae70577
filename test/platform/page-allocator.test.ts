import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PageAllocator, PageAllocatorError } from '../../src/platform/page-allocator.ts';

const MiB = 1n << 20n;

describe('PageAllocator', () => {
  test('first-fit 4K pages from the base; count and free4k track use', () => {
    const a = new PageAllocator(16n * MiB, 1n * MiB);
    assert.equal(a.capacity, 256);
    assert.equal(a.alloc4k(), 16n * MiB);
    assert.equal(a.alloc4k(), 16n * MiB + 4096n);
    assert.deepEqual(a.allocMany(2), [16n * MiB + 8192n, 16n * MiB + 12288n]);
    assert.equal(a.count, 4);
    assert.equal(a.free4k, 252);
    a.free(16n * MiB + 4096n);
    assert.equal(a.count, 3);
    assert.equal(a.alloc4k(), 16n * MiB + 4096n, 'a freed page is reused first');
    assert.ok(a.isAllocated(16n * MiB + 4096n + 100n));
    assert.ok(!a.isAllocated(16n * MiB + 16384n));
    assert.ok(!a.isAllocated(0n));
  });

  test('2M blocks are 2M-aligned even if the range is not, skip used pages, and free as one block', () => {
    const a = new PageAllocator(3n * MiB, 8n * MiB);
    const first4k = a.alloc4k();
    assert.equal(first4k, 3n * MiB);
    const b = a.alloc2m();
    assert.equal(b, 4n * MiB);
    assert.equal(a.count, 513);
    const c = a.alloc2m();
    assert.equal(c, 6n * MiB);
    a.free(b);
    assert.equal(a.count, 513);
    assert.equal(a.alloc2m(), 4n * MiB);
    // Only [8M, 10M) remains as a whole aligned block; then none.
    assert.equal(a.alloc2m(), 8n * MiB);
    assert.throws(() => a.alloc2m(), PageAllocatorError);
  });

  test('misuse throws PageAllocatorError', () => {
    assert.throws(() => new PageAllocator(100n, 4096n), PageAllocatorError);
    assert.throws(() => new PageAllocator(0n, 0n), PageAllocatorError);
    const a = new PageAllocator(0n, 8192n);
    const p = a.alloc4k();
    assert.throws(() => a.free(p + 4096n), PageAllocatorError);
    a.free(p);
    assert.throws(() => a.free(p), PageAllocatorError);
    a.allocMany(2);
    assert.throws(() => a.alloc4k(), /out of 4K pages/);
  });
});
