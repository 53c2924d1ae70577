import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isValidPrivateGpa, verifyPageInfo } from '../../src/module/gpa-check.ts';

describe('verifyPageInfo (GPA|level operand)', () => {
  test('decodes GPA bits 51:12 and the level', () => {
    assert.deepEqual(verifyPageInfo(0x0000_1234_5600_1001n, 0, 1), { ok: false }, '4K GPA at level 1 is misaligned');
    assert.deepEqual(verifyPageInfo(0x0000_0000_0020_0001n, 0, 1), { ok: true, gpa: 0x20_0000n, level: 1 });
    assert.deepEqual(verifyPageInfo(0x000f_ffff_ffff_f000n, 0, 0), { ok: true, gpa: 0x000f_ffff_ffff_f000n, level: 0 });
  });

  test('reserved bits 11:3 and 63:52 must be 0', () => {
    assert.deepEqual(verifyPageInfo(0x8n, 0, 4), { ok: false });
    assert.deepEqual(verifyPageInfo(0x800n, 0, 4), { ok: false });
    assert.deepEqual(verifyPageInfo(1n << 52n, 0, 4), { ok: false });
    assert.deepEqual(verifyPageInfo(1n << 63n, 0, 4), { ok: false });
  });

  test('the level must be within the leaf range', () => {
    assert.deepEqual(verifyPageInfo(0n, 1, 3), { ok: false });
    assert.deepEqual(verifyPageInfo(4n, 1, 3), { ok: false });
    assert.deepEqual(verifyPageInfo(7n, 0, 4), { ok: false });
    assert.deepEqual(verifyPageInfo(3n, 1, 3), { ok: true, gpa: 0n, level: 3 });
  });
});

describe('isValidPrivateGpa', () => {
  test('GPAW 48: shared bit 47 and bits 63:48 are refused', () => {
    assert.equal(isValidPrivateGpa(0x7fff_ffff_f000n, 48, 52), true);
    assert.equal(isValidPrivateGpa(1n << 47n, 48, 52), false);
    assert.equal(isValidPrivateGpa(1n << 48n, 48, 52), false);
    assert.equal(isValidPrivateGpa(1n << 51n, 48, 52), false);
  });

  test('GPAW 52: shared bit 51, bits 63:52 refused; bits 50:48 allowed', () => {
    assert.equal(isValidPrivateGpa(1n << 50n, 52, 52), true);
    assert.equal(isValidPrivateGpa(1n << 51n, 52, 52), false);
    assert.equal(isValidPrivateGpa(1n << 52n, 52, 52), false);
  });

  test('a MAX_PA below the GPA width limits private GPAs further', () => {
    assert.equal(isValidPrivateGpa(1n << 45n, 48, 46), true);
    assert.equal(isValidPrivateGpa(1n << 46n, 48, 46), false);
    assert.equal(isValidPrivateGpa(1n << 47n, 48, 46), false, 'the shared bit is still refused');
  });
});
