/**
 * `tdxsim view trace.jsonl [--port N] [--no-open]`: check a trace, then serve the built viewer
 * (dist/web, made by `npm run build:web`) and the trace on 127.0.0.1, print the URL, open a
 * browser, and stay up until Ctrl-C.
 *
 * The trace is validated before anything is served, so a malformed file is a CLI error with its
 * line and field, not a page that fails later. The server binds to the loopback address only: a
 * trace holds a TD's registers and measurements and is nobody else's business. It serves nothing
 * but the viewer's files and the one trace, read afresh on each request so a re-run shows up on
 * reload.
 */
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TraceFormatError } from '../../trace/jsonl.ts';
import { loadTraceFile, TraceFileError } from '../../trace/load-file.ts';
import { UsageError } from '../errors.ts';

/** Port `tdxsim view` listens on unless told otherwise. */
export const DEFAULT_VIEW_PORT = 7357;
/** Only the loopback interface: the trace is not for the network. */
export const VIEW_HOST = '127.0.0.1';
/** Where the page fetches the trace from (web/src/source.ts). */
export const TRACE_PATH = '/trace.jsonl';

/** The built viewer: dist/web of this package, from src/cli/commands or dist/cli/commands alike. */
export const VIEWER_ROOT = fileURLToPath(new URL('../../../dist/web/', import.meta.url));

const BUILD_HINT = 'run `npm run build:web` (vite build web) in the tdxsim checkout, or `npm run build` for everything';

const CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
});

export interface ViewServerOptions {
  /** The trace file; it must already be valid (see `checkTrace`). */
  readonly tracePath: string;
  /** 0 asks the system for any free port. */
  readonly port: number;
  /** Directory of the built viewer (default VIEWER_ROOT). */
  readonly webRoot?: string;
}

export interface ViewServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Validate a trace file; a problem becomes a UsageError naming the line and field. */
export function checkTrace(path: string): number {
  try {
    return loadTraceFile(path).events.length;
  } catch (err) {
    if (err instanceof TraceFileError || err instanceof TraceFormatError) throw new UsageError(`view: ${err.message}`);
    throw err;
  }
}

/** The viewer's index.html, or a UsageError saying how to build it. */
export function viewerIndex(webRoot: string): string {
  const index = join(webRoot, 'index.html');
  if (!existsSync(index)) throw new UsageError(`view: the trace viewer is not built (no ${index}): ${BUILD_HINT}`);
  return index;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'x-content-type-options': 'nosniff', 'cache-control': 'no-store', ...extra });
  res.end(body);
}

/** Map a request path to a file under the web root, refusing anything that escapes it. */
function staticFile(webRoot: string, urlPath: string): string | undefined {
  let path: string;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  const file = resolve(webRoot, '.' + (path === '/' ? '/index.html' : path));
  if (file !== resolve(webRoot) && !file.startsWith(resolve(webRoot) + sep)) return undefined;
  return existsSync(file) && statSync(file).isFile() ? file : undefined;
}

function handle(req: IncomingMessage, res: ServerResponse, opts: Required<ViewServerOptions>): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n', { allow: 'GET, HEAD' });
    return;
  }
  const urlPath = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (urlPath === TRACE_PATH) {
    let text: string;
    try {
      text = readFileSync(opts.tracePath, 'utf8');
    } catch (err) {
      send(res, 500, 'text/plain; charset=utf-8', `cannot read ${opts.tracePath}: ${(err as Error).message}\n`);
      return;
    }
    send(res, 200, 'application/x-ndjson; charset=utf-8', text, { 'x-trace-source': encodeURIComponent(basename(opts.tracePath)) });
    return;
  }
  const file = staticFile(opts.webRoot, urlPath);
  if (!file) {
    send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    return;
  }
  send(res, 200, CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', readFileSync(file));
}

/** Serve the viewer and one trace on 127.0.0.1. Resolves once listening. */
export function startViewServer(options: ViewServerOptions): Promise<ViewServer> {
  const opts: Required<ViewServerOptions> = { webRoot: VIEWER_ROOT, ...options };
  viewerIndex(opts.webRoot);
  const server = createServer((req, res) => handle(req, res, opts));
  return new Promise((resolvePromise, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new UsageError(`view: port ${opts.port} on ${VIEW_HOST} is in use: choose another with --port, or --port 0 for any free port`)
          : err,
      );
    });
    server.listen(opts.port, VIEW_HOST, () => {
      const port = (server.address() as AddressInfo).port;
      resolvePromise({
        url: `http://${VIEW_HOST}:${port}/`,
        port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Parse --port: an integer 0..65535. */
export function parsePort(text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n > 65535) throw new UsageError(`view: --port '${text}' is not a port number (0..65535; 0 = any free port)`);
  return n;
}

/** Open the URL in the desktop's browser; failing to is not an error (the URL is printed). */
function openBrowser(url: string, log: (line: string) => void): void {
  const [cmd, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', url]] : ['xdg-open', [url]];
  const child = spawn(cmd, args, { detached: true, stdio: 'ignore' });
  child.on('error', () => log(`(could not start a browser; open ${url} yourself)`));
  child.unref();
}

export interface ViewIo {
  readonly log: (line: string) => void;
  /** Resolves when the server should stop (Ctrl-C). */
  readonly untilStopped: () => Promise<void>;
  /** The built viewer to serve (default VIEWER_ROOT). */
  readonly webRoot?: string;
}

const processIo: ViewIo = {
  log: (line) => console.log(line),
  untilStopped: () =>
    new Promise((done) => {
      process.once('SIGINT', () => done());
      process.once('SIGTERM', () => done());
    }),
};

export function registerViewCommand(program: Command, io: ViewIo = processIo): void {
  program
    .command('view')
    .description('Check a trace (JSON lines) and show it in the browser viewer, served on 127.0.0.1 until Ctrl-C')
    .argument('<trace>', 'trace file written by tdxsim (JSON lines, docs/trace-format.md)')
    .option('--port <n>', `port on ${VIEW_HOST} (0 = any free port)`, parsePort, DEFAULT_VIEW_PORT)
    .option('--no-open', 'do not open a browser, just print the URL')
    .action(async (trace: string, opts: { port: number; open: boolean }) => {
      const count = checkTrace(trace);
      const server = await startViewServer({ tracePath: resolve(trace), port: opts.port, ...(io.webRoot !== undefined && { webRoot: io.webRoot }) });
      io.log(`tdxsim view: ${trace} (${count} events) at ${server.url}  (Ctrl-C to stop)`);
      if (opts.open) openBrowser(server.url, io.log);
      await io.untilStopped();
      await server.close();
    });
}
