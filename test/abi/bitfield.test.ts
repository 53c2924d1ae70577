import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Bitfield, bitfield, hex64, U64_MASK } from '../../src/abi/bitfield.ts';
import * as Operands from '../../src/abi/operands.ts';
import { STATUS_LAYOUT } from '../../src/abi/status.ts';
import { EPTP_CONTROLS } from '../../src/abi/td-config.ts';
import { TD_ATTRIBUTES, TD_CONFIG_FLAGS, TD_CTLS, TD_XFAM } from '../../src/abi/td-params.ts';

/** Every Bitfield exported by operands.ts, by export name. */
const OPERAND_BITFIELDS = (Object.entries(Operands) as [string, unknown][]).filter(
  (e): e is [string, Bitfield] => e[1] instanceof Bitfield,
);

const ALL_BITFIELDS: [string, Bitfield][] = [
  ...OPERAND_BITFIELDS,
  ['STATUS_LAYOUT', STATUS_LAYOUT],
  ['EPTP_CONTROLS', EPTP_CONTROLS],
  ['TD_ATTRIBUTES', TD_ATTRIBUTES],
  ['TD_XFAM', TD_XFAM],
  ['TD_CONFIG_FLAGS', TD_CONFIG_FLAGS],
  ['TD_CTLS', TD_CTLS],
];

describe('Bitfield construction', () => {
  it('throws when the widths do not sum to 64', () => {
    assert.throws(() => bitfield('short', [{ name: 'a', width: 32 }, { name: 'b', width: 31 }]), /sum to 63, not 64/);
    assert.throws(() => bitfield('long', [{ name: 'a', width: 64 }, { name: 'b', width: 1 }]), /sum to 65, not 64/);
  });

  it('throws on an invalid width or a duplicate field name', () => {
    assert.throws(() => bitfield('zero', [{ name: 'a', width: 0 }, { name: 'b', width: 64 }]), /invalid width 0/);
    assert.throws(() => bitfield('frac', [{ name: 'a', width: 1.5 }, { name: 'b', width: 62.5 }]), /invalid width 1.5/);
    assert.throws(() => bitfield('dup', [{ name: 'a', width: 32 }, { name: 'a', width: 32 }]), /duplicate field a/);
  });

  it('places fields from bit 0 upwards and collects reserved* fields into reservedMask', () => {
    const b = bitfield('t', [
      { name: 'lo', width: 4 },
      { name: 'reserved0', width: 4 },
      { name: 'mid', width: 8 },
      { name: 'reserved1', width: 48 },
    ]);
    assert.equal(b.field('lo').lsb, 0);
    assert.equal(b.field('mid').lsb, 8);
    assert.equal(b.field('mid').mask, 0xff00n);
    assert.equal(b.reservedMask, 0xffff_ffff_ffff_00f0n);
    assert.equal(b.hasReservedBits(0x10n), true);
    assert.equal(b.hasReservedBits(0xff0fn), false);
  });
});

describe('every ABI bitfield', () => {
  it('includes all the operand layouts of operands.ts', () => {
    // operands.ts defines 20 register layouts; the catalog collects them the same way, so a
    // failure here means the export scan (not the file) is broken.
    assert.ok(OPERAND_BITFIELDS.length >= 20, `only ${OPERAND_BITFIELDS.length} bitfields found`);
    for (const name of ['LEAF_WORD', 'GPA_AND_LEVEL', 'FIELD_ID', 'TDVMCALL_CONTROL', 'VP_ENTER_RCX']) {
      assert.ok(OPERAND_BITFIELDS.some(([n]) => n === name), name);
    }
  });

  for (const [name, b] of ALL_BITFIELDS) {
    it(`${name}: widths sum to 64, fields are contiguous, names unique`, () => {
      let lsb = 0;
      for (const f of b.fields) {
        assert.equal(f.lsb, lsb, `${name}.${f.name} starts at bit ${f.lsb}, expected ${lsb}`);
        lsb += f.width;
      }
      assert.equal(lsb, 64);
      assert.equal(new Set(b.fields.map((f) => f.name)).size, b.fields.length);
      const union = b.fields.reduce((m, f) => m | f.mask, 0n);
      assert.equal(union, U64_MASK);
    });
  }
});

describe('Bitfield codec', () => {
  const b = Operands.GPA_AND_LEVEL;

  it('decode(encode(x)) = x for values that fit, and encode(decode(v)) = v for any 64-bit v', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: U64_MASK }), (v) => {
        assert.equal(b.encode(b.decode(v)), v);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 7n }), fc.bigInt({ min: 0n, max: (1n << 40n) - 1n }), (level, page) => {
        const d = b.decode(b.encode({ level, gpa_page: page }));
        assert.equal(d.level, level);
        assert.equal(d.gpa_page, page);
        assert.equal(d.reserved0, 0n);
      }),
    );
  });

  it('get and set address one field and leave the others alone', () => {
    const v = b.encode({ level: 1n, gpa_page: 0x12345n });
    assert.equal(v, (0x12345n << 12n) | 1n);
    assert.equal(b.get(v, 'gpa_page'), 0x12345n);
    const w = b.set(v, 'level', 2n);
    assert.equal(b.get(w, 'level'), 2n);
    assert.equal(b.get(w, 'gpa_page'), 0x12345n);
    // set truncates to the field width
    assert.equal(b.get(b.set(0n, 'level', 0xfn), 'level'), 7n);
  });

  it('encode throws when a value does not fit its field', () => {
    assert.throws(() => b.encode({ level: 8n }), /level=8 does not fit in 3 bits/);
    assert.throws(() => b.encode({ level: -1n }), RangeError);
  });

  it('field() throws for an unknown name', () => {
    assert.throws(() => (b as Bitfield).field('nope'), /no field nope/);
  });

  it('decodes the leaf word and a field id as the facts give them', () => {
    // TDH.VP.INIT version 1 (Linux): leaf 22 | 1 << 16.
    assert.deepEqual(Operands.LEAF_WORD.decode(0x1_0016n), { leaf: 22n, version: 1n, reserved0: 0n, reserved1: 0n });
    // TD-scope CONFIG_FLAGS: class 0x11, context TD, 8-byte elements, field 0x16.
    const f = Operands.FIELD_ID.decode(0x1110_0003_0000_0016n);
    assert.equal(f.class_code, 0x11n);
    assert.equal(f.context_code, 1n);
    assert.equal(f.element_size_code, 3n);
    assert.equal(f.field_code, 0x16n);
    assert.equal(f.non_arch, 0n);
  });
});

describe('hex64', () => {
  it('prints 16 upper-case digits and wraps to 64 bits', () => {
    assert.equal(hex64(0xc000010000000000n), '0xC000010000000000');
    assert.equal(hex64(0n), '0x0000000000000000');
    assert.equal(hex64(1n << 64n), '0x0000000000000000');
    assert.equal(hex64(-1n), '0xFFFFFFFFFFFFFFFF');
  });
});
