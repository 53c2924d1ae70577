/**
 * `tdxsim conformance`: filters, the JSON shape, the table, and exit codes (0 all pass, 1 a case
 * failed, 2 a usage error naming the valid areas or cases).
 */
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerConformanceCommand } from '../../src/cli/commands/conformance.ts';
import { UsageError } from '../../src/cli/errors.ts';
import { AREAS } from '../../src/conformance/case.ts';
import { ALL_CASES } from '../../src/conformance/suite.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = 'examples/conformance/broken-handlers.js';

/** Run `tdxsim conformance …` in-process; returns stdout, what the progress stream got, and the exit code. */
async function run(args: string[], tty = false): Promise<{ out: string; progress: string; exitCode: number | undefined }> {
  let out = '';
  let progress = '';
  const program = new Command('tdxsim').exitOverride();
  registerConformanceCommand(program, { write: (t) => void (out += t), progress: { write: (t: string) => void (progress += t) }, tty, width: 200 });
  await program.parseAsync(['node', 'tdxsim', 'conformance', ...args]);
  const exitCode = typeof process.exitCode === 'number' ? process.exitCode : undefined;
  return { out, progress, exitCode };
}

afterEach(() => {
  process.exitCode = 0;
});

describe('tdxsim conformance --json', () => {
  it('prints { passed, failed, cases: [{ area, name, pass, detail }] } for the selected area', async () => {
    const { out, exitCode } = await run(['--area', 'bring-up', '--json']);
    const j = JSON.parse(out) as { passed: number; failed: number; cases: { area: string; name: string; pass: boolean; detail: string }[] };
    assert.deepEqual(Object.keys(j), ['passed', 'failed', 'cases']);
    const want = ALL_CASES.filter((c) => c.area === 'bring-up');
    assert.equal(j.cases.length, want.length);
    assert.equal(j.passed, want.length);
    assert.equal(j.failed, 0);
    for (const c of j.cases) assert.deepEqual(Object.keys(c), ['area', 'name', 'pass', 'detail']);
    assert.deepEqual(j.cases.map((c) => c.name), want.map((c) => c.name));
    assert.equal(exitCode, 0);
  });

  it('runs only the named cases, repeatable or comma-separated', async () => {
    const j = JSON.parse((await run(['--case', 'sys-init,vp-info', '--case', 'hlt', '--json'])).out) as { cases: { name: string }[] };
    assert.deepEqual(j.cases.map((c) => c.name).sort(), ['hlt', 'sys-init', 'vp-info']);
  });

  it('reports a failing case with its decoded detail and exit code 1', async () => {
    const { out, exitCode } = await run(['--host', EXAMPLE, '--case', 'mmio-write-private', '--case', 'mmio-write', '--json']);
    const j = JSON.parse(out) as { passed: number; failed: number; cases: { name: string; pass: boolean; detail: string }[] };
    assert.equal(j.passed, 1);
    assert.equal(j.failed, 1);
    const bad = j.cases.find((c) => !c.pass)!;
    assert.equal(bad.name, 'mmio-write-private');
    assert.match(bad.detail, /R10: expected 0x8000000000000000 TDVMCALL_STATUS_INVALID_OPERAND/);
    assert.equal(exitCode, 1);
  });
});

describe('tdxsim conformance (table)', () => {
  it('prints a table of area, case, result and differences, then a summary naming the parties', async () => {
    const { out, progress } = await run(['--area', 'attestation']);
    assert.match(out, /Area .*Case .*Result .*What differed/);
    for (const c of ALL_CASES.filter((x) => x.area === 'attestation')) assert.ok(out.includes(c.name), c.name);
    assert.match(out, /all 5 cases passed \(host: built-in host \(KVM-shaped\); guest: built-in guest library\)/);
    assert.equal(progress, '', 'no progress line when not on a terminal');
  });

  it('shows a progress line on a terminal and clears it', async () => {
    const { progress } = await run(['--case', 'sys-init'], true);
    assert.match(progress, /\[1\/1\] ✓ bring-up\/sys-init/);
    assert.ok(progress.endsWith('\r\x1b[2K'));
  });

  it('lists only failures with --failures', async () => {
    const { out } = await run(['--host', EXAMPLE, '--area', 'tdvmcall-host', '--failures']);
    assert.ok(out.includes('tdvmcallinfo-leaf0') && out.includes('mmio-write-private'));
    assert.ok(!out.includes('io-bad-size'));
    assert.match(out, /2 of \d+ cases failed/);
  });
});

describe('tdxsim conformance usage errors', () => {
  it('names the valid areas for an unknown area', async () => {
    await assert.rejects(run(['--area', 'nope']), (e: unknown) => e instanceof UsageError && e.message.includes('unknown area nope') && AREAS.every((a) => e.message.includes(a.id)));
  });

  it('names the valid cases for an unknown case', async () => {
    await assert.rejects(run(['--case', 'no-such-case']), (e: unknown) => e instanceof UsageError && /unknown case no-such-case; valid cases: .*sys-init/.test(e.message));
  });

  it('refuses a party module that does not implement the interface', async () => {
    await assert.rejects(run(['--host', 'test/conformance/fixtures/not-a-host.js']), (e: unknown) => e instanceof UsageError && /does not implement handleTdvmcall/.test(e.message));
  });
});

describe('tdxsim conformance exit codes (as a process)', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'conformance', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: 'true' } });

  it('exits 0 when every selected case passes', () => {
    const r = cli(['--case', 'sys-init']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /all 1 cases passed/);
  });

  it('exits 1 when a case fails', () => {
    const r = cli(['--host', EXAMPLE, '--case', 'tdvmcallinfo-leaf0']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /1 of 1 cases failed/);
  });

  it('exits 2 for an unknown area, listing the valid ones', () => {
    const r = cli(['--area', 'bogus']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown area bogus; valid areas: bring-up, td-build/);
  });
});
