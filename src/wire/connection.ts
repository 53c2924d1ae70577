/**
 * One client connection: frames in through the decoder, the HELLO handshake, then every frame to
 * the session the HELLO chose (host or guest role).
 *
 * Whatever the client sends, the outcome is an answer, or an ERROR frame naming the offending
 * request after which this connection — and only this one — closes: malformed frames (frame.ts),
 * server-only message types, anything before HELLO, a second HELLO, a major version other than
 * ours, options a guest HELLO must leave zero, and whatever a session refuses (WireProtocolError).
 * An exception that is not a WireProtocolError is a server bug: it too closes only this
 * connection (ERROR INTERNAL) and is reported to the server's log, so the server and its other
 * clients go on.
 *
 * Backpressure: a client that does not read its answers stops being read once HIGH_WATER bytes
 * wait to be sent to it, until they drain; its requests then simply wait in the socket.
 */
import type { Socket } from 'node:net';
import {
  HELLO,
  HELLO_OK,
  MAX_MEM_OP,
  MAX_PAYLOAD,
  MessageType,
  WIRE_VERSION_MAJOR,
  WIRE_VERSION_MINOR,
  WireErrorCode,
  WireRole,
} from '../abi/wire.ts';
import { FrameDecoder, encodeFrame, errorFrame, isFrameError, type Frame } from './frame.ts';
import { GuestSession } from './guest-session.ts';
import { HostSession } from './host-session.ts';
import { WireProtocolError, type Peer, type Session } from './session.ts';
import type { GuestDirectory } from './guest-slot.ts';

/** Bytes queued for a client before the server stops reading from it. */
const HIGH_WATER = 8 << 20;
/** How long a closing connection may linger before it is destroyed. */
const LINGER_MS = 2000;

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly directory: GuestDirectory;
  readonly guestWaitTickMs: number;
  /** Reserve a host session; false when the server has as many as it allows. */
  acquireHostSession(): boolean;
  releaseHostSession(): void;
  connectionClosed(c: Connection): void;
  log(message: string): void;
}

export class Connection implements Peer {
  private readonly decoder = new FrameDecoder();
  private session: Session | undefined;
  private hostSession = false;
  private closed = false;
  private paused = false;
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);
  private readonly onDrain = (): void => this.drained();

  constructor(
    private readonly server: ConnectionHost,
    private readonly socket: Socket,
  ) {
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('close', () => this.shutdown());
    socket.on('error', () => this.shutdown());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---- Peer -----------------------------------------------------------------------------------

  send(frame: Buffer): void {
    if (this.closed) return;
    this.socket.write(frame);
    if (!this.paused && this.socket.writableLength > HIGH_WATER) {
      this.paused = true;
      this.socket.pause();
      this.socket.once('drain', this.onDrain);
    }
  }

  fail(code: number, message: string, requestId: number): void {
    if (this.closed) return;
    this.socket.write(errorFrame(code, message, requestId));
    this.end();
  }

  end(): void {
    if (this.closed) return;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
    this.shutdown();
  }

  /** Close at once (server shutdown sends its ERROR first through `fail`). */
  destroy(): void {
    this.socket.destroy();
    this.shutdown();
  }

  // ---- Receiving ------------------------------------------------------------------------------

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    this.decoder.push(chunk);
    for (;;) {
      const f = this.decoder.next();
      if (f === undefined) return;
      if (isFrameError(f)) return this.fail(f.code, f.message, f.requestId);
      try {
        this.dispatch(f);
      } catch (e) {
        if (e instanceof WireProtocolError) return this.fail(e.code, e.message, f.requestId);
        this.server.log(`wire: internal error handling ${f.spec.name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        return this.fail(WireErrorCode.INTERNAL, `internal server error handling ${f.spec.name}`, f.requestId);
      }
      if (this.closed) return;
    }
  }

  private dispatch(f: Frame): void {
    if (f.spec.sender === 'server') throw new WireProtocolError(WireErrorCode.UNEXPECTED_MESSAGE, `${f.spec.name} is sent by the server, not a client`);
    if (!this.session) {
      if (f.type !== MessageType.HELLO) throw new WireProtocolError(WireErrorCode.UNEXPECTED_MESSAGE, `${f.spec.name} before HELLO`);
      return this.hello(f);
    }
    if (f.type === MessageType.HELLO) throw new WireProtocolError(WireErrorCode.UNEXPECTED_MESSAGE, 'a second HELLO');
    this.session.handle(f);
  }

  private hello(f: Frame): void {
    const h = HELLO.decode(f.data, f.offset);
    if (h.version_major !== WIRE_VERSION_MAJOR) {
      throw new WireProtocolError(WireErrorCode.VERSION_MISMATCH, `protocol version ${h.version_major}.${h.version_minor} is not supported; this server speaks ${WIRE_VERSION_MAJOR}.${WIRE_VERSION_MINOR}`);
    }
    if (h.role === WireRole.HOST) {
      if (!this.server.acquireHostSession()) throw new WireProtocolError(WireErrorCode.LIMIT_EXCEEDED, 'the server runs as many host sessions as it allows');
      try {
        this.session = new HostSession(this, this.server.directory, { guestWaitTickMs: this.server.guestWaitTickMs }, f);
        this.hostSession = true;
      } finally {
        if (!this.hostSession) this.server.releaseHostSession();
      }
    } else if (h.role === WireRole.GUEST) {
      if (h.packages || h.lps_per_package || h.mktme_keyids || h.tdx_keyids || h.memory_bytes) {
        throw new WireProtocolError(WireErrorCode.BAD_OPERAND, 'a guest HELLO carries no platform options: they must be 0');
      }
      this.session = new GuestSession(this, this.server.directory);
    } else {
      throw new WireProtocolError(WireErrorCode.BAD_OPERAND, `HELLO.role ${h.role} is neither host (1) nor guest (2)`);
    }
    const ok = HELLO_OK.encode({
      version_major: WIRE_VERSION_MAJOR,
      version_minor: WIRE_VERSION_MINOR,
      role: h.role,
      max_payload: MAX_PAYLOAD,
      max_mem_op: MAX_MEM_OP,
    });
    this.send(encodeFrame(MessageType.HELLO_OK, f.requestId, ok));
  }

  private drained(): void {
    this.paused = false;
    if (!this.closed) this.socket.resume();
  }

  /** Release the session and leave the server's books (idempotent). */
  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    const s = this.session;
    this.session = undefined;
    try {
      s?.close();
    } finally {
      if (this.hostSession) this.server.releaseHostSession();
      this.server.connectionClosed(this);
    }
  }
}
