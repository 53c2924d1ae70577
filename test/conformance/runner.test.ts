/**
 * Selecting and running cases: unknown selections name the valid choices; a case that throws
 * something other than a CaseFailure fails with that error instead of stopping the run.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fail, moduleCases } from '../../src/conformance/case.ts';
import { runCase, runCases, selectCases, SelectionError } from '../../src/conformance/runner.ts';
import { builtinGuest, builtinHost } from '../../src/conformance/builtin.ts';
import { ALL_CASES } from '../../src/conformance/suite.ts';

const ctx = { host: builtinHost, guest: builtinGuest };
const [good, bad, broken] = moduleCases('bring-up', 'module', [
  { name: 'good', behaviour: 'Passes.', spec: 'none', covers: [], run() {} },
  { name: 'bad', behaviour: 'Fails.', spec: 'none', covers: [], run: () => fail('RAX: expected 0x1, got 0x0') },
  { name: 'broken', behaviour: 'Throws.', spec: 'none', covers: [], run: () => { throw new TypeError('oops'); } },
]);

describe('selectCases', () => {
  it('selects by area and by name, intersecting both', () => {
    assert.ok(selectCases(ALL_CASES, { areas: ['teardown'] }).every((c) => c.area === 'teardown'));
    assert.deepEqual(selectCases(ALL_CASES, { areas: ['bring-up'], cases: ['sys-init', 'vp-info'] }).map((c) => c.name), ['sys-init']);
    assert.equal(selectCases(ALL_CASES, {}).length, ALL_CASES.length);
  });

  it('names the valid areas and cases when a selection is unknown', () => {
    assert.throws(() => selectCases(ALL_CASES, { areas: ['x'] }), (e: unknown) => e instanceof SelectionError && /unknown area x; valid areas: bring-up,/.test(e.message));
    assert.throws(() => selectCases(ALL_CASES, { cases: ['y'] }), (e: unknown) => e instanceof SelectionError && /unknown case y; valid cases: .*sys-init/.test(e.message));
  });
});

describe('runCase / runCases', () => {
  it('reports pass, a CaseFailure, and an unexpected error', () => {
    assert.equal(runCase(good!, ctx).pass, true);
    assert.deepEqual([runCase(bad!, ctx).pass, runCase(bad!, ctx).detail], [false, 'RAX: expected 0x1, got 0x0']);
    assert.equal(runCase(broken!, ctx).detail, 'error: TypeError: oops');
  });

  it('counts and streams results in order', () => {
    const seen: string[] = [];
    const r = runCases([good!, bad!, broken!], ctx, (x, done, total) => seen.push(`${done}/${total} ${x.name}`));
    assert.deepEqual([r.passed, r.failed], [1, 2]);
    assert.deepEqual(seen, ['1/3 good', '2/3 bad', '3/3 broken']);
  });
});
