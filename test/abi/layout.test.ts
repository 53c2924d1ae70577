import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { defineLayout, type LayoutFieldSpec } from '../../src/abi/layout.ts';

const L = defineLayout('TEST', 24, [
  { name: 'a', offset: 0, size: 1, kind: 'u8' },
  { name: 'b', offset: 1, size: 2, kind: 'u16' },
  { name: 'reserved0', offset: 3, size: 1, kind: 'reserved' },
  { name: 'c', offset: 4, size: 4, kind: 'u32' },
  { name: 'd', offset: 8, size: 8, kind: 'u64' },
  { name: 'e', offset: 16, size: 6, kind: 'bytes', doc: 'six bytes' },
  { name: 'reserved1', offset: 22, size: 2, kind: 'reserved' },
]);

const field = (name: string, offset: number, size: number, kind: LayoutFieldSpec['kind'] = 'bytes'): LayoutFieldSpec => ({
  name,
  offset,
  size,
  kind,
});

describe('defineLayout checks the declaration', () => {
  it('accepts sorted, contiguous fields that cover the size', () => {
    assert.equal(L.size, 24);
    assert.equal(L.fields.length, 7);
    assert.deepEqual(L.field('e'), { name: 'e', offset: 16, size: 6, kind: 'bytes', doc: 'six bytes' });
  });

  it('rejects a gap, naming it and asking for a reserved field', () => {
    assert.throws(() => defineLayout('G', 16, [field('a', 0, 4), field('b', 8, 8)]), /gap of 4 bytes at 4: declare it as a reserved field/);
  });

  it('rejects overlapping and unsorted fields', () => {
    assert.throws(() => defineLayout('O', 8, [field('a', 0, 4), field('b', 2, 6)]), /overlaps/);
    assert.throws(() => defineLayout('U', 8, [field('b', 4, 4), field('a', 0, 4)]), /gap of 4 bytes at 0/);
  });

  it('rejects fields that do not add up to the size', () => {
    assert.throws(() => defineLayout('S', 16, [field('a', 0, 8)]), /cover 8 bytes, not 16/);
    assert.throws(() => defineLayout('S', 4, [field('a', 0, 8)]), /cover 8 bytes, not 4/);
  });

  it('rejects an integer of the wrong size, a duplicate name and bad numbers', () => {
    assert.throws(() => defineLayout('K', 4, [field('a', 0, 4, 'u16')]), /kind u16 is 2 bytes, not 4/);
    assert.throws(() => defineLayout('D', 8, [field('a', 0, 4), field('a', 4, 4)]), /duplicate field a/);
    assert.throws(() => defineLayout('Z', 0, []), /invalid size 0/);
    assert.throws(() => defineLayout('N', 4, [field('a', 0, 0), field('b', 0, 4)]), /invalid size 0/);
    assert.throws(() => defineLayout('F', 4, [field('a', -1, 5)]), /invalid offset -1/);
  });
});

describe('Layout codec', () => {
  it('encodes little-endian at the declared offsets, missing fields and reserved bytes zero', () => {
    const b = L.encode({ a: 0x11, b: 0x2233, c: 0x44556677, d: 0x8899aabbccddeeffn });
    assert.deepEqual(
      [...b],
      [0x11, 0x33, 0x22, 0, 0x77, 0x66, 0x55, 0x44, 0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88, 0, 0, 0, 0, 0, 0, 0, 0],
    );
  });

  it('decodes numbers, bigints and byte copies, and omits reserved fields', () => {
    const b = L.encode({ a: 1, b: 2, c: 3, d: 4n, e: new Uint8Array([1, 2, 3, 4, 5, 6]) });
    const d = L.decode(b);
    assert.deepEqual(Object.keys(d), ['a', 'b', 'c', 'd', 'e']);
    // Compile-time: each field has the type of its kind.
    const a: number = d.a;
    const big: bigint = d.d;
    const e: Uint8Array = d.e;
    assert.equal(a, 1);
    assert.equal(big, 4n);
    assert.deepEqual([...e], [1, 2, 3, 4, 5, 6]);
    // A copy: changing the buffer afterwards does not change the decoded value.
    b[16] = 0xaa;
    assert.equal(e[0], 1);
  });

  it('round-trips any values that fit (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.uint8Array({ minLength: 6, maxLength: 6 }),
        (a, b, c, d, e) => {
          const v = { a, b, c, d, e };
          assert.deepEqual(L.decode(L.encode(v)), v);
        },
      ),
    );
  });

  it('decodes at an offset inside a larger buffer, and refuses to read past its end', () => {
    const buf = new Uint8Array(100);
    L.encodeInto(buf, { c: 0xdeadbeef }, 40);
    assert.equal(L.decode(buf, 40).c, 0xdeadbeef);
    assert.equal(L.read(buf, 'c', 40), 0xdeadbeef);
    assert.throws(() => L.decode(buf, 80), RangeError);
    assert.throws(() => L.decode(new Uint8Array(23)), /24 bytes at offset 0 do not fit in a buffer of 23/);
  });

  it('works on a Uint8Array that is a view into a larger ArrayBuffer', () => {
    const backing = new Uint8Array(64);
    const view = backing.subarray(8, 40);
    L.encodeInto(view, { d: 0x0102030405060708n }, 4);
    assert.equal(backing[8 + 4 + 8], 0x08);
    assert.equal(L.decode(view, 4).d, 0x0102030405060708n);
  });

  it('write changes one field and leaves the others alone', () => {
    const b = L.encode({ a: 9, d: 7n });
    L.write(b, 'b', 0xbeef);
    assert.deepEqual(L.decode(b), { a: 9, b: 0xbeef, c: 0, d: 7n, e: new Uint8Array(6) });
  });

  it('encode refuses values that do not fit, unknown names and reserved names', () => {
    assert.throws(() => L.encode({ a: 256 }), /a=256 is not an integer in 0..255/);
    assert.throws(() => L.encode({ b: -1 }), RangeError);
    assert.throws(() => L.encode({ c: 1.5 }), RangeError);
    assert.throws(() => L.encode({ d: -1n }), /does not fit in 64 bits/);
    assert.throws(() => L.encode({ d: 1n << 64n }), /does not fit in 64 bits/);
    assert.throws(() => L.encode({ d: 2 ** 60 }), /not a safe integer/);
    assert.throws(() => L.encode({ e: new Uint8Array(5) }), /takes exactly 6 bytes, got 5 bytes/);
    assert.throws(() => L.encode({ zz: 1 } as never), /no field zz/);
    assert.throws(() => L.encode({ reserved0: 1 } as never), /reserved0 is reserved/);
  });

  it('accepts a safe-integer number for a u64', () => {
    assert.equal(L.decode(L.encode({ d: 4096 })).d, 4096n);
  });

  it('reservedNonZero names the first non-zero reserved field', () => {
    const b = L.encode({ a: 0xff, e: new Uint8Array(6).fill(0xff) });
    assert.equal(L.reservedNonZero(b), undefined);
    b[23] = 1;
    assert.equal(L.reservedNonZero(b), 'reserved1');
    b[3] = 0x80;
    assert.equal(L.reservedNonZero(b), 'reserved0');
  });

  it('decodes and encodes arrays of entries back to back', () => {
    const E = defineLayout('E', 4, [
      { name: 'x', offset: 0, size: 2, kind: 'u16' },
      { name: 'y', offset: 2, size: 2, kind: 'u16' },
    ]);
    const entries = [
      { x: 1, y: 2 },
      { x: 3, y: 4 },
      { x: 5, y: 6 },
    ];
    const b = E.encodeArray(entries);
    assert.equal(b.length, 12);
    assert.deepEqual(E.decodeArray(b, 3), entries);
    assert.deepEqual(E.decodeArray(b, 1, 8), [{ x: 5, y: 6 }]);
  });

  it('describes itself as plain data', () => {
    const d = L.describe();
    assert.equal(d.name, 'TEST');
    assert.equal(d.size, 24);
    assert.deepEqual(d.fields[5], { name: 'e', offset: 16, size: 6, kind: 'bytes', doc: 'six bytes' });
    assert.deepEqual(JSON.parse(JSON.stringify(d)), d);
  });
});
