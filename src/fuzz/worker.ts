/**
 * A fuzz worker thread: runs one worker stream of a fuzz run (engine.ts) and reports progress
 * and the final report to the parent (pool.ts). Everything it needs arrives in `workerData`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runFuzz } from './engine.ts';
import { fuzzTarget } from './targets/index.ts';
import type { WorkerJob, WorkerMessage } from './pool.ts';

const job = workerData as WorkerJob;
const port = parentPort;
if (port) {
  const post = (m: WorkerMessage) => port.postMessage(m);
  try {
    const report = runFuzz(fuzzTarget(job.target), {
      seed: job.seed,
      worker: job.worker,
      ...(job.steps !== undefined && { steps: job.steps }),
      ...(job.timeMs !== undefined && { timeMs: job.timeMs }),
      ...(job.minimiseMs !== undefined && { minimiseMs: job.minimiseMs }),
      onProgress: (steps, findings) => post({ type: 'progress', worker: job.worker, steps, findings }),
    });
    post({ type: 'done', report });
  } catch (e) {
    post({ type: 'error', worker: job.worker, message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
}
