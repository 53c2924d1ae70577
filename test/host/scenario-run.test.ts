import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runScenario, formatStory } from '../../src/host/scenario-run.ts';
import { DEMO_SCENARIO } from '../../src/cli/commands/demo.ts';
import { runScenarioAttested, scenarioFromJson, scenarioPlatform } from '../../src/cli/commands/run.ts';
import { verifyWithDcapQvl } from '../../src/attestation/dcap-qvl-adapter.ts';
import { assertGolden } from '../helpers/golden.ts';

describe('runScenario', () => {
  it('the demo story matches the golden file, and its DCAP quote verifies (ours and dcap-qvl)', async () => {
    const s = scenarioFromJson(DEMO_SCENARIO, 'demo');
    const { run, verification, infrastructure } = await runScenarioAttested(s, scenarioPlatform(s));
    assert.equal(verification?.verified, true, verification?.summary);
    // An independent verifier, against the same simulated root CA and collateral.
    const qvl = verifyWithDcapQvl(run.quote!, { rootCa: infrastructure!.rootCaPem, collateral: infrastructure!.collateral });
    assert.ok(qvl.ok, qvl.ok ? '' : qvl.error);
    assert.equal(run.error, undefined);
    assert.deepEqual(run.vcpus, [{ index: 0, stop: 'halted' }]);
    assert.deepEqual(run.teardown, { reclaimed: run.teardown!.reclaimed, leaked: 0, hostPagesRestored: true });
    assert.equal(run.serial.at(-1), 'demo done');
    assert.equal(run.rtmrs?.length, 4);
    assert.match(run.mrtd!, /^[0-9a-f]{96}$/);
    // The quote's size depends on the DER lengths of freshly signed certificates: the one number
    // of the story that changes from run to run.
    const story = formatStory(run).replace(/quote: \d+ bytes/, 'quote: N bytes');
    assertGolden(new URL('../fixtures/demo-story.golden.txt', import.meta.url), story);
  });

  it('a host failure ends the run with an error instead of an exception', () => {
    const s = scenarioFromJson({ td: { memory: '16M', tscKhz: 1000 }, guest: { program: 'hello' }, platform: { packages: 1, lpsPerPackage: 1, memory: '1G' } }, 't');
    const run = runScenario(s, scenarioPlatform(s));
    assert.match(run.error!, /^EINVAL: SEAMCALL TDH\.MNG\.INIT failed: .*TSC_FREQUENCY/);
    assert.equal(run.phases.at(-1)!.phase, 'failed');
    assert.equal(run.mrtd, undefined);
  });

  it('the RTMRs come from the TDREPORT the guest sent with GetQuote', () => {
    const s = scenarioFromJson(DEMO_SCENARIO, 'demo');
    const platform = scenarioPlatform(s);
    const run = runScenario(s, platform);
    assert.equal(run.exits.user.tdx, 1);
    assert.ok(run.rtmrs![2] !== '0'.repeat(96));
    assert.equal(run.seamcalls['TDH.MR.FINALIZE'], 1);
  });
});
