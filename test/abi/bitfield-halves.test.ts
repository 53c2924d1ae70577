/**
 * The bitfield accessors read fields through 32-bit halves (src/abi/u64.ts); they must agree
 * with plain bigint arithmetic on every value, including values beyond 64 bits and fields that
 * straddle bit 32.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bitfield, hasReservedHalves, putHalfField, readHalfField } from '../../src/abi/bitfield.ts';
import { HI32, LO32 } from '../../src/abi/u64.ts';

const LAYOUT = bitfield('test_t', [
  { name: 'a', width: 3 },
  { name: 'reserved0', width: 9 },
  { name: 'b', width: 30 }, // bits 41:12, straddles bit 32
  { name: 'c', width: 6 },
  { name: 'd', width: 16 },
]);

/** xorshift64: reproducible values covering all 64 bits. */
function* values(n: number): Generator<bigint> {
  let x = 0x9e37_79b9_7f4a_7c15n;
  for (let i = 0; i < n; i++) {
    x ^= (x << 13n) & ((1n << 64n) - 1n);
    x ^= x >> 7n;
    x ^= (x << 17n) & ((1n << 64n) - 1n);
    yield x;
  }
}

const reference = (v: bigint, lsb: number, width: number) => (v >> BigInt(lsb)) & ((1n << BigInt(width)) - 1n);

describe('bitfield through halves', () => {
  test('get and decode agree with bigint shifts and masks', () => {
    for (const v of values(500)) {
      for (const [name, lsb, width] of [['a', 0, 3], ['b', 12, 30], ['c', 42, 6], ['d', 48, 16]] as const) {
        assert.equal(LAYOUT.get(v, name), reference(v, lsb, width));
      }
      assert.deepEqual(LAYOUT.decode(v), { a: reference(v, 0, 3), reserved0: reference(v, 3, 9), b: reference(v, 12, 30), c: reference(v, 42, 6), d: reference(v, 48, 16) });
    }
    assert.equal(LAYOUT.get((1n << 70n) | 5n, 'a'), 5n, 'bits above 63 are outside every field');
    assert.equal(LAYOUT.get(-1n, 'd'), 0xffffn, "a negative value is its two's complement");
  });

  test('encode agrees with bigint ORs for numbers and bigints, and still rejects what does not fit', () => {
    for (const v of values(200)) {
      const f = LAYOUT.decode(v);
      const fields = { a: Number(f.a), b: f.b, c: f.c, d: Number(f.d) };
      assert.equal(LAYOUT.encode(fields), v & ~LAYOUT.field('reserved0').mask);
    }
    assert.throws(() => LAYOUT.encode({ a: 8 }), /a=8 does not fit in 3 bits/);
    assert.throws(() => LAYOUT.encode({ d: -1n }), /does not fit/);
    assert.throws(() => LAYOUT.encode({ a: 1.5 }), RangeError);
    assert.equal(LAYOUT.encode({}), 0n);
  });

  test("half fields read and write a register's halves; reserved halves find reserved bits", () => {
    const words = new Uint32Array(4);
    const d = LAYOUT.half('d');
    assert.deepEqual(d, { index: HI32, shift: 16, mask: 0xffff });
    putHalfField(words, 1, d, 0xabcd);
    putHalfField(words, 1, LAYOUT.half('a'), 5);
    assert.equal(readHalfField(words, 1, d), 0xabcd);
    assert.equal(words[2 + LO32], 5);
    assert.throws(() => LAYOUT.half('b'), /straddles bit 32/);
    assert.deepEqual(LAYOUT.reservedHalves, { lo: 0xff8, hi: 0 });
    assert.equal(hasReservedHalves(words, 1, LAYOUT.reservedHalves), false);
    words[2 + LO32] = words[2 + LO32]! | 0x10;
    assert.equal(hasReservedHalves(words, 1, LAYOUT.reservedHalves), true);
  });
});
