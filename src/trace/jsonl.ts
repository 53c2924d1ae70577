/**
 * The native trace format: JSON lines. Line 1 is the header (`{"format":"tdxsim-trace",…}`), every
 * further line one TraceEvent, keys in a fixed order so equal runs give byte-identical files.
 * docs/trace-format.md describes every field.
 *
 * The reader validates each line against the schema (schema.ts) and the lines against each other
 * (sequence numbers increase; a flow continues a chain an earlier line opened) and reports every
 * problem with its line number and field path, not just the first. Blank lines are ignored.
 */
import type { TraceEvent, TraceStatus } from './events.ts';
import { checkEvent, checkHeader, TRACE_FORMAT, TRACE_FORMAT_VERSION, type TraceHeader } from './schema.ts';
import { SimClock } from './clock.ts';
import type { Tracer } from './tracer.ts';

/** Key order of an event line (the order docs/trace-format.md lists them). */
const EVENT_KEYS: readonly (keyof TraceEvent)[] = Object.freeze([
  'seq', 'time', 'duration', 'kind', 'party', 'name', 'lp', 'td', 'vcpu',
  'in', 'out', 'fields', 'status', 'vmmStatus', 'flowOut', 'flowIn', 'data',
] as const);

/** Key order of a status. */
const STATUS_KEYS: readonly (keyof TraceStatus)[] = Object.freeze([
  'value', 'name', 'detail', 'detailKind', 'error', 'domain', 'warning', 'flags', 'text',
] as const);

function ordered<T extends object>(value: T, keys: readonly (keyof T)[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (value[k] !== undefined) out[k as string] = value[k];
  return out;
}

export function traceHeader(source?: string): TraceHeader {
  return { format: TRACE_FORMAT, version: TRACE_FORMAT_VERSION, clock: 'ns', ...(source !== undefined && { source }) };
}

/** One event as a line (no newline), keys in the documented order, absent fields omitted. */
export function formatEventLine(event: TraceEvent): string {
  const line = ordered(event, EVENT_KEYS);
  if (event.status) line.status = ordered(event.status, STATUS_KEYS);
  if (event.vmmStatus) line.vmmStatus = ordered(event.vmmStatus, STATUS_KEYS);
  return JSON.stringify(line);
}

/** A whole trace: header line, event lines, final newline. */
export function formatJsonl(events: readonly TraceEvent[], source?: string): string {
  const lines = [JSON.stringify(traceHeader(source))];
  for (const e of events) lines.push(formatEventLine(e));
  return lines.join('\n') + '\n';
}

/**
 * A tracer that writes each event as a line as it happens (for long runs: nothing is kept in
 * memory). `write` receives whole lines with their newline; the header is written first.
 */
export class JsonlTracer implements Tracer {
  readonly enabled = true;
  readonly clock: SimClock;
  private seq = 0;

  constructor(
    private readonly write: (chunk: string) => void,
    options: { readonly source?: string; readonly clock?: SimClock } = {},
  ) {
    this.clock = options.clock ?? new SimClock();
    write(JSON.stringify(traceHeader(options.source)) + '\n');
  }

  nextSeq(): number {
    return ++this.seq;
  }

  emit(event: TraceEvent): void {
    this.write(formatEventLine(event) + '\n');
  }
}

// ---------------------------------------------------------------------------------------------
// Reading.

export interface TraceProblem {
  /** 1-based line number in the file. */
  readonly line: number;
  /** Dotted field path within the line (`status.value`), absent for the line as a whole. */
  readonly path?: string;
  readonly message: string;
}

/** `line 12: status.value: expected "0x" and 16 upper-case hex digits`. */
export function formatProblem(p: TraceProblem): string {
  return `line ${p.line}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** The trace file is not a valid trace; `problems` says where and what (at most `limit` of them). */
export class TraceFormatError extends Error {
  override readonly name = 'TraceFormatError';

  constructor(
    readonly problems: readonly TraceProblem[],
    /** How many problems there were in all (more than `problems.length` when cut short). */
    readonly total: number = problems.length,
    source = 'trace',
  ) {
    const more = total > problems.length ? `\n  … and ${total - problems.length} more` : '';
    super(`${source} is not a valid tdxsim trace:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}${more}`);
  }
}

export interface ParsedTrace {
  readonly header: TraceHeader;
  readonly events: readonly TraceEvent[];
}

export interface ParseOptions {
  /** Stop listing problems after this many (the count goes on). Default 20. */
  readonly maxProblems?: number;
  /** Name used in the error message (a file path). */
  readonly source?: string;
}

/** Parse and validate a JSON-lines trace; throws TraceFormatError listing what is wrong where. */
export function parseJsonl(text: string, options: ParseOptions = {}): ParsedTrace {
  const max = options.maxProblems ?? 20;
  const problems: TraceProblem[] = [];
  let total = 0;
  const report = (line: number, message: string, path?: string): void => {
    total++;
    if (problems.length < max) problems.push({ line, message, ...(path && { path }) });
  };

  let header: TraceHeader | undefined;
  const events: TraceEvent[] = [];
  let lastSeq = 0;
  let lastSeqLine = 0;
  /** Chains opened so far (flowOut ids). */
  const chains = new Set<number>();

  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!.replace(/\r$/, '');
    if (raw.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      report(lineNo, `not valid JSON (${(err as Error).message})`);
      continue;
    }
    if (header === undefined) {
      const h = checkHeader(value);
      if (!h.ok) {
        const obj = typeof value === 'object' && value !== null ? value : {};
        const wanted = `{"format":"${TRACE_FORMAT}","version":${TRACE_FORMAT_VERSION},"clock":"ns"}`;
        if ('kind' in obj && 'seq' in obj) report(lineNo, `the header line is missing: a trace starts with ${wanted}`);
        else if (!('format' in obj)) report(lineNo, `not a tdxsim trace: the first line must be the header ${wanted}`);
        else for (const is of h.issues) report(lineNo, is.message, `header${is.path ? `.${is.path}` : ''}`);
        break;
      }
      header = h.value;
      continue;
    }
    const r = checkEvent(value);
    if (!r.ok) {
      for (const is of r.issues) report(lineNo, is.message, is.path);
      continue;
    }
    const e = r.value;
    if (e.seq <= lastSeq) report(lineNo, `seq ${e.seq} does not follow seq ${lastSeq} (line ${lastSeqLine}): sequence numbers must increase`, 'seq');
    lastSeq = Math.max(lastSeq, e.seq);
    lastSeqLine = lineNo;
    if (e.flowOut !== undefined) {
      if (e.flowOut !== e.seq) report(lineNo, `a chain is named by the seq of the event that opens it (${e.seq}), not ${e.flowOut}`, 'flowOut');
      chains.add(e.flowOut);
    }
    if (e.flowIn !== undefined && !chains.has(e.flowIn)) report(lineNo, `continues flow chain ${e.flowIn}, which no earlier line opened (flowOut)`, 'flowIn');
    events.push(e);
  }
  if (header === undefined && total === 0) report(1, `empty trace: expected a header line {"format":"${TRACE_FORMAT}",…} and events`);
  if (total > 0 || header === undefined) throw new TraceFormatError(problems, total, options.source);
  return { header, events };
}
