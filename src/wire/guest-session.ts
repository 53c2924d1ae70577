/**
 * The guest role of a connection: a client that is the code of one vCPU (docs/wire-protocol.md §5).
 *
 * States, as this session enforces them (each violation is an ERROR and the connection closes):
 *   unattached   only ATTACH_GUEST; a refused attach (unknown token, slot taken or ended) leaves
 *                the session unattached, so the client may try another token.
 *   attached     one instruction at a time: a new instruction is allowed only when every
 *                instruction sent earlier is blocked in an exception handler, i.e. the client is
 *                running a handler (EXCEPTIONs open = instructions outstanding). EXCEPTION_DONE is
 *                allowed only then too, and must name the innermost open EXCEPTION's request id.
 * This keeps the slot's single message buffer sufficient and lets the proxy trust what it reads.
 * Operand ranges are checked here as well (access sizes, INSN codes), for the same reason.
 */
import {
  ATTACH_GUEST,
  DETACHED,
  GUEST_TOKEN_CHARS,
  GuestInsn,
  INSN,
  IO_IN,
  MAX_MEM_OP,
  MEM_ACCESS,
  MessageType,
  RESULT,
  WireErrorCode,
} from '../abi/wire.ts';
import { encodeFrame } from './frame.ts';
import type { Frame } from './frame.ts';
import type { GuestDirectory, GuestSlot, SlotClient } from './guest-slot.ts';
import { WireProtocolError, type Peer, type Session } from './session.ts';

const TOKEN_PATTERN = /^[0-9a-f]+$/;
const IO_SIZES = new Set([1, 2, 4]);
const INSN_CODES = new Set<number>(Object.values(GuestInsn));
const IO_SIZE_OFFSET = IO_IN.field('size').offset;
const MEM_LENGTH_OFFSET = MEM_ACCESS.field('length').offset;

export class GuestSession implements Session, SlotClient {
  private slot: GuestSlot | undefined;
  /** Instructions sent and not yet answered. */
  private outstanding = 0;
  /** Request ids of EXCEPTIONs sent and not yet answered with EXCEPTION_DONE, innermost last. */
  private readonly openExceptions: number[] = [];

  constructor(
    private readonly peer: Peer,
    private readonly directory: GuestDirectory,
  ) {}

  handle(f: Frame): void {
    if (f.type === MessageType.ATTACH_GUEST) return this.attach(f);
    const slot = this.slot;
    if (!slot) throw new WireProtocolError(WireErrorCode.UNEXPECTED_MESSAGE, `${f.spec.name} before a successful ATTACH_GUEST`);
    if (f.type === MessageType.EXCEPTION_DONE) return this.exceptionDone(f, slot);
    this.checkInstruction(f);
    if (this.outstanding !== this.openExceptions.length) {
      throw new WireProtocolError(WireErrorCode.UNEXPECTED_MESSAGE, `${f.spec.name} while another instruction is executing (one at a time, except inside an exception handler)`);
    }
    this.outstanding++;
    slot.deliver(f.type, f.requestId, f.data, f.offset, f.length);
  }

  private attach(f: Frame): void {
    if (this.slot) throw new WireProtocolError(WireErrorCode.UNEXPECTED_MESSAGE, 'ATTACH_GUEST on a session that is already attached');
    const token = f.data.toString('latin1', f.offset, f.offset + GUEST_TOKEN_CHARS);
    if (!TOKEN_PATTERN.test(token)) throw new WireProtocolError(WireErrorCode.BAD_OPERAND, 'ATTACH_GUEST.token must be lower-case hex');
    const index = f.data.readUInt32LE(f.offset + ATTACH_GUEST.field('vcpu_index').offset);
    const r = this.directory.attach(token, index, this);
    if (r.slot) this.slot = r.slot;
    const answer = RESULT.encode({ result: r.result });
    this.peer.send(encodeFrame(MessageType.ATTACH_GUEST_RESULT, f.requestId, answer));
  }

  private exceptionDone(f: Frame, slot: GuestSlot): void {
    const open = this.openExceptions;
    if (open.length === 0 || this.outstanding !== open.length) {
      throw new WireProtocolError(WireErrorCode.UNEXPECTED_MESSAGE, 'EXCEPTION_DONE with no exception handler running');
    }
    if (open[open.length - 1] !== f.requestId) {
      throw new WireProtocolError(WireErrorCode.UNEXPECTED_MESSAGE, `EXCEPTION_DONE must carry request id ${open[open.length - 1]} (the innermost EXCEPTION)`);
    }
    open.pop();
    slot.deliver(f.type, f.requestId, f.data, f.offset, f.length);
  }

  /** Operand ranges the decoder cannot know (sizes, codes). */
  private checkInstruction(f: Frame): void {
    const d = f.data;
    const o = f.offset;
    switch (f.type) {
      case MessageType.TDCALL:
      case MessageType.CPUID:
      case MessageType.RDMSR:
      case MessageType.WRMSR:
        return;
      case MessageType.IO_IN:
      case MessageType.IO_OUT:
        if (!IO_SIZES.has(d[o + IO_SIZE_OFFSET]!)) throw new WireProtocolError(WireErrorCode.BAD_OPERAND, `${f.spec.name}.size must be 1, 2 or 4`);
        return;
      case MessageType.LOAD:
      case MessageType.STORE: {
        const length = d.readUInt32LE(o + MEM_LENGTH_OFFSET);
        if (length < 1 || length > MAX_MEM_OP) throw new WireProtocolError(WireErrorCode.BAD_OPERAND, `${f.spec.name}.length must be 1 … ${MAX_MEM_OP}`);
        return;
      }
      case MessageType.INSN:
        if (!INSN_CODES.has(d[o + INSN.field('insn').offset]!)) throw new WireProtocolError(WireErrorCode.BAD_OPERAND, `INSN code ${d[o]} is not defined`);
        return;
      default:
        throw new WireProtocolError(WireErrorCode.UNEXPECTED_MESSAGE, `${f.spec.name} is not a guest message`);
    }
  }

  // ---- SlotClient -----------------------------------------------------------------------------

  sendResult(frame: Buffer): void {
    this.outstanding--;
    this.peer.send(frame);
  }

  sendException(frame: Buffer, requestId: number): void {
    this.openExceptions.push(requestId);
    this.peer.send(frame);
  }

  detach(reason: number): void {
    this.slot = undefined;
    this.peer.send(encodeFrame(MessageType.DETACHED, 0, DETACHED.encode({ reason })));
    this.peer.end();
  }

  close(): void {
    const slot = this.slot;
    this.slot = undefined;
    slot?.clientLeft(this);
  }
}
