/**
 * Fuzz cases on disk: what a finding is saved as, and how `--replay` reads it back.
 *
 * A case is everything needed to reproduce a finding without the fuzzer's generator: the target,
 * the episode's initial setup, and the (minimised) list of concrete actions — register values,
 * not random choices — plus where it came from (run seed, worker stream, episode, step) so the
 * original run can be found again. JSON has no 64-bit integers, so every bigint is written as a
 * `0x` hex string and read back through the target's zod schema.
 *
 *   {
 *     "format": "tdxsim-fuzz-case", "version": 1,
 *     "target": "module", "seed": "0x…", "path": { "worker": 0, "episode": 3, "step": 41 },
 *     "invariant": "pamt-sept-consistent", "message": "…",
 *     "originalActions": 42, "setup": {…}, "actions": [ {…}, … ]
 *   }
 */
import { z } from 'zod';
import { INVARIANT_IDS, type InvariantId } from './invariants.ts';

export const CASE_FORMAT = 'tdxsim-fuzz-case';
export const CASE_VERSION = 1;

export const TARGET_NAMES = ['module', 'host', 'guest'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

/** Where in a run a finding happened: worker stream, episode within it, step within that. */
export interface CasePath {
  readonly worker: number;
  readonly episode: number;
  readonly step: number;
}

export interface FuzzCase {
  readonly target: TargetName;
  readonly seed: bigint;
  readonly path: CasePath;
  readonly invariant: InvariantId;
  readonly message: string;
  /** Length of the action list before minimisation (up to and including the failing step). */
  readonly originalActions: number;
  /** The episode's setup and actions, JSON-safe (bigints as hex strings). */
  readonly setup: unknown;
  readonly actions: readonly unknown[];
}

/** A case file that is not valid: what is wrong and where. */
export class CaseFormatError extends Error {
  override readonly name = 'CaseFormatError';
}

/** A u64 register value in a case file: `0x` and 1–16 hex digits. */
export const U64_JSON = z
  .string()
  .regex(/^0x[0-9a-fA-F]{1,16}$/, 'a 64-bit value as 0x followed by 1-16 hex digits')
  .transform((s) => BigInt(s));

/** Convert a value to JSON-safe form, recursively: bigints become `0x` hex strings, byte arrays hex. */
export function toJsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return `0x${value.toString(16)}`;
  if (Array.isArray(value)) return value.map(toJsonSafe);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toJsonSafe(v);
    return out;
  }
  return value;
}

const CaseFileSchema = z.object({
  format: z.literal(CASE_FORMAT),
  version: z.literal(CASE_VERSION),
  target: z.enum(TARGET_NAMES),
  seed: U64_JSON,
  path: z.object({ worker: z.number().int().min(0), episode: z.number().int().min(0), step: z.number().int().min(0) }),
  invariant: z.enum(INVARIANT_IDS as [InvariantId, ...InvariantId[]]),
  message: z.string(),
  originalActions: z.number().int().min(0),
  setup: z.unknown(),
  actions: z.array(z.unknown()),
});

/** The JSON text of a case file. */
export function encodeCase(c: FuzzCase): string {
  return (
    JSON.stringify(
      {
        format: CASE_FORMAT,
        version: CASE_VERSION,
        target: c.target,
        seed: toJsonSafe(c.seed),
        path: c.path,
        invariant: c.invariant,
        message: c.message,
        originalActions: c.originalActions,
        setup: c.setup,
        actions: c.actions,
      },
      null,
      2,
    ) + '\n'
  );
}

/** Parse a case file's text; throws CaseFormatError naming the first problem. */
export function decodeCase(text: string, source = 'case file'): FuzzCase {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CaseFormatError(`${source} is not JSON: ${(e as Error).message}`);
  }
  const r = CaseFileSchema.safeParse(json);
  if (!r.success) throw new CaseFormatError(`${source} is not a tdxsim fuzz case: ${z.prettifyError(r.error)}`);
  const { target, seed, path, invariant, message, originalActions, setup, actions } = r.data;
  return { target, seed, path, invariant, message, originalActions, setup, actions };
}

/** Parse a target's part of a case (setup or one action) with its schema. */
export function decodeWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new CaseFormatError(`${what}: ${z.prettifyError(r.error)}`);
  return r.data;
}

/** A file name for a case: target, invariant, seed and path, so findings sort and never clash. */
export function caseFileName(c: FuzzCase): string {
  const seed = c.seed.toString(16);
  return `${c.target}-${c.invariant}-${seed}-w${c.path.worker}-e${c.path.episode}-s${c.path.step}.json`;
}
