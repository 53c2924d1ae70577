/**
 * Worker threads: how a worker is started from source and from compiled code, a two-worker run
 * from source (each worker its own stream, the step budget split), and merging reports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { mergeReports, runPool, workerLaunch, type WorkerMessage } from '../../src/fuzz/pool.ts';
import { runFuzz, type RunReport } from '../../src/fuzz/engine.ts';
import { hostTarget } from '../../src/fuzz/targets/host.ts';
import { Invariant } from '../../src/fuzz/invariants.ts';

test('compiled code starts dist worker.js directly; source starts worker.ts through tsx', () => {
  const js = workerLaunch('file:///app/dist/fuzz/pool.js');
  assert.equal((js.script as URL).href, 'file:///app/dist/fuzz/worker.js');
  assert.equal(js.eval, false);
  assert.deepEqual(js.execArgv, []);
  const ts = workerLaunch('file:///work/main/src/fuzz/pool.ts');
  assert.equal(ts.eval, true);
  assert.deepEqual(ts.execArgv, ['--import', 'tsx']);
  assert.equal(ts.data.entry, 'file:///work/main/src/fuzz/worker.ts');
  assert.match(ts.data.tsxApi!, /^file:.*tsx.*esm.*api/);
});

test('two workers from source: budget split, streams distinct, the whole matches single-worker streams', async () => {
  const progress: number[] = [];
  const r = await runPool({ target: 'host', seed: 3n, workers: 2, steps: 1001, minimiseMs: 0, onProgress: (s) => progress.push(s) });
  assert.equal(r.workers, 2);
  assert.equal(r.steps, 1001);
  assert.deepEqual(r.findings, []);
  assert.ok(r.stepsPerSecond > 0);
  // Worker 0 ran 501 steps of stream 0, worker 1 500 of stream 1: the same as running them inline.
  const w0 = runFuzz(hostTarget, { seed: 3n, worker: 0, steps: 501, minimiseMs: 0 });
  const w1 = runFuzz(hostTarget, { seed: 3n, worker: 1, steps: 500, minimiseMs: 0 });
  const merged = mergeReports('host', 3n, 2, [w0, w1], 1);
  assert.deepEqual(r.coverage, merged.coverage);
  assert.equal(r.episodes, merged.episodes);
});

test('mergeReports adds steps and coverage and dedupes findings by signature', () => {
  const finding = (count: number) => ({
    invariant: Invariant.LOCKS_IDLE,
    message: 'm',
    signature: 'locks-idle: m',
    count,
    case: { target: 'module' as const, seed: 1n, path: { worker: 0, episode: 0, step: 0 }, invariant: Invariant.LOCKS_IDLE, message: 'm', originalActions: 1, setup: 'tds', actions: [] },
    minimisation: { replays: 0, complete: true },
  });
  const rep = (steps: number, count: number): RunReport => ({
    target: 'module',
    seed: 1n,
    worker: 0,
    steps,
    episodes: 1,
    elapsedMs: 10,
    coverage: { reached: { a: steps }, outcomes: { 'a → ok': 1 } },
    findings: [finding(count)],
  });
  const m = mergeReports('module', 1n, 2, [rep(10, 1), rep(30, 2)], 2000);
  assert.equal(m.steps, 40);
  assert.equal(m.stepsPerSecond, 20);
  assert.deepEqual(m.coverage, { reached: { a: 40 }, outcomes: { 'a → ok': 2 } });
  assert.equal(m.findings.length, 1);
  assert.equal(m.findings[0]!.count, 3);
});

const distPool = new URL('../../dist/fuzz/pool.js', import.meta.url);

test('compiled: dist/fuzz/worker.js runs a job (when the package has been built)', { skip: !existsSync(distPool) && 'dist/ not built' }, async () => {
  const launch = workerLaunch(distPool.href);
  const messages: WorkerMessage[] = [];
  const code = await new Promise<number>((resolve, reject) => {
    const w = new Worker(launch.script, { workerData: { target: 'host', seed: 1n, worker: 0, steps: 50 } });
    w.on('message', (m: WorkerMessage) => messages.push(m));
    w.on('error', reject);
    w.on('exit', resolve);
  });
  assert.equal(code, 0);
  const done = messages.find((m) => m.type === 'done');
  assert.ok(done && done.type === 'done');
  assert.equal(done.report.steps, 50);
});
