/**
 * A TypeScript client of the tdxsim wire protocol: what tests, the benchmark and TypeScript
 * programs use to be a host VMM or a TD guest over a socket. It is also the executable companion
 * of docs/wire-protocol.md — every request here is one section there.
 *
 * Requests are matched to answers by request id, so several may be in flight (one SEAMCALL per
 * LP, memory requests alongside). A guest's exception handler (`onException`) runs when an
 * EXCEPTION frame arrives; it may issue instructions of its own and returns the RIP and GPRs to
 * resume with, which the client sends as EXCEPTION_DONE. A server ERROR rejects every pending
 * request with WireError; DETACHED rejects them with WireDetached.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { GPR_COUNT, RegisterFile } from '../abi/registers.ts';
import {
  ALLOC_PAGES,
  ALLOC_PAGES_RESULT,
  ATTACH_GUEST,
  CPUID,
  CPUID_RESULT,
  DetachReason,
  ERROR,
  EXCEPTION,
  EXCEPTION_DONE,
  EXCEPTION_DONE_GIVE_UP,
  EXCEPTION_ERROR_CODE_VALID,
  FREE_PAGES,
  GUEST_TOKEN_CHARS,
  GUEST_TOKEN_RESULT,
  HELLO,
  HELLO_OK,
  INSN,
  IO_IN,
  IO_OUT,
  MEM_ACCESS,
  MEM_READ_RESULT,
  MessageType,
  PLATFORM_INFO_RESULT,
  RDMSR,
  RESULT,
  SEAMCALL,
  SERVER_TYPE_BIT,
  SETUP_PLATFORM_RESULT,
  SHARED_EPT,
  U64_VALUE,
  WIRE_CMR,
  WIRE_TDMR,
  WIRE_VERSION_MAJOR,
  WIRE_VERSION_MINOR,
  WRMSR,
  WireRole,
  type MessageTypeName,
} from '../abi/wire.ts';
import { FrameDecoder, encodeFrame, isFrameError } from './frame.ts';
import { RegisterView } from './register-view.ts';

/** The server refused the stream or a request (ERROR frame); the connection is closed. */
export class WireError extends Error {
  override readonly name = 'WireError';
  constructor(
    readonly code: number,
    message: string,
    readonly requestId: number,
  ) {
    super(message);
  }
}

/** The vCPU this guest client runs is gone (DETACHED). */
export class WireDetached extends Error {
  override readonly name = 'WireDetached';
  constructor(readonly reason: number) {
    super(`detached from the vCPU: ${Object.entries(DetachReason).find(([, v]) => v === reason)?.[0] ?? reason}`);
  }
}

export interface HostOptions {
  readonly packages?: number;
  readonly lpsPerPackage?: number;
  readonly mktmeKeyIds?: number;
  readonly tdxKeyIds?: number;
  readonly memoryBytes?: bigint;
}

export interface ExceptionInfo {
  readonly vector: number;
  readonly errorCode: bigint | undefined;
  readonly rip: bigint;
  /** The interrupted GPRs (a copy the handler may change and return). */
  readonly gpr: BigUint64Array;
}

export interface ExceptionReply {
  readonly rip: bigint;
  readonly gpr: BigUint64Array;
  /** Give up: the vCPU triple-faults. */
  readonly giveUp?: boolean;
}

export type ExceptionCallback = (ex: ExceptionInfo, client: WireClient) => Promise<ExceptionReply>;

export interface PlatformInfo {
  readonly packages: number;
  readonly lpsPerPackage: number;
  readonly lpCount: number;
  readonly maxPa: number;
  readonly keyIdShift: number;
  readonly memoryBytes: bigint;
  readonly mktmeKeyIds: number;
  readonly tdxKeyIds: number;
  readonly firstTdxKeyId: number;
  readonly freePages: bigint;
  readonly cmrs: { base: bigint; size: bigint }[];
}

export interface SetupResult {
  readonly result: number;
  readonly globalKeyId: number;
  readonly firstTdKeyId: number;
  readonly tdKeyIdCount: number;
  readonly tdmrs: { base: bigint; size: bigint; pamtBase: bigint; pamtSize: bigint }[];
  readonly message: string;
}

interface Pending {
  readonly answer: number;
  readonly resolve: (payload: Buffer) => void;
  readonly reject: (e: Error) => void;
}

export class WireClient {
  /** Runs a guest's exception handler; without one, every exception is given up (triple fault). */
  onException: ExceptionCallback | undefined;
  /** Set when the server sent DETACHED. */
  detachedReason: number | undefined;
  private readonly decoder = new FrameDecoder();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | undefined;

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => this.failAll(this.failure ?? new Error('the connection closed')));
    socket.on('error', (e) => this.failAll(e));
  }

  /** Connect to a Unix socket path or a TCP port on 127.0.0.1. */
  static connect(target: string | { readonly port: number; readonly host?: string }): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const s = typeof target === 'string' ? netConnect(target) : netConnect(target.port, target.host ?? '127.0.0.1');
      s.once('error', reject);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new WireClient(s));
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }

  // ---- Generic --------------------------------------------------------------------------------

  /** Send a request and wait for the answer of type `request | SERVER_TYPE_BIT`; resolves to its payload. */
  request(type: number, payload: Uint8Array = new Uint8Array(0)): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++ >>> 0;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { answer: type | SERVER_TYPE_BIT, resolve, reject });
      this.socket.write(encodeFrame(type, id, payload));
    });
  }

  /** Write raw bytes (tests of malformed input). */
  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Resolves with the error the connection ended with (ERROR, DETACHED or close). */
  closed(): Promise<Error> {
    if (this.failure) return Promise.resolve(this.failure);
    return new Promise((resolve) => this.socket.once('close', () => resolve(this.failure ?? new Error('the connection closed'))));
  }

  async hello(role: 'host' | 'guest', options: HostOptions = {}): Promise<{ major: number; minor: number; maxPayload: number; maxMemOp: number }> {
    const payload = HELLO.encode({
      version_major: WIRE_VERSION_MAJOR,
      version_minor: WIRE_VERSION_MINOR,
      role: role === 'host' ? WireRole.HOST : WireRole.GUEST,
      packages: options.packages ?? 0,
      lps_per_package: options.lpsPerPackage ?? 0,
      mktme_keyids: options.mktmeKeyIds ?? 0,
      tdx_keyids: options.tdxKeyIds ?? 0,
      memory_bytes: options.memoryBytes ?? 0n,
    });
    const h = HELLO_OK.decode(await this.request(MessageType.HELLO, payload));
    return { major: h.version_major, minor: h.version_minor, maxPayload: h.max_payload, maxMemOp: h.max_mem_op };
  }

  // ---- Host -----------------------------------------------------------------------------------

  /** SEAMCALL on logical processor `lp`; resolves to the register file after the call. */
  async seamcall(lp: number, regs: RegisterFile): Promise<RegisterFile> {
    const payload = Buffer.alloc(SEAMCALL.size);
    payload.writeUInt32LE(lp, 0);
    const inView = new RegisterView(regs);
    inView.storeGprs(payload, SEAMCALL.field('gpr').offset);
    inView.storeXmms(payload, SEAMCALL.field('xmm').offset);
    const a = await this.request(MessageType.SEAMCALL, payload);
    const out = new RegisterFile();
    const view = new RegisterView(out);
    view.loadGprs(a, SEAMCALL.field('gpr').offset);
    view.loadXmms(a, SEAMCALL.field('xmm').offset);
    return out;
  }

  /** HOST_MEM_READ: the bytes, or the WireResult that refused them. */
  async memRead(pa: bigint, length: number): Promise<Uint8Array | number> {
    const a = await this.request(MessageType.HOST_MEM_READ, MEM_ACCESS.encode({ address: pa, length }));
    const r = MEM_READ_RESULT.decode(a);
    return r.result === 0 ? new Uint8Array(a.subarray(MEM_READ_RESULT.size, MEM_READ_RESULT.size + r.length)) : r.result;
  }

  /** HOST_MEM_WRITE: the WireResult. */
  async memWrite(pa: bigint, data: Uint8Array): Promise<number> {
    const payload = Buffer.concat([MEM_ACCESS.encode({ address: pa, length: data.length }), data]);
    return resultOf(await this.request(MessageType.HOST_MEM_WRITE, payload));
  }

  async allocPages(count: number, alignment = 0): Promise<{ result: number; base: bigint }> {
    const r = ALLOC_PAGES_RESULT.decode(await this.request(MessageType.ALLOC_PAGES, ALLOC_PAGES.encode({ count, alignment })));
    return { result: r.result, base: r.base };
  }

  async freePages(base: bigint, count: number): Promise<number> {
    return resultOf(await this.request(MessageType.FREE_PAGES, FREE_PAGES.encode({ base, count })));
  }

  async platformInfo(): Promise<PlatformInfo> {
    const a = await this.request(MessageType.PLATFORM_INFO);
    const h = PLATFORM_INFO_RESULT.decode(a);
    return {
      packages: h.packages,
      lpsPerPackage: h.lps_per_package,
      lpCount: h.lp_count,
      maxPa: h.max_pa,
      keyIdShift: h.keyid_shift,
      memoryBytes: h.memory_bytes,
      mktmeKeyIds: h.mktme_keyids,
      tdxKeyIds: h.tdx_keyids,
      firstTdxKeyId: h.first_tdx_keyid,
      freePages: h.free_pages,
      cmrs: WIRE_CMR.decodeArray(a, h.cmr_count, PLATFORM_INFO_RESULT.size),
    };
  }

  async setupPlatform(): Promise<SetupResult> {
    const a = await this.request(MessageType.SETUP_PLATFORM);
    const h = SETUP_PLATFORM_RESULT.decode(a);
    const tdmrEnd = SETUP_PLATFORM_RESULT.size + h.tdmr_count * WIRE_TDMR.size;
    return {
      result: h.result,
      globalKeyId: h.global_keyid,
      firstTdKeyId: h.first_td_keyid,
      tdKeyIdCount: h.td_keyid_count,
      tdmrs: WIRE_TDMR.decodeArray(a, h.tdmr_count, SETUP_PLATFORM_RESULT.size).map((t) => ({ base: t.base, size: t.size, pamtBase: t.pamt_base, pamtSize: t.pamt_size })),
      message: a.toString('utf8', tdmrEnd, tdmrEnd + h.message_length),
    };
  }

  /** A fresh guest token; boot pages naming `wire:<token>` run wire guests. */
  async guestToken(): Promise<string> {
    const r = GUEST_TOKEN_RESULT.decode(await this.request(MessageType.GUEST_TOKEN));
    return Buffer.from(r.token).toString('latin1');
  }

  async sharedEpt(root: bigint, gpa: bigint, op: number, hpa = 0n): Promise<number> {
    return resultOf(await this.request(MessageType.SHARED_EPT, SHARED_EPT.encode({ root, gpa, hpa, op })));
  }

  // ---- Guest ----------------------------------------------------------------------------------

  /** ATTACH_GUEST: the WireResult. */
  async attach(token: string, vcpuIndex = 0): Promise<number> {
    if (token.length !== GUEST_TOKEN_CHARS) throw new RangeError(`a guest token has ${GUEST_TOKEN_CHARS} characters`);
    return resultOf(await this.request(MessageType.ATTACH_GUEST, ATTACH_GUEST.encode({ token: Buffer.from(token, 'latin1'), vcpu_index: vcpuIndex })));
  }

  /** TDCALL with `regs` (RAX = leaf word); resolves to the registers after it. */
  async tdcall(regs: RegisterFile): Promise<RegisterFile> {
    const payload = Buffer.alloc(SEAMCALL.size - 8);
    const v = new RegisterView(regs);
    v.storeGprs(payload, 0);
    v.storeXmms(payload, GPR_COUNT * 8);
    const a = await this.request(MessageType.TDCALL, payload);
    const out = new RegisterFile();
    const ov = new RegisterView(out);
    ov.loadGprs(a, 0);
    ov.loadXmms(a, GPR_COUNT * 8);
    return out;
  }

  async ioIn(port: number, size: 1 | 2 | 4): Promise<bigint> {
    return U64_VALUE.decode(await this.request(MessageType.IO_IN, IO_IN.encode({ port, size }))).value;
  }

  async ioOut(port: number, size: 1 | 2 | 4, value: bigint): Promise<void> {
    await this.request(MessageType.IO_OUT, IO_OUT.encode({ port, size, value }));
  }

  async load(gpa: bigint, length: number): Promise<Uint8Array> {
    return new Uint8Array(await this.request(MessageType.LOAD, MEM_ACCESS.encode({ address: gpa, length })));
  }

  async store(gpa: bigint, data: Uint8Array): Promise<void> {
    await this.request(MessageType.STORE, Buffer.concat([MEM_ACCESS.encode({ address: gpa, length: data.length }), data]));
  }

  async cpuid(eax: number, ecx = 0): Promise<{ eax: number; ebx: number; ecx: number; edx: number }> {
    return CPUID_RESULT.decode(await this.request(MessageType.CPUID, CPUID.encode({ eax, ecx })));
  }

  async rdmsr(msr: number): Promise<bigint> {
    return U64_VALUE.decode(await this.request(MessageType.RDMSR, RDMSR.encode({ msr }))).value;
  }

  async wrmsr(msr: number, value: bigint): Promise<void> {
    await this.request(MessageType.WRMSR, WRMSR.encode({ msr, value }));
  }

  async insn(code: number): Promise<void> {
    await this.request(MessageType.INSN, INSN.encode({ insn: code }));
  }

  // ---- Receiving ------------------------------------------------------------------------------

  private receive(chunk: Buffer): void {
    this.decoder.push(chunk);
    for (;;) {
      const f = this.decoder.next();
      if (f === undefined) return;
      if (isFrameError(f)) {
        this.failure = new Error(`malformed frame from the server: ${f.message}`);
        this.socket.destroy();
        return;
      }
      const payload = Buffer.from(f.data.subarray(f.offset, f.offset + f.length));
      if (f.type === MessageType.ERROR) {
        const e = ERROR.decode(payload);
        const err = new WireError(e.code, payload.toString('utf8', ERROR.size, ERROR.size + e.message_length), f.requestId);
        this.failure = err;
        this.failAll(err);
        continue;
      }
      if (f.type === MessageType.DETACHED) {
        this.detachedReason = payload.readUInt32LE(0);
        this.failure = new WireDetached(this.detachedReason);
        this.failAll(this.failure);
        continue;
      }
      if (f.type === MessageType.EXCEPTION) {
        void this.exception(f.requestId, payload);
        continue;
      }
      const p = this.pending.get(f.requestId);
      if (!p || p.answer !== f.type) {
        this.failure = new Error(`unexpected ${name(f.type)} for request ${f.requestId}`);
        this.socket.destroy();
        return;
      }
      this.pending.delete(f.requestId);
      p.resolve(payload);
    }
  }

  private async exception(id: number, payload: Buffer): Promise<void> {
    const e = EXCEPTION.decode(payload);
    const gpr = new BigUint64Array(GPR_COUNT);
    for (let i = 0; i < GPR_COUNT; i++) gpr[i] = payload.readBigUInt64LE(EXCEPTION.field('gpr').offset + 8 * i);
    const info: ExceptionInfo = {
      vector: e.vector,
      errorCode: (e.flags & EXCEPTION_ERROR_CODE_VALID) !== 0 ? e.error_code : undefined,
      rip: e.rip,
      gpr,
    };
    let reply: ExceptionReply;
    try {
      reply = this.onException ? await this.onException(info, this) : { rip: e.rip, gpr, giveUp: true };
    } catch {
      if (this.failure) return;
      reply = { rip: e.rip, gpr, giveUp: true };
    }
    if (this.failure) return;
    const done = Buffer.alloc(EXCEPTION_DONE.size);
    done[0] = reply.giveUp ? EXCEPTION_DONE_GIVE_UP : 0;
    done.writeBigUInt64LE(reply.rip, EXCEPTION_DONE.field('rip').offset);
    for (let i = 0; i < GPR_COUNT; i++) done.writeBigUInt64LE(reply.gpr[i]!, EXCEPTION_DONE.field('gpr').offset + 8 * i);
    this.socket.write(encodeFrame(MessageType.EXCEPTION_DONE, id, done));
  }

  private failAll(e: Error): void {
    this.failure ??= e;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(e);
  }
}

function resultOf(payload: Buffer): number {
  return RESULT.decode(payload).result;
}

function name(type: number): string {
  return (Object.entries(MessageType) as [MessageTypeName, number][]).find(([, v]) => v === type)?.[0] ?? `0x${type.toString(16)}`;
}
