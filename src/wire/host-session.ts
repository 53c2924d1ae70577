/**
 * The host role of a connection: a client that is the host VMM of its own simulated machine — a
 * Platform with a TDX module loaded, built-in guest programs registered, and nothing else. The
 * client brings the module up and builds TDs with real SEAMCALLs (or asks SETUP_PLATFORM to run
 * the built-in host's bring-up), owns the physical pages it allocates, and may hand a vCPU's code
 * to a guest client through a token (docs/wire-protocol.md §4).
 *
 * SEAMCALLs: each logical processor executes one SEAMCALL at a time, in the order they arrive;
 * SEAMCALLs on different LPs are independent, so a client may keep one in flight per LP (a vCPU
 * thread each, as KVM does). A TDH.VP.ENTER into a vCPU whose wire client has not yet sent its
 * next instruction comes back from the module as a host-timer preemption exit with the wait
 * sentinel pending (guest-slot.ts). That exit belongs to the waiting, not to the client's VMM: the
 * session holds the answer and enters again with the same registers as soon as the guest client
 * speaks — one TDH.VP.ENTER for the client, as on hardware, where the LP simply keeps running the
 * TD. If the guest stays silent for a whole tick (`guestWaitTickMs`), the held exit is delivered
 * as what it is, a timer-tick exit, so the host keeps control of its CPU; entering again resumes
 * the wait.
 *
 * Memory: HOST_MEM_READ/WRITE access the client's pages with KeyID 0 (host-pages.ts); a TD's
 * private page reads as ciphertext, and writing it destroys the TD's data, as on hardware.
 */
import { Gpr, RegisterFile } from '../abi/registers.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { LEAF_WORD, VP_ENTER_RCX } from '../abi/operands.ts';
import { SysState, VcpuState } from '../abi/lifecycle.ts';
import { TdxStatus } from '../abi/status.ts';
import { VmxExitReason } from '../abi/vmx.ts';
import { PAGE_SIZE, SIZE_1G } from '../abi/pamt.ts';
import {
  ALLOC_PAGES,
  ALLOC_PAGES_RESULT,
  DetachReason,
  FREE_PAGES,
  FRAME_HEADER_SIZE,
  GUEST_TOKEN_RESULT,
  HELLO,
  HostLimits,
  MAX_ALLOC_PAGES,
  MAX_MEM_OP,
  MEM_ACCESS,
  MEM_READ_RESULT,
  MessageType,
  PLATFORM_INFO_RESULT,
  RESULT,
  SEAMCALL,
  SETUP_PLATFORM_RESULT,
  SHARED_EPT,
  SharedEptOp,
  WIRE_CMR,
  WIRE_TDMR,
  WireErrorCode,
  WireResult,
} from '../abi/wire.ts';
import { Platform, PlatformConfigError } from '../platform/platform.ts';
import { KEYID_NONE } from '../platform/memory.ts';
import { SharedEpt } from '../platform/shared-ept.ts';
import type { LogicalProcessor } from '../platform/processor.ts';
import { TdxModule } from '../module/module.ts';
import { DEFAULT_MODULE_IDENTITY } from '../module/identity.ts';
import type { Vcpu } from '../module/vcpu.ts';
import { registerGuestPrograms } from '../guest/programs/index.ts';
import { TdxHost } from '../host/tdx-host.ts';
import { HostError } from '../host/errors.ts';
import { encodeFrame, frameBuffer, type Frame } from './frame.ts';
import { HostPages } from './host-pages.ts';
import { RegisterView } from './register-view.ts';
import { ServedModule, VP_ENTER_LEAF_WORD, enteredVcpu } from './served-module.ts';
import { WAIT_FOR_CLIENT, type GuestDirectory, type GuestSlot, type SlotRunner, type TokenOwner } from './guest-slot.ts';
import { WireProtocolError, type Peer, type Session } from './session.ts';

export interface HostSessionOptions {
  /** How long a held TDH.VP.ENTER waits for a silent guest client before its tick exit is delivered. */
  readonly guestWaitTickMs: number;
}

/** SEAMCALLs one LP may have queued behind the one it executes. */
const MAX_QUEUED_PER_LP = 64;
/** Guest tokens one host session may hold. */
const MAX_TOKENS = 64;
/** Shared-EPT entries (pages and MMIO) one host session may create. */
const MAX_SHARED_EPT_ENTRIES = 1 << 20;

const SEAMCALL_GPR = SEAMCALL.field('gpr').offset;
const SEAMCALL_XMM = SEAMCALL.field('xmm').offset;
const RECLAIM_LEAF_WORD = LEAF_WORD.encode({ leaf: SeamcallLeaf.TDH_PHYMEM_PAGE_RECLAIM.number, version: 0 });
/** RAX of the preemption exit a waiting wire vCPU takes: TDX_SUCCESS | EXTERNAL_INTERRUPT. */
const WAIT_EXIT_RAX = TdxStatus.TDX_SUCCESS | BigInt(VmxExitReason.EXTERNAL_INTERRUPT);

interface QueuedSeamcall {
  readonly id: number;
  readonly data: Buffer;
  readonly offset: number;
}

/** One logical processor of the session: its SEAMCALL in flight, queue and held TDH.VP.ENTER. */
class LpRunner implements SlotRunner {
  readonly regs = new RegisterFile();
  readonly view = new RegisterView(this.regs);
  /** The registers the client sent with the SEAMCALL in flight (re-entries start from them). */
  readonly input = new RegisterFile();
  readonly queue: QueuedSeamcall[] = [];
  busy = false;
  requestId = 0;
  held: GuestSlot | undefined;
  heldSince = 0;
  /** RCX for re-entering a held TDH.VP.ENTER: the client's, without HOST_RECOVERABILITY_HINT. */
  reentryRcx = 0n;
  timer: NodeJS.Timeout | undefined;
  timerArmed = false;
  readonly onTick = (): void => this.session.tick(this);

  constructor(
    readonly session: HostSession,
    readonly lp: LogicalProcessor,
  ) {}

  onGuestReady(): void {
    this.session.resume(this);
  }
}

export class HostSession implements Session, TokenOwner {
  readonly platform: Platform;
  readonly module: TdxModule;
  readonly pages: HostPages;
  private readonly runners: LpRunner[];
  /** Wire-guest slots by the vCPU they run. */
  private readonly slots = new Map<Vcpu, GuestSlot>();
  private readonly sharedEpts = new Map<bigint, SharedEpt>();
  private sharedEptEntries = 0;
  private tokens = 0;
  private closed = false;

  /** Build the machine a HELLO asked for. Throws WireProtocolError for a shape outside the limits. */
  constructor(
    private readonly peer: Peer,
    private readonly directory: GuestDirectory,
    private readonly options: HostSessionOptions,
    hello: Frame,
  ) {
    this.platform = makePlatform(hello);
    this.module = new TdxModule(this.platform, DEFAULT_MODULE_IDENTITY);
    this.platform.loadModule(new ServedModule(this.module));
    registerGuestPrograms(this.platform.firmware);
    this.pages = new HostPages(this.platform.memory, this.platform.cmrs);
    this.runners = this.platform.lps.map((lp) => new LpRunner(this, lp));
  }

  handle(f: Frame): void {
    switch (f.type) {
      case MessageType.SEAMCALL:
        return this.seamcall(f);
      case MessageType.HOST_MEM_READ:
        return this.memRead(f);
      case MessageType.HOST_MEM_WRITE:
        return this.memWrite(f);
      case MessageType.ALLOC_PAGES:
        return this.alloc(f);
      case MessageType.FREE_PAGES:
        return this.free(f);
      case MessageType.PLATFORM_INFO:
        return this.platformInfo(f);
      case MessageType.SETUP_PLATFORM:
        return this.setupPlatform(f);
      case MessageType.GUEST_TOKEN:
        return this.guestToken(f);
      case MessageType.SHARED_EPT:
        return this.sharedEpt(f);
      default:
        throw new WireProtocolError(WireErrorCode.UNEXPECTED_MESSAGE, `${f.spec.name} is not a host message`);
    }
  }

  close(): void {
    this.closed = true;
    for (const r of this.runners) {
      if (r.timer) clearTimeout(r.timer);
      if (r.held) r.held.runner = undefined;
      r.held = undefined;
      r.queue.length = 0;
    }
    this.directory.revoke(this, DetachReason.HOST_ENDED);
    this.slots.clear();
  }

  slotBooted(slot: GuestSlot): void {
    if (slot.vcpu) this.slots.set(slot.vcpu, slot);
  }

  // ---- SEAMCALL -------------------------------------------------------------------------------

  private seamcall(f: Frame): void {
    const lpIndex = f.data.readUInt32LE(f.offset);
    const r = this.runners[lpIndex];
    if (!r) throw new WireProtocolError(WireErrorCode.BAD_OPERAND, `SEAMCALL.lp ${lpIndex}: the platform has ${this.runners.length} logical processors`);
    if (r.queue.length >= MAX_QUEUED_PER_LP) {
      throw new WireProtocolError(WireErrorCode.LIMIT_EXCEEDED, `more than ${MAX_QUEUED_PER_LP} SEAMCALLs queued on LP ${lpIndex}`);
    }
    r.queue.push({ id: f.requestId, data: f.data, offset: f.offset });
    this.pump(r);
  }

  /** Start queued SEAMCALLs on an idle LP until one is held or the queue is empty. */
  private pump(r: LpRunner): void {
    while (!r.busy && !this.closed) {
      const next = r.queue.shift();
      if (!next) return;
      r.view.loadGprs(next.data, next.offset + SEAMCALL_GPR);
      r.view.loadXmms(next.data, next.offset + SEAMCALL_XMM);
      r.input.copyFrom(r.regs);
      // The hint is only legal after an ASYNC_TRAP exit; a held entry's exit is an ASYNC_FAULT.
      r.reentryRcx = VP_ENTER_RCX.set(r.input.gpr[Gpr.RCX]!, 'host_recoverability_hint', 0n);
      r.requestId = next.id;
      r.busy = true;
      this.execute(r);
    }
  }

  /** Execute the SEAMCALL in `r.regs`; answer it, or hold it for a waiting wire guest. */
  private execute(r: LpRunner): void {
    r.lp.seamcall(r.regs);
    const rax = r.input.gpr[Gpr.RAX];
    if (rax === VP_ENTER_LEAF_WORD) {
      const vcpu = enteredVcpu(this.module, r.input);
      const slot = vcpu && this.slots.get(vcpu);
      if (vcpu && slot) {
        // Held only if this entry ran and was preempted waiting for the client (an entry the
        // module refused, e.g. from another LP, is answered as it is).
        if (r.regs.gpr[Gpr.RAX] === WAIT_EXIT_RAX && vcpu.pendingOp === WAIT_FOR_CLIENT && !slot.ended) {
          r.held = slot;
          r.heldSince = Date.now();
          slot.runner = r;
          // One tick timer per LP, armed when idle; tick() re-arms it for a hold still running.
          if (!r.timerArmed) {
            r.timerArmed = true;
            if (r.timer) r.timer.refresh();
            else r.timer = setTimeout(r.onTick, this.options.guestWaitTickMs).unref();
          }
          return;
        }
        if (vcpu.state === VcpuState.VCPU_DISABLED) slot.end(DetachReason.TRIPLE_FAULT);
        else if (vcpu.td.fatal) slot.end(DetachReason.VCPU_STOPPED);
      }
    } else if (rax === RECLAIM_LEAF_WORD) {
      this.forgetDestroyedVcpus();
    }
    this.answer(r);
  }

  /** The guest client of a held TDH.VP.ENTER spoke: enter again with the client's registers. */
  resume(r: LpRunner): void {
    if (!r.held || this.closed) return;
    r.held = undefined;
    r.regs.copyFrom(r.input);
    r.regs.gpr[Gpr.RCX] = r.reentryRcx;
    this.execute(r);
    this.pump(r);
  }

  /** A held TDH.VP.ENTER's tick: after a whole tick of silence, deliver the timer exit. */
  tick(r: LpRunner): void {
    r.timerArmed = false;
    const slot = r.held;
    if (!slot || this.closed) return;
    if (Date.now() - r.heldSince < this.options.guestWaitTickMs) {
      // This hold began after the timer was armed: wait out its own tick.
      r.timerArmed = true;
      r.timer?.refresh();
      return;
    }
    slot.runner = undefined;
    r.held = undefined;
    this.answer(r);
    this.pump(r);
  }

  private answer(r: LpRunner): void {
    r.busy = false;
    const f = frameBuffer(MessageType.SEAMCALL_RESULT, r.requestId, SEAMCALL.size);
    f.writeUInt32LE(r.lp.id, FRAME_HEADER_SIZE);
    r.view.storeGprs(f, FRAME_HEADER_SIZE + SEAMCALL_GPR);
    r.view.storeXmms(f, FRAME_HEADER_SIZE + SEAMCALL_XMM);
    this.peer.send(f);
  }

  /** After a page reclaim: a wire vCPU whose TDVPR the module forgot is gone for good. */
  private forgetDestroyedVcpus(): void {
    for (const [vcpu, slot] of this.slots) {
      if (this.module.vcpu(vcpu.tdvpr) === vcpu) continue;
      slot.end(DetachReason.VCPU_DESTROYED);
      this.slots.delete(vcpu);
    }
  }

  // ---- Memory ---------------------------------------------------------------------------------

  private memAccess(f: Frame): { pa: bigint; length: number } {
    const pa = f.data.readBigUInt64LE(f.offset);
    const length = f.data.readUInt32LE(f.offset + MEM_ACCESS.field('length').offset);
    if (length < 1 || length > MAX_MEM_OP) throw new WireProtocolError(WireErrorCode.BAD_OPERAND, `${f.spec.name}.length must be 1 … ${MAX_MEM_OP}`);
    return { pa, length };
  }

  private memRead(f: Frame): void {
    const { pa, length } = this.memAccess(f);
    if (!this.pages.owns(pa, length)) {
      this.peer.send(encodeFrame(MessageType.HOST_MEM_READ_RESULT, f.requestId, MEM_READ_RESULT.encode({ result: WireResult.NOT_OWNED, length: 0 })));
      return;
    }
    const out = frameBuffer(MessageType.HOST_MEM_READ_RESULT, f.requestId, MEM_READ_RESULT.size + length, false);
    out.writeUInt32LE(WireResult.OK, FRAME_HEADER_SIZE);
    out.writeUInt32LE(length, FRAME_HEADER_SIZE + 4);
    out.set(this.platform.memory.read(pa, length, KEYID_NONE), FRAME_HEADER_SIZE + MEM_READ_RESULT.size);
    this.peer.send(out);
  }

  private memWrite(f: Frame): void {
    const { pa, length } = this.memAccess(f);
    let result: number = WireResult.NOT_OWNED;
    if (this.pages.owns(pa, length)) {
      const start = f.offset + MEM_ACCESS.size;
      this.platform.memory.write(pa, f.data.subarray(start, start + length), KEYID_NONE);
      result = WireResult.OK;
    }
    this.peer.send(encodeFrame(MessageType.HOST_MEM_WRITE_RESULT, f.requestId, RESULT.encode({ result })));
  }

  private alloc(f: Frame): void {
    const count = f.data.readUInt32LE(f.offset);
    const align = f.data.readUInt32LE(f.offset + ALLOC_PAGES.field('alignment').offset);
    if (count < 1 || count > MAX_ALLOC_PAGES) throw new WireProtocolError(WireErrorCode.BAD_OPERAND, `ALLOC_PAGES.count must be 1 … ${MAX_ALLOC_PAGES}`);
    const alignment = align === 0 ? PAGE_SIZE : BigInt(align);
    if ((alignment & (alignment - 1n)) !== 0n || alignment < PAGE_SIZE || alignment > SIZE_1G) {
      throw new WireProtocolError(WireErrorCode.BAD_OPERAND, 'ALLOC_PAGES.alignment must be 0 or a power of two from 4 KiB to 1 GiB');
    }
    const base = this.pages.alloc(count, alignment);
    const result = base === undefined ? WireResult.OUT_OF_MEMORY : WireResult.OK;
    this.peer.send(encodeFrame(MessageType.ALLOC_PAGES_RESULT, f.requestId, ALLOC_PAGES_RESULT.encode({ result, count: base === undefined ? 0 : count, base: base ?? 0n })));
  }

  private free(f: Frame): void {
    const base = f.data.readBigUInt64LE(f.offset);
    const count = f.data.readUInt32LE(f.offset + FREE_PAGES.field('count').offset);
    if (base % PAGE_SIZE !== 0n) throw new WireProtocolError(WireErrorCode.MISALIGNED, 'FREE_PAGES.base must be 4K-aligned');
    if (count < 1 || count > MAX_ALLOC_PAGES) throw new WireProtocolError(WireErrorCode.BAD_OPERAND, `FREE_PAGES.count must be 1 … ${MAX_ALLOC_PAGES}`);
    const result = this.pages.free(base, count) ? WireResult.OK : WireResult.NOT_OWNED;
    this.peer.send(encodeFrame(MessageType.FREE_PAGES_RESULT, f.requestId, RESULT.encode({ result })));
  }

  // ---- Platform -------------------------------------------------------------------------------

  private platformInfo(f: Frame): void {
    const p = this.platform;
    const head = PLATFORM_INFO_RESULT.encode({
      packages: p.packages.length,
      lps_per_package: p.packages[0]!.lps.length,
      lp_count: p.lps.length,
      max_pa: p.maxPa,
      keyid_shift: p.keyIdShift,
      memory_bytes: p.memory.size,
      mktme_keyids: p.mktmeKeyIds,
      tdx_keyids: p.tdxKeyIds,
      first_tdx_keyid: p.firstTdxKeyId,
      free_pages: BigInt(this.pages.freePages),
      cmr_count: p.cmrs.length,
    });
    const cmrs = WIRE_CMR.encodeArray(p.cmrs.map((c) => ({ base: c.base, size: c.size })));
    this.peer.send(encodeFrame(MessageType.PLATFORM_INFO_RESULT, f.requestId, Buffer.concat([head, cmrs])));
  }

  /**
   * The built-in host's bring-up (TdxHost.bringUp: SYS.INIT, LP.INIT on every LP, SYS.RD, TDMRs and
   * PAMTs planned over the CMRs, SYS.CONFIG, SYS.KEY.CONFIG per package, TDMR.INIT), for clients
   * that do not want to do it themselves. Only on a fresh machine: nothing allocated, no SEAMCALL
   * in flight, the module still SYSINIT_PENDING — otherwise its PAMTs could land on pages the
   * client holds.
   */
  private setupPlatform(f: Frame): void {
    const fresh = this.module.sysState === SysState.SYSINIT_PENDING && this.pages.ownedPages === 0 && this.runners.every((r) => !r.busy);
    if (!fresh) return this.sendSetup(f.requestId, WireResult.BAD_STATE, 'SETUP_PLATFORM needs a fresh machine: no pages allocated and TDH.SYS.INIT not yet done');
    let host: TdxHost;
    try {
      host = TdxHost.bringUp(this.platform);
    } catch (e) {
      if (e instanceof HostError) return this.sendSetup(f.requestId, WireResult.SETUP_FAILED, e.message);
      throw e;
    }
    const tdmrs = host.tdmrs.map((t) => {
      const areas = [t.pamt4k, t.pamt2m, t.pamt1g];
      for (const a of areas) if (a.size > 0n) this.pages.reserve(a.base, a.size);
      const pamtBase = areas.reduce((m, a) => (a.base < m ? a.base : m), areas[0]!.base);
      return { base: t.base, size: t.size, pamt_base: pamtBase, pamt_size: areas.reduce((n, a) => n + a.size, 0n) };
    });
    const head = SETUP_PLATFORM_RESULT.encode({
      result: WireResult.OK,
      global_keyid: host.globalKeyId,
      first_td_keyid: host.globalKeyId + 1,
      td_keyid_count: this.platform.tdxKeyIds - 1,
      tdmr_count: tdmrs.length,
    });
    this.peer.send(encodeFrame(MessageType.SETUP_PLATFORM_RESULT, f.requestId, Buffer.concat([head, WIRE_TDMR.encodeArray(tdmrs)])));
  }

  private sendSetup(id: number, result: number, message: string): void {
    const text = Buffer.from(message, 'utf8');
    const head = SETUP_PLATFORM_RESULT.encode({ result, message_length: text.length });
    this.peer.send(encodeFrame(MessageType.SETUP_PLATFORM_RESULT, id, Buffer.concat([head, text])));
  }

  private guestToken(f: Frame): void {
    if (this.tokens >= MAX_TOKENS) throw new WireProtocolError(WireErrorCode.LIMIT_EXCEEDED, `a host session may hold at most ${MAX_TOKENS} guest tokens`);
    this.tokens++;
    const entry = this.directory.mint(this.module, this.platform.firmware, this);
    const payload = GUEST_TOKEN_RESULT.encode({ result: WireResult.OK, token: Buffer.from(entry.token, 'latin1') });
    this.peer.send(encodeFrame(MessageType.GUEST_TOKEN_RESULT, f.requestId, payload));
  }

  /**
   * Edit a shared EPT (the page table the CPU walks for the TD's shared GPAs). The root page stands
   * for the table in memory: point a vCPU at it with TDH.VP.WR(SHARED_EPTP). Root and mapped pages
   * must be the client's.
   */
  private sharedEpt(f: Frame): void {
    const v = SHARED_EPT.decode(f.data, f.offset);
    if (v.root % PAGE_SIZE !== 0n || v.gpa % PAGE_SIZE !== 0n || v.hpa % PAGE_SIZE !== 0n) {
      throw new WireProtocolError(WireErrorCode.MISALIGNED, 'SHARED_EPT root, gpa and hpa must be 4K-aligned');
    }
    if (v.op !== SharedEptOp.MAP && v.op !== SharedEptOp.MAP_MMIO && v.op !== SharedEptOp.UNMAP) {
      throw new WireProtocolError(WireErrorCode.BAD_OPERAND, `SHARED_EPT.op ${v.op} is not defined`);
    }
    if (v.op !== SharedEptOp.MAP && v.hpa !== 0n) throw new WireProtocolError(WireErrorCode.BAD_OPERAND, 'SHARED_EPT.hpa must be 0 unless op is MAP');
    const owned = this.pages.owns(v.root, Number(PAGE_SIZE)) && (v.op !== SharedEptOp.MAP || this.pages.owns(v.hpa, Number(PAGE_SIZE)));
    if (owned) {
      let table = this.sharedEpts.get(v.root);
      if (!table) {
        table = new SharedEpt();
        this.sharedEpts.set(v.root, table);
        this.platform.registerSharedEpt(v.root, table);
      }
      const before = table.size;
      if (v.op === SharedEptOp.UNMAP) table.unmap(v.gpa);
      else {
        if (this.sharedEptEntries >= MAX_SHARED_EPT_ENTRIES) {
          throw new WireProtocolError(WireErrorCode.LIMIT_EXCEEDED, `a host session may map at most ${MAX_SHARED_EPT_ENTRIES} shared-EPT entries`);
        }
        if (v.op === SharedEptOp.MAP) table.map(v.gpa, v.hpa);
        else table.mapMmio(v.gpa);
      }
      this.sharedEptEntries += table.size - before;
    }
    const result = owned ? WireResult.OK : WireResult.NOT_OWNED;
    this.peer.send(encodeFrame(MessageType.SHARED_EPT_RESULT, f.requestId, RESULT.encode({ result })));
  }
}

/** The machine a host HELLO asks for (0 = the platform default), within HostLimits. */
function makePlatform(hello: Frame): Platform {
  const h = HELLO.decode(hello.data, hello.offset);
  const bad = (what: string) => new WireProtocolError(WireErrorCode.BAD_OPERAND, `HELLO.${what}`);
  if (h.packages > HostLimits.maxPackages) throw bad(`packages must be at most ${HostLimits.maxPackages}`);
  if (h.lps_per_package > HostLimits.maxLpsPerPackage) throw bad(`lps_per_package must be at most ${HostLimits.maxLpsPerPackage}`);
  if (h.memory_bytes !== 0n && (h.memory_bytes < HostLimits.minMemory || h.memory_bytes > HostLimits.maxMemory || h.memory_bytes % PAGE_SIZE !== 0n)) {
    throw bad(`memory_bytes must be a multiple of 4 KiB from ${HostLimits.minMemory} to ${HostLimits.maxMemory}`);
  }
  if (h.mktme_keyids > HostLimits.maxKeyIds || h.tdx_keyids > HostLimits.maxKeyIds) throw bad(`KeyID counts must be at most ${HostLimits.maxKeyIds}`);
  try {
    return new Platform({
      ...(h.packages !== 0 && { packages: h.packages }),
      ...(h.lps_per_package !== 0 && { lpsPerPackage: h.lps_per_package }),
      ...(h.memory_bytes !== 0n && { memorySize: h.memory_bytes }),
      ...(h.mktme_keyids !== 0 && { mktmeKeyIds: h.mktme_keyids }),
      ...(h.tdx_keyids !== 0 && { tdxKeyIds: h.tdx_keyids }),
    });
  } catch (e) {
    // The platform's own checks (e.g. fewer than 2 TDX KeyIDs) speak for themselves.
    if (e instanceof PlatformConfigError) throw bad(e.message);
    throw e;
  }
}
