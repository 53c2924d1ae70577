/**
 * What a session (one HELLO'd connection, host or guest role) and its connection offer each other.
 *
 * A session handler that finds a frame the protocol forbids — wrong state, a value out of range, a
 * misaligned address — throws WireProtocolError; the connection answers with an ERROR frame of
 * that code, naming the offending request, and closes. A request that is well formed but refused
 * in the current state is answered normally with a WireResult instead, and the connection stays.
 */
import type { Frame } from './frame.ts';

export class WireProtocolError extends Error {
  override readonly name = 'WireProtocolError';
  constructor(
    /** WireErrorCode. */
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The connection as a session sees it. */
export interface Peer {
  /** Queue a whole frame for sending. */
  send(frame: Buffer): void;
  /** Send an ERROR frame and close the connection. */
  fail(code: number, message: string, requestId: number): void;
  /** Close the connection after everything queued has been sent. */
  end(): void;
}

export interface Session {
  /** Act on one well-formed frame (the connection has checked its shape). May throw WireProtocolError. */
  handle(frame: Frame): void;
  /** The connection closed (for any reason); release everything. Called once. */
  close(): void;
}
