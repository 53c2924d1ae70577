/**
 * What a fuzz target is: a world that can be built from a small setup description, a generator
 * of concrete actions against it, and a step that executes one action and checks every invariant.
 *
 * Actions are concrete (register values, addresses), never "random choices": a list of them
 * replays the same way from the same setup, which is what makes findings replayable and
 * minimisable. The generator may look at the world's state to choose well (the next valid build
 * step, a live TDR to abuse); the action it returns stands on its own.
 */
import type { z } from 'zod';
import type { Rng } from './rng.ts';
import type { Coverage } from './coverage.ts';
import type { Violation } from './invariants.ts';
import type { TargetName } from './case.ts';
import type { Tracer } from '../trace/tracer.ts';

export interface OpenOptions {
  /** Record the episode's SEAMCALLs (replays with --trace; never in the fuzz loop). */
  readonly tracer?: Tracer;
}

/** One episode: a world built from a setup, stepped until it ends. */
export interface Episode<A> {
  /** The next action, chosen from the current state. */
  next(rng: Rng): A;
  /**
   * Execute one action and check the invariants. Never throws: an exception escaping the
   * simulated party is itself reported as a no-exception violation.
   */
  step(action: A): Violation | undefined;
  /** False once nothing further can happen in this world (e.g. the module was shut down). */
  readonly live: boolean;
}

export interface FuzzTarget<A, S> {
  readonly name: TargetName;
  /** One line for `--help` and the report. */
  readonly summary: string;
  /** Steps after which a fresh world is built, for an episode that started from `setup`. */
  episodeLength(setup: S): number;
  /** Choose how the next episode's world starts (recorded in findings). */
  chooseSetup(rng: Rng): S;
  /** Build a world. Throws only if the simulator fails a valid setup sequence (a finding). */
  open(setup: S, coverage: Coverage, options?: OpenOptions): Episode<A>;
  /** Schemas reading a case file's setup and actions back (bigints as hex strings). */
  readonly setupSchema: z.ZodType<S>;
  readonly actionSchema: z.ZodType<A>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTarget = FuzzTarget<any, any>;
