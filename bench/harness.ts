/**
 * The benchmark harness: how a figure is measured, compared with its target, and reported.
 *
 * Wall-clock figures on a shared two-core machine move by tens of percent between runs, so every
 * figure is the median of several repetitions, measured after a warm-up (JIT compilation), and a
 * figure that is judged against a baseline — node:crypto's SHA-384, tracing off, raw socket
 * ping-pong — has its baseline measured in the same run, interleaved with it.
 *
 * A result says what was measured, its target, `ratio = measured / target`, and whether the
 * target is met: a `>=` target passes when ratio ≥ 1, a `<=` target when ratio ≤ 1. A figure that
 * cannot be measured yet (a part of the simulator not there yet) is reported with `measured`,
 * `ratio` and `pass` null and a note saying why — never with an invented number.
 */

/** Higher is better (`>=`) or lower is better (`<=`). */
export type Goal = '>=' | '<=';

export interface BenchResult {
  /** Short stable identifier, e.g. `tdvmcall-round-trip`. */
  readonly name: string;
  /** The figure, or null if it could not be measured. */
  readonly measured: number | null;
  /** Unit of `measured` and `target`: `round trips/s`, `x`, `bytes/page`, `ms`, … */
  readonly unit: string;
  readonly target: number;
  readonly goal: Goal;
  /** measured / target, or null. */
  readonly ratio: number | null;
  /** Whether the target is met, or null if not measurable. */
  readonly pass: boolean | null;
  /** Baselines, repetitions, load: what a reader needs to trust the figure. */
  readonly note?: string;
}

/** Build a result from a measurement. */
export function result(name: string, measured: number, unit: string, goal: Goal, target: number, note?: string): BenchResult {
  const ratio = measured / target;
  return { name, measured, unit, target, goal, ratio, pass: goal === '>=' ? ratio >= 1 : ratio <= 1, ...(note !== undefined && { note }) };
}

/** A figure that cannot be measured yet, and why. */
export function notMeasurable(name: string, unit: string, goal: Goal, target: number, why: string): BenchResult {
  return { name, measured: null, unit, target, goal, ratio: null, pass: null, note: why };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of nothing');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Seconds elapsed while `fn` runs. */
export function time(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export interface RateOptions {
  /** Operations per repetition. */
  readonly ops: number;
  /** Repetitions whose median is reported. */
  readonly reps: number;
  /** Untimed repetitions first (JIT warm-up); default 1. */
  readonly warmup?: number;
}

/**
 * Operations per second of `batch(ops)` (which performs `ops` operations): the median over
 * `reps` timed repetitions, after `warmup` untimed ones.
 */
export function measureRate(batch: (ops: number) => void, o: RateOptions): number {
  for (let i = 0; i < (o.warmup ?? 1); i++) batch(o.ops);
  const rates: number[] = [];
  for (let i = 0; i < o.reps; i++) rates.push(o.ops / time(() => batch(o.ops)));
  return median(rates);
}

/**
 * Two rates measured alternately, repetition by repetition, so that both see the same machine
 * load; returns each median and the median of the per-repetition ratios a / b.
 */
export function measurePaired(
  a: (ops: number) => void,
  b: (ops: number) => void,
  o: RateOptions,
): { readonly a: number; readonly b: number; readonly ratio: number } {
  for (let i = 0; i < (o.warmup ?? 1); i++) {
    a(o.ops);
    b(o.ops);
  }
  const ra: number[] = [];
  const rb: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < o.reps; i++) {
    const x = o.ops / time(() => a(o.ops));
    const y = o.ops / time(() => b(o.ops));
    ra.push(x);
    rb.push(y);
    ratios.push(x / y);
  }
  return { a: median(ra), b: median(rb), ratio: median(ratios) };
}

/** How big a run is: `full` for the real figures, `tiny` for the harness's own tests. */
export type Scale = 'full' | 'tiny';

/** What every benchmark receives. */
export interface BenchContext {
  readonly scale: Scale;
  /** Progress lines (to stderr, so `--json` output stays clean). */
  readonly log: (line: string) => void;
}

/** One benchmark: a name and how to run it (may produce several results). */
export interface Benchmark {
  readonly name: string;
  /** One line: what it measures. */
  readonly summary: string;
  /** Only with `--callgrind` (slow). */
  readonly onDemand?: boolean;
  run(ctx: BenchContext): BenchResult[] | Promise<BenchResult[]>;
}

/** Repetitions whose median a rate benchmark reports: 7 (2 on tiny runs). */
export function repetitions(ctx: BenchContext): number {
  return sized(ctx, 7, 2);
}

/** Pick the full or tiny size of a parameter. */
export function sized<T>(ctx: BenchContext, full: T, tiny: T): T {
  return ctx.scale === 'full' ? full : tiny;
}
