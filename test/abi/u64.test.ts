import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HI32, LO32, halvesOf, u64ToNumber } from '../../src/abi/u64.ts';
import { RegisterFile } from '../../src/abi/registers.ts';

describe('u64 halves', () => {
  test('u64ToNumber is Number() for every 64-bit value: exact below 2^53, rounded alike above', () => {
    const values = [0n, 1n, 0xffff_ffffn, 0x1_0000_0000n, (1n << 52n) + 12345n, (1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, (1n << 64n) - 1n, 0xdead_beef_cafe_f00dn];
    for (const v of values) assert.equal(u64ToNumber(v), Number(v), `0x${v.toString(16)}`);
  });

  test('halvesOf splits a value mod 2^64 into its low and high 32 bits', () => {
    const h = halvesOf(0x1234_5678_9abc_def0n);
    assert.deepEqual([h[LO32], h[HI32]], [0x9abc_def0, 0x1234_5678]);
    const w = halvesOf(-1n);
    assert.deepEqual([w[LO32], w[HI32]], [0xffff_ffff, 0xffff_ffff]);
  });

  test("a register file's gpr32 view is the same memory as its gpr", () => {
    const r = new RegisterFile();
    r.gpr[3] = 0x0000_0001_8000_0002n;
    assert.deepEqual([r.gpr32[2 * 3 + LO32], r.gpr32[2 * 3 + HI32]], [0x8000_0002, 1]);
    r.gpr32[2 * 5 + HI32] = 7;
    assert.equal(r.gpr[5], 7n << 32n);
  });

  test('register files never share registers', () => {
    const files = Array.from({ length: 600 }, () => new RegisterFile());
    files.forEach((f, i) => f.gpr.fill(BigInt(i)));
    files.forEach((f, i) => {
      assert.ok(f.gpr.every((v) => v === BigInt(i)));
      assert.ok(f.xmm.every((v) => v === 0n));
    });
  });
});
