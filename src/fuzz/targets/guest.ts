/**
 * Fuzz target `guest`: a malicious VMM answering the guest library's TDVMCALLs with arbitrary
 * values.
 *
 * The world is a real module with one TD whose vCPU runs the guest driver (guest-driver.ts):
 * the guest kernel library booted with a private heap. The fuzzer itself is the VMM: it enters
 * the vCPU with TDH.VP.ENTER and, for every TDVMCALL exit, writes the next scripted reply into
 * R10–R15 (and for GetQuote the shared buffer's header) before re-entering; shared-GPA EPT
 * violations are served by mapping a host page (or the MMIO page) in the vCPU's shared EPT. A
 * step is one guest operation, from its first exit to the driver's idle call. Checked:
 *   - the guest code never threw (a throw ends in a triple fault with vcpu.guestError set)
 *     (no-exception);
 *   - every SEAMCALL status is defined and the memory watch saw no leak (status-defined,
 *     no-plaintext-leak);
 *   - the library's result is the one the replies call for (guest-oracle.ts:
 *     guest-refuses-bad-reply).
 * A guest that panics as the oracle expects, or an operation the hostile VMM starves, ends the
 * episode without a finding.
 */
import { z } from 'zod';
import { Gpr, RegisterFile } from '../../abi/registers.ts';
import { LEAF_WORD } from '../../abi/operands.ts';
import { SeamcallLeaf } from '../../abi/seamcall-leaves.ts';
import { STATUS_CODE_MASK, STATUS_DETAILS_MASK } from '../../abi/status.ts';
import { decodeStatus } from '../../abi/status-decode.ts';
import { VmxExitReason } from '../../abi/vmx.ts';
import { TdvmcallSubfunction, TDX_HYPERCALL_STANDARD } from '../../abi/tdvmcall.ts';
import { TdvmcallStatus } from '../../abi/tdvmcall-status.ts';
import { GET_QUOTE_HEADER, GET_QUOTE_HEADER_SIZE } from '../../abi/get-quote.ts';
import { metadataFieldByName } from '../../abi/metadata.ts';
import { GPAW_48, sharedBit as sharedBitOf } from '../../abi/gpa.ts';
import { U64_MASK, hex64 } from '../../abi/bitfield.ts';
import { KEYID_NONE } from '../../platform/memory.ts';
import { SharedEpt } from '../../platform/shared-ept.ts';
import { callLeaf } from '../../platform/leaf-call.ts';
import { decodeFatalError } from '../../guest/panic.ts';
import type { Vcpu } from '../../module/vcpu.ts';
import { U64_JSON } from '../case.ts';
import { checkStatus, exceptionViolation, SecretWords, type Violation } from '../invariants.ts';
import { MemoryWatch } from '../memory-watch.ts';
import type { Coverage } from '../coverage.ts';
import type { Rng } from '../rng.ts';
import type { Episode, FuzzTarget, OpenOptions } from '../target.ts';
import type { Tracer } from '../../trace/tracer.ts';
import { bringUp, buildTd, createWorld, WorldSetupError, type World } from '../world.ts';
import { guestDriver, type DriverMailbox } from './guest-driver.ts';
import { GUEST_OP_KINDS, nextGuestAction, type GuestAction, type GuestSpace, type VmmReply } from './guest-ops.ts';
import { checkGuestOutcome, type ExitLog } from './guest-oracle.ts';

const PAGE = 4096n;
const HEAP = 1n << 20n;
const HEAP_PAGES = 16;
const SECRET_GPA = 2n << 20n;
/** A shared page the VMM emulates as MMIO (shared bit added at build). */
const MMIO_GPA = 3n << 20n;
/** TDH.VP.ENTERs one operation may take before the VMM is deemed to have starved it. */
const MAX_ENTRIES = 400;
/** Shared pages the VMM is willing to back. */
const MAX_SHARED_PAGES = 64;
const SECRET_WORD = 6n << 60n;

const VP_ENTER = LEAF_WORD.encode({ leaf: SeamcallLeaf.TDH_VP_ENTER.number, version: 0 });
const TDCALL = BigInt(VmxExitReason.TDCALL);
const EPT_VIOLATION = BigInt(VmxExitReason.EPT_VIOLATION);
const EXTERNAL_INTERRUPT = BigInt(VmxExitReason.EXTERNAL_INTERRUPT);
const FATAL = BigInt(TdvmcallSubfunction.REPORT_FATAL_ERROR.number);
const GET_QUOTE = BigInt(TdvmcallSubfunction.GET_QUOTE.number);
const SUB_NAMES = new Map(Object.values(TdvmcallSubfunction).map((s) => [BigInt(s.number), s.name]));
const HONEST: VmmReply = { r10: TdvmcallStatus.SUCCESS, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n };

const ReplySchema = z.object({
  r10: U64_JSON,
  r11: U64_JSON,
  r12: U64_JSON,
  r13: U64_JSON,
  r14: U64_JSON,
  r15: U64_JSON,
  quoteStatus: U64_JSON.optional(),
  quoteLength: z.number().int().min(0).optional(),
});
export const GuestActionSchema: z.ZodType<GuestAction> = z.object({
  op: z.enum(GUEST_OP_KINDS as [GuestAction['op'], ...GuestAction['op'][]]),
  a: U64_JSON,
  b: U64_JSON,
  replies: z.array(ReplySchema),
}) as z.ZodType<GuestAction>;
export const GuestSetupSchema = z.literal('td');
export type GuestSetup = z.infer<typeof GuestSetupSchema>;

class GuestEpisode implements Episode<GuestAction> {
  private readonly w: World;
  private readonly vcpu: Vcpu;
  private readonly tdvpr: bigint;
  private readonly regs = new RegisterFile();
  private readonly mailbox: DriverMailbox = { queue: [], waiting: false, outcome: undefined };
  private readonly sharedEpt = new SharedEpt();
  private readonly sharedBit = sharedBitOf(GPAW_48);
  private readonly space: GuestSpace;
  private readonly secrets = new SecretWords();
  private readonly watch: MemoryWatch;
  private sharedPages = 0;
  private dead = false;
  private boot: Violation | undefined;

  constructor(
    readonly coverage: Coverage,
    tracer?: Tracer,
  ) {
    this.w = createWorld(tracer);
    this.watch = new MemoryWatch(this.w.platform, this.secrets);
    this.watch.install();
    bringUp(this.w);
    const pages = new Map<bigint, Uint8Array>();
    for (let i = 0n; i < BigInt(HEAP_PAGES); i++) pages.set(HEAP + i * PAGE, new Uint8Array(4096));
    pages.set(SECRET_GPA, new Uint8Array(4096));
    const heap = { gpa: HEAP, size: BigInt(HEAP_PAGES) * PAGE };
    const td = buildTd(this.w, { hkid: this.w.globalHkid + 1, program: { name: 'fuzz-guest-driver', run: guestDriver(this.mailbox, heap) }, pages });
    this.watch.plant(td.pages.get(SECRET_GPA)!, td.hkid, SECRET_WORD);
    this.tdvpr = td.vcpus[0]!.tdvpr;
    const vcpu = this.w.module.vcpu(this.tdvpr);
    if (!vcpu) throw new WorldSetupError('the vCPU just built is unknown to the module');
    this.vcpu = vcpu;
    // The VMM's shared EPT: registered with the platform and installed as SHARED_EPTP.
    const root = this.w.hostPages.alloc4k();
    this.w.platform.registerSharedEpt(root, this.sharedEpt);
    const field = metadataFieldByName('SHARED_EPTP');
    if (!field) throw new WorldSetupError('the metadata table has no SHARED_EPTP');
    const wr = callLeaf(this.w.lps[0]!, SeamcallLeaf.TDH_VP_WR, { tdvpr: this.tdvpr, fieldId: field.id, value: root, mask: U64_MASK });
    if (!wr.ok) throw new WorldSetupError(`TDH.VP.WR SHARED_EPTP failed: ${hex64(wr.status)}`);
    this.sharedEpt.mapMmio(MMIO_GPA | this.sharedBit);
    this.space = { heap: HEAP, heapPages: HEAP_PAGES, mmio: MMIO_GPA | this.sharedBit };
    // Boot: run the guest up to its first idle call; what goes wrong there is the first step's.
    this.boot = this.run(undefined);
  }

  get live(): boolean {
    return !this.dead;
  }

  next(rng: Rng): GuestAction {
    return nextGuestAction(rng, this.space);
  }

  step(a: GuestAction): Violation | undefined {
    const boot = this.boot;
    this.boot = undefined;
    if (boot) return boot;
    this.coverage.hit(`guest ${a.op}`);
    this.mailbox.queue.push(a);
    this.mailbox.outcome = undefined;
    return this.run(a);
  }

  /** Enter until the guest is idle again; check what it did with the replies. */
  private run(a: GuestAction | undefined): Violation | undefined {
    const exits: ExitLog[] = [];
    let panicked: string | undefined;
    let finished = false;
    for (let i = 0; i < MAX_ENTRIES && !this.dead && !finished; i++) {
      const g = this.regs.gpr;
      g[Gpr.RAX] = VP_ENTER;
      g[Gpr.RCX] = this.tdvpr;
      try {
        this.w.lps[0]!.seamcall(this.regs);
      } catch (e) {
        return exceptionViolation('TDH.VP.ENTER', e);
      }
      const rax = g[Gpr.RAX]!;
      const v = checkStatus(rax, 'TDH.VP.ENTER') ?? this.secrets.scanRegisters(this.regs, 'TDH.VP.ENTER output') ?? this.watch.take();
      if (v) return v;
      if (this.vcpu.guestError !== undefined) return exceptionViolation(`guest library during ${a?.op ?? 'boot'}`, this.vcpu.guestError);
      const code = rax & STATUS_CODE_MASK;
      const reason = rax & STATUS_DETAILS_MASK;
      if (code !== 0n) {
        // Entry failed, or the vCPU / TD cannot continue (triple fault…): the episode is over.
        this.coverage.hit(`VP.ENTER ${decodeStatus(rax).name ?? hex64(code)}`);
        this.dead = true;
        break;
      }
      if (reason === TDCALL) {
        if (this.mailbox.waiting) {
          finished = true;
          this.reply(HONEST);
          break;
        }
        if (g[Gpr.R10] === TDX_HYPERCALL_STANDARD && g[Gpr.R11] === FATAL) {
          panicked = decodeFatalError(this.regs).message;
          this.coverage.hit('guest panic');
          this.dead = true;
          break;
        }
        const reply = a?.replies[exits.length] ?? HONEST;
        const sub = g[Gpr.R11]!;
        exits.push({ subfunction: sub, r12: g[Gpr.R12]!, r13: g[Gpr.R13]!, reply });
        if (a) this.coverage.outcome(`guest ${a.op}`, SUB_NAMES.get(sub) ?? 'KVM hypercall or unknown');
        if (sub === GET_QUOTE && reply.quoteStatus !== undefined) this.writeQuoteHeader(g[Gpr.R12]!, reply);
        this.reply(reply);
      } else if (reason === EPT_VIOLATION) {
        this.serveEptViolation(g[Gpr.R8]!);
      } else if (reason !== EXTERNAL_INTERRUPT) {
        this.coverage.hit(`TD exit ${reason}`);
      }
    }
    if (!finished && !panicked && !this.dead) {
      this.coverage.hit('operation starved by the VMM');
      this.dead = true;
    }
    if (!a) return undefined;
    const o = this.mailbox.outcome;
    if (finished && o) this.coverage.outcome(`guest ${a.op} result`, o.op === 'memory' || o.op === 'quote' ? (o.result.ok ? 'ok' : o.result.kind) : o.op);
    return checkGuestOutcome(a, exits, o, panicked, this.sharedBit);
  }

  /** The VMM's answer in R10–R15 (the module copies only the registers the guest exposed). */
  private reply(r: VmmReply): void {
    const g = this.regs.gpr;
    g[Gpr.R10] = r.r10;
    g[Gpr.R11] = r.r11;
    g[Gpr.R12] = r.r12;
    g[Gpr.R13] = r.r13;
    g[Gpr.R14] = r.r14;
    g[Gpr.R15] = r.r15;
  }

  /** A shared page the guest touched: back it with a host page (the MMIO page stays emulated). */
  private serveEptViolation(gpa: bigint): void {
    if ((gpa & this.sharedBit) === 0n || this.sharedEpt.lookup(gpa) || this.sharedPages >= MAX_SHARED_PAGES) return;
    this.sharedEpt.map(gpa & ~(PAGE - 1n), this.w.hostPages.alloc4k());
    this.sharedPages++;
  }

  /** The VMM's GetQuote answer in the shared buffer: status and length of the "quote". */
  private writeQuoteHeader(gpa: bigint, r: VmmReply): void {
    const entry = this.sharedEpt.lookup(gpa);
    if (!entry || entry.kind !== 'page' || gpa % PAGE > PAGE - BigInt(GET_QUOTE_HEADER_SIZE)) return;
    const pa = SharedEpt.translate(entry, gpa);
    const header = this.w.platform.memory.read(pa, GET_QUOTE_HEADER_SIZE, KEYID_NONE);
    GET_QUOTE_HEADER.write(header, 'status', r.quoteStatus!);
    GET_QUOTE_HEADER.write(header, 'out_len', (r.quoteLength ?? 0) >>> 0);
    this.w.platform.memory.write(pa, header, KEYID_NONE);
  }
}

export const guestTarget: FuzzTarget<GuestAction, GuestSetup> = {
  name: 'guest',
  summary: "a malicious VMM answering the guest library's TDVMCALLs with arbitrary values",
  episodeLength: () => 200,
  chooseSetup: () => 'td',
  open(_setup: GuestSetup, coverage: Coverage, options: OpenOptions = {}): Episode<GuestAction> {
    return new GuestEpisode(coverage, options.tracer);
  },
  setupSchema: GuestSetupSchema,
  actionSchema: GuestActionSchema,
};
