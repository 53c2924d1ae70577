import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PageMap } from '../../src/platform/page-map.ts';

describe('PageMap', () => {
  test('behaves as a Map of bigints: get, has, set, delete, size', () => {
    const m = new PageMap();
    assert.equal(m.size, 0);
    assert.equal(m.get(5n), undefined);
    m.set(5n, 0x1234_5000n).set(7n, 0n);
    assert.equal(m.get(5n), 0x1234_5000n);
    assert.equal(m.get(7n), 0n, 'page 0 is a value like any other');
    assert.equal(m.has(7n), true);
    assert.equal(m.size, 2);
    assert.equal(m.delete(5n), true);
    assert.equal(m.delete(5n), false);
    assert.equal(m.has(5n), false);
    assert.equal(m.size, 1);
  });

  test('values that are not page addresses below 16 TiB, and huge keys, are kept exactly', () => {
    const m = new PageMap();
    const odd = 0x1234_5678n;
    const high = 1n << 60n;
    m.set(1n, odd).set(2n, high).set(1n << 60n, 0x5000n).set(3n, -4096n);
    assert.deepEqual([m.get(1n), m.get(2n), m.get(1n << 60n), m.get(3n)], [odd, high, 0x5000n, -4096n]);
    m.set(1n, 0x9000n); // a key moves between the two stores
    assert.equal(m.get(1n), 0x9000n);
    assert.equal(m.size, 4);
  });

  test('iterates in insertion order as a Map does: re-setting keeps the place, delete + set moves to the end', () => {
    const m = new PageMap();
    const ref = new Map<bigint, bigint>();
    const ops: [bigint, bigint | undefined][] = [
      [9n, 0x9000n], [2n, 0x2000n], [1n << 60n, 0x3000n], [4n, 0x4001n], [2n, 0x5000n], [9n, undefined], [9n, 0xa000n], [3n, 0x6000n],
    ];
    for (const [k, v] of ops) {
      if (v === undefined) {
        m.delete(k);
        ref.delete(k);
      } else {
        m.set(k, v);
        ref.set(k, v);
      }
    }
    assert.deepEqual([...m], [...ref]);
    assert.deepEqual([...m.keys()], [...ref.keys()]);
    assert.deepEqual([...m.values()], [...ref.values()]);
    const seen: bigint[] = [];
    m.forEach((_v, k) => seen.push(k));
    assert.deepEqual(seen, [...ref.keys()]);
  });

  test('ascending keys need no stamps, and the order stays a Map\'s when they stop ascending', () => {
    const m = new PageMap();
    const ref = new Map<bigint, bigint>();
    const set = (k: bigint, v: bigint) => (m.set(k, v), ref.set(k, v));
    for (let k = 10n; k < 20n; k++) set(k, k << 12n);
    assert.deepEqual([...m.keys()], [...ref.keys()]);
    set(12n, 0x7000n); // an update keeps its place
    set(15n, 0x8000n);
    m.delete(11n);
    ref.delete(11n);
    set(11n, 0x9000n); // back, but at the end now
    set(5n, 0xa000n);
    assert.deepEqual([...m], [...ref]);
  });

  test('clear empties it', () => {
    const m = new PageMap();
    m.set(1n, 0x1000n).set(1n << 60n, 1n);
    m.clear();
    assert.equal(m.size, 0);
    assert.deepEqual([...m], []);
    assert.equal(String(m), '[object PageMap]');
  });
});
