/**
 * Benchmark 8: host instructions per TDVMCALL round trip, counted by callgrind — a figure that
 * does not move with the machine's load (perf-anchors.md §2.9, §5).
 *
 * The workload (callgrind-workload.ts) is bundled to one plain-JavaScript file first (esbuild,
 * without tsx's keepNames), so no TypeScript loader runs under valgrind, then run as
 *   valgrind --tool=callgrind node --single-threaded --predictable workload.mjs N
 * for N and 6N round trips. Node's start-up, the TD's bring-up and the JIT warm-up are the same in
 * both runs, so (count(6N) − count(N)) / 5N is the cost of one round trip alone. The flags make
 * V8 deterministic (no concurrent compilation, no random seeds): counts then repeat to a few ppm.
 * The pair is measured twice and both figures are reported; the larger is judged against the
 * target (≤ 2,500 instructions; the prototype of perf-anchors.md §2.9 needed ≈ 1,400).
 *
 * Slow (about a minute per run), so it runs only with `--callgrind`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { notMeasurable, result, sized, type BenchContext, type BenchResult, type Benchmark } from './harness.ts';

const run = promisify(execFile);

export const INSTRUCTIONS_TARGET = 2_500;

/** Bundle the workload to `dir/workload.mjs` with esbuild (what tsx itself compiles with). */
export async function bundleWorkload(dir: string): Promise<string> {
  const { build } = await import('esbuild');
  const outfile = join(dir, 'workload.mjs');
  await build({
    // The workload next to this file: .ts from source, .js once compiled (bench/launch.mjs).
    entryPoints: [fileURLToPath(new URL(`./callgrind-workload${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'warning',
  });
  return outfile;
}

/** Instructions callgrind counts for one run of the workload with `n` round trips. */
export async function countInstructions(workload: string, n: number, dir: string): Promise<number> {
  const out = join(dir, `callgrind.out.${n}.${process.hrtime.bigint()}`);
  const { stderr } = await run(
    'valgrind',
    ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, '--single-threaded', '--predictable', workload, String(n)],
    { maxBuffer: 16 << 20 },
  );
  const m = /Collected\s*:\s*(\d+)/.exec(stderr);
  if (!m) throw new Error(`callgrind printed no instruction count:\n${stderr}`);
  return Number(m[1]);
}

/** Instructions per round trip from one N / 6N pair (the two runs in parallel). */
export async function perRoundTrip(workload: string, n: number, dir: string): Promise<number> {
  const [small, large] = await Promise.all([countInstructions(workload, n, dir), countInstructions(workload, 6 * n, dir)]);
  return (large - small) / (5 * n);
}

async function valgrindAvailable(): Promise<boolean> {
  try {
    await run('valgrind', ['--version']);
    return true;
  } catch {
    return false;
  }
}

export const callgrindBenchmark: Benchmark = {
  name: 'tdvmcall-instructions',
  summary: 'host instructions per TDVMCALL round trip under callgrind (N vs 6N, run twice)',
  onDemand: true,
  async run(ctx: BenchContext): Promise<BenchResult[]> {
    const unit = 'instructions/round trip';
    if (!(await valgrindAvailable())) return [notMeasurable('tdvmcall-instructions', unit, '<=', INSTRUCTIONS_TARGET, 'valgrind is not installed')];
    const dir = await mkdtemp(join(tmpdir(), 'tdxsim-callgrind-'));
    try {
      const workload = await bundleWorkload(dir);
      const n = sized(ctx, 10_000, 200);
      const first = await perRoundTrip(workload, n, dir);
      ctx.log(`callgrind: first pair ${first.toFixed(0)} instructions per round trip`);
      const second = await perRoundTrip(workload, n, dir);
      ctx.log(`callgrind: second pair ${second.toFixed(0)} instructions per round trip`);
      const drift = Math.abs(first - second) / Math.max(first, second);
      return [
        result('tdvmcall-instructions', Math.max(first, second), unit, '<=', INSTRUCTIONS_TARGET, `runs: ${first.toFixed(1)} and ${second.toFixed(1)} (differ by ${(drift * 100).toFixed(3)} %); N = ${n} vs ${6 * n}`),
      ];
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
