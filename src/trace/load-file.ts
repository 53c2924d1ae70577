/**
 * Load a trace file from disk (Node only; the browser viewer reads files itself and calls
 * loadTrace). A file that cannot be read gets a message naming the file and the reason.
 */
import { readFileSync } from 'node:fs';
import { loadTrace, type LoadedTrace } from './load.ts';

/** The file could not be read at all (missing, a directory, no permission). */
export class TraceFileError extends Error {
  override readonly name = 'TraceFileError';
}

const REASONS: Readonly<Record<string, string>> = Object.freeze({
  ENOENT: 'no such file',
  EISDIR: 'it is a directory, not a file',
  EACCES: 'permission denied',
});

/** Read and validate a trace file; throws TraceFileError or TraceFormatError. */
export function loadTraceFile(path: string): LoadedTrace {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    throw new TraceFileError(`cannot read ${path}: ${REASONS[code] ?? (err as Error).message}`);
  }
  return loadTrace(text, path);
}
