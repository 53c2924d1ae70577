/**
 * Load a trace for the viewer or the CLI: recognise what the text is, and read it if it is ours.
 *
 * tdxsim's own format is JSON lines (jsonl.ts). Other things people are likely to hand the viewer
 * are recognised and refused with a message that says what the file is and what to do instead: the
 * Chrome Trace Event JSON that `chrome.ts` exports (for Perfetto, not for this viewer), other JSON,
 * compressed or binary files (a Perfetto protobuf trace), and empty files. Runs in Node and in the
 * browser (no file system access here; see load-file.ts).
 */
import { parseJsonl, TraceFormatError, type ParsedTrace } from './jsonl.ts';
import { TRACE_FORMAT } from './schema.ts';

export type TraceKind = 'jsonl' | 'chrome-json' | 'other-json' | 'gzip' | 'binary' | 'empty' | 'text';

/** What a text looks like, judged from its start (and, for one JSON document, its top level). */
export function detectTraceKind(text: string): TraceKind {
  const start = text.slice(0, 4096);
  if (start.trim() === '') return 'empty';
  // 1F 8B is the gzip magic; after decoding as text it arrives as U+001F and U+FFFD (or U+008B).
  if (start.charCodeAt(0) === 0x1f) return 'gzip';
  if (hasControlCharacters(start)) return 'binary';
  const first = start.trimStart();
  const firstLine = first.split('\n', 1)[0]!.trim();
  if (firstLine.startsWith('{') && firstLine.includes(`"${TRACE_FORMAT}"`)) return 'jsonl';
  if (first.startsWith('[')) return looksLikeChromeArray(first) ? 'chrome-json' : 'other-json';
  if (first.startsWith('{')) {
    // One JSON document spread over lines, or JSON lines of something else.
    if (/^\{\s*"traceEvents"\s*:/.test(first) || /"traceEvents"\s*:\s*\[/.test(start)) return 'chrome-json';
    return 'other-json';
  }
  return 'text';
}

/** Control characters other than tab, LF, VT, FF and CR never occur in JSON text. */
function hasControlCharacters(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 9 || (c > 13 && c < 32)) return true;
  }
  return false;
}

function looksLikeChromeArray(start: string): boolean {
  return /"ph"\s*:\s*"[A-Za-z]"/.test(start);
}

const WHAT_IS_NEEDED = `tdxsim reads its own JSON-lines trace: a first line {"format":"${TRACE_FORMAT}","version":1,"clock":"ns"} and one event per line (docs/trace-format.md)`;

const REFUSAL: Readonly<Record<Exclude<TraceKind, 'jsonl'>, string>> = Object.freeze({
  'chrome-json': `this is a Chrome Trace Event JSON file, the format tdxsim exports for Perfetto: open it at https://ui.perfetto.dev. ${WHAT_IS_NEEDED}`,
  'other-json': `this is JSON without the tdxsim trace header on its first line. ${WHAT_IS_NEEDED}`,
  gzip: `this file is gzip-compressed: decompress it first (gunzip). ${WHAT_IS_NEEDED}`,
  binary: `this is a binary file (a Perfetto protobuf trace?), not text. ${WHAT_IS_NEEDED}`,
  empty: `the file is empty. ${WHAT_IS_NEEDED}`,
  text: `this is not JSON. ${WHAT_IS_NEEDED}`,
});

export interface LoadedTrace extends ParsedTrace {
  readonly source: string;
}

/**
 * Recognise and parse a trace. Throws TraceFormatError: for another format, one problem on line 1
 * naming the format; for a malformed tdxsim trace, the problems by line and field.
 */
export function loadTrace(text: string, source = 'trace'): LoadedTrace {
  const kind = detectTraceKind(text);
  if (kind !== 'jsonl') {
    // Other JSON lines may still be a tdxsim trace whose header is broken: let the reader say
    // exactly what is wrong with the header rather than guess the format.
    if (kind === 'other-json' && text.trimStart().split('\n', 1)[0]!.trim().endsWith('}')) {
      return { source, ...parseJsonl(text, { source }) };
    }
    throw new TraceFormatError([{ line: 1, message: REFUSAL[kind] }], 1, source);
  }
  return { source, ...parseJsonl(text, { source }) };
}
