import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MmioTestDevice } from '../../../src/host/userspace/mmio-test-device.ts';

describe('MmioTestDevice', () => {
  it('ID reads "TDXSIMIO" little-endian, at any width', () => {
    const d = new MmioTestDevice(0x1000n);
    assert.equal(d.read(0n, 8), 0x4f494d4953584454n);
    assert.equal(d.read(0n, 1), 0x54n); // 'T'
    d.write(0n, 8, 0n); // read-only
    assert.equal(d.read(0n, 4), 0x53584454n);
  });
  it('SCRATCH holds writes; COUNTER counts its reads; DOORBELL logs writes and reads 0', () => {
    const d = new MmioTestDevice(0n);
    d.write(8n, 8, 0x1122334455667788n);
    assert.equal(d.read(8n, 8), 0x1122334455667788n);
    d.write(8n, 2, 0xbeefn);
    assert.equal(d.scratch, 0x112233445566beefn);
    assert.equal(d.read(0x10n, 8), 1n);
    assert.equal(d.read(0x10n, 4), 2n);
    d.write(0x18n, 4, 7n);
    assert.deepEqual(d.doorbells, [7n]);
    assert.equal(d.read(0x18n, 8), 0n);
    assert.equal(d.read(0x10n, 8), 3n); // writes do not count
  });
});
