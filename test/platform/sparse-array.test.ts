import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SparseArray } from '../../src/platform/sparse-array.ts';

describe('SparseArray', () => {
  test('reads 0 until written, across chunks and at large indices', () => {
    const a = SparseArray.u16();
    assert.equal(a.get(0), 0);
    assert.equal(a.get(2 ** 40), 0);
    a.set(3, 7);
    a.set(70_000, 65_535);
    a.set(2 ** 40 + 1, 9);
    assert.deepEqual([a.get(3), a.get(70_000), a.get(2 ** 40 + 1), a.get(4)], [7, 65_535, 9, 0]);
    assert.equal(a.max, 65_535);
    assert.equal(SparseArray.u32().max, 2 ** 32 - 1);
  });

  test('lists non-zero entries by ascending index; writing 0 creates nothing; clear forgets', () => {
    const a = SparseArray.u32();
    a.set(200_000, 2);
    a.set(5, 1);
    a.set(1_000_000, 0);
    a.set(6, 4);
    a.set(6, 0);
    assert.deepEqual([...a.entries()], [[5, 1], [200_000, 2]]);
    a.clear();
    assert.deepEqual([...a.entries()], []);
    assert.equal(a.get(5), 0);
  });
});
