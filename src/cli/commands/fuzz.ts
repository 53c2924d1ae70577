/**
 * `tdxsim fuzz`: run the fuzzers, or replay a finding.
 *
 *   tdxsim fuzz --target module|host|guest [--seed N] [--runs N | --time S] [--workers N]
 *               [--out DIR] [--json]
 *   tdxsim fuzz --replay FILE [--trace out.jsonl] [--json]
 *
 * A run is (target, seed, step budget): the same seed and worker count find the same things.
 * `--runs` is the total number of steps (default 10000), `--time` a wall-clock budget in seconds.
 * Each new finding is minimised and saved as a case file under `--out` (default fuzz-findings/);
 * `--replay` runs a case file again and says whether it still fails. Exit status: 0 clean, 1
 * findings (or a replay that still fails), 2 a usage error. On a terminal the run shows a
 * progress line on stderr; nothing is animated when stderr is not a TTY or CI is set.
 */
import type { Command } from 'commander';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hex64 } from '../../abi/bitfield.ts';
import { finishTrace, openTraceSink } from '../trace-options.ts';
import { caseFileName, CaseFormatError, decodeCase, encodeCase, TARGET_NAMES, type TargetName } from '../../fuzz/case.ts';
import { replayCase } from '../../fuzz/engine.ts';
import { parseSeed } from '../../fuzz/rng.ts';
import { runPool, type PoolReport } from '../../fuzz/pool.ts';
import { TARGETS } from '../../fuzz/targets/index.ts';
import { UsageError } from '../errors.ts';

export interface FuzzCliOptions {
  readonly target?: TargetName;
  readonly seed: bigint;
  /** Whether the seed was chosen by the user (else it is printed so the run can be repeated). */
  readonly seedGiven: boolean;
  readonly steps?: number;
  readonly timeMs?: number;
  readonly workers: number;
  readonly json: boolean;
  readonly out: string;
  readonly replay?: string;
  readonly trace?: string;
  readonly format?: string;
  readonly minimiseMs: number;
}

/** Raw commander values. */
export interface RawFuzzOptions {
  target?: string;
  seed?: string;
  runs?: string;
  time?: string;
  workers?: string;
  json?: boolean;
  out?: string;
  replay?: string;
  trace?: string;
  format?: string;
  minimiseTime?: string;
}

const DEFAULT_STEPS = 10_000;
const DEFAULT_OUT = 'fuzz-findings';
const MAX_WORKERS = 256;
const DEFAULT_MINIMISE_S = 10;

function positiveInt(flag: string, text: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new UsageError(`fuzz: ${flag} must be a whole number from 1 to ${max}, got '${text}'`);
  }
  return Number(text);
}

function positiveSeconds(flag: string, text: string, allowZero = false): number {
  const v = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !Number.isFinite(v) || (allowZero ? v < 0 : v <= 0)) {
    throw new UsageError(`fuzz: ${flag} must be a ${allowZero ? 'non-negative' : 'positive'} number of seconds, got '${text}'`);
  }
  return v;
}

/** Check and convert the flags; every mistake is a UsageError saying what to fix. */
export function parseFuzzOptions(raw: RawFuzzOptions, now: () => number = Date.now): FuzzCliOptions {
  if (raw.replay !== undefined) {
    for (const [flag, given] of [['--runs', raw.runs], ['--time', raw.time], ['--seed', raw.seed], ['--workers', raw.workers]] as const) {
      if (given !== undefined) throw new UsageError(`fuzz: ${flag} does not apply to --replay (the case file says what to run)`);
    }
  } else {
    if (raw.trace !== undefined) throw new UsageError('fuzz: --trace needs --replay FILE (a fuzz run is not traced)');
    if (raw.target === undefined) throw new UsageError(`fuzz: choose a target with --target (${TARGET_NAMES.join(', ')}), or --replay a case file`);
  }
  if (raw.target !== undefined && !(TARGET_NAMES as readonly string[]).includes(raw.target)) {
    throw new UsageError(`fuzz: unknown target '${raw.target}'; the targets are ${TARGET_NAMES.join(', ')}`);
  }
  if (raw.runs !== undefined && raw.time !== undefined) throw new UsageError('fuzz: give --runs or --time, not both');
  let seed: bigint;
  if (raw.seed !== undefined) {
    const s = parseSeed(raw.seed);
    if (s === undefined) throw new UsageError(`fuzz: --seed must be an unsigned 64-bit number (decimal or 0x hex), got '${raw.seed}'`);
    seed = s;
  } else {
    seed = BigInt(now());
  }
  const timeMs = raw.time !== undefined ? positiveSeconds('--time', raw.time) * 1000 : undefined;
  const steps = raw.runs !== undefined ? positiveInt('--runs', raw.runs) : timeMs === undefined ? DEFAULT_STEPS : undefined;
  return {
    ...(raw.target !== undefined && { target: raw.target as TargetName }),
    seed,
    seedGiven: raw.seed !== undefined,
    ...(steps !== undefined && { steps }),
    ...(timeMs !== undefined && { timeMs }),
    workers: raw.workers !== undefined ? positiveInt('--workers', raw.workers, MAX_WORKERS) : 1,
    json: raw.json === true,
    out: raw.out ?? DEFAULT_OUT,
    ...(raw.replay !== undefined && { replay: raw.replay }),
    ...(raw.trace !== undefined && { trace: raw.trace }),
    ...(raw.format !== undefined && { format: raw.format }),
    minimiseMs: (raw.minimiseTime !== undefined ? positiveSeconds('--minimise-time', raw.minimiseTime, true) : DEFAULT_MINIMISE_S) * 1000,
  };
}

export interface FuzzIo {
  /** Standard output (the report). */
  out(text: string): void;
  /** Standard error (progress and notes). */
  err(text: string): void;
  /** Whether a progress line may be animated on stderr. */
  readonly animate: boolean;
}

/** CI=true (or any value but empty, 0 and false) means a CI log: nothing animated. */
export function isCi(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}

export const processIo: FuzzIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  animate: process.stderr.isTTY === true && !isCi(process.env.CI),
};

/** Run the command; returns the exit status. `run` is the fuzz run itself (tests pass a stand-in). */
export async function fuzzCommand(opts: FuzzCliOptions, io: FuzzIo = processIo, run: typeof runPool = runPool): Promise<number> {
  if (opts.replay !== undefined) return replayCommand(opts, io);
  const target = opts.target!;
  let last = 0;
  const onProgress = io.animate
    ? (steps: number, findings: number) => {
        const now = performance.now();
        if (now - last < 100) return;
        last = now;
        io.err(`\r${target}: ${steps.toLocaleString('en-US')} steps, ${findings} finding${findings === 1 ? '' : 's'}   `);
      }
    : undefined;
  if (!opts.json && !opts.seedGiven) io.err(`fuzz: seed ${opts.seed} (pass --seed ${opts.seed} to repeat this run)\n`);
  const report = await run({
    target,
    seed: opts.seed,
    workers: opts.workers,
    ...(opts.steps !== undefined && { steps: opts.steps }),
    ...(opts.timeMs !== undefined && { timeMs: opts.timeMs }),
    minimiseMs: opts.minimiseMs,
    ...(onProgress && { onProgress }),
  });
  if (io.animate) io.err('\r\x1b[K');
  const files = saveFindings(report, opts.out);
  io.out(opts.json ? JSON.stringify(reportJson(report, files), null, 2) + '\n' : formatReport(report, files));
  return report.findings.length > 0 ? 1 : 0;
}

/** Write each finding's case file; returns the paths, in finding order. */
export function saveFindings(report: PoolReport, dir: string): string[] {
  if (report.findings.length === 0) return [];
  mkdirSync(dir, { recursive: true });
  return report.findings.map((f) => {
    const path = join(dir, caseFileName(f.case));
    writeFileSync(path, encodeCase(f.case));
    return path;
  });
}

/** The `--json` form of a run: target, steps, stepsPerSecond, workers, findings (and details). */
export function reportJson(report: PoolReport, files: readonly string[] = []) {
  return {
    target: report.target,
    steps: report.steps,
    stepsPerSecond: Math.round(report.stepsPerSecond),
    workers: report.workers,
    findings: report.findings.map((f, i) => ({
      invariant: f.invariant,
      message: f.message,
      count: f.count,
      seed: hex64(f.case.seed),
      path: f.case.path,
      actions: f.case.actions.length,
      originalActions: f.case.originalActions,
      ...(files[i] !== undefined && { file: files[i] }),
    })),
    seed: hex64(report.seed),
    episodes: report.episodes,
    elapsedMs: Math.round(report.elapsedMs),
    coverage: report.coverage,
  };
}

/** The human report: run summary, coverage by name, findings. */
export function formatReport(report: PoolReport, files: readonly string[] = []): string {
  const lines: string[] = [];
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  lines.push(`tdxsim fuzz — target ${report.target}: ${TARGETS[report.target].summary}`);
  lines.push(`  seed ${report.seed} (${hex64(report.seed)}), ${report.workers} worker${report.workers === 1 ? '' : 's'}`);
  lines.push(`  ${n(report.steps)} steps in ${(report.elapsedMs / 1000).toFixed(1)} s (${n(report.stepsPerSecond)} steps/s), ${n(report.episodes)} episodes`);
  const reached = Object.entries(report.coverage.reached);
  const outcomes = Object.keys(report.coverage.outcomes).length;
  lines.push(`  coverage: ${reached.length} names reached, ${outcomes} distinct outcomes`);
  const width = Math.max(0, ...reached.map(([k]) => k.length));
  for (const [name, count] of reached) lines.push(`    ${name.padEnd(width)}  ${n(count)}`);
  if (report.findings.length === 0) lines.push('  findings: none');
  else {
    lines.push(`  findings: ${report.findings.length}`);
    report.findings.forEach((f, i) => {
      lines.push(`    [${f.invariant}] ×${f.count} ${f.message}`);
      lines.push(`      ${f.case.actions.length} action${f.case.actions.length === 1 ? '' : 's'} (of ${f.case.originalActions})${files[i] ? ` → ${files[i]}` : ''}`);
    });
  }
  return lines.join('\n') + '\n';
}

async function replayCommand(opts: FuzzCliOptions, io: FuzzIo): Promise<number> {
  const file = opts.replay!;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`fuzz: cannot read case file ${file}: ${(e as Error).message}`);
  }
  let result;
  let c;
  let traceNote: string | undefined;
  const sink = openTraceSink({ ...(opts.trace !== undefined && { trace: opts.trace }), ...(opts.format !== undefined && { format: opts.format }) }, file);
  try {
    c = decodeCase(text, file);
    if (opts.target !== undefined && opts.target !== c.target) throw new UsageError(`fuzz: ${file} is a ${c.target} case, not ${opts.target}`);
    result = replayCase(TARGETS[c.target], c, sink ? { tracer: sink.tracer } : {});
  } catch (e) {
    if (e instanceof CaseFormatError) throw new UsageError(`fuzz: ${e.message}`);
    throw e;
  } finally {
    traceNote = finishTrace(sink);
  }
  const v = result.violation;
  if (opts.json) {
    io.out(
      JSON.stringify(
        {
          replay: file,
          target: c.target,
          reproduced: v !== undefined,
          ...(v && { invariant: v.invariant, message: v.message, step: result.step }),
          actions: c.actions.length,
          ...(traceNote && { trace: traceNote }),
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    io.out(
      v
        ? `${file}: reproduced at action ${result.step + 1} of ${c.actions.length}\n  [${v.invariant}] ${v.message}\n`
        : `${file}: did not reproduce (${c.actions.length} actions ran clean; originally [${c.invariant}] ${c.message})\n`,
    );
    if (traceNote) io.err(`trace: ${traceNote}\n`);
  }
  return v ? 1 : 0;
}

export function registerFuzzCommand(program: Command): void {
  program
    .command('fuzz')
    .description('Fuzz the TDX module (malicious host), the host VMM (malicious guest) or the guest library (malicious VMM); or replay a finding')
    .option('--target <name>', `what to fuzz: ${TARGET_NAMES.join(', ')}`)
    .option('--seed <n>', 'run seed, decimal or 0x hex (default: the clock, printed)')
    .option('--runs <n>', `total steps (default ${DEFAULT_STEPS})`)
    .option('--time <seconds>', 'run for this long instead of a step count')
    .option('--workers <n>', 'worker threads, each with its own seed stream (default 1)')
    .option('--out <dir>', `where findings are saved (default ${DEFAULT_OUT}/)`)
    .option('--minimise-time <seconds>', `time spent minimising each new finding (default ${DEFAULT_MINIMISE_S}; 0 = keep it whole)`)
    .option('--replay <file>', 'replay a saved case file')
    .option('--trace <file>', 'with --replay: record every crossing of the replay to FILE')
    .option('--format <format>', 'with --trace: jsonl (default) or chrome (opens in Perfetto)')
    .option('--json', 'print the report as JSON')
    .action(async (raw: RawFuzzOptions) => {
      process.exitCode = await fuzzCommand(parseFuzzOptions(raw));
    });
}
