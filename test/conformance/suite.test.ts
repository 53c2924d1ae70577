/**
 * The whole conformance suite against the built-in host and guest, and the suite's own shape:
 * enough cases, unique names, every area used, every implemented leaf and TDVMCALL sub-function
 * covered on its success and failure paths.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_CASES } from '../../src/conformance/suite.ts';
import { AREAS } from '../../src/conformance/case.ts';
import { runCases } from '../../src/conformance/runner.ts';
import { builtinGuest, builtinHost } from '../../src/conformance/builtin.ts';
import { coverageGaps, coverageReport, requiredCoverage } from '../../src/conformance/coverage.ts';
import { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';
import { TdcallLeaf } from '../../src/abi/tdcall-leaves.ts';
import { TdvmcallSubfunction } from '../../src/abi/tdvmcall.ts';

describe('conformance suite against the built-in host and guest', () => {
  it('passes every case', () => {
    const r = runCases(ALL_CASES, { host: builtinHost, guest: builtinGuest });
    const failures = r.results.filter((c) => !c.pass).map((c) => `${c.area}/${c.name}: ${c.detail}`);
    assert.deepEqual(failures, []);
    assert.equal(r.passed, ALL_CASES.length);
    assert.equal(r.failed, 0);
  });
});

describe('suite shape', () => {
  it('has at least 120 cases with unique kebab-case names', () => {
    assert.ok(ALL_CASES.length >= 120, `only ${ALL_CASES.length} cases`);
    const names = ALL_CASES.map((c) => c.name);
    assert.equal(new Set(names).size, names.length, 'duplicate case names');
    for (const n of names) assert.match(n, /^[a-z0-9]+(-[a-z0-9]+)*$/, n);
  });

  it('gives every case a behaviour sentence, a spec reference and a known area, and uses every area', () => {
    const ids = new Set<string>(AREAS.map((a) => a.id));
    for (const c of ALL_CASES) {
      assert.ok(ids.has(c.area), `${c.name}: unknown area ${c.area}`);
      assert.ok(c.behaviour.length > 20 && c.behaviour.endsWith('.'), `${c.name}: behaviour must be a sentence`);
      assert.match(c.spec, /facts|TDX module|GHCI|KVM|Linux|Intel/, `${c.name}: spec names no source`);
    }
    for (const id of ids) assert.ok(ALL_CASES.some((c) => c.area === id), `no case in area ${id}`);
  });

  it('has each pluggable party under test in its areas', () => {
    assert.ok(ALL_CASES.filter((c) => c.party === 'host').length >= 30);
    assert.ok(ALL_CASES.filter((c) => c.party === 'guest').length >= 30);
  });
});

describe('coverage derived from the ABI tables', () => {
  it('requires every implemented SEAMCALL and TDCALL leaf and every TDVMCALL sub-function', () => {
    const keys = new Set(requiredCoverage().map((i) => (i.kind === 'leaf' ? i.leaf.mnemonic : `TDVMCALL<${i.sub.name}>`)));
    for (const l of [...Object.values(SeamcallLeaf), ...Object.values(TdcallLeaf)]) assert.equal(keys.has(l.mnemonic), l.implemented, l.mnemonic);
    for (const s of Object.values(TdvmcallSubfunction)) assert.ok(keys.has(`TDVMCALL<${s.name}>`), s.name);
  });

  it('covers each of them on a success and a failure path', () => {
    assert.deepEqual(coverageGaps(ALL_CASES), []);
    for (const row of coverageReport(ALL_CASES)) {
      assert.ok(row.success.length > 0 && row.failure.length > 0, row.key);
    }
  });
});
