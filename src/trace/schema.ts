/**
 * The JSON-lines trace format as a schema: one header line, then one TraceEvent per line.
 * docs/trace-format.md documents every field with an example; this file is what the reader checks.
 *
 * The schema is strict (an unknown field is an error, so a typo is caught rather than ignored)
 * and checks each kind's `data`: a `page` event must say which GPA went from which state to which,
 * a `measure` event which register, how, and the digest after.
 */
import { z } from 'zod';
import { GPR_NAMES } from '../abi/registers.ts';
import { TRACE_EVENT_KINDS, TRACE_MEASURE_OPS, TRACE_MEASURE_REGISTERS, TRACE_PARTIES, type TraceEvent, type TraceEventKind } from './events.ts';
import { TRACE_PAGE_STATES } from './page-states.ts';

/** `format` of the header line: what makes a file a tdxsim trace. */
export const TRACE_FORMAT = 'tdxsim-trace';
/** The format version this code writes and reads. */
export const TRACE_FORMAT_VERSION = 1;

export interface TraceHeader {
  readonly format: typeof TRACE_FORMAT;
  readonly version: number;
  /** Unit of `time` and `duration`: always simulated nanoseconds. */
  readonly clock: 'ns';
  /** What produced the trace (a scenario, a script). */
  readonly source?: string;
}

const hex64 = z.string().regex(/^0x[0-9A-F]{16}$/, 'expected "0x" and 16 upper-case hex digits');
const count = z.number().int('expected an integer').nonnegative('expected a value ≥ 0');
const positive = z.number().int('expected an integer').positive('expected a value ≥ 1');

export const traceHeaderSchema = z.strictObject({
  format: z.literal(TRACE_FORMAT),
  version: positive.max(TRACE_FORMAT_VERSION, `this tdxsim reads trace format version ${TRACE_FORMAT_VERSION}; upgrade tdxsim to read newer traces`),
  clock: z.literal('ns'),
  source: z.string().optional(),
});

/** Keys in the order the writer puts them (jsonl.ts), which is also the order parsing yields. */
const statusSchema = z.strictObject({
  value: hex64,
  name: z.string().min(1).optional(),
  detail: z.string().min(1).optional(),
  detailKind: z.string().min(1).optional(),
  error: z.boolean(),
  domain: z.enum(['tdx', 'tdvmcall']).optional(),
  warning: z.boolean().optional(),
  flags: z.array(z.string()).optional(),
  text: z.string().optional(),
});

const registers = z.partialRecord(z.enum(GPR_NAMES.map((n) => n.toLowerCase()) as [string, ...string[]]), hex64);
const scalar = z.union([z.string(), z.number(), z.boolean()]);
const genericData = z.record(z.string(), scalar);

const pageData = z.strictObject({
  gpa: hex64,
  from: z.enum(TRACE_PAGE_STATES as [string, ...string[]]),
  to: z.enum(TRACE_PAGE_STATES as [string, ...string[]]),
  level: z.number().int().min(0).max(4).optional(),
});

const measureData = z.strictObject({
  register: z.enum(TRACE_MEASURE_REGISTERS),
  op: z.enum(TRACE_MEASURE_OPS),
  digest: z.string().regex(/^[0-9a-f]{96}$/, 'expected 96 lower-case hex digits (48 bytes)'),
  gpa: hex64.optional(),
  input: z.string().regex(/^[0-9a-f]{96}$/, 'expected 96 lower-case hex digits (48 bytes)').optional(),
});

const baseShape = {
  seq: positive,
  time: count,
  duration: count,
  party: z.enum(TRACE_PARTIES as [string, ...string[]]),
  name: z.string().min(1, 'expected a non-empty name'),
  lp: count.optional(),
  td: hex64.optional(),
  vcpu: count.optional(),
  in: registers.optional(),
  out: registers.optional(),
  fields: z.record(z.string(), z.string()).optional(),
  status: statusSchema.optional(),
  vmmStatus: statusSchema.optional(),
  flowOut: positive.optional(),
  flowIn: positive.optional(),
};

function variant<K extends TraceEventKind, D extends z.ZodType>(kind: K, data: D) {
  return z.strictObject({ ...baseShape, kind: z.literal(kind), data });
}

/** One event line. `data` is required and checked for page and measure events. */
export const traceEventSchema = z.discriminatedUnion(
  'kind',
  TRACE_EVENT_KINDS.map((k) =>
    k === 'page' ? variant(k, pageData) : k === 'measure' ? variant(k, measureData) : variant(k, genericData.optional()),
  ) as unknown as [ReturnType<typeof variant>, ...ReturnType<typeof variant>[]],
  { error: (issue) => (issue.code === 'invalid_union' ? `expected one of ${TRACE_EVENT_KINDS.join(', ')}` : undefined) },
);

/** A problem found in one place of one line. */
export interface SchemaIssue {
  /** Dotted path of the field (`status.value`, `in.rcx`), empty for the line as a whole. */
  readonly path: string;
  readonly message: string;
}

function issues(error: z.ZodError): SchemaIssue[] {
  return error.issues.map((i) => ({
    path: i.path.map(String).join('.'),
    message: i.code === 'unrecognized_keys' ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message,
  }));
}

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly SchemaIssue[] };

export function checkHeader(value: unknown): Checked<TraceHeader> {
  const r = traceHeaderSchema.safeParse(value);
  return r.success ? { ok: true, value: r.data as TraceHeader } : { ok: false, issues: issues(r.error) };
}

export function checkEvent(value: unknown): Checked<TraceEvent> {
  const r = traceEventSchema.safeParse(value);
  return r.success ? { ok: true, value: r.data as TraceEvent } : { ok: false, issues: issues(r.error) };
}
