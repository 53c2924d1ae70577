import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Td } from '../../src/module/td.ts';
import { Vcpu } from '../../src/module/vcpu.ts';
import { LockTable, LockKey } from '../../src/module/locks.ts';
import { advanceEpoch, enterEpoch, epochParity, exitEpoch, isTlbTracked } from '../../src/module/tlb.ts';

function tdAtEpoch(epoch: bigint, refcount: [number, number] = [0, 0]): Td {
  const td = new Td(0x1000_0000n, 20, new Uint8Array(16));
  td.tdEpoch = epoch;
  td.epochRefcount[0] = refcount[0];
  td.epochRefcount[1] = refcount[1];
  return td;
}

describe('isTlbTracked', () => {
  test('a range blocked in the current epoch is never tracked', () => {
    assert.equal(isTlbTracked(tdAtEpoch(5n), 5n), false);
  });

  test('blocked in the previous epoch: tracked once no vCPU of that epoch runs', () => {
    // Epoch 4 has parity 0.
    assert.equal(isTlbTracked(tdAtEpoch(5n, [0, 0]), 4n), true);
    assert.equal(isTlbTracked(tdAtEpoch(5n, [1, 0]), 4n), false);
    // A vCPU running in the current epoch (parity 1) does not matter: it entered after the TRACK.
    assert.equal(isTlbTracked(tdAtEpoch(5n, [0, 3]), 4n), true);
  });

  test('blocked two or more epochs ago: always tracked', () => {
    assert.equal(isTlbTracked(tdAtEpoch(5n, [7, 7]), 3n), true);
    assert.equal(isTlbTracked(tdAtEpoch(5n, [7, 7]), 0n), true);
  });

  test('a blocking epoch in the future (never produced by the module) is not tracked', () => {
    assert.equal(isTlbTracked(tdAtEpoch(5n), 9n), false);
  });
});

describe('enterEpoch / exitEpoch', () => {
  test('entering counts the vCPU in its epoch parity and asks for a flush when the epoch changed', () => {
    const td = tdAtEpoch(1n);
    const vcpu = new Vcpu(0x2000_0000n, td);
    assert.deepEqual(enterEpoch(td, vcpu), { status: 'ok', flushTlb: true });
    assert.equal(vcpu.epoch, 1n);
    assert.deepEqual(td.epochRefcount, [0, 1]);
    exitEpoch(td, vcpu);
    assert.deepEqual(td.epochRefcount, [0, 0]);
    assert.deepEqual(enterEpoch(td, vcpu), { status: 'ok', flushTlb: false }, 'same epoch: no flush');
    exitEpoch(td, vcpu);
  });

  test('exit uncounts the epoch the vCPU entered in, even after a TRACK', () => {
    const td = tdAtEpoch(2n);
    const vcpu = new Vcpu(0x2000_0000n, td);
    enterEpoch(td, vcpu);
    assert.deepEqual(td.epochRefcount, [1, 0]);
    assert.equal(advanceEpoch(td), 'ok');
    assert.equal(td.tdEpoch, 3n);
    assert.equal(isTlbTracked(td, 2n), false, 'the vCPU of epoch 2 still runs');
    exitEpoch(td, vcpu);
    assert.deepEqual(td.epochRefcount, [0, 0]);
    assert.equal(isTlbTracked(td, 2n), true);
  });

  test('an unmatched exit leaves the count at 0', () => {
    const td = tdAtEpoch(2n);
    exitEpoch(td, new Vcpu(0x2000_0000n, td));
    assert.deepEqual(td.epochRefcount, [0, 0]);
  });

  test('with the lock table, a TRACK holding the epoch lock makes entry busy and changes nothing', () => {
    const td = tdAtEpoch(1n);
    const vcpu = new Vcpu(0x2000_0000n, td);
    const locks = new LockTable();
    const release = locks.hold(LockKey.tdEpoch(td.tdrPfn), 'exclusive');
    assert.deepEqual(enterEpoch(td, vcpu, locks), { status: 'busy' });
    assert.deepEqual(td.epochRefcount, [0, 0]);
    assert.equal(vcpu.epoch, 0n);
    release();
    assert.deepEqual(enterEpoch(td, vcpu, locks), { status: 'ok', flushTlb: true });
    assert.equal(locks.idle(), true, 'the shared epoch lock is released after entry');
  });
});

describe('advanceEpoch', () => {
  test('refused while a vCPU still runs in the previous epoch', () => {
    const td = tdAtEpoch(4n, [0, 1]); // previous epoch 3 has parity 1
    assert.equal(advanceEpoch(td), 'previous_epoch_busy');
    assert.equal(td.tdEpoch, 4n);
  });

  test('vCPUs in the current epoch do not block it', () => {
    const td = tdAtEpoch(4n, [2, 0]);
    assert.equal(advanceEpoch(td), 'ok');
    assert.equal(td.tdEpoch, 5n);
  });

  test('epochParity', () => {
    assert.equal(epochParity(0n), 0);
    assert.equal(epochParity(7n), 1);
  });
});
