/**
 * Where the viewer's trace comes from: `/trace.jsonl` when `tdxsim view` serves the page, or a
 * file the user opens or drops. Either way the text goes through the same loader as the CLI
 * (src/trace/load.ts), so a malformed trace is refused with the same line-and-field messages.
 */
import type { TraceEvent } from '../../src/trace/events.ts';
import { formatProblem, TraceFormatError } from '../../src/trace/jsonl.ts';
import { loadTrace, type LoadedTrace } from '../../src/trace/load.ts';

export type LoadState =
  | { readonly kind: 'loading'; readonly what: string }
  /** No trace served and none opened yet. */
  | { readonly kind: 'empty' }
  | { readonly kind: 'error'; readonly source: string; readonly headline: string; readonly problems: readonly string[]; readonly more: number }
  | { readonly kind: 'ready'; readonly trace: LoadedTrace; readonly events: readonly TraceEvent[] };

/** The URL `tdxsim view` serves the trace at (relative, like the page's assets). */
export const SERVED_TRACE_URL = './trace.jsonl';

/** Events in time order (ties by seq); the trace is normally in that order already. */
function inTimeOrder(events: readonly TraceEvent[]): readonly TraceEvent[] {
  for (let i = 1; i < events.length; i++) {
    const a = events[i - 1]!;
    const b = events[i]!;
    if (b.time < a.time || (b.time === a.time && b.seq < a.seq)) return [...events].sort((x, y) => x.time - y.time || x.seq - y.seq);
  }
  return events;
}

export function fromText(text: string, source: string): LoadState {
  try {
    const trace = loadTrace(text, source);
    return { kind: 'ready', trace, events: inTimeOrder(trace.events) };
  } catch (err) {
    if (err instanceof TraceFormatError) {
      return {
        kind: 'error',
        source,
        headline: `${source} is not a valid tdxsim trace`,
        problems: err.problems.map(formatProblem),
        more: err.total - err.problems.length,
      };
    }
    return { kind: 'error', source, headline: `${source} could not be read`, problems: [String(err instanceof Error ? err.message : err)], more: 0 };
  }
}

/** The trace the server offers; `empty` when there is none (a plain static copy of the viewer). */
export async function fetchServedTrace(): Promise<LoadState> {
  let res: Response;
  try {
    res = await fetch(SERVED_TRACE_URL, { cache: 'no-store' });
  } catch (err) {
    return { kind: 'error', source: SERVED_TRACE_URL, headline: 'The trace server cannot be reached', problems: [String(err)], more: 0 };
  }
  if (res.status === 404) return { kind: 'empty' };
  if (!res.ok) return { kind: 'error', source: SERVED_TRACE_URL, headline: `The server answered ${res.status} ${res.statusText}`, problems: [], more: 0 };
  const named = res.headers.get('x-trace-source');
  return fromText(await res.text(), named ? decodeURIComponent(named) : 'trace.jsonl');
}

export async function readFile(file: File): Promise<LoadState> {
  return fromText(await file.text(), file.name);
}
