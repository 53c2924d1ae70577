/**
 * Where a wire guest client meets the vCPU whose code it is.
 *
 * A host (a wire host client, or the server's built-in host) asks for a guest token and writes a
 * boot page naming the program `wire:<token>`. Guest clients attach to (token, VCPU_INDEX). When a
 * vCPU of that TD boots, the firmware catalogue resolves the name to the proxy program
 * (guest-proxy.ts) bound to the slot of that vCPU index. Either side may come first: a client may
 * attach before the vCPU boots, and a vCPU may boot before its client attaches (it then waits).
 *
 * A slot carries at most one client message at a time — the protocol allows a guest one
 * outstanding instruction (guest-session.ts enforces it) — and the link to whoever runs the vCPU
 * while the client is thinking:
 *
 *   The guest program cannot block. When the proxy needs the client's next instruction and has
 *   none, it yields WAIT_FOR_CLIENT with the module's step budget at 0, so the vCPU runner takes
 *   the preemption exit a host timer tick would cause before that "instruction" runs, and leaves it
 *   pending (module/vcpu-runner.ts). To the TD this is the truth — its CPU is busy running code
 *   that does not trap. The entity that issued TDH.VP.ENTER notices the sentinel, registers as the
 *   slot's runner and waits; when the client's message arrives, the slot *retires* the sentinel
 *   (the vCPU's next instruction is now known, so nothing must be re-executed: the next entry
 *   resumes the proxy) and calls the runner back, which enters again. A vCPU whose sentinel is
 *   still pending is preempted at once by every entry (served-module.ts), so it never executes the
 *   sentinel.
 */
import { randomBytes } from 'node:crypto';
import type { GuestOp, GuestProgram } from '../platform/guest-cpu.ts';
import type { FirmwareCatalogue } from '../platform/boot-image.ts';
import { GUEST_TOKEN_CHARS, WIRE_PROGRAM_PREFIX, WireResult } from '../abi/wire.ts';
import type { TdxModule } from '../module/module.ts';
import type { Vcpu } from '../module/vcpu.ts';

/**
 * The "instruction" a waiting proxy yields. It is never executed (see the file comment); were it
 * ever, it would triple-fault the vCPU loudly rather than do something plausible.
 */
export const WAIT_FOR_CLIENT: GuestOp = Object.freeze({ kind: 'triple_fault' });

/** The guest session a slot's client speaks through (guest-session.ts). */
export interface SlotClient {
  /** Send an instruction's answer frame (the instruction is complete). */
  sendResult(frame: Buffer): void;
  /** Send an EXCEPTION frame for instruction `requestId` (a handler runs until EXCEPTION_DONE). */
  sendException(frame: Buffer, requestId: number): void;
  /** Tell the client its vCPU is gone (DETACHED) and close the connection. */
  detach(reason: number): void;
}

/** Who runs the vCPU and waits while the client thinks. */
export interface SlotRunner {
  onGuestReady(slot: GuestSlot): void;
}

/** Who created a token: told when a vCPU boots into one of its slots. */
export interface TokenOwner {
  slotBooted(slot: GuestSlot): void;
}

export class GuestSlot {
  client: SlotClient | undefined;
  vcpu: Vcpu | undefined;
  runner: SlotRunner | undefined;
  /** The client left after the vCPU booted: the vCPU's code is gone. */
  gone = false;
  /** DETACHED was sent (or is due): the vCPU ended; nobody may attach again. */
  ended = false;
  /** The pending client message (type, request id, payload at data[offset…offset+length)). */
  hasPending = false;
  pendingType = 0;
  pendingId = 0;
  pendingData: Buffer = EMPTY;
  pendingOffset = 0;
  pendingLength = 0;
  /** Request ids of the instructions in execution, innermost last (exception handlers nest). */
  readonly executing: number[] = [];

  constructor(
    readonly entry: TokenEntry,
    readonly index: number,
  ) {}

  get module(): TdxModule {
    return this.entry.module;
  }

  /** The vCPU is out of the TD waiting for this client's next message. */
  get waiting(): boolean {
    return this.vcpu !== undefined && this.vcpu.pendingOp === WAIT_FOR_CLIENT;
  }

  /** A client message for the proxy (guest-session.ts has checked it is allowed now). */
  deliver(type: number, requestId: number, data: Buffer, offset: number, length: number): void {
    this.hasPending = true;
    this.pendingType = type;
    this.pendingId = requestId;
    this.pendingData = data;
    this.pendingOffset = offset;
    this.pendingLength = length;
    this.wake();
  }

  /** The proxy took the pending message. */
  consume(): void {
    this.hasPending = false;
    this.pendingData = EMPTY;
  }

  /** The client's connection closed. */
  clientLeft(client: SlotClient): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.hasPending = false;
    if (this.vcpu) {
      // The vCPU was running this client's code: it has nothing left to execute.
      this.gone = true;
      this.wake();
    }
  }

  /** The vCPU ended: tell the client (once) and refuse new attachments. */
  end(reason: number): void {
    if (this.ended) return;
    this.ended = true;
    this.runner = undefined;
    const c = this.client;
    this.client = undefined;
    c?.detach(reason);
  }

  /** Retire the wait sentinel and call back whoever waits to enter the vCPU. */
  private wake(): void {
    if (this.vcpu && this.vcpu.pendingOp === WAIT_FOR_CLIENT) this.vcpu.pendingOp = undefined;
    const r = this.runner;
    if (r) {
      this.runner = undefined;
      r.onGuestReady(this);
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** One token: the platform whose boot pages may name it, and its slots by vCPU index. */
export class TokenEntry {
  readonly slots = new Map<number, GuestSlot>();

  constructor(
    readonly token: string,
    readonly module: TdxModule,
    readonly owner: TokenOwner,
  ) {}

  slot(index: number): GuestSlot {
    let s = this.slots.get(index);
    if (!s) {
      s = new GuestSlot(this, index);
      this.slots.set(index, s);
    }
    return s;
  }
}

/** Builds the proxy program for a booting vCPU; guest-proxy.ts provides it (kept apart to avoid a cycle). */
export type ProxyFactory = (entry: TokenEntry) => (args: unknown) => GuestProgram;

/** Every live token of a server. */
export class GuestDirectory {
  private readonly tokens = new Map<string, TokenEntry>();

  constructor(private readonly proxy: ProxyFactory) {}

  /** A fresh token for a platform: its boot pages may now name `wire:<token>`. */
  mint(module: TdxModule, firmware: FirmwareCatalogue, owner: TokenOwner): TokenEntry {
    const token = randomBytes(GUEST_TOKEN_CHARS / 2).toString('hex');
    const entry = new TokenEntry(token, module, owner);
    this.tokens.set(token, entry);
    firmware.register(WIRE_PROGRAM_PREFIX + token, this.proxy(entry));
    return entry;
  }

  /** Attach a guest client to (token, vCPU index); a WireResult. */
  attach(token: string, index: number, client: SlotClient): { result: number; slot?: GuestSlot } {
    const entry = this.tokens.get(token);
    if (!entry) return { result: WireResult.UNKNOWN_TOKEN };
    const slot = entry.slot(index);
    if (slot.ended || slot.gone) return { result: WireResult.BAD_STATE };
    if (slot.client) return { result: WireResult.TOKEN_IN_USE };
    slot.client = client;
    return { result: WireResult.OK, slot };
  }

  /** The owner is gone: end every slot of its tokens and forget them. */
  revoke(owner: TokenOwner, reason: number): void {
    for (const [token, entry] of this.tokens) {
      if (entry.owner !== owner) continue;
      for (const slot of entry.slots.values()) slot.end(reason);
      this.tokens.delete(token);
    }
  }

  /** Live tokens (for tests and the CLI). */
  get size(): number {
    return this.tokens.size;
  }
}
