/** Every benchmark of `npm run bench`, in the order they run and print. */
import type { Benchmark } from './harness.ts';
import { tdvmcallBenchmark } from './tdvmcall.ts';
import { tracingBenchmark } from './tracing.ts';
import { userspaceExitBenchmark } from './userspace-exit.ts';
import { seamcallBenchmark } from './seamcall.ts';
import { mrtdBenchmark } from './mrtd.ts';
import { lifecycleBenchmark } from './lifecycle.ts';
import { callgrindBenchmark } from './callgrind.ts';
import { lazyAcceptBenchmark } from './lazy-accept.ts';
import { fuzzBenchmark } from './fuzz.ts';
import { wireBenchmark } from './wire.ts';

export const BENCHMARKS: readonly Benchmark[] = Object.freeze([
  tdvmcallBenchmark,
  tracingBenchmark,
  userspaceExitBenchmark,
  seamcallBenchmark,
  mrtdBenchmark,
  lazyAcceptBenchmark,
  lifecycleBenchmark,
  fuzzBenchmark,
  wireBenchmark,
  callgrindBenchmark,
]);
