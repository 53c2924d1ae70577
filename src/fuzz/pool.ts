/**
 * Running a fuzz run on several worker threads, and putting their reports together.
 *
 * Worker w runs stream w of the run's seed (engine.ts), so a run with the same seed and worker
 * count finds the same things; a step budget is split evenly, a time budget applies to each. With
 * one worker the run stays on the calling thread. Node 20 cannot load TypeScript in a worker by
 * itself: when this file runs as compiled JavaScript (dist/) the worker is the compiled
 * worker.js next to it; when it runs from source through tsx, the worker loads tsx first (see
 * `workerLaunch`).
 */
import { Worker } from 'node:worker_threads';
import { Coverage, type CoverageRecord } from './coverage.ts';
import { runFuzz, type Finding, type RunReport } from './engine.ts';
import type { TargetName } from './case.ts';
import { fuzzTarget } from './targets/index.ts';

export interface WorkerJob {
  readonly target: TargetName;
  readonly seed: bigint;
  readonly worker: number;
  readonly steps?: number;
  readonly timeMs?: number;
  readonly minimiseMs?: number;
}

export type WorkerMessage =
  | { readonly type: 'progress'; readonly worker: number; readonly steps: number; readonly findings: number }
  | { readonly type: 'done'; readonly report: RunReport }
  | { readonly type: 'error'; readonly worker: number; readonly message: string };

export interface PoolOptions {
  readonly target: TargetName;
  readonly seed: bigint;
  readonly workers: number;
  readonly steps?: number;
  readonly timeMs?: number;
  readonly minimiseMs?: number;
  /** Called with the total steps and distinct findings so far, about every 100 ms. */
  readonly onProgress?: (steps: number, findings: number) => void;
}

export interface PoolReport {
  readonly target: TargetName;
  readonly seed: bigint;
  readonly workers: number;
  readonly steps: number;
  readonly episodes: number;
  readonly elapsedMs: number;
  readonly stepsPerSecond: number;
  readonly coverage: CoverageRecord;
  /** Distinct findings over all workers (the same signature found twice is one, counted twice). */
  readonly findings: Finding[];
}

/**
 * Bootstrap for a worker running from TypeScript source: Node 20 applies `--import tsx` in a
 * worker's execArgv only after the worker's entry module is loaded, so a .ts entry fails with
 * "Unknown file extension". The worker therefore registers tsx's loader itself (tsx/esm/api, the
 * same package `--import tsx` loads) and then imports the real entry.
 */
const SOURCE_BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
import(workerData.tsxApi).then((tsx) => { tsx.register(); return import(workerData.entry); });
`;

export interface WorkerLaunch {
  /** Script URL, or bootstrap code (with `eval`). */
  readonly script: URL | string;
  readonly eval: boolean;
  readonly execArgv: string[];
  /** Extra workerData the bootstrap needs. */
  readonly data: Record<string, string>;
}

/**
 * How to start a worker, for the way this module itself was loaded: compiled (dist/) → the
 * compiled worker.js next to it; from source through tsx → the bootstrap above, importing
 * worker.ts, with `--import tsx` still in execArgv for anything the worker spawns.
 */
export function workerLaunch(moduleUrl: string = import.meta.url): WorkerLaunch {
  if (!moduleUrl.endsWith('.ts')) return { script: new URL('./worker.js', moduleUrl), eval: false, execArgv: [], data: {} };
  return {
    script: SOURCE_BOOTSTRAP,
    eval: true,
    execArgv: ['--import', 'tsx'],
    data: { entry: new URL('./worker.ts', moduleUrl).href, tsxApi: import.meta.resolve('tsx/esm/api') },
  };
}

export class WorkerFailure extends Error {
  override readonly name = 'WorkerFailure';
}

/** Run a fuzz run on `workers` threads (or inline for one) and merge the reports. */
export async function runPool(options: PoolOptions): Promise<PoolReport> {
  const start = performance.now();
  const jobs: WorkerJob[] = [];
  for (let w = 0; w < options.workers; w++) {
    const steps = options.steps === undefined ? undefined : Math.floor(options.steps / options.workers) + (w < options.steps % options.workers ? 1 : 0);
    jobs.push({
      target: options.target,
      seed: options.seed,
      worker: w,
      ...(steps !== undefined && { steps }),
      ...(options.timeMs !== undefined && { timeMs: options.timeMs }),
      ...(options.minimiseMs !== undefined && { minimiseMs: options.minimiseMs }),
    });
  }
  let reports: RunReport[];
  if (options.workers === 1) {
    const job = jobs[0]!;
    reports = [
      runFuzz(fuzzTarget(job.target), {
        seed: job.seed,
        worker: 0,
        ...(job.steps !== undefined && { steps: job.steps }),
        ...(job.timeMs !== undefined && { timeMs: job.timeMs }),
        ...(job.minimiseMs !== undefined && { minimiseMs: job.minimiseMs }),
        ...(options.onProgress && { onProgress: options.onProgress }),
      }),
    ];
  } else {
    const progress = new Array<{ steps: number; findings: number }>(jobs.length).fill({ steps: 0, findings: 0 });
    const onProgress = () => options.onProgress?.(progress.reduce((n, p) => n + p.steps, 0), progress.reduce((n, p) => n + p.findings, 0));
    reports = await Promise.all(jobs.map((job) => runWorker(job, (steps, findings) => ((progress[job.worker] = { steps, findings }), onProgress()))));
  }
  return mergeReports(options.target, options.seed, options.workers, reports, performance.now() - start);
}

function runWorker(job: WorkerJob, onProgress: (steps: number, findings: number) => void): Promise<RunReport> {
  const launch = workerLaunch();
  return new Promise((resolve, reject) => {
    const worker = new Worker(launch.script, { eval: launch.eval, workerData: { ...job, ...launch.data }, execArgv: launch.execArgv });
    let report: RunReport | undefined;
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') onProgress(m.steps, m.findings);
      else if (m.type === 'done') report = m.report;
      else reject(new WorkerFailure(`fuzz worker ${m.worker} failed: ${m.message}`));
    });
    worker.on('error', (e) => reject(new WorkerFailure(`fuzz worker ${job.worker} crashed: ${e.message}`)));
    worker.on('exit', (code) => {
      if (report) resolve(report);
      else reject(new WorkerFailure(`fuzz worker ${job.worker} exited with code ${code} before reporting`));
    });
  });
}

/** One report from several: steps and episodes add up, coverage merges, findings dedupe. */
export function mergeReports(target: TargetName, seed: bigint, workers: number, reports: readonly RunReport[], elapsedMs: number): PoolReport {
  const coverage = new Coverage();
  const findings = new Map<string, Finding>();
  let steps = 0;
  let episodes = 0;
  for (const r of reports) {
    steps += r.steps;
    episodes += r.episodes;
    coverage.merge(r.coverage);
    for (const f of r.findings) {
      const seen = findings.get(f.signature);
      if (seen) seen.count += f.count;
      else findings.set(f.signature, { ...f });
    }
  }
  return {
    target,
    seed,
    workers,
    steps,
    episodes,
    elapsedMs,
    stepsPerSecond: elapsedMs > 0 ? (steps * 1000) / elapsedMs : 0,
    coverage: coverage.toRecord(),
    findings: [...findings.values()],
  };
}
