/**
 * Case files: what a finding is saved as. Round trip through JSON (bigints as hex), the checks a
 * malformed file fails with, and the file name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { caseFileName, CaseFormatError, decodeCase, decodeWith, encodeCase, toJsonSafe, U64_JSON, type FuzzCase } from '../../src/fuzz/case.ts';
import { Invariant } from '../../src/fuzz/invariants.ts';

const sample: FuzzCase = {
  target: 'module',
  seed: (1n << 64n) - 1n,
  path: { worker: 1, episode: 7, step: 42 },
  invariant: Invariant.PAMT_SEPT_CONSISTENT,
  message: 'TD 0x…: CHLDCNT is 3 but …',
  originalActions: 43,
  setup: 'tds',
  actions: [toJsonSafe({ kind: 'seamcall', lp: 0, regs: { rax: 2n, rcx: 0n, r8: (1n << 63n) | 5n } })],
};

test('toJsonSafe writes bigints as 0x hex, bytes as hex, drops undefined', () => {
  assert.deepEqual(toJsonSafe({ a: 0n, b: [255n, 1n << 64n], c: new Uint8Array([1, 171]), d: undefined, e: 'x', f: 3 }), {
    a: '0x0',
    b: ['0xff', '0x10000000000000000'],
    c: '01ab',
    e: 'x',
    f: 3,
  });
});

test('a case survives encode → decode unchanged', () => {
  const text = encodeCase(sample);
  assert.ok(text.endsWith('\n'));
  const json = JSON.parse(text);
  assert.equal(json.format, 'tdxsim-fuzz-case');
  assert.equal(json.version, 1);
  assert.equal(json.seed, '0xffffffffffffffff');
  assert.deepEqual(json.actions[0].regs, { rax: '0x2', rcx: '0x0', r8: '0x8000000000000005' });
  assert.deepEqual(decodeCase(text), sample);
});

test('malformed case files are refused with what is wrong', () => {
  assert.throws(() => decodeCase('{', 'x.json'), (e: unknown) => e instanceof CaseFormatError && /x\.json is not JSON/.test(e.message));
  const good = JSON.parse(encodeCase(sample));
  const bad = (patch: object, re: RegExp) =>
    assert.throws(() => decodeCase(JSON.stringify({ ...good, ...patch })), (e: unknown) => e instanceof CaseFormatError && re.test(e.message), JSON.stringify(patch));
  bad({ format: 'other' }, /format/);
  bad({ version: 2 }, /version/);
  bad({ target: 'bios' }, /target/);
  bad({ seed: '12' }, /seed/);
  bad({ seed: '0x10000000000000000' }, /seed/);
  bad({ invariant: 'made-up' }, /invariant/);
  bad({ path: { worker: -1, episode: 0, step: 0 } }, /worker/);
  bad({ actions: 'none' }, /actions/);
});

test('U64_JSON reads 1–16 hex digits into a bigint', () => {
  assert.equal(decodeWith(U64_JSON, '0xABCdef', 'v'), 0xabcdefn);
  assert.throws(() => decodeWith(U64_JSON, '0x', 'value'), /value/);
  assert.throws(() => decodeWith(U64_JSON, 17, 'value'), CaseFormatError);
});

test('the file name says target, invariant, seed and path', () => {
  assert.equal(caseFileName(sample), 'module-pamt-sept-consistent-ffffffffffffffff-w1-e7-s42.json');
});
