/**
 * The tdxsim wire server: listens on a Unix socket (default) or on TCP 127.0.0.1, and gives each
 * client a session — a host session with its own machine, or a guest session that becomes a
 * vCPU's code (docs/wire-protocol.md).
 *
 * Socket safety: the simulator hands out whole machines, so only the user who started it may
 * connect. The Unix socket is bound with umask 0177, so it is created 0600 with no window in which
 * it is more open, and chmod'ed 0600 again after binding; the default path is in
 * $XDG_RUNTIME_DIR (private to the user by its specification) or in a 0700 directory of our own
 * under the system temporary directory, whose ownership and mode are checked before use. A stale
 * socket file (nobody listening) is replaced; a live one, or a path that is not a socket, is an
 * error. TCP binds to 127.0.0.1 only.
 *
 * Limits: at most `maxConnections` clients and `maxHostSessions` host sessions (each one is a
 * simulated machine with its own memory); beyond that a connection gets ERROR LIMIT_EXCEEDED.
 *
 * `close()` is the clean shutdown (SIGINT/SIGTERM in `tdxsim serve`): stop listening, stop the
 * built-in TDs, tell every client (ERROR SHUTTING_DOWN), close every connection, remove the socket.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WireErrorCode } from '../abi/wire.ts';
import { Connection, type ConnectionHost } from './connection.ts';
import { GuestDirectory } from './guest-slot.ts';
import { wireProxyFactory } from './guest-proxy.ts';

export interface WireServerOptions {
  /** Unix socket path; default `defaultSocketPath()` unless `port` is given. */
  readonly socketPath?: string;
  /** TCP port on 127.0.0.1 (0 = any free port) instead of a Unix socket. */
  readonly port?: number;
  /** Concurrent connections; default 256. */
  readonly maxConnections?: number;
  /** Concurrent host sessions; default 32. */
  readonly maxHostSessions?: number;
  /** How long a held TDH.VP.ENTER waits for a silent guest before its tick exit (ms); default 100. */
  readonly guestWaitTickMs?: number;
  /** Where server-side problems are reported (default: stderr). */
  readonly log?: (message: string) => void;
}

/** A mistake in how the server was asked to listen (a path that is not ours, a port in use). */
export class WireServerError extends Error {
  override readonly name = 'WireServerError';
}

/** Something the server stops when it shuts down (the built-in TDs). */
export interface ServerResource {
  stop(): void;
}

const OWNER_ONLY_UMASK = 0o177;
const SOCKET_MODE = 0o600;
const PRIVATE_DIR_MODE = 0o700;
const GROUP_OTHER_BITS = 0o077;
/** How long shutdown lets ERROR frames drain before closing the remaining sockets. */
const SHUTDOWN_GRACE_MS = 200;

export class WireServer implements ConnectionHost {
  readonly directory = new GuestDirectory(wireProxyFactory);
  readonly guestWaitTickMs: number;
  private readonly connections = new Set<Connection>();
  private readonly resources = new Set<ServerResource>();
  private hostSessions = 0;
  private closing: Promise<void> | undefined;
  private readonly logSink: (message: string) => void;

  private constructor(
    private readonly server: Server,
    /** Where clients connect: a socket path, or a TCP port on 127.0.0.1. */
    readonly address: { readonly path: string } | { readonly host: string; readonly port: number },
    private readonly options: WireServerOptions,
  ) {
    this.guestWaitTickMs = options.guestWaitTickMs ?? 100;
    this.logSink = options.log ?? ((m) => process.stderr.write(m + '\n'));
    // Errors of the listener after it listens (e.g. accept failing with EMFILE) must not end the process.
    server.on('error', (e) => this.log(`wire: listener error: ${e.message}`));
  }

  /** Start a server; resolves once it listens. */
  static async listen(options: WireServerOptions = {}): Promise<WireServer> {
    let accept: (s: Socket) => void = () => {};
    const server = createServer({ noDelay: true }, (s) => accept(s));
    let address: WireServer['address'];
    if (options.port !== undefined) {
      if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) throw new WireServerError(`port ${options.port} is not a TCP port`);
      await listening(server, () => server.listen(options.port, '127.0.0.1'));
      const a = server.address();
      address = { host: '127.0.0.1', port: typeof a === 'object' && a ? a.port : options.port };
    } else {
      const path = options.socketPath ?? defaultSocketPath();
      await removeStaleSocket(path);
      const umask = process.umask(OWNER_ONLY_UMASK);
      try {
        await listening(server, () => server.listen(path));
      } finally {
        process.umask(umask);
      }
      chmodSync(path, SOCKET_MODE);
      address = { path };
    }
    const w = new WireServer(server, address, options);
    accept = (s) => w.accept(s);
    return w;
  }

  /** Stop listening, stop built-in TDs, close every connection, remove the socket file. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Register something to stop at shutdown. */
  own(resource: ServerResource): void {
    this.resources.add(resource);
  }

  disown(resource: ServerResource): void {
    this.resources.delete(resource);
  }

  /** Connections currently open. */
  get connectionCount(): number {
    return this.connections.size;
  }

  // ---- ConnectionHost -------------------------------------------------------------------------

  acquireHostSession(): boolean {
    if (this.hostSessions >= (this.options.maxHostSessions ?? 32)) return false;
    this.hostSessions++;
    return true;
  }

  releaseHostSession(): void {
    this.hostSessions--;
  }

  connectionClosed(c: Connection): void {
    this.connections.delete(c);
  }

  log(message: string): void {
    this.logSink(message);
  }

  // ---- Internals ------------------------------------------------------------------------------

  private accept(socket: Socket): void {
    const c = new Connection(this, socket);
    if (this.closing) return c.fail(WireErrorCode.SHUTTING_DOWN, 'the server is shutting down', 0);
    if (this.connections.size >= (this.options.maxConnections ?? 256)) {
      return c.fail(WireErrorCode.LIMIT_EXCEEDED, 'the server has as many connections as it allows', 0);
    }
    this.connections.add(c);
  }

  private async shutdown(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const r of [...this.resources]) {
      try {
        r.stop();
      } catch (e) {
        this.log(`wire: stopping a built-in TD failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    this.resources.clear();
    // Tell every client, give the ERROR frames a moment to leave, then cut what is left.
    const open = [...this.connections];
    for (const c of open) c.fail(WireErrorCode.SHUTTING_DOWN, 'the server is shutting down', 0);
    this.connections.clear();
    await Promise.race([closed, new Promise((r) => setTimeout(r, SHUTDOWN_GRACE_MS).unref())]);
    for (const c of open) c.destroy();
    await closed;
    if ('path' in this.address) removeSocketFile(this.address.path);
  }
}

/** Listen and wait for 'listening' or the bind error. */
function listening(server: Server, start: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(new WireServerError(`cannot listen: ${e.message}`));
    server.once('error', onError);
    server.once('listening', () => {
      server.off('error', onError);
      resolve();
    });
    start();
  });
}

/**
 * The default socket: $XDG_RUNTIME_DIR/tdxsim.sock when that directory is ours and private, else
 * <tmpdir>/tdxsim-<uid>/tdxsim.sock in a 0700 directory we own.
 */
export function defaultSocketPath(): string {
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (xdg && isPrivateDir(xdg)) return join(xdg, 'tdxsim.sock');
  const dir = join(tmpdir(), `tdxsim-${process.getuid?.() ?? 'user'}`);
  try {
    mkdirSync(dir, { mode: PRIVATE_DIR_MODE });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new WireServerError(`cannot create ${dir}: ${(e as Error).message}`);
  }
  if (!isPrivateDir(dir)) throw new WireServerError(`${dir} is not a directory private to this user (owner-only, mode 0700): refusing to put the socket there`);
  return join(dir, 'tdxsim.sock');
}

function isPrivateDir(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    const uid = process.getuid?.();
    return st.isDirectory() && (uid === undefined || st.uid === uid) && (st.mode & GROUP_OTHER_BITS) === 0;
  } catch {
    return false;
  }
}

/** Remove a socket file nobody listens on; refuse a live socket or a non-socket file. */
async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new WireServerError(`${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new WireServerError(`a server is already listening on ${path}`);
  unlinkSync(path);
}

function removeSocketFile(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // already gone (libuv unlinks the socket when the listener closes)
  }
}
