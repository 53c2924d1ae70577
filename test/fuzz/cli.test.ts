/**
 * `tdxsim fuzz`: flag checking (every mistake a UsageError, exit 2), the report in text and JSON,
 * exit status 1 with findings saved as case files, and --replay with and without --trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LEAF_WORD } from '../../src/abi/operands.ts';
import { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';
import { fuzzCommand, formatReport, isCi, parseFuzzOptions, reportJson, type FuzzIo } from '../../src/cli/commands/fuzz.ts';
import { UsageError } from '../../src/cli/errors.ts';
import { main } from '../../src/cli/main.ts';
import { decodeCase, encodeCase, toJsonSafe, type FuzzCase } from '../../src/fuzz/case.ts';
import { Invariant } from '../../src/fuzz/invariants.ts';
import type { PoolReport } from '../../src/fuzz/pool.ts';

function io(): FuzzIo & { stdout: string; stderr: string } {
  const o = { stdout: '', stderr: '', animate: false, out: (t: string) => void (o.stdout += t), err: (t: string) => void (o.stderr += t) };
  return o;
}

const usage = (raw: Parameters<typeof parseFuzzOptions>[0], re: RegExp) =>
  assert.throws(() => parseFuzzOptions(raw), (e: unknown) => e instanceof UsageError && re.test(e.message), JSON.stringify(raw));

test('bad flags are usage errors that say what to fix', () => {
  usage({}, /choose a target with --target \(module, host, guest\)/);
  usage({ target: 'bios' }, /unknown target 'bios'; the targets are module, host, guest/);
  usage({ target: 'host', runs: '10', time: '5' }, /give --runs or --time, not both/);
  usage({ target: 'host', runs: '0' }, /--runs must be a whole number from 1/);
  usage({ target: 'host', runs: '1.5' }, /--runs must be a whole number/);
  usage({ target: 'host', time: '-3' }, /--time must be a positive number of seconds/);
  usage({ target: 'host', time: 'soon' }, /--time/);
  usage({ target: 'host', seed: '-1' }, /--seed must be an unsigned 64-bit number/);
  usage({ target: 'host', seed: '0x1' + '0'.repeat(16) }, /--seed/);
  usage({ target: 'host', workers: '0' }, /--workers must be a whole number from 1 to 256/);
  usage({ target: 'host', workers: '999' }, /--workers/);
  usage({ target: 'host', trace: 'x.jsonl' }, /--trace needs --replay FILE/);
  usage({ replay: 'c.json', runs: '5' }, /--runs does not apply to --replay/);
  usage({ target: 'host', minimiseTime: 'x' }, /--minimise-time/);
});

test('defaults: 10,000 steps, one worker, fuzz-findings/, a clock seed that is reported', () => {
  const o = parseFuzzOptions({ target: 'guest' }, () => 1234);
  assert.equal(o.target, 'guest');
  assert.equal(o.steps, 10_000);
  assert.equal(o.timeMs, undefined);
  assert.equal(o.workers, 1);
  assert.equal(o.out, 'fuzz-findings');
  assert.equal(o.seed, 1234n);
  assert.equal(o.seedGiven, false);
  assert.equal(o.minimiseMs, 10_000);
  const t = parseFuzzOptions({ target: 'host', time: '2.5', seed: '0x10', workers: '2', json: true, minimiseTime: '0' });
  assert.equal(t.timeMs, 2500);
  assert.equal(t.steps, undefined);
  assert.equal(t.seed, 16n);
  assert.equal(t.minimiseMs, 0);
});

test('a clean run: the text report and the JSON shape, exit 0', async () => {
  const text = io();
  assert.equal(await fuzzCommand(parseFuzzOptions({ target: 'module', runs: '150', seed: '4' }), text), 0);
  assert.match(text.stdout, /target module: a malicious host/);
  assert.match(text.stdout, /150 steps in .* steps\/s/);
  assert.match(text.stdout, /coverage: \d+ names reached/);
  assert.match(text.stdout, /findings: none/);
  assert.equal(text.stderr, '', 'a given seed is not repeated on stderr');

  const json = io();
  assert.equal(await fuzzCommand(parseFuzzOptions({ target: 'host', runs: '200', json: true }), json), 0);
  const j = JSON.parse(json.stdout);
  assert.deepEqual(Object.keys(j).slice(0, 5), ['target', 'steps', 'stepsPerSecond', 'workers', 'findings']);
  assert.equal(j.target, 'host');
  assert.equal(j.steps, 200);
  assert.equal(j.workers, 1);
  assert.deepEqual(j.findings, []);
  assert.equal(typeof j.stepsPerSecond, 'number');
});

const finding: FuzzCase = {
  target: 'module',
  seed: 7n,
  path: { worker: 0, episode: 2, step: 5 },
  invariant: Invariant.MRTD_IMMUTABLE,
  message: 'MRTD of TD 0x40000000 changed after finalisation',
  originalActions: 6,
  setup: 'loaded',
  actions: [toJsonSafe({ kind: 'seamcall', lp: 0, regs: { rax: LEAF_WORD.encode({ leaf: SeamcallLeaf.TDH_SYS_INIT.number, version: 0 }) } })],
};

function reportWith(findings: FuzzCase[]): PoolReport {
  return {
    target: 'module',
    seed: 7n,
    workers: 1,
    steps: 10,
    episodes: 1,
    elapsedMs: 5,
    stepsPerSecond: 2000,
    coverage: { reached: { 'TDH.SYS.INIT': 10 }, outcomes: {} },
    findings: findings.map((c) => ({ invariant: c.invariant, message: c.message, signature: c.message, count: 2, case: c, minimisation: { replays: 3, complete: true } })),
  };
}

test('findings: exit 1, each saved as a case file under --out, listed in the report', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdxsim-fuzz-'));
  const out = io();
  const code = await fuzzCommand(parseFuzzOptions({ target: 'module', runs: '10', seed: '7', out: dir }), out, async () => reportWith([finding]));
  assert.equal(code, 1);
  const files = readdirSync(dir);
  assert.deepEqual(files, ['module-mrtd-immutable-7-w0-e2-s5.json']);
  assert.deepEqual(decodeCase(readFileSync(join(dir, files[0]!), 'utf8')), finding);
  assert.match(out.stdout, /findings: 1\n {4}\[mrtd-immutable\] ×2 MRTD of TD 0x40000000 changed after finalisation\n {6}1 action \(of 6\) → .*module-mrtd-immutable-7-w0-e2-s5\.json/);
  const j = reportJson(reportWith([finding]), ['f.json']);
  assert.deepEqual(j.findings, [{ invariant: 'mrtd-immutable', message: finding.message, count: 2, seed: '0x0000000000000007', path: finding.path, actions: 1, originalActions: 6, file: 'f.json' }]);
  assert.match(formatReport(reportWith([])), /findings: none/);
});

test('--replay: a case that no longer fails exits 0; --trace writes the replay as JSON lines', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdxsim-fuzz-'));
  const file = join(dir, 'case.json');
  writeFileSync(file, encodeCase({ ...finding, actions: [finding.actions[0]!, finding.actions[0]!] }));
  const out = io();
  const trace = join(dir, 'out.jsonl');
  assert.equal(await fuzzCommand(parseFuzzOptions({ replay: file, trace }), out), 0);
  assert.match(out.stdout, /case\.json: did not reproduce \(2 actions ran clean; originally \[mrtd-immutable\]/);
  assert.match(out.stderr, /trace: 2 trace events written to .*out\.jsonl/);
  const lines = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  assert.equal(lines[1].name, 'TDH.SYS.INIT');
  assert.equal(lines[2].status.name, 'TDX_SYS_INIT_NOT_PENDING');

  const json = io();
  assert.equal(await fuzzCommand(parseFuzzOptions({ replay: file, json: true }), json), 0);
  assert.deepEqual(JSON.parse(json.stdout), { replay: file, target: 'module', reproduced: false, actions: 2 });
});

test('--replay of a missing or malformed file, or of another target, is a usage error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdxsim-fuzz-'));
  await assert.rejects(fuzzCommand(parseFuzzOptions({ replay: join(dir, 'none.json') }), io()), /cannot read case file/);
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{"format":"tdxsim-fuzz-case"}');
  await assert.rejects(fuzzCommand(parseFuzzOptions({ replay: bad }), io()), (e: unknown) => e instanceof UsageError && /is not a tdxsim fuzz case/.test(e.message));
  const other = join(dir, 'other.json');
  writeFileSync(other, encodeCase(finding));
  await assert.rejects(fuzzCommand(parseFuzzOptions({ replay: other, target: 'host' }), io()), /is a module case, not host/);
  const badAction = join(dir, 'action.json');
  writeFileSync(badAction, encodeCase({ ...finding, actions: [{ kind: 'seamcall', lp: 0, regs: { rax: 'zero' } }] }));
  await assert.rejects(fuzzCommand(parseFuzzOptions({ replay: badAction }), io()), /case action 0/);
});

test('the command is registered: a bad flag through main() exits 2 with the message', async () => {
  const errors: string[] = [];
  const original = console.error;
  console.error = (m: unknown) => void errors.push(String(m));
  const before = process.exitCode;
  try {
    await main(['node', 'tdxsim', 'fuzz', '--target', 'nope']);
    assert.equal(process.exitCode, 2);
    assert.deepEqual(errors, ["tdxsim: fuzz: unknown target 'nope'; the targets are module, host, guest"]);
  } finally {
    console.error = original;
    process.exitCode = before;
  }
});

test('on a terminal the run shows a progress line on stderr and clears it', async () => {
  const out = { stdout: '', stderr: '', animate: true, out: (t: string) => void (out.stdout += t), err: (t: string) => void (out.stderr += t) };
  await fuzzCommand(parseFuzzOptions({ target: 'host', runs: '300', seed: '1' }), out, async (o) => {
    o.onProgress?.(100, 0);
    o.onProgress?.(300, 1);
    return { ...reportWith([]), target: 'host' };
  });
  assert.match(out.stderr, /^\rhost: 100 steps, 0 findings {3}/);
  assert.ok(out.stderr.endsWith('\r\x1b[K'), 'the line is cleared before the report');
});

test('CI detection: CI=true and friends mean a log, not a terminal', () => {
  assert.equal(isCi('true'), true);
  assert.equal(isCi('1'), true);
  assert.equal(isCi(undefined), false);
  assert.equal(isCi(''), false);
  assert.equal(isCi('false'), false);
  assert.equal(isCi('0'), false);
});

test('the fixture case replays clean: reclaiming a live TDR is refused and changes nothing', async () => {
  const file = new URL('../fixtures/fuzz/module-reclaim-live-tdr.json', import.meta.url).pathname;
  const out = io();
  assert.equal(await fuzzCommand(parseFuzzOptions({ replay: file, json: true }), out), 0);
  assert.deepEqual(JSON.parse(out.stdout), { replay: file, target: 'module', reproduced: false, actions: 3 });
});
