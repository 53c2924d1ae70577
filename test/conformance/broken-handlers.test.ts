/**
 * The shipped example of a broken host (examples/conformance/broken-handlers.js) fails exactly
 * the two cases it breaks, with messages that say what is wrong, and passes every other case.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ALL_CASES } from '../../src/conformance/suite.ts';
import { runCases } from '../../src/conformance/runner.ts';
import { builtinGuest } from '../../src/conformance/builtin.ts';
import { loadHost } from '../../src/conformance/load-party.ts';

const EXAMPLE = fileURLToPath(new URL('../../examples/conformance/broken-handlers.js', import.meta.url));

describe('examples/conformance/broken-handlers.js', () => {
  it('fails exactly mmio-write-private and tdvmcallinfo-leaf0, with decoded differences', async () => {
    const host = await loadHost(EXAMPLE);
    assert.equal(host.name, 'broken-handlers.js (example)');
    const r = runCases(ALL_CASES, { host, guest: builtinGuest });
    const failed = r.results.filter((c) => !c.pass);
    assert.deepEqual(failed.map((c) => c.name).sort(), ['mmio-write-private', 'tdvmcallinfo-leaf0']);
    assert.equal(r.passed, ALL_CASES.length - 2);
    const mmio = failed.find((c) => c.name === 'mmio-write-private')!;
    assert.match(mmio.detail, /R10: expected 0x8000000000000000 TDVMCALL_STATUS_INVALID_OPERAND .*got 0x0000000000000000 TDVMCALL_STATUS_SUCCESS/);
    const info = failed.find((c) => c.name === 'tdvmcallinfo-leaf0')!;
    assert.equal(info.detail, 'guest registers after TDG.VP.VMCALL: R11: expected 0x0000000000000000, got 0x0000000000010000');
  });
});
