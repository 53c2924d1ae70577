/**
 * The fuzzer's PRNG: published test vectors for SplitMix64 and xoshiro128**, determinism per
 * seed, independence of derived streams, and the range helpers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveSeed, parseSeed, Rng, splitmix64 } from '../../src/fuzz/rng.ts';

test('SplitMix64 matches the reference outputs', () => {
  // Seed 0 → 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4; seed 1234567 → 6457827717110365317.
  const a = splitmix64(0n);
  assert.equal(a.value, 16294208416658607535n);
  assert.equal(splitmix64(a.state).value, 7960286522194355700n);
  assert.equal(splitmix64(1234567n).value, 6457827717110365317n);
});

test('xoshiro128** matches the reference outputs from state {1, 2, 3, 4}', () => {
  const r = Rng.fromState(1, 2, 3, 4);
  assert.deepEqual(
    Array.from({ length: 6 }, () => r.u32()),
    [11520, 0, 5927040, 70819200, 2031721883, 1637235492],
  );
});

test('the same seed gives the same stream; another seed a different one', () => {
  const draw = (seed: bigint) => {
    const r = new Rng(seed);
    return [r.u32(), r.u64(), r.int(1000), r.float(), r.bits(40)];
  };
  assert.deepEqual(draw(42n), draw(42n));
  assert.notDeepEqual(draw(42n), draw(43n));
  // Seed 0 is usable (SplitMix64 expands it into a non-zero state).
  const zero = new Rng(0n);
  assert.notEqual(zero.u32() | zero.u32() | zero.u32(), 0);
});

test('derived streams are distinct and reproducible', () => {
  const seeds = Array.from({ length: 64 }, (_, i) => deriveSeed(7n, i));
  assert.equal(new Set(seeds).size, 64);
  assert.equal(deriveSeed(7n, 3), seeds[3]);
  assert.notEqual(deriveSeed(8n, 3), seeds[3]);
  // Streams far apart (episode numbers above 2^32) still differ.
  assert.notEqual(deriveSeed(7n, 2 ** 32), deriveSeed(7n, 0));
});

test('range helpers stay in range and reach both ends', () => {
  const r = new Rng(1n);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const v = r.range(3, 6);
    assert.ok(v >= 3 && v <= 6);
    seen.add(v);
    const b = r.bits(5);
    assert.ok(b >= 0n && b < 32n);
    const u = r.u64();
    assert.ok(u >= 0n && u < 1n << 64n);
  }
  assert.deepEqual([...seen].sort(), [3, 4, 5, 6]);
  assert.equal(r.bits(0), 0n);
  assert.equal(r.pick(['only']), 'only');
  assert.equal(r.weighted([0, 0, 1]), 2);
});

test('parseSeed accepts decimal and hex u64, refuses the rest', () => {
  assert.equal(parseSeed('0'), 0n);
  assert.equal(parseSeed('18446744073709551615'), (1n << 64n) - 1n);
  assert.equal(parseSeed('0xFFFFFFFFFFFFFFFF'), (1n << 64n) - 1n);
  assert.equal(parseSeed('0x10'), 16n);
  assert.equal(parseSeed('18446744073709551616'), undefined);
  assert.equal(parseSeed('-1'), undefined);
  assert.equal(parseSeed('1e3'), undefined);
  assert.equal(parseSeed(''), undefined);
  assert.equal(parseSeed('0x'), undefined);
});
