/**
 * Benchmark 9a: fuzzing throughput of the `host` target (a malicious guest's TDVMCALLs against
 * the host VMM's exit handlers, invariants checked at every step), through the fuzzer's own pool
 * (src/fuzz/pool.ts): one worker on the calling thread, then two worker threads, each for a fixed
 * time. Targets: ≥ 200 k steps/s on one core, and ≥ 1.8× that with two workers.
 *
 * The pool's rate is steps per wall-clock second of the whole run, and starting two worker
 * threads (each loading the TypeScript loader and the simulator) takes a fixed time before the
 * first step. That start-up is measured in the same run (a two-worker pool of two steps) and taken
 * out of the two-worker time for the scaling figure; the note gives both.
 */
import { runPool } from '../src/fuzz/pool.ts';
import { result, sized, type BenchContext, type BenchResult, type Benchmark } from './harness.ts';
import { fmtRate } from './tdvmcall.ts';

export const FUZZ_RATE_TARGET = 200_000;
export const FUZZ_SCALING_TARGET = 1.8;

const SEED = 0x7d5_5eedn;

export const fuzzBenchmark: Benchmark = {
  name: 'fuzz',
  summary: 'host fuzz target steps/s on one worker, and the speed-up with two worker threads',
  async run(ctx: BenchContext): Promise<BenchResult[]> {
    const timeMs = sized(ctx, 5_000, 300);
    const one = await runPool({ target: 'host', seed: SEED, workers: 1, timeMs, minimiseMs: 0 });
    const startup = (await runPool({ target: 'host', seed: SEED, workers: 2, steps: 2, minimiseMs: 0 })).elapsedMs;
    const two = await runPool({ target: 'host', seed: SEED, workers: 2, timeMs, minimiseMs: 0 });
    const twoRate = (two.steps * 1000) / Math.max(two.elapsedMs - startup, 1);
    const note = `1 worker ${fmtRate(one.stepsPerSecond)} (${one.steps} steps in ${timeMs / 1000} s); 2 workers ${fmtRate(twoRate)} after ${startup.toFixed(0)} ms of worker start-up (${fmtRate(two.stepsPerSecond)} with it)`;
    ctx.log(`fuzz: ${note}`);
    return [
      result('fuzz-host-rate', one.stepsPerSecond, 'steps/s', '>=', FUZZ_RATE_TARGET, note),
      result('fuzz-2-worker-scaling', twoRate / one.stepsPerSecond, 'x one worker', '>=', FUZZ_SCALING_TARGET, note),
    ];
  },
};
