import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function tdxsim(args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe('tdxsim run', () => {
  it('tells the story of a scenario', () => {
    const r = tdxsim(['run', 'test/fixtures/scenarios/hello.json']);
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], 'scenario: hello');
    for (const heading of ['== bring-up', '== TD created', '== TD finalized', '== run', '== teardown']) assert.ok(lines.includes(heading), heading);
    assert.ok(lines.includes('   | hello from a scenario'));
    assert.ok(lines.some((l) => /^ {3}MRTD [0-9a-f]{96}$/.test(l)));
    assert.ok(lines.includes('   vCPU 0: halted'));
    assert.ok(lines.some((l) => /reclaimed \d+ pages, leaked 0; host memory back to its state before the TD: yes/.test(l)));
  });

  it('--json: MRTD, RTMRs, exits and the final state', () => {
    const r = tdxsim(['run', '--json', 'test/fixtures/scenarios/panic.json']);
    assert.equal(r.status, 0);
    const out = JSON.parse(r.stdout) as {
      mrtd: string;
      exits: { td: Record<string, number>; user: Record<string, number> };
      vcpus: { index: number; stop: string }[];
      fatal: { vcpu: number; message: string; errorCode: string };
      teardown: { leaked: number };
    };
    assert.match(out.mrtd, /^[0-9a-f]{96}$/);
    assert.deepEqual(out.exits.user, { system_event: 1 });
    assert.deepEqual(out.vcpus, [
      { index: 0, stop: 'fatal_error' },
      { index: 1, stop: 'vm_stopped' },
    ]);
    assert.deepEqual(out.fatal, { vcpu: 0, message: 'scenario says no', errorCode: '0x0000000000000000' });
    assert.equal(out.teardown.leaked, 0);
  });

  it('schema mistakes name their JSON path and exit with status 2', () => {
    const r = tdxsim(['run', 'test/fixtures/scenarios/bad.json']);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines[0], 'tdxsim: test/fixtures/scenarios/bad.json: invalid scenario');
    assert.ok(lines.includes('  platform.packages: Too small: expected number to be >=1'));
    assert.ok(lines.includes('  td.memory: expected a size like 4096, "0x1000", "64K", "64M" or "1G"'));
    assert.ok(lines.includes('  image[1]: give exactly one of "hex" or "file"'));
    assert.ok(lines.includes('  userspace: Unrecognized key: "extra"'));
  });

  it('program arguments, vCPU counts and image files are checked too (status 2)', () => {
    const r = tdxsim(['run', 'test/fixtures/scenarios/bad-args.json']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /guest\.args\.quotePages: Too big/);
    assert.match(r.stderr, /td\.vcpus: 8 vCPUs need at least as many logical processors/);
    assert.match(r.stderr, /image\[0\]\.gpa: overlaps the boot page/);
    assert.match(r.stderr, /image\[1\]\.file: cannot read missing\.bin/);
  });

  it('a missing file or argument is a usage error', () => {
    assert.equal(tdxsim(['run', 'test/fixtures/scenarios/nope.json']).status, 2);
    const r = tdxsim(['run']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /give a scenario file/);
  });

  it('--schema prints the JSON Schema', () => {
    const r = tdxsim(['run', '--schema']);
    assert.equal(r.status, 0);
    const schema = JSON.parse(r.stdout) as { $schema: string; properties: Record<string, unknown> };
    assert.match(schema.$schema, /json-schema\.org/);
    assert.deepEqual(Object.keys(schema.properties).sort(), ['$schema', 'description', 'guest', 'image', 'name', 'platform', 'td', 'userspace']);
  });
});

describe('tdxsim demo', () => {
  it('runs the built-in demo to a clean halt', () => {
    const r = tdxsim(['demo', '--json']);
    assert.equal(r.status, 0);
    const out = JSON.parse(r.stdout) as { name: string; serial: string[]; vcpus: { stop: string }[]; rtmrs: string[] };
    assert.equal(out.name, 'demo');
    assert.equal(out.serial.at(-1), 'demo done');
    assert.deepEqual(out.vcpus.map((v) => v.stop), ['halted']);
    assert.equal(out.rtmrs.length, 4);
  });
});

describe('tdxsim demo: attestation evidence', () => {
  it('--quote-out / --collateral-out save a quote that tdxsim quote verify accepts', async () => {
    const { mkdtempSync, existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'tdxsim-demo-'));
    const quote = join(dir, 'quote.bin');
    const collateral = join(dir, 'collateral');
    const demo = tdxsim(['demo', '--quote-out', quote, '--collateral-out', collateral]);
    assert.equal(demo.status, 0, demo.stderr);
    assert.match(demo.stdout, /== attestation\n {3}quote: DCAP v4 .*SIMULATED.*\n {3}verified: every check passed/);
    assert.ok(existsSync(join(collateral, 'root-ca.pem')));
    const verify = tdxsim(['quote', 'verify', quote, '--collateral', collateral, '--json']);
    assert.equal(verify.status, 0, verify.stderr);
    assert.equal((JSON.parse(verify.stdout) as { verified: boolean }).verified, true);
  });

  it('--quote-out when the guest never asked for a quote is a usage error', () => {
    const r = tdxsim(['run', 'test/fixtures/scenarios/hello.json', '--quote-out', '/tmp/tdxsim-never.bin']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--quote-out \/tmp\/tdxsim-never.bin: the guest never asked for a quote/);
  });
});
