import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { SecureEpt, septIndex, architecturalSepte } from '../../src/module/sept.ts';

// Expected entry values, computed by hand from the module's bit assignments (tdx-module.md §4.7):
// R|W|X = 0x7, XU = 0x400, MT WB = 6<<3 = 0x30, IPAT = 0x40, PS = 0x80, TDEX/TDBW/TDB/TDP = bits
// 53/54/55/56, SVE = bit 63.
const SVE = 0x8000_0000_0000_0000n;
const FREE = 0x80e0_0000_0000_0000n;
const NL_MAPPED = 0x8000_0000_0000_0407n; // | child PA
const NL_BLOCKED = 0x8080_0000_0000_0000n; // | child PA
const MAPPED = 0x8000_0000_0000_04f7n; // | page PA
const PENDING = 0x8100_0000_0000_00f0n; // | page PA
const BLOCKED = 0x8080_0000_0000_00f0n; // | page PA
const PENDING_BLOCKED = 0x8180_0000_0000_00f0n; // | page PA
const LEAF_ARCH_NO_PERMS = 0x8000_0000_0000_00f0n; // | page PA

const ROOT = 0x4000_0000n;
const P3 = 0x4000_1000n;
const P2 = 0x4000_2000n;
const P1 = 0x4000_3000n;
const PAGE = 0x4010_0000n;
const LARGE = 0x4020_0000n;

/** A 4-level tree with the path for GPA 0 down to a level-0 table. */
function pathTo4k(): SecureEpt {
  const s = new SecureEpt(ROOT, 4);
  s.addTable(s.walk(0n, 3), P3);
  s.addTable(s.walk(0n, 2), P2);
  s.addTable(s.walk(0n, 1), P1);
  return s;
}

describe('SecureEpt walk', () => {
  test('a fresh tree: every walk stops at the root entry, FREE, reported as SVE only', () => {
    const s = new SecureEpt(ROOT, 4);
    assert.equal(s.maxLevel, 3);
    const w = s.walk(0x1234_5000n, 0);
    assert.equal(w.level, 3);
    assert.equal(w.reached, false);
    assert.equal(w.raw, FREE);
    assert.equal(w.entry, SVE);
    assert.equal(w.state, 0);
    assert.equal(w.stateName, 'FREE');
    assert.equal(w.isLeaf, false);
    assert.equal(w.present, false);
    assert.equal(w.hpa, 0n);
    assert.equal(w.tablePa, ROOT);
    assert.equal(w.index, 0);
    assert.deepEqual(s.errorOutputs(w), { rcx: SVE, rdx: 0x3n });
  });

  test('the walk reaches the requested level even when that entry is FREE', () => {
    const s = new SecureEpt(ROOT, 4);
    const w = s.walk(0n, 3);
    assert.equal(w.reached, true);
    assert.equal(w.level, 3);
  });

  test('a 5-level tree has its root entries at level 4', () => {
    const s = new SecureEpt(ROOT, 5);
    assert.equal(s.maxLevel, 4);
    assert.equal(s.walk(0n, 0).level, 4);
  });

  test('entry index per level uses GPA bits 12+9L..20+9L', () => {
    const gpa = (5n << 39n) | (6n << 30n) | (7n << 21n) | (8n << 12n) | 0x123n;
    assert.deepEqual([0, 1, 2, 3].map((l) => septIndex(gpa, l)), [8, 7, 6, 5]);
    assert.equal(septIndex(511n << 48n, 4), 511);
  });

  test('a walk level outside 0..maxLevel is a caller bug', () => {
    const s = new SecureEpt(ROOT, 4);
    assert.throws(() => s.walk(0n, 4), RangeError);
    assert.throws(() => s.walk(0n, -1), RangeError);
  });
});

describe('SecureEpt entries', () => {
  test('SEPT.ADD makes NL_MAPPED entries pointing at FREE child pages; the host sees only RWX', () => {
    const s = pathTo4k();
    const w3 = s.walk(0n, 3);
    assert.equal(w3.raw, NL_MAPPED | P3);
    assert.equal(w3.entry, 0x407n);
    assert.equal(w3.state, 0x84);
    assert.equal(w3.present, true);
    assert.equal(w3.hpa, P3);
    const w0 = s.walk(0n, 0);
    assert.equal(w0.reached, true);
    assert.equal(w0.level, 0);
    assert.equal(w0.tablePa, P1);
    assert.equal(w0.raw, FREE);
    assert.equal(s.pageCount, 4);
    assert.deepEqual(s.errorOutputs(w3), { rcx: 0x407n, rdx: 0x8403n });
  });

  test('PAGE.ADD mapping: MAPPED leaf with RWX+XU, WB, IPAT, PS, SVE; arch view equals the entry', () => {
    const s = pathTo4k();
    s.mapLeaf(s.walk(0x3000n, 0), PAGE, 'MAPPED');
    const w = s.walk(0x3000n, 0);
    assert.equal(w.raw, MAPPED | PAGE);
    assert.equal(w.entry, MAPPED | PAGE);
    assert.equal(w.state, 4);
    assert.equal(w.isLeaf, true);
    assert.equal(w.hpa, PAGE);
    assert.equal(w.index, 3);
    assert.deepEqual(s.errorOutputs(w), { rcx: MAPPED | PAGE, rdx: 0x400n });
  });

  test('AUG mapping: PENDING without permissions; TDP hidden from the host', () => {
    const s = pathTo4k();
    s.mapLeaf(s.walk(0x5000n, 0), PAGE, 'PENDING');
    const w = s.walk(0x5000n, 0);
    assert.equal(w.raw, PENDING | PAGE);
    assert.equal(w.entry, LEAF_ARCH_NO_PERMS | PAGE);
    assert.equal(w.state, 2);
    assert.equal(w.present, false);
  });

  test('BLOCK / UNBLOCK of a MAPPED leaf', () => {
    const s = pathTo4k();
    s.mapLeaf(s.walk(0n, 0), PAGE, 'MAPPED');
    s.block(s.walk(0n, 0));
    let w = s.walk(0n, 0);
    assert.equal(w.raw, BLOCKED | PAGE);
    assert.equal(w.entry, LEAF_ARCH_NO_PERMS | PAGE);
    assert.equal(w.state, 1);
    s.unblock(w);
    w = s.walk(0n, 0);
    assert.equal(w.raw, MAPPED | PAGE);
  });

  test('BLOCK / UNBLOCK of a PENDING leaf keeps it without permissions', () => {
    const s = pathTo4k();
    s.mapLeaf(s.walk(0n, 0), PAGE, 'PENDING');
    s.block(s.walk(0n, 0));
    assert.equal(s.walk(0n, 0).raw, PENDING_BLOCKED | PAGE);
    assert.equal(s.walk(0n, 0).state, 3);
    s.unblock(s.walk(0n, 0));
    assert.equal(s.walk(0n, 0).raw, PENDING | PAGE);
  });

  test('BLOCK of a non-leaf makes it NL_BLOCKED, which stops every walk below it', () => {
    const s = pathTo4k();
    s.block(s.walk(0n, 1));
    const w1 = s.walk(0n, 1);
    assert.equal(w1.raw, NL_BLOCKED | P1);
    assert.equal(w1.entry, 0n);
    assert.equal(w1.state, 0x81);
    assert.equal(w1.hpa, P1);
    const w0 = s.walk(0n, 0);
    assert.equal(w0.reached, false);
    assert.equal(w0.level, 1);
    assert.deepEqual(s.errorOutputs(w0), { rcx: 0n, rdx: 0x8101n });
    s.unblock(w1);
    assert.equal(s.walk(0n, 1).raw, NL_MAPPED | P1);
    assert.equal(s.walk(0n, 0).reached, true);
  });

  test('blocking an entry in a state BLOCK does not accept is a caller bug; unblocking one is a no-op', () => {
    const s = pathTo4k();
    assert.throws(() => s.block(s.walk(0n, 0)));
    s.unblock(s.walk(0n, 0));
    assert.equal(s.walk(0n, 0).raw, FREE);
  });

  test('accept: PENDING → MAPPED', () => {
    const s = pathTo4k();
    s.mapLeaf(s.walk(0n, 0), PAGE, 'PENDING');
    s.accept(s.walk(0n, 0));
    assert.equal(s.walk(0n, 0).raw, MAPPED | PAGE);
  });

  test('a 2M leaf stops walks for 4K GPAs inside it', () => {
    const s = new SecureEpt(ROOT, 4);
    s.addTable(s.walk(0n, 3), P3);
    s.addTable(s.walk(0n, 2), P2);
    s.mapLeaf(s.walk(0x20_0000n, 1), LARGE, 'MAPPED');
    const w = s.walk(0x21_5000n, 0);
    assert.equal(w.reached, false);
    assert.equal(w.level, 1);
    assert.equal(w.isLeaf, true);
    assert.equal(w.raw, MAPPED | LARGE);
    assert.deepEqual(s.errorOutputs(w), { rcx: MAPPED | LARGE, rdx: 0x401n });
    assert.deepEqual(s.errorOutputs(w, 0), { rcx: MAPPED | LARGE, rdx: 0x400n });
  });

  test('clear and removeTable return entries to FREE; childTableIsFree sees the children', () => {
    const s = pathTo4k();
    assert.equal(s.childTableIsFree(s.walk(0n, 1)), true);
    s.mapLeaf(s.walk(0x1000n, 0), PAGE, 'MAPPED');
    assert.equal(s.childTableIsFree(s.walk(0n, 1)), false);
    assert.equal(s.childTableIsFree(s.walk(0n, 0)), false, 'a FREE entry has no child page');
    s.clear(s.walk(0x1000n, 0));
    assert.equal(s.walk(0x1000n, 0).raw, FREE);
    s.removeTable(s.walk(0n, 1));
    assert.equal(s.walk(0n, 1).raw, FREE);
    assert.equal(s.pageCount, 3);
    assert.deepEqual([...s.pages()].map((p) => [p.pa, p.level]), [
      [ROOT, 3],
      [P3, 2],
      [P2, 1],
    ]);
  });

  test('architecturalSepte hides state and lock bits', () => {
    assert.equal(architecturalSepte(FREE), SVE);
    assert.equal(architecturalSepte(PENDING | PAGE | (1n << 11n)), LEAF_ARCH_NO_PERMS | PAGE);
    assert.equal(architecturalSepte(NL_MAPPED | P1 | (1n << 52n)), 0x407n);
  });
});

describe('SecureEpt translate', () => {
  test('mapped, pending, blocked and not-present private GPAs', () => {
    const s = pathTo4k();
    assert.deepEqual(s.translate(0x7abcn), { kind: 'not_present', level: 0 });
    assert.deepEqual(s.translate(0x4000_0000n), { kind: 'not_present', level: 2 });
    s.mapLeaf(s.walk(0x7000n, 0), PAGE, 'MAPPED');
    assert.deepEqual(s.translate(0x7abcn), { kind: 'mapped', hpa: PAGE + 0xabcn, level: 0 });
    s.mapLeaf(s.walk(0x8000n, 0), PAGE + 0x1000n, 'PENDING');
    assert.deepEqual(s.translate(0x8010n), { kind: 'pending', level: 0, hpa: PAGE + 0x1000n });
    s.block(s.walk(0x7000n, 0));
    assert.deepEqual(s.translate(0x7abcn), { kind: 'blocked', level: 0 });
    s.block(s.walk(0x8000n, 0));
    assert.deepEqual(s.translate(0x8010n), { kind: 'blocked', level: 0 });
    s.block(s.walk(0n, 1));
    assert.deepEqual(s.translate(0x9000n), { kind: 'blocked', level: 1 });
  });

  test('a byte inside a 2M page translates to the page base plus the 2M offset', () => {
    const s = new SecureEpt(ROOT, 4);
    s.addTable(s.walk(0n, 3), P3);
    s.addTable(s.walk(0n, 2), P2);
    s.mapLeaf(s.walk(0x20_0000n, 1), LARGE, 'MAPPED');
    assert.deepEqual(s.translate(0x3f_fff8n), { kind: 'mapped', hpa: LARGE + 0x1f_fff8n, level: 1 });
  });
});

describe('SecureEpt iteration', () => {
  test('entries() lists every non-FREE entry with its GPA; leaves() only the leaves', () => {
    const s = pathTo4k();
    s.mapLeaf(s.walk(0x2000n, 0), PAGE, 'MAPPED');
    s.mapLeaf(s.walk(0x3000n, 0), PAGE + 0x1000n, 'PENDING');
    const all = [...s.entries()].map((e) => [e.gpa, e.level, e.state, e.isLeaf, e.hpa]);
    assert.deepEqual(all, [
      [0n, 3, 0x84, false, P3],
      [0n, 2, 0x84, false, P2],
      [0n, 1, 0x84, false, P1],
      [0x2000n, 0, 4, true, PAGE],
      [0x3000n, 0, 2, true, PAGE + 0x1000n],
    ]);
    assert.deepEqual(
      [...s.leaves()].map((e) => [e.gpa, e.stateName]),
      [
        [0x2000n, 'MAPPED'],
        [0x3000n, 'PENDING'],
      ],
    );
  });

  test('entries under a high index carry the full GPA', () => {
    const s = new SecureEpt(ROOT, 4);
    const gpa = (3n << 39n) | (4n << 30n);
    s.addTable(s.walk(gpa, 3), P3);
    s.mapLeaf(s.walk(gpa, 2), 0x8000_0000n, 'PENDING');
    assert.deepEqual(
      [...s.entries()].map((e) => [e.gpa, e.level]),
      [
        [3n << 39n, 3],
        [gpa, 2],
      ],
    );
  });
});
