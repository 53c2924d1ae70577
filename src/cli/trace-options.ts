/**
 * The `--trace FILE [--format jsonl|chrome]` options every simulating command shares (run, demo,
 * and — wired by their owners — conformance and fuzz --replay): declare them, open a sink the
 * command installs as its platform's tracer, and write the file when the run is over.
 *
 *   addTraceOptions(cmd);                       // in the command's definition
 *   const sink = openTraceSink(opts, source);   // before the run: sink?.tracer → platform.tracer
 *   const note = finishTrace(sink);             // after it (also after a failed run)
 *
 * JSON lines (the default) are streamed to the file as events happen, so a long run keeps nothing
 * in memory and a run that dies half way still leaves a valid prefix. Chrome Trace Event JSON
 * (opens in Perfetto, ui.perfetto.dev) is one document with flows computed over the whole run, so
 * those events are collected and written at the end.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from './errors.ts';
import { formatChromeTrace, toChromeTrace } from '../trace/chrome.ts';
import { JsonlTracer } from '../trace/jsonl.ts';
import { RecordingTracer, type Tracer } from '../trace/tracer.ts';

export const TRACE_FORMATS = Object.freeze(['jsonl', 'chrome'] as const);
export type TraceFormat = (typeof TRACE_FORMATS)[number];

/** The parsed options (commander's names for them). */
export interface TraceOptions {
  readonly trace?: string;
  readonly format?: string;
}

/** Declare `--trace <file>` and `--format <format>` on a command. */
export function addTraceOptions(cmd: Command): Command {
  return cmd
    .option('--trace <file>', 'record every crossing (SEAMCALL, TDCALL, TD exit/entry, TDVMCALL, …) to FILE')
    .option('--format <format>', `trace file format with --trace: ${TRACE_FORMATS.join(' (default) or ')} (Chrome JSON opens in Perfetto)`);
}

/** Where a run's events go, and how the file is finished. */
export interface TraceSink {
  readonly tracer: Tracer;
  readonly path: string;
  readonly format: TraceFormat;
  /** Events recorded so far. */
  events(): number;
  /** Flush and close the file (idempotent). */
  close(): void;
}

/** Lines are gathered into chunks of about this many characters before a write. */
const CHUNK_CHARS = 1 << 16;

/** A JSON-lines file written as the run goes. */
function jsonlSink(path: string, source: string | undefined): TraceSink {
  const fd = openSync(path, 'w');
  let pending: string[] = [];
  let size = 0;
  let lines = -1; // the header is not an event
  let open = true;
  const flush = (): void => {
    if (pending.length > 0) writeSync(fd, pending.join(''));
    pending = [];
    size = 0;
  };
  const tracer = new JsonlTracer(
    (chunk) => {
      lines++;
      pending.push(chunk);
      size += chunk.length;
      if (size >= CHUNK_CHARS) flush();
    },
    source !== undefined ? { source } : {},
  );
  return {
    tracer,
    path,
    format: 'jsonl',
    events: () => lines,
    close: () => {
      if (!open) return;
      open = false;
      flush();
      closeSync(fd);
    },
  };
}

/** A Chrome Trace Event JSON file written at the end. */
function chromeSink(path: string, source: string | undefined): TraceSink {
  const tracer = new RecordingTracer();
  // Fail on an unwritable path now, not after the run.
  closeSync(openSync(path, 'w'));
  let open = true;
  return {
    tracer,
    path,
    format: 'chrome',
    events: () => tracer.events.length,
    close: () => {
      if (!open) return;
      open = false;
      const fd = openSync(path, 'w');
      try {
        writeSync(fd, formatChromeTrace(toChromeTrace(tracer.events, source !== undefined ? { source } : {})));
      } finally {
        closeSync(fd);
      }
    },
  };
}

/**
 * Check the options and open the trace file; undefined when tracing was not asked for. A bad
 * format, `--format` without `--trace`, or a file that cannot be created is a UsageError.
 * `source` names what ran (a scenario, a fuzz case) in the trace's header.
 */
export function openTraceSink(opts: TraceOptions, source?: string): TraceSink | undefined {
  const format = opts.format ?? 'jsonl';
  if (!(TRACE_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format ${format}: the trace format must be ${TRACE_FORMATS.join(' or ')}`);
  }
  if (opts.trace === undefined) {
    if (opts.format !== undefined) throw new UsageError('--format chooses the trace file format: give the file with --trace FILE');
    return undefined;
  }
  try {
    return format === 'chrome' ? chromeSink(opts.trace, source) : jsonlSink(opts.trace, source);
  } catch (e) {
    throw new UsageError(`--trace ${opts.trace}: cannot write the trace file (${(e as Error).message})`);
  }
}

/** Finish the trace file; returns the line to tell the user, or undefined without a sink. */
export function finishTrace(sink: TraceSink | undefined): string | undefined {
  if (!sink) return undefined;
  sink.close();
  return `${sink.events()} trace events written to ${sink.path} (${sink.format === 'chrome' ? 'Chrome Trace Event JSON' : 'JSON lines'})`;
}
