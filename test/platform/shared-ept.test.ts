import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Platform } from '../../src/platform/platform.ts';
import { SharedEpt, SharedEptError } from '../../src/platform/shared-ept.ts';

const SHARED = 1n << 47n;

describe('SharedEpt', () => {
  it('maps 4K pages by GFN (shared bit included), MMIO entries, and unmaps', () => {
    const t = new SharedEpt();
    t.map(SHARED | 0x1234n, 0x20_0000n);
    t.mapMmio(SHARED | 0xfee0_0000n);
    assert.deepEqual(t.lookup(SHARED | 0x1fffn), { kind: 'page', hpa: 0x20_0000n });
    assert.equal(t.lookup(0x1234n), undefined, 'the same GFN without the shared bit is another page');
    assert.deepEqual(t.lookup(SHARED | 0xfee0_0abcn), { kind: 'mmio' });
    assert.equal(SharedEpt.translate({ kind: 'page', hpa: 0x20_0000n }, SHARED | 0x1abcn), 0x20_0abcn);
    assert.equal(t.size, 2);
    t.unmap(SHARED | 0x1000n);
    assert.equal(t.lookup(SHARED | 0x1000n), undefined);
    assert.equal(t.size, 1);
  });

  it('refuses an unaligned or negative HPA (a caller bug)', () => {
    const t = new SharedEpt();
    assert.throws(() => t.map(0n, 0x1001n), SharedEptError);
    assert.throws(() => t.map(0n, -4096n), SharedEptError);
    assert.throws(() => t.mapMmio(-1n), SharedEptError);
  });

  it('the platform finds a registered table from an EPTP value (root in bits 51:12)', () => {
    const p = new Platform({ memorySize: 1n << 30n });
    const t = new SharedEpt();
    p.registerSharedEpt(0x7000_0000n, t);
    assert.equal(p.sharedEptAt(0x7000_0000n | 0x5en), t, 'memory type and walk length bits ignored');
    assert.equal(p.sharedEptAt(0x7000_1000n), undefined);
  });

  it('each platform has its own random 32-byte report key', () => {
    const a = new Platform({ memorySize: 1n << 30n });
    const b = new Platform({ memorySize: 1n << 30n });
    assert.equal(a.reportKey.length, 32);
    assert.notDeepEqual(a.reportKey, b.reportKey);
  });
});
