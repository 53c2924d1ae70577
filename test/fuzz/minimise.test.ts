/**
 * Delta debugging: the minimiser finds the actions that matter, keeps a failing list when its
 * budget runs out, and never returns a list that does not fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { minimise } from '../../src/fuzz/minimise.ts';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test('two separated causes are both kept, nothing else', () => {
  const fails = (xs: readonly number[]) => xs.includes(13) && xs.includes(71);
  const r = minimise(range(100), fails);
  assert.deepEqual(r.items, [13, 71]);
  assert.equal(r.complete, true);
  assert.ok(r.replays > 0);
});

test('order-dependent failures keep their order', () => {
  // Fails when a 5 comes after a 2 (a state machine reaching a bad state).
  const fails = (xs: readonly number[]) => {
    const i = xs.indexOf(2);
    return i >= 0 && xs.indexOf(5, i) > i;
  };
  const r = minimise([9, 2, 8, 3, 7, 5, 1], fails);
  assert.deepEqual(r.items, [2, 5]);
});

test('the suffix search finds a failure that needs only the last actions', () => {
  const fails = (xs: readonly number[]) => xs.includes(999);
  const r = minimise(range(1000), fails);
  assert.deepEqual(r.items, [999]);
  assert.ok(r.replays < 40, `took ${r.replays} replays`);
});

test('a one-action list and an empty cause stay as they are', () => {
  assert.deepEqual(minimise([4], () => true).items, [4]);
  // Fails with any list at all: the empty list is never tried, one action remains.
  assert.equal(minimise(range(8), () => true).items.length, 1);
});

test('out of budget: the smallest failing list found so far, marked incomplete', () => {
  let calls = 0;
  const fails = (xs: readonly number[]) => {
    calls++;
    return xs.includes(3) && xs.includes(60);
  };
  const r = minimise(range(64), fails, { maxReplays: 3 });
  assert.equal(r.complete, false);
  assert.equal(r.replays, 3);
  assert.equal(calls, 3);
  assert.ok(fails(r.items), 'the result still fails');
});
