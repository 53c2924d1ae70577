import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HkidAllocator } from '../../src/host/hkid.ts';
import { HostError } from '../../src/host/errors.ts';

describe('HkidAllocator', () => {
  it('hands out the lowest free KeyID and reuses freed ones', () => {
    const a = new HkidAllocator(17, 3);
    assert.deepEqual([a.alloc(), a.alloc(), a.alloc()], [17, 18, 19]);
    assert.throws(() => a.alloc(), (e: unknown) => e instanceof HostError && e.errno === 'ENOSPC');
    a.free(18);
    assert.equal(a.inUse, 2);
    assert.equal(a.alloc(), 18);
    assert.throws(() => a.free(5), /not allocated/);
  });
});
