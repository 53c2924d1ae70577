/**
 * The fuzz loop of one worker: episodes of generated actions against a target, invariant checks
 * at every step, and for each new kind of finding a minimised, replayable case.
 *
 * A run is (target, seed, step budget). Worker w draws from stream `deriveSeed(seed, w)`, and
 * episode e of that worker from `deriveSeed(workerSeed, e)`, so any episode can be regenerated
 * alone. An episode builds a fresh world from the setup the target chooses, then steps until the
 * target's episode length, the world dies, or an invariant breaks. A finding records the setup and
 * every action up to the failing one; findings whose invariant and message match one already seen
 * (numbers ignored) are only counted. New ones are minimised by replaying sub-lists from the same
 * setup (minimise.ts).
 */
import { deriveSeed, Rng } from './rng.ts';
import { Coverage, type CoverageRecord } from './coverage.ts';
import { toJsonSafe, decodeWith, type FuzzCase, type CasePath } from './case.ts';
import { exceptionViolation, type InvariantId, type Violation } from './invariants.ts';
import { minimise } from './minimise.ts';
import type { AnyTarget, Episode, OpenOptions } from './target.ts';

export interface RunOptions {
  readonly seed: bigint;
  /** Worker stream index (0 for a single-threaded run). */
  readonly worker?: number;
  /** Step budget; the run ends at whichever of steps / timeMs comes first. */
  readonly steps?: number;
  readonly timeMs?: number;
  /** Time budget for minimising each new finding (default 10 s; 0 = keep the full list). */
  readonly minimiseMs?: number;
  /** Called about every 100 ms with the steps done so far. */
  readonly onProgress?: (steps: number, findings: number) => void;
}

export interface Finding {
  readonly invariant: InvariantId;
  readonly message: string;
  /** Invariant and message with numbers blanked: findings with the same signature are one bug. */
  readonly signature: string;
  /** How many times this signature was hit. */
  count: number;
  readonly case: FuzzCase;
  /** Replays spent minimising, and whether the result is 1-minimal. */
  readonly minimisation: { readonly replays: number; readonly complete: boolean };
}

export interface RunReport {
  readonly target: string;
  readonly seed: bigint;
  readonly worker: number;
  readonly steps: number;
  readonly episodes: number;
  readonly elapsedMs: number;
  readonly coverage: CoverageRecord;
  readonly findings: Finding[];
}

const CHECK_EVERY = 256;
const PROGRESS_MS = 100;

/** A finding's identity: invariant plus message with every number replaced by `#`. */
export function signatureOf(v: Violation): string {
  return `${v.invariant}: ${v.message.replace(/0x[0-9a-fA-F]+|\d+/g, '#')}`;
}

/** Run one worker's share of a fuzz run. */
export function runFuzz(target: AnyTarget, options: RunOptions): RunReport {
  const worker = options.worker ?? 0;
  const workerSeed = deriveSeed(options.seed, worker);
  const coverage = new Coverage();
  const findings = new Map<string, Finding>();
  const start = performance.now();
  const maxSteps = options.steps ?? Number.POSITIVE_INFINITY;
  const deadline = options.timeMs === undefined ? Number.POSITIVE_INFINITY : start + options.timeMs;
  let steps = 0;
  let episode = 0;
  let lastProgress = start;
  let outOfTime = false;

  const record = (setup: unknown, actions: unknown[], v: Violation, step: number): void => {
    const signature = signatureOf(v);
    const seen = findings.get(signature);
    if (seen) {
      seen.count++;
      return;
    }
    const path: CasePath = { worker, episode, step };
    const shrunk = options.minimiseMs === 0 ? undefined : shrink(target, setup, actions, v.invariant, options.minimiseMs ?? 10_000);
    const kept = shrunk?.items ?? actions;
    findings.set(signature, {
      invariant: v.invariant,
      message: v.message,
      signature,
      count: 1,
      case: {
        target: target.name,
        seed: options.seed,
        path,
        invariant: v.invariant,
        message: v.message,
        originalActions: actions.length,
        setup: toJsonSafe(setup),
        actions: kept.map(toJsonSafe),
      },
      minimisation: { replays: shrunk?.replays ?? 0, complete: shrunk?.complete ?? false },
    });
  };

  while (steps < maxSteps && !outOfTime) {
    const rng = new Rng(deriveSeed(workerSeed, episode));
    const setup = target.chooseSetup(rng);
    let ep: Episode<unknown>;
    try {
      ep = target.open(setup, coverage);
    } catch (e) {
      record(setup, [], exceptionViolation(`building the ${target.name} world`, e), 0);
      episode++;
      steps++;
      continue;
    }
    const actions: unknown[] = [];
    const length = target.episodeLength(setup);
    for (let i = 0; i < length && steps < maxSteps && ep.live; i++) {
      const action = ep.next(rng);
      actions.push(action);
      const v = ep.step(action);
      steps++;
      if (v) {
        record(setup, actions, v, i);
        break;
      }
      if ((steps & (CHECK_EVERY - 1)) === 0) {
        const now = performance.now();
        if (now > deadline) {
          outOfTime = true;
          break;
        }
        if (options.onProgress && now - lastProgress > PROGRESS_MS) {
          lastProgress = now;
          options.onProgress(steps, findings.size);
        }
      }
    }
    episode++;
    if (performance.now() > deadline) outOfTime = true;
  }
  options.onProgress?.(steps, findings.size);
  return {
    target: target.name,
    seed: options.seed,
    worker,
    steps,
    episodes: episode,
    elapsedMs: performance.now() - start,
    coverage: coverage.toRecord(),
    findings: [...findings.values()],
  };
}

export interface ReplayResult {
  /** The first violation, if the actions still break an invariant. */
  readonly violation: Violation | undefined;
  /** Index of the action that broke it (or the number of actions run). */
  readonly step: number;
  readonly coverage: CoverageRecord;
}

/** Replay concrete actions from a fresh world built from `setup`, stopping at the first violation. */
export function replay(target: AnyTarget, setup: unknown, actions: readonly unknown[], options: OpenOptions = {}): ReplayResult {
  const coverage = new Coverage();
  let ep: Episode<unknown>;
  try {
    ep = target.open(setup, coverage, options);
  } catch (e) {
    return { violation: exceptionViolation(`building the ${target.name} world`, e), step: 0, coverage: coverage.toRecord() };
  }
  for (let i = 0; i < actions.length; i++) {
    const v = ep.step(actions[i]);
    if (v) return { violation: v, step: i, coverage: coverage.toRecord() };
  }
  return { violation: undefined, step: actions.length, coverage: coverage.toRecord() };
}

/** Replay a case read from disk: its setup and actions are decoded with the target's schemas. */
export function replayCase(target: AnyTarget, c: FuzzCase, options: OpenOptions = {}): ReplayResult {
  const setup = decodeWith(target.setupSchema, c.setup, 'case setup');
  const actions = c.actions.map((a, i) => decodeWith(target.actionSchema, a, `case action ${i}`));
  return replay(target, setup, actions, options);
}

/** Minimise a failing list: keep sub-lists that still break the same invariant. */
function shrink(target: AnyTarget, setup: unknown, actions: readonly unknown[], invariant: InvariantId, timeMs: number) {
  return minimise(actions, (candidate) => replay(target, setup, candidate).violation?.invariant === invariant, { timeMs });
}
