/**
 * Wire frames: cutting a byte stream into frames and checking each one's shape before anyone acts
 * on it, and building frames to send. The layouts and numbers are in src/abi/wire.ts; the rules
 * are in docs/wire-protocol.md §2.
 *
 * The decoder protects the server (and a client) from whatever arrives on a socket: it never
 * throws, never buffers more than one maximal frame, and reports the first violation it finds, in
 * this order — length below the header size (MALFORMED_FRAME), above the limit (FRAME_TOO_LARGE),
 * non-zero header flags (RESERVED_NOT_ZERO), unknown type (UNKNOWN_TYPE); then, once the whole
 * frame is in, a payload size the message's layout does not allow or a length field that
 * disagrees with the payload (BAD_PAYLOAD_LENGTH), and non-zero reserved payload fields
 * (RESERVED_NOT_ZERO). Header checks run as soon as the header is in, so a hostile length is
 * refused before its payload is awaited. After an error the decoder stays failed: the stream
 * cannot be resynchronised and the connection must close.
 *
 * Allocation: a frame that lies inside one received chunk is handed out as (chunk, offset) with no
 * copy; bytes are copied only when a frame spans chunks. The returned Frame object is reused: it
 * is valid until the next call to `next()`, but the bytes it points at are never overwritten, so a
 * consumer may keep `data` and `offset` for later.
 */
import {
  FRAME_HEADER_SIZE,
  MAX_PAYLOAD,
  MEM_ACCESS,
  MESSAGES,
  MessageType,
  WireErrorCode,
  fixedSize,
  type MessageSpec,
} from '../abi/wire.ts';

/** A decoded frame; `data[offset … offset + length)` is the payload. */
export interface Frame {
  type: number;
  requestId: number;
  spec: MessageSpec;
  data: Buffer;
  offset: number;
  length: number;
}

/** Why the stream was refused; `requestId` is the offending frame's id when its header was whole. */
export interface FrameError {
  readonly code: number;
  readonly message: string;
  readonly requestId: number;
}

const LENGTH = 0;
const TYPE = 4;
const FLAGS = 6;
const REQUEST_ID = 8;
const MAX_FRAME = FRAME_HEADER_SIZE + MAX_PAYLOAD;

export class FrameDecoder {
  private buf: Buffer | undefined;
  private off = 0;
  private failed: FrameError | undefined;
  private readonly frame: Frame = { type: 0, requestId: 0, spec: MESSAGES.get(MessageType.HELLO)!, data: Buffer.alloc(0), offset: 0, length: 0 };

  /** The error the stream failed with, if it did. */
  get error(): FrameError | undefined {
    return this.failed;
  }

  /** Bytes received and not yet consumed as frames. */
  get buffered(): number {
    return this.buf ? this.buf.length - this.off : 0;
  }

  /** Add received bytes. */
  push(chunk: Buffer): void {
    if (this.failed || chunk.length === 0) return;
    if (!this.buf || this.off >= this.buf.length) {
      this.buf = chunk;
      this.off = 0;
    } else {
      // A frame spans chunks: keep only the unconsumed bytes, then the new ones.
      this.buf = Buffer.concat([this.buf.subarray(this.off), chunk]);
      this.off = 0;
    }
  }

  /**
   * The next whole, well-formed frame; a FrameError once the stream is refused (and forever
   * after); undefined when more bytes are needed.
   */
  next(): Frame | FrameError | undefined {
    if (this.failed) return this.failed;
    const buf = this.buf;
    if (!buf) return undefined;
    const avail = buf.length - this.off;
    if (avail < 4) return undefined;
    const at = this.off;
    const length = buf.readUInt32LE(at + LENGTH);
    const idKnown = avail >= FRAME_HEADER_SIZE;
    const requestId = idKnown ? buf.readUInt32LE(at + REQUEST_ID) : 0;
    if (length < FRAME_HEADER_SIZE) return this.fail(WireErrorCode.MALFORMED_FRAME, `frame length ${length} is below the ${FRAME_HEADER_SIZE}-byte header`, requestId);
    if (length > MAX_FRAME) return this.fail(WireErrorCode.FRAME_TOO_LARGE, `frame length ${length} exceeds the limit of ${MAX_FRAME} bytes`, requestId);
    if (!idKnown) return undefined;
    const type = buf.readUInt16LE(at + TYPE);
    if (buf.readUInt16LE(at + FLAGS) !== 0) return this.fail(WireErrorCode.RESERVED_NOT_ZERO, 'frame header flags must be 0 in protocol version 1', requestId);
    const spec = MESSAGES.get(type);
    if (!spec) return this.fail(WireErrorCode.UNKNOWN_TYPE, `unknown message type 0x${type.toString(16).padStart(4, '0')}`, requestId);
    if (avail < length) return undefined;
    const payloadOff = at + FRAME_HEADER_SIZE;
    const payloadLen = length - FRAME_HEADER_SIZE;
    const shape = checkPayload(spec, buf, payloadOff, payloadLen);
    if (shape) return this.fail(shape.code, shape.message, requestId);
    this.off = at + length;
    if (this.off >= buf.length) this.buf = undefined;
    const f = this.frame;
    f.type = type;
    f.requestId = requestId;
    f.spec = spec;
    f.data = buf;
    f.offset = payloadOff;
    f.length = payloadLen;
    return f;
  }

  private fail(code: number, message: string, requestId: number): FrameError {
    this.failed = { code, message, requestId };
    this.buf = undefined;
    return this.failed;
  }
}

/** True for a FrameError (as opposed to a Frame). */
export function isFrameError(x: Frame | FrameError): x is FrameError {
  return (x as FrameError).code !== undefined;
}

/** The messages whose fixed part has reserved fields (the others need no reserved check). */
const HAS_RESERVED: ReadonlySet<MessageSpec> = new Set([...MESSAGES.values()].filter((s) => s.layout?.fields.some((f) => f.kind === 'reserved')));

/** Payload size and reserved-field checks of one message (see the file comment). */
function checkPayload(spec: MessageSpec, buf: Buffer, off: number, len: number): { code: number; message: string } | undefined {
  const fixed = fixedSize(spec);
  if (len < fixed || len > fixed + spec.maxTail) {
    const want = spec.maxTail === 0 ? `${fixed}` : `${fixed} to ${fixed + spec.maxTail}`;
    return { code: WireErrorCode.BAD_PAYLOAD_LENGTH, message: `${spec.name} payload is ${len} bytes, expected ${want}` };
  }
  const reserved = HAS_RESERVED.has(spec) ? spec.layout!.reservedNonZero(buf, off) : undefined;
  if (reserved !== undefined) return { code: WireErrorCode.RESERVED_NOT_ZERO, message: `${spec.name}.${reserved} must be zero` };
  const tail = len - fixed;
  const declared = declaredTail(spec, buf, off);
  if (declared !== undefined && declared !== tail) {
    return { code: WireErrorCode.BAD_PAYLOAD_LENGTH, message: `${spec.name} declares ${declared} bytes of data but carries ${tail}` };
  }
  return undefined;
}

/** Bytes of tail a message's length field announces, for the messages whose tail has one. */
function declaredTail(spec: MessageSpec, buf: Buffer, off: number): number | undefined {
  switch (spec.type) {
    case MessageType.HOST_MEM_WRITE:
    case MessageType.STORE:
      return buf.readUInt32LE(off + MEM_ACCESS.field('length').offset);
    case MessageType.ERROR:
      return buf.readUInt32LE(off + 4);
    case MessageType.HOST_MEM_READ_RESULT:
      return buf.readUInt32LE(off + 4);
    default:
      return undefined;
  }
}

/**
 * A frame buffer with its header written and `payloadLength` payload bytes to fill. Zeroed unless
 * `zero` is false, for callers that overwrite every payload byte.
 */
export function frameBuffer(type: number, requestId: number, payloadLength: number, zero = true): Buffer {
  const b = zero ? Buffer.alloc(FRAME_HEADER_SIZE + payloadLength) : Buffer.allocUnsafe(FRAME_HEADER_SIZE + payloadLength);
  b.writeUInt32LE(FRAME_HEADER_SIZE + payloadLength, LENGTH);
  b.writeUInt16LE(type, TYPE);
  b.writeUInt16LE(0, FLAGS);
  b.writeUInt32LE(requestId >>> 0, REQUEST_ID);
  return b;
}

/** Build a whole frame from a payload. */
export function encodeFrame(type: number, requestId: number, payload: Uint8Array = EMPTY): Buffer {
  const b = frameBuffer(type, requestId, payload.length, false);
  b.set(payload, FRAME_HEADER_SIZE);
  return b;
}

const EMPTY = new Uint8Array(0);

/** An ERROR frame (the message is cut to MAX_ERROR_MESSAGE bytes of UTF-8). */
export function errorFrame(code: number, message: string, requestId: number): Buffer {
  let text = Buffer.from(message, 'utf8');
  const max = MESSAGES.get(MessageType.ERROR)!.maxTail;
  if (text.length > max) text = text.subarray(0, max);
  const b = frameBuffer(MessageType.ERROR, requestId, 8 + text.length, false);
  b.writeUInt32LE(code, FRAME_HEADER_SIZE);
  b.writeUInt32LE(text.length, FRAME_HEADER_SIZE + 4);
  text.copy(b, FRAME_HEADER_SIZE + 8);
  return b;
}
