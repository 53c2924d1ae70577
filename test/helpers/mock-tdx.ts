/**
 * A scripted executor for guest code: a test double standing in for the TDX module and the VMM,
 * written independently of src/module. It drives a guest generator (GuestGen) and answers each
 * GuestOp the way the tests script it, recording every crossing:
 *
 *   - TDCALL: RAX selects the leaf. TDG.VP.VMCALL is turned into a VMM request answered by the
 *     test's `vmm` handler; the reply is copied back only into the registers the guest exposed
 *     (RCX gpr_select), RAX = 0 — the resume rule of tdx-module.md §6.2. Other leaves get canned
 *     outputs: test overrides first, else small defaults (VP.INFO from the config, VEINFO.GET from
 *     the pending #VE, VM.RD/WR over a field map, PAGE.ACCEPT recorded, RTMR.EXTEND hashing,
 *     MR.REPORT writing a recognisable report).
 *   - IO, HLT, VMCALL, MSRs: a #VE with the VE_INFO the module would fill (a second #VE before
 *     VEINFO.GET is a #DF).
 *   - CPUID: the `cpuid` handler's values, or a #VE.
 *   - Memory: private and shared GPAs are byte stores; a shared GPA the `mmio` predicate selects,
 *     or a private GPA the `privateVe` predicate selects, raises an EPT-violation #VE.
 *
 * A ReportFatalError TDVMCALL ends the run as a `panic` outcome (unless `stopOnPanic` is false),
 * which is how a test observes a guest panic.
 */
import { createHash } from 'node:crypto';
import { EPT_VIOLATION_EXIT_QUAL, IO_EXIT_QUAL, LEAF_WORD, TDVMCALL_CONTROL, VEINFO_R10 } from '../../src/abi/operands.ts';
import { GPR_NAMES, type GprName, type RegisterFile } from '../../src/abi/registers.ts';
import { OperandId, TdxStatus, withOperand } from '../../src/abi/status.ts';
import { TdcallLeaf } from '../../src/abi/tdcall-leaves.ts';
import { TDVMCALL_FORBIDDEN_GPR_MASK, TDVMCALL_REGS, TdvmcallSubfunction } from '../../src/abi/tdvmcall.ts';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';
import { InstructionLength, Vector, VmxExitReason } from '../../src/abi/vmx.ts';
import { CPUID_TDX_LEAF, CPUID_TDX_SIGNATURE } from '../../src/abi/cpuid.ts';
import { TdAttributesBit } from '../../src/abi/td-config.ts';
import { COM1_BASE } from '../../src/abi/pc-devices.ts';
import { metadataFieldByName } from '../../src/abi/metadata.ts';
import { REPORT_TYPE_TDX, tdreportOffset, TDREPORT_STRUCT_SIZE } from '../../src/abi/tdreport.ts';
import { GuestCpu, type GuestGen, type GuestOp, type OpResult } from '../../src/platform/guest-cpu.ts';
import { decodeFatalError, isFatalErrorCall, type GuestPanic } from '../../src/guest/panic.ts';

export type Regs = Record<GprName, bigint>;

/** What the guest asked of the VMM with one TDVMCALL. */
export interface VmmRequest {
  /** R10: TDX_HYPERCALL_STANDARD (0) or a KVM hypercall number. */
  readonly callType: bigint;
  /** R11 (for a standard call: the sub-function). */
  readonly subfunction: bigint;
  /** The guest's registers at the TDVMCALL (all 16; the VMM may only rely on the exposed ones). */
  readonly regs: Regs;
}

/** The VMM's answer: registers to hand back (R10 status, R11…), or stop the run. */
export interface VmmReply {
  readonly regs?: Partial<Regs>;
  /** End the run here (the VMM does not resume the guest). */
  readonly stop?: boolean;
}

/** A canned module answer to a TDCALL leaf. */
export interface ModuleReply {
  readonly status?: bigint;
  readonly out?: Partial<Regs>;
}

export type Crossing =
  | { readonly kind: 'tdcall'; readonly leaf: number; readonly name: string; readonly in: Regs; readonly status: bigint; readonly out: Regs }
  | { readonly kind: 'tdvmcall'; readonly name: string; readonly request: VmmRequest; readonly reply: VmmReply }
  | { readonly kind: 've'; readonly exitReason: number; readonly op: GuestOp }
  | { readonly kind: 'fault'; readonly vector: number; readonly op: GuestOp }
  | { readonly kind: 'op'; readonly op: GuestOp };

export type MockOutcome =
  | { readonly kind: 'returned' }
  | { readonly kind: 'panic'; readonly panic: GuestPanic }
  | { readonly kind: 'stopped' }
  | { readonly kind: 'triple_fault' }
  | { readonly kind: 'step_limit' };

export interface MockConfig {
  gpaw?: 48 | 52;
  attributes?: bigint;
  vcpuIndex?: bigint;
  numVcpus?: bigint;
  maxVcpus?: bigint;
  /** TD-scope metadata for TDG.VM.RD/WR, by field id. */
  metadata?: Map<bigint, bigint>;
  /**
   * Per-leaf overrides; returning undefined falls back to the default answer. For TDG.VP.VMCALL an
   * override is the module failing the call (no TD exit).
   */
  tdcall?: Partial<Record<number, (regs: RegisterFile, mock: MockTdx) => ModuleReply | undefined>>;
  /** The VMM. Default: TDVMCALL_STATUS_SUCCESS, everything else unchanged. */
  vmm?: (req: VmmRequest, mock: MockTdx) => VmmReply;
  /** Module-virtualised CPUID: values, or 've'. Default: leaf 0x21 answered, everything else #VE. */
  cpuid?: (leaf: number, subleaf: number) => { eax: number; ebx: number; ecx: number; edx: number } | 've';
  /** Shared GPAs that are emulated MMIO (#VE). Default: every shared GPA. */
  mmio?: (gpa: bigint) => boolean;
  /** Private GPAs whose access raises an EPT-violation #VE (pending pages). Default: none. */
  privateVe?: (gpa: bigint) => boolean;
  /** Called before a load from memory is answered (e.g. a VMM finishing a request meanwhile). */
  onLoad?: (gpa: bigint, size: number, mock: MockTdx) => void;
  /** End the run at the first ReportFatalError (default true). */
  stopOnPanic?: boolean;
  /** Give up after this many guest operations (default 100000). */
  maxSteps?: number;
}

/** Attributes of a production TD that disabled SEPT #VE (what Linux requires). */
export const DEFAULT_ATTRIBUTES = 1n << BigInt(TdAttributesBit.SEPT_VE_DISABLE);

interface PendingVe {
  exitReason: number;
  exitQualification: bigint;
  gla: bigint;
  gpa: bigint;
  instructionLength: number;
}

const PAGE = 4096n;

export class MockTdx {
  readonly cpu = new GuestCpu();
  readonly crossings: Crossing[] = [];
  readonly metadata: Map<bigint, bigint>;
  /** Guest memory by GPA (shared GPAs include the shared bit): page number → bytes. */
  readonly memory = new Map<bigint, Uint8Array>();
  /** GPA|level of every successful TDG.MEM.PAGE.ACCEPT. */
  readonly accepted: { gpa: bigint; level: number }[] = [];
  readonly rtmr: Uint8Array[] = Array.from({ length: 4 }, () => new Uint8Array(48));
  outcome: MockOutcome | undefined;
  private ve: PendingVe | undefined;
  private stopped = false;

  constructor(readonly config: MockConfig = {}) {
    this.metadata = config.metadata ?? new Map();
  }

  get sharedBit(): bigint {
    return 1n << BigInt((this.config.gpaw ?? 48) - 1);
  }

  /** Run guest code to completion (or a stop); returns its value if it returned. */
  run<T>(program: (cpu: GuestCpu) => GuestGen<T>): T | undefined {
    const gen = program(this.cpu);
    const max = this.config.maxSteps ?? 100_000;
    let steps = 0;
    let r = gen.next();
    while (!r.done) {
      if (++steps > max) {
        this.outcome = { kind: 'step_limit' };
        gen.return(undefined as T);
        return undefined;
      }
      const result = this.answer(r.value);
      if (this.stopped) {
        gen.return(undefined as T);
        return undefined;
      }
      r = gen.next(result);
    }
    this.outcome = { kind: 'returned' };
    return r.value;
  }

  // ---- Views for assertions --------------------------------------------------------------------

  /** Compact names of the crossings: leaf mnemonics, `VMCALL <sub-function>`, `#VE <reason>`. */
  trace(): string[] {
    return this.crossings.flatMap((c): string[] => {
      switch (c.kind) {
        case 'tdcall':
          return c.leaf === TdcallLeaf.TDG_VP_VMCALL.number ? [] : [c.name];
        case 'tdvmcall':
          return [`VMCALL ${c.name}`];
        case 've':
          return [`#VE ${exitReasonName(c.exitReason)}`];
        case 'fault':
          return [`fault ${c.vector}`];
        case 'op':
          return [];
      }
    });
  }

  tdvmcalls(): Extract<Crossing, { kind: 'tdvmcall' }>[] {
    return this.crossings.filter((c): c is Extract<Crossing, { kind: 'tdvmcall' }> => c.kind === 'tdvmcall');
  }

  tdcalls(): Extract<Crossing, { kind: 'tdcall' }>[] {
    return this.crossings.filter((c): c is Extract<Crossing, { kind: 'tdcall' }> => c.kind === 'tdcall');
  }

  /** The bytes the guest wrote with Instruction.IO to `port` (default COM1), as text. */
  serialOutput(port = COM1_BASE): string {
    const bytes = this.tdvmcalls()
      .filter((c) => c.name === 'Instruction.IO' && c.request.regs.R13 === 1n && c.request.regs.R14 === BigInt(port))
      .map((c) => Number(c.request.regs.R15 & 0xffn));
    return new TextDecoder().decode(Uint8Array.from(bytes));
  }

  readBytes(gpa: bigint, size: number): Uint8Array {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) out[i] = this.page(gpa + BigInt(i))[Number((gpa + BigInt(i)) % PAGE)]!;
    return out;
  }

  writeBytes(gpa: bigint, data: Uint8Array): void {
    data.forEach((b, i) => (this.page(gpa + BigInt(i))[Number((gpa + BigInt(i)) % PAGE)] = b));
  }

  // ---- The executor ----------------------------------------------------------------------------

  private answer(op: GuestOp): OpResult {
    switch (op.kind) {
      case 'tdcall':
        return this.tdcall();
      case 'io': {
        const exitQualification = IO_EXIT_QUAL.encode({ size_minus_1: op.size - 1, direction_in: op.write ? 0 : 1, port: op.port });
        return this.injectVe(op, VmxExitReason.IO_INSTRUCTION, exitQualification, InstructionLength.IO_DX + (op.size === 2 ? 1 : 0));
      }
      case 'hlt':
        return this.injectVe(op, VmxExitReason.HLT, 0n, InstructionLength.HLT);
      case 'vmcall':
        return this.injectVe(op, VmxExitReason.VMCALL, 0n, InstructionLength.VMCALL);
      case 'wbinvd':
        return this.injectVe(op, VmxExitReason.WBINVD, 0n, InstructionLength.WBINVD);
      case 'rdmsr':
        return this.injectVe(op, VmxExitReason.RDMSR, 0n, InstructionLength.RDMSR);
      case 'wrmsr':
        return this.injectVe(op, VmxExitReason.WRMSR, 0n, InstructionLength.WRMSR);
      case 'cpuid':
        return this.cpuidOp(op);
      case 'load':
      case 'store':
        return this.memoryOp(op);
      case 'triple_fault':
        this.outcome = { kind: 'triple_fault' };
        this.stopped = true;
        return { kind: 'done' };
    }
  }

  private injectVe(op: GuestOp, exitReason: number, exitQualification: bigint, instructionLength: number, gpa = 0n): OpResult {
    if (this.ve) {
      this.crossings.push({ kind: 'fault', vector: Vector.DF, op });
      return { kind: 'fault', vector: Vector.DF, errorCode: 0n };
    }
    this.ve = { exitReason, exitQualification, gla: gpa, gpa, instructionLength };
    this.crossings.push({ kind: 've', exitReason, op });
    return { kind: 've' };
  }

  private cpuidOp(op: GuestOp): OpResult {
    const leaf = Number(this.cpu.regs.get('RAX') & 0xffff_ffffn);
    const subleaf = Number(this.cpu.regs.get('RCX') & 0xffff_ffffn);
    const values = this.config.cpuid ? this.config.cpuid(leaf, subleaf) : leaf === CPUID_TDX_LEAF ? CPUID_TDX_SIGNATURE : 've';
    if (values === 've') return this.injectVe(op, VmxExitReason.CPUID, 0n, InstructionLength.CPUID);
    this.cpu.regs.set('RAX', BigInt(values.eax >>> 0));
    this.cpu.regs.set('RBX', BigInt(values.ebx >>> 0));
    this.cpu.regs.set('RCX', BigInt(values.ecx >>> 0));
    this.cpu.regs.set('RDX', BigInt(values.edx >>> 0));
    this.crossings.push({ kind: 'op', op });
    return { kind: 'done' };
  }

  private memoryOp(op: Extract<GuestOp, { kind: 'load' | 'store' }>): OpResult {
    const shared = (op.gpa & this.sharedBit) !== 0n;
    const veHere = shared ? (this.config.mmio ?? (() => true))(op.gpa) : (this.config.privateVe ?? (() => false))(op.gpa);
    if (veHere) {
      const qual = EPT_VIOLATION_EXIT_QUAL.encode({ data_read: op.kind === 'load' ? 1 : 0, data_write: op.kind === 'store' ? 1 : 0, gla_valid: 1, gla_translation: 1 });
      return this.injectVe(op, VmxExitReason.EPT_VIOLATION, qual, 0, op.gpa);
    }
    this.crossings.push({ kind: 'op', op });
    if (op.kind === 'store') {
      this.writeBytes(op.gpa, op.data);
      return { kind: 'done' };
    }
    this.config.onLoad?.(op.gpa, op.size, this);
    return { kind: 'done', data: this.readBytes(op.gpa, op.size) };
  }

  private tdcall(): OpResult {
    const regs = this.cpu.regs;
    const before = regs.toRecord();
    const leaf = Number(LEAF_WORD.get(regs.get('RAX'), 'leaf'));
    const def = Object.values(TdcallLeaf).find((l) => l.number === leaf);
    const override = this.config.tdcall?.[leaf]?.(regs, this);
    if (!override && leaf === TdcallLeaf.TDG_VP_VMCALL.number) return this.tdvmcall(before);
    const reply = override ?? this.defaultTdcall(leaf, regs);
    for (const [name, v] of Object.entries(reply.out ?? {}) as [GprName, bigint][]) regs.set(name, v);
    const status = reply.status ?? TdxStatus.TDX_SUCCESS;
    regs.set('RAX', status);
    this.crossings.push({ kind: 'tdcall', leaf, name: def?.mnemonic ?? `TDCALL ${leaf}`, in: before, status, out: regs.toRecord() });
    return { kind: 'done' };
  }

  private tdvmcall(before: Regs): OpResult {
    const regs = this.cpu.regs;
    const control = regs.get('RCX');
    if (TDVMCALL_CONTROL.hasReservedBits(control) || (control & TDVMCALL_FORBIDDEN_GPR_MASK) !== 0n) {
      const status = withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX);
      regs.set('RAX', status);
      this.crossings.push({ kind: 'tdcall', leaf: 0, name: 'TDG.VP.VMCALL', in: before, status, out: regs.toRecord() });
      return { kind: 'done' };
    }
    const request: VmmRequest = {
      callType: regs.get(TDVMCALL_REGS.callType),
      subfunction: regs.get(TDVMCALL_REGS.subfunction),
      regs: before,
    };
    let reply: VmmReply;
    if (isFatalErrorCall(regs) && (this.config.stopOnPanic ?? true)) {
      reply = { stop: true };
      this.outcome = { kind: 'panic', panic: decodeFatalError(regs) };
    } else {
      reply = this.config.vmm?.(request, this) ?? {};
    }
    this.crossings.push({ kind: 'tdvmcall', name: subfunctionName(request), request, reply });
    this.crossings.push({ kind: 'tdcall', leaf: 0, name: 'TDG.VP.VMCALL', in: before, status: 0n, out: regs.toRecord() });
    if (reply.stop) {
      this.outcome ??= { kind: 'stopped' };
      this.stopped = true;
      return { kind: 'done' };
    }
    // Resume rule: only exposed GPRs (bits 2..15 of gpr_select) take the VMM's values.
    const select = TDVMCALL_CONTROL.get(control, 'gpr_select');
    const out: Partial<Regs> = { [TDVMCALL_REGS.status]: TdvmcallStatus.SUCCESS, ...reply.regs };
    for (const [name, v] of Object.entries(out) as [GprName, bigint][]) {
      const bit = GPR_NAMES.indexOf(name);
      if (bit >= 2 && ((select >> BigInt(bit)) & 1n) === 1n) regs.set(name, v);
    }
    regs.set('RAX', TdxStatus.TDX_SUCCESS);
    return { kind: 'done' };
  }

  private defaultTdcall(leaf: number, regs: RegisterFile): ModuleReply {
    const c = this.config;
    switch (leaf) {
      case TdcallLeaf.TDG_VP_INFO.number:
        return {
          out: {
            RCX: BigInt(c.gpaw ?? 48),
            RDX: c.attributes ?? DEFAULT_ATTRIBUTES,
            R8: (c.numVcpus ?? 1n) | ((c.maxVcpus ?? 1n) << 32n),
            R9: c.vcpuIndex ?? 0n,
            R10: 1n,
            R11: 0n,
          },
        };
      case TdcallLeaf.TDG_VP_VEINFO_GET.number: {
        const ve = this.ve;
        this.ve = undefined;
        if (!ve) return { status: TdxStatus.TDX_NO_VALID_VE_INFO, out: { RCX: 0n, RDX: 0n, R8: 0n, R9: 0n, R10: 0n } };
        return {
          out: {
            RCX: BigInt(ve.exitReason),
            RDX: ve.exitQualification,
            R8: ve.gla,
            R9: ve.gpa,
            R10: VEINFO_R10.encode({ instr_len: ve.instructionLength, instr_info: 0 }),
          },
        };
      }
      case TdcallLeaf.TDG_VM_RD.number: {
        const v = this.metadata.get(regs.get('RDX'));
        if (v === undefined) return { status: TdxStatus.TDX_METADATA_FIELD_ID_INCORRECT, out: { R8: 0n } };
        return { out: { R8: v } };
      }
      case TdcallLeaf.TDG_VM_WR.number: {
        const id = regs.get('RDX');
        const old = this.metadata.get(id);
        if (old === undefined) return { status: TdxStatus.TDX_METADATA_FIELD_ID_INCORRECT, out: { R8: 0n } };
        const mask = regs.get('R9');
        this.metadata.set(id, (old & ~mask) | (regs.get('R8') & mask));
        return { out: { R8: old } };
      }
      case TdcallLeaf.TDG_MEM_PAGE_ACCEPT.number: {
        const rcx = regs.get('RCX');
        this.accepted.push({ gpa: rcx & ~0xfffn, level: Number(rcx & 7n) });
        return {};
      }
      case TdcallLeaf.TDG_MR_RTMR_EXTEND.number: {
        const gpa = regs.get('RCX');
        const index = regs.get('RDX');
        if (gpa % 64n !== 0n) return { status: withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX) };
        if (index > 3n) return { status: withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RDX) };
        const i = Number(index);
        this.rtmr[i] = createHash('sha384').update(this.rtmr[i]!).update(this.readBytes(gpa, 48)).digest();
        return {};
      }
      case TdcallLeaf.TDG_MR_REPORT.number: {
        const report = regs.get('RCX');
        const data = regs.get('RDX');
        if (report % 1024n !== 0n) return { status: withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX) };
        if (data % 64n !== 0n) return { status: withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RDX) };
        const bytes = new Uint8Array(TDREPORT_STRUCT_SIZE);
        bytes[0] = REPORT_TYPE_TDX;
        bytes.set(this.readBytes(data, 64), tdreportOffset('reportmacstruct', 'reportdata'));
        this.rtmr.forEach((r, i) => bytes.set(r, tdreportOffset('tdinfo', `rtmr${i}` as 'rtmr0')));
        this.writeBytes(report, bytes);
        return {};
      }
      default:
        return { status: withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RAX) };
    }
  }

  private page(gpa: bigint): Uint8Array {
    const n = gpa / PAGE;
    let p = this.memory.get(n);
    if (!p) this.memory.set(n, (p = new Uint8Array(Number(PAGE))));
    return p;
  }
}

/** The name of a TDVMCALL: the GHCI sub-function name, or `KVM <nr>` for a vendor call. */
function subfunctionName(req: VmmRequest): string {
  if (req.callType !== 0n) return `KVM ${req.callType}`;
  const sub = Object.values(TdvmcallSubfunction).find((s) => BigInt(s.number) === req.subfunction);
  return sub?.name ?? `unknown 0x${req.subfunction.toString(16)}`;
}

function exitReasonName(reason: number): string {
  return Object.entries(VmxExitReason).find(([, v]) => v === reason)?.[0] ?? String(reason);
}

/** Answer one GHCI sub-function by name; other calls get SUCCESS. */
export function vmmBySubfunction(handlers: Partial<Record<string, (req: VmmRequest) => VmmReply>>): (req: VmmRequest) => VmmReply {
  return (req) => handlers[subfunctionName(req)]?.(req) ?? {};
}

/** The registers a TDVMCALL exposed, named (for exact assertions). */
export function exposedRegs(req: VmmRequest, names: readonly GprName[]): Partial<Regs> {
  return Object.fromEntries(names.map((n) => [n, req.regs[n]]));
}

/** TD-scope metadata for TDG.VM.RD/WR, by field name (CONFIG_FLAGS, TD_CTLS, NOTIFY_ENABLES, …). */
export function tdMetadata(values: Record<string, bigint>): Map<bigint, bigint> {
  return new Map(
    Object.entries(values).map(([name, v]) => {
      const f = metadataFieldByName(name);
      if (!f) throw new Error(`no metadata field ${name}`);
      return [f.id, v];
    }),
  );
}
