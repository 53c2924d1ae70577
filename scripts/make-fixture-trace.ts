/**
 * Write test/fixtures/traces/demo.jsonl: a small, deterministic, synthetic trace built through the
 * trace helpers (src/trace/record.ts) exactly as the emit points will call them — platform
 * bring-up, a TD build with its measurement, and a guest run with in-kernel and userspace
 * TDVMCALLs, an asynchronous EPT-violation exit, page state changes, a #VE, an RTMR extend and a
 * few refused calls. It stands in for a real simulator run until the emit points are wired.
 *
 *   npx tsx scripts/make-fixture-trace.ts [out.jsonl]
 *
 * `buildDemoTrace({ rounds })` repeats the guest run to make large traces (the viewer's
 * 150k-event test).
 */
import { createHash, type Hash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type LeafDef, writeOperands } from '../src/abi/leaf.ts';
import { EPT_VIOLATION_EXIT_QUAL, GPA_AND_LEVEL, LEAF_WORD, TDVMCALL_CONTROL, TDVMCALL_EXIT_RCX } from '../src/abi/operands.ts';
import { KvmExitReason, KvmHypercall, KVM_EXIT_HYPERCALL_LONG_MODE, KVM_MAP_GPA_RANGE_DECRYPTED } from '../src/abi/kvm.ts';
import { MRTD_BLOCK_BYTES, MRTD_TAG_MR_EXTEND, MRTD_TAG_PAGE_ADD, MrtdBlock, MR_EXTEND_CHUNK_BYTES } from '../src/abi/measurement.ts';
import { RegisterFile, type GprName } from '../src/abi/registers.ts';
import { SeamcallLeaf as S } from '../src/abi/seamcall-leaves.ts';
import { OperandId, TdxStatus, withOperand } from '../src/abi/status.ts';
import { TdcallLeaf as T } from '../src/abi/tdcall-leaves.ts';
import { TDVMCALL_EXPOSE_REGS_MASK, TdvmcallSubfunction as Sub } from '../src/abi/tdvmcall.ts';
import { TdvmcallStatus } from '../src/abi/tdvmcall-status.ts';
import { VmxExitReason } from '../src/abi/vmx.ts';
import type { TraceEvent } from '../src/trace/events.ts';
import { formatJsonl } from '../src/trace/jsonl.ts';
import type { TracePageState } from '../src/trace/page-states.ts';
import {
  traceGuestResume,
  traceMeasure,
  tracePage,
  traceSeamcall,
  traceTdcall,
  traceTdEntry,
  traceTdExit,
  traceTdvmcall,
  traceUserComplete,
  traceUserExit,
  traceVe,
  type TraceWhere,
} from '../src/trace/record.ts';
import { RecordingTracer } from '../src/trace/tracer.ts';

const TDR = 0x1_0000_0000n;
const TDVPR = [0x1_0004_0000n, 0x1_0008_0000n];
const PAGE = 0x1000n;

type Operands = Partial<Record<string, bigint>>;

/** A register file holding a leaf word in RAX and the named operands. */
function call(leaf: LeafDef, operands: Operands = {}, version = 0): RegisterFile {
  const r = RegisterFile.from({ RAX: LEAF_WORD.encode({ leaf: BigInt(leaf.number), version: BigInt(version) }) });
  writeOperands(leaf.inputs, r, operands);
  return r;
}

/** The same registers after the call: RAX = status, the named outputs written. */
function done(leaf: LeafDef, regsIn: RegisterFile, status: bigint = TdxStatus.TDX_SUCCESS, outputs: Operands = {}): RegisterFile {
  const r = regsIn.clone().set('RAX', status);
  writeOperands(leaf.outputs, r, outputs);
  return r;
}

class Demo {
  readonly tracer = new RecordingTracer();
  private readonly mrtd: Hash = createHash('sha384');
  private readonly rtmr = [0, 1, 2, 3].map(() => Buffer.alloc(48));

  seamcall(lp: number, leaf: LeafDef, operands: Operands = {}, status?: bigint, outputs?: Operands, version = 0): void {
    const regsIn = call(leaf, operands, version);
    traceSeamcall(this.tracer, lp, leaf, regsIn, done(leaf, regsIn, status, outputs));
  }

  page(gpa: bigint, from: TracePageState, to: TracePageState, level?: number): void {
    tracePage(this.tracer, { td: TDR, gpa, from, to, ...(level !== undefined && { level }) });
  }

  /** One MRTD block (tag, GPA, zero padding) and the MRTD it would give if finalised now. */
  mrtdBlock(tag: typeof MRTD_TAG_PAGE_ADD | typeof MRTD_TAG_MR_EXTEND, gpa: bigint, chunk?: Buffer): void {
    const block = Buffer.alloc(MRTD_BLOCK_BYTES);
    block.write(tag, MrtdBlock.TAG_OFFSET, 'ascii');
    block.writeBigUInt64LE(gpa, MrtdBlock.GPA_OFFSET);
    this.mrtd.update(block);
    if (chunk) this.mrtd.update(chunk);
    traceMeasure(this.tracer, { td: TDR, register: 'MRTD', op: tag, gpa, digest: this.mrtd.copy().digest() });
  }

  rtmrExtend(index: 0 | 1 | 2 | 3, data: Buffer): void {
    const next = createHash('sha384').update(this.rtmr[index]!).update(data).digest();
    this.rtmr[index] = next;
    traceMeasure(this.tracer, { td: TDR, register: `RTMR${index}`, op: 'RTMR.EXTEND', digest: next, input: data });
  }

  finalize(): void {
    traceMeasure(this.tracer, { td: TDR, register: 'MRTD', op: 'MR.FINALIZE', digest: this.mrtd.digest() });
  }
}

// ---------------------------------------------------------------------------------------------
// Platform bring-up and TD build (host SEAMCALLs).

function bringUp(d: Demo): void {
  d.seamcall(0, S.TDH_SYS_INIT);
  for (const lp of [0, 1]) d.seamcall(lp, S.TDH_SYS_LP_INIT);
  // A second LP.INIT on LP 0 is refused: the module already initialised it.
  d.seamcall(0, S.TDH_SYS_LP_INIT, {}, TdxStatus.TDX_SYS_LP_INIT_DONE);
  d.seamcall(0, S.TDH_SYS_CONFIG, { tdmrArray: 0x8_0000n, tdmrCount: 1n, globalHkid: 1n });
  for (const lp of [0, 1]) d.seamcall(lp, S.TDH_SYS_KEY_CONFIG);
  d.seamcall(0, S.TDH_SYS_TDMR_INIT, { tdmrBase: 0n }, TdxStatus.TDX_SUCCESS, { nextToInit: 0n });
}

function buildTd(d: Demo): void {
  d.seamcall(0, S.TDH_MNG_CREATE, { tdr: TDR, hkid: 2n });
  d.seamcall(0, S.TDH_MNG_KEY_CONFIG, { tdr: TDR });
  d.seamcall(1, S.TDH_MNG_KEY_CONFIG, { tdr: TDR });
  // Once per package is enough: the third call reports the key as already configured (a warning).
  d.seamcall(1, S.TDH_MNG_KEY_CONFIG, { tdr: TDR }, TdxStatus.TDX_KEY_CONFIGURED);
  for (let i = 1n; i <= 3n; i++) d.seamcall(0, S.TDH_MNG_ADDCX, { page: TDR + i * PAGE, tdr: TDR });
  d.seamcall(0, S.TDH_MNG_INIT, { tdr: TDR, tdParams: 0x9_0000n }, TdxStatus.TDX_SUCCESS, { extendedError: 0n });
  for (const [i, tdvpr] of TDVPR.entries()) {
    d.seamcall(0, S.TDH_VP_CREATE, { tdvpr, tdr: TDR });
    d.seamcall(0, S.TDH_VP_ADDCX, { page: tdvpr + PAGE, tdvpr });
    d.seamcall(0, S.TDH_VP_INIT, { tdvpr, initialRcx: 0n, x2apicId: BigInt(i) }, TdxStatus.TDX_SUCCESS, {}, 1);
  }
  d.seamcall(0, S.TDH_MEM_SEPT_ADD, { gpaLevel: GPA_AND_LEVEL.encode({ level: 1n, gpa_page: 0n }), tdrFlags: TDR, page: TDR + 8n * PAGE });
  // A bad level is refused with the operand that carries it.
  d.seamcall(0, S.TDH_MEM_PAGE_ADD, { gpaLevel: GPA_AND_LEVEL.encode({ level: 1n, gpa_page: 0n }), tdr: TDR, page: TDR + 9n * PAGE, source: 0xa_0000n },
    withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX));
  for (const gpa of [0n, PAGE]) {
    d.seamcall(0, S.TDH_MEM_PAGE_ADD, { gpaLevel: GPA_AND_LEVEL.encode({ gpa_page: gpa >> 12n }), tdr: TDR, page: TDR + 16n * PAGE + gpa, source: 0xa_0000n });
    d.page(gpa, 'FREE', 'MAPPED');
    d.mrtdBlock(MRTD_TAG_PAGE_ADD, gpa);
    for (let off = 0n; off < PAGE; off += BigInt(MR_EXTEND_CHUNK_BYTES)) {
      d.seamcall(0, S.TDH_MR_EXTEND, { gpa: gpa + off, tdr: TDR });
      d.mrtdBlock(MRTD_TAG_MR_EXTEND, gpa + off, Buffer.alloc(MR_EXTEND_CHUNK_BYTES, Number((gpa + off) >> 8n) & 0xff));
    }
  }
  d.seamcall(0, S.TDH_MR_FINALIZE, { tdr: TDR });
  d.finalize();
}

// ---------------------------------------------------------------------------------------------
// Guest run: TDCALLs and TDVMCALL round trips.

const TDCALL_EXIT = TdxStatus.TDX_SUCCESS + BigInt(VmxExitReason.TDCALL);

/** The guest's registers for a standard TDVMCALL: R10 = 0, R11 = sub-function, args in R12.. */
function vmcall(sub: number, args: Partial<Record<GprName, bigint>> = {}): RegisterFile {
  const r = call(T.TDG_VP_VMCALL, { control: TDVMCALL_CONTROL.encode({ gpr_select: TDVMCALL_EXPOSE_REGS_MASK }) });
  r.set('R10', 0n).set('R11', BigInt(sub));
  for (const [reg, v] of Object.entries(args) as [GprName, bigint][]) r.set(reg, v);
  return r;
}

/** The host's registers after TDH.VP.ENTER returns for that TDVMCALL. */
function exitFor(guest: RegisterFile): RegisterFile {
  const r = guest.clone().set('RAX', TDCALL_EXIT);
  return r.set('RCX', TDVMCALL_EXIT_RCX.encode({ gpr_select: TDVMCALL_EXPOSE_REGS_MASK }));
}

/** An exit record or reply as the host's userspace API shapes it (any fields besides `kind`). */
const record = <R extends { readonly kind: string }>(r: R): R => r;

interface Reply {
  readonly r10: bigint;
  readonly r11?: bigint;
  readonly user?: { readonly record: { readonly kind: string }; readonly reply?: { readonly kind: string }; readonly during?: () => void };
}

/** One TDVMCALL round trip on a vCPU: call, exit, handling, (userspace,) entry, resume. */
function roundTrip(d: Demo, at: TraceWhere, guest: RegisterFile, reply: Reply): void {
  const t = d.tracer;
  traceTdcall(t, at, T.TDG_VP_VMCALL, guest);
  const exit = exitFor(guest);
  traceTdExit(t, at, exit);
  const answered = exit.clone().set('R10', reply.r10);
  if (reply.r11 !== undefined) answered.set('R11', reply.r11);
  traceTdvmcall(t, at, exit, answered);
  if (reply.user) {
    traceUserExit(t, at, reply.user.record);
    reply.user.during?.();
    traceUserComplete(t, at, reply.user.reply);
  }
  const entry = answered.clone().set('RAX', LEAF_WORD.encode({ leaf: BigInt(S.TDH_VP_ENTER.number) })).set('RCX', TDVPR[at.vcpu ?? 0]!);
  traceTdEntry(t, at, entry);
  traceGuestResume(t, at, answered.clone().set('RAX', TdxStatus.TDX_SUCCESS).set('RCX', guest.get('RCX')));
}

/** A guest TDCALL the module completes without exiting. */
function tdcall(d: Demo, at: TraceWhere, leaf: LeafDef, operands: Operands, status: bigint = TdxStatus.TDX_SUCCESS, outputs: Operands = {}): void {
  const regsIn = call(leaf, operands);
  traceTdcall(d.tracer, at, leaf, regsIn, done(leaf, regsIn, status, outputs));
}

function guestRun(d: Demo, round: number): void {
  const v0: TraceWhere = { td: TDR, vcpu: 0, lp: 0 };
  const v1: TraceWhere = { td: TDR, vcpu: 1, lp: 1 };
  const base = 0x20_0000n + BigInt(round) * 0x10_0000n;

  tdcall(d, v0, T.TDG_VP_INFO, {}, TdxStatus.TDX_SUCCESS, { gpaw: 52n, attributes: 0n, vcpus: (2n << 32n) | 2n, vcpuIndex: 0n, features: 1n, reserved11: 0n });
  roundTrip(d, v0, vmcall(Sub.GET_TD_VM_CALL_INFO.number, { R12: 1n }), { r10: TdvmcallStatus.SUCCESS, r11: 2n });

  // Port I/O to the serial console goes to userspace as KVM_EXIT_IO.
  roundTrip(d, v0, vmcall(Sub.IO.number, { R12: 1n, R13: 1n, R14: 0x3f8n, R15: 0x48n }), {
    r10: TdvmcallStatus.SUCCESS,
    user: { record: record({ kind: 'io', exitReason: KvmExitReason.IO, direction: 'out', size: 1, port: 0x3f8, count: 1, data: 0x48n }), reply: { kind: 'io' } },
  });

  // CPUID the module does not virtualise: #VE, then the guest's handler asks the VMM.
  traceVe(d.tracer, v0, { exitReason: VmxExitReason.CPUID, exitQualification: 0n, gla: 0n, gpa: 0n });
  roundTrip(d, v0, vmcall(Sub.CPUID.number, { R12: 0x4000_0000n, R13: 0n }), { r10: TdvmcallStatus.SUCCESS });

  // First touch of an unaccepted private page: an asynchronous EPT-violation exit; the host adds
  // the page (AUG) and re-enters; the guest accepts it.
  const exit = new RegisterFile()
    .set('RAX', TdxStatus.TDX_SUCCESS + BigInt(VmxExitReason.EPT_VIOLATION))
    .set('RCX', EPT_VIOLATION_EXIT_QUAL.encode({ data_read: 1n }))
    .set('R8', base);
  traceTdExit(d.tracer, v0, exit);
  d.seamcall(0, S.TDH_MEM_PAGE_AUG, { gpaLevel: GPA_AND_LEVEL.encode({ gpa_page: base >> 12n }), tdr: TDR, page: TDR + 64n * PAGE });
  d.page(base, 'FREE', 'PENDING');
  traceTdEntry(d.tracer, v0, call(S.TDH_VP_ENTER, { vcpu: TDVPR[0]! }));
  tdcall(d, v0, T.TDG_MEM_PAGE_ACCEPT, { gpaLevel: GPA_AND_LEVEL.encode({ gpa_page: base >> 12n }) });
  d.page(base, 'PENDING', 'MAPPED');
  // Accepting it again is a warning, not an error (bits 31:0 = the level).
  tdcall(d, v0, T.TDG_MEM_PAGE_ACCEPT, { gpaLevel: GPA_AND_LEVEL.encode({ gpa_page: base >> 12n }) }, TdxStatus.TDX_PAGE_ALREADY_ACCEPTED);

  // Measure something at run time.
  tdcall(d, v0, T.TDG_MR_RTMR_EXTEND, { gpa: base, index: 2n });
  d.rtmrExtend(2, Buffer.alloc(48, 0x20 + round));

  // MapGPA two pages to shared: userspace converts them, KVM zaps the private mappings.
  const shared = base + 0x8_0000n;
  for (const gpa of [shared, shared + PAGE]) {
    d.seamcall(0, S.TDH_MEM_PAGE_AUG, { gpaLevel: GPA_AND_LEVEL.encode({ gpa_page: gpa >> 12n }), tdr: TDR, page: TDR + 65n * PAGE + gpa - shared });
    d.page(gpa, 'FREE', 'PENDING');
  }
  roundTrip(d, v0, vmcall(Sub.MAP_GPA.number, { R12: shared | (1n << 51n), R13: 2n * PAGE }), {
    r10: TdvmcallStatus.SUCCESS,
    user: {
      record: record({
        kind: 'hypercall',
        exitReason: KvmExitReason.HYPERCALL,
        nr: BigInt(KvmHypercall.MAP_GPA_RANGE),
        args: [shared, 2n, KVM_MAP_GPA_RANGE_DECRYPTED],
        ret: 0n,
        flags: KVM_EXIT_HYPERCALL_LONG_MODE,
      }),
      reply: record({ kind: 'hypercall', ret: 0n }),
      during: () => {
        for (const gpa of [shared, shared + PAGE]) {
          d.seamcall(0, S.TDH_MEM_RANGE_BLOCK, { gpaLevel: GPA_AND_LEVEL.encode({ gpa_page: gpa >> 12n }), tdr: TDR });
          d.page(gpa, 'PENDING', 'PENDING_BLOCKED');
        }
        d.seamcall(0, S.TDH_MEM_TRACK, { tdr: TDR });
        for (const gpa of [shared, shared + PAGE]) {
          d.seamcall(0, S.TDH_MEM_PAGE_REMOVE, { gpaLevel: GPA_AND_LEVEL.encode({ gpa_page: gpa >> 12n }), tdr: TDR });
          d.page(gpa, 'PENDING_BLOCKED', 'FREE');
          d.page(gpa, 'FREE', 'SHARED');
        }
      },
    },
  });

  // A sub-function this VMM does not know, and a misaligned MapGPA: the VMM refuses (R10).
  roundTrip(d, v0, vmcall(0x1_00ff), { r10: TdvmcallStatus.SUBFUNC_UNSUPPORTED });
  roundTrip(d, v0, vmcall(Sub.MAP_GPA.number, { R12: shared + 8n, R13: PAGE }), { r10: TdvmcallStatus.ALIGN_ERROR, r11: shared + 8n });

  // vCPU 1 halts until an interrupt.
  roundTrip(d, v1, vmcall(Sub.HLT.number, { R12: 0n }), { r10: TdvmcallStatus.SUCCESS });
}

export interface DemoOptions {
  /** How many times to repeat the guest run (each round adds about 90 events). Default 1. */
  readonly rounds?: number;
}

export function buildDemoTrace(options: DemoOptions = {}): TraceEvent[] {
  const d = new Demo();
  bringUp(d);
  buildTd(d);
  for (let round = 0; round < (options.rounds ?? 1); round++) guestRun(d, round);
  return d.tracer.events;
}

export const DEMO_TRACE_SOURCE = 'scripts/make-fixture-trace.ts (synthetic)';

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[2] ?? fileURLToPath(new URL('../test/fixtures/traces/demo.jsonl', import.meta.url));
  const events = buildDemoTrace();
  writeFileSync(out, formatJsonl(events, DEMO_TRACE_SOURCE));
  console.log(`wrote ${events.length} events to ${out}`);
}
