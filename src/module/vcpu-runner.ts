/**
 * The vCPU runner: what happens between TD entry and TD exit. It resumes the guest program (a
 * generator over GuestCpu) and answers every instruction it yields the way the CPU and the TDX
 * module together would, until one of them leaves the TD.
 *
 * First entry — boot: the vCPU fetches its first instruction from the reset-vector page
 * (BOOT_PAGE_GPA) through the Secure EPT. Not mapped → an EPT-violation TD exit naming that GPA
 * (the host forgot to add it). Mapped → the page is read with the TD's key and decoded as a boot
 * descriptor naming a program in the platform's firmware catalogue. A page that is not a valid
 * descriptor, or names no known program, is garbage to the CPU: it triple-faults and the vCPU is
 * disabled (TDX_NON_RECOVERABLE_VCPU).
 *
 * Each instruction (facts tdx-module.md §6.4):
 *   tdcall               the TDCALL dispatcher (tdcall.ts)
 *   io, hlt, vmcall, wbinvd
 *                        #VE with the VMX exit reason and qualification in VE_INFO (the guest's
 *                        #VE handler turns them into TDG.VP.VMCALLs); a #VE while VE_INFO is
 *                        still in use is #DF
 *   cpuid                virtualised by the module (cpuid.ts), or #VE
 *   rdmsr, wrmsr         virtualised MSRs complete (msr.ts); others #VE
 *   load, store          through the TD's view of memory (guest-memory.ts): private via the
 *                        Secure EPT with the TD's HKID, shared via the host's shared EPT with
 *                        KeyID 0; failures follow the EPT-violation rules (ve.ts)
 *   triple_fault         the guest gave up: NON_RECOVERABLE_VCPU exit, vCPU disabled
 * An instruction the simulated CPU cannot encode (a malformed GuestOp) is #UD.
 *
 * Events between instructions: a pending NMI (TDVPS PEND_NMI) is delivered when no #VE is
 * pending, and posted interrupts (vcpu.pendingInterrupts) while the guest has interrupts enabled.
 * HLT as a TDVMCALL is the host's business: the host decides when to re-enter.
 *
 * Preemption: a guest that never leaves the TD would never give the host its LP back, so after
 * `module.stepBudget` instructions in one entry the runner performs the TD exit a host timer
 * interrupt would cause — asynchronous, TDX_SUCCESS | EXTERNAL_INTERRUPT (1), R9 = a valid
 * external-interrupt interruption info for HOST_TIMER_VECTOR — and the instruction it was about
 * to execute runs at the next entry. (Guest code that loops in plain JavaScript without executing
 * an instruction cannot be preempted: only instructions are counted.)
 *
 * The guest program itself is a party inside the simulation: if it throws instead of yielding,
 * or returns (runs off the end of its code), the CPU executes garbage — a triple fault. The error
 * is kept in `vcpu.guestError` for debugging.
 */
import { Gpr } from '../abi/registers.ts';
import { U32_MASK } from '../abi/bitfield.ts';
import { IO_EXIT_QUAL } from '../abi/operands.ts';
import { InstructionLength, Vector, VmxExitReason } from '../abi/vmx.ts';
import { HOST_TIMER_VECTOR, INTERRUPTION_INFO, InterruptionType } from '../abi/vmx-events.ts';
import { STATUS_LAYOUT, TdxStatus } from '../abi/status.ts';
import { BOOT_PAGE_GPA, decodeBootPage } from '../platform/boot-image.ts';
import { MOV_INSTRUCTION_LENGTH, type GuestOp, type OpResult } from '../platform/guest-cpu.ts';
import { PAGE_BYTES } from '../platform/memory.ts';
import type { TdExitRequest } from './context.ts';
import type { TdxModule } from './module.ts';
import type { Vcpu } from './vcpu.ts';
import { virtualizeCpuid } from './cpuid.ts';
import { readPieces, translateAccess, writePieces } from './guest-memory.ts';
import { virtualizeRdmsr, virtualizeWrmsr } from './msr.ts';
import { executeTdcall } from './tdcall.ts';
import { injectVe, type GuestException, type VeInfoInput } from './ve.ts';
import { traceVeDelivered } from './trace-points.ts';

/** Highest I/O port: the exit qualification's 16-bit port field. */
const MAX_PORT = Number(IO_EXIT_QUAL.field('port').mask >> BigInt(IO_EXIT_QUAL.field('port').lsb));

/** Largest access one load/store op may make (a string move of up to 1 MiB). */
const MAX_ACCESS_BYTES = 1 << 20;

type Step = { readonly kind: 'result'; readonly result: OpResult } | { readonly kind: 'exit'; readonly exit: TdExitRequest };

const DONE: OpResult = { kind: 'done' };
const done = (data?: Uint8Array): Step => ({ kind: 'result', result: data ? { kind: 'done', data } : DONE });

/** The async exit of a triple fault: the vCPU cannot continue. */
const TRIPLE_FAULT_EXIT: TdExitRequest = {
  kind: 'async',
  status: TdxStatus.TDX_NON_RECOVERABLE_VCPU,
  exitReason: VmxExitReason.TRIPLE_FAULT,
  exitQualification: 0n,
  extExitQualification: 0n,
  gpa: 0n,
  interruptionInfo: 0n,
  retryInstruction: false,
};

/** The async exit a host timer interrupt causes: the instruction about to run is retried. */
const PREEMPTION_EXIT: TdExitRequest = {
  kind: 'async',
  status: TdxStatus.TDX_SUCCESS,
  exitReason: VmxExitReason.EXTERNAL_INTERRUPT,
  exitQualification: 0n,
  extExitQualification: 0n,
  gpa: 0n,
  interruptionInfo: INTERRUPTION_INFO.encode({
    vector: HOST_TIMER_VECTOR,
    interruption_type: InterruptionType.EXTERNAL_INTERRUPT,
    valid: 1,
  }),
  retryInstruction: true,
};

/**
 * Run the vCPU (already ACTIVE, guest registers already updated for this entry) until the next
 * TD exit, and say which. Leaves in the vCPU what the next entry resumes with.
 */
export function runVcpu(module: TdxModule, vcpu: Vcpu): TdExitRequest {
  if (!vcpu.program) {
    const failed = boot(module, vcpu);
    if (failed) return failed;
  }
  let input = vcpu.resumeWith;
  let op = vcpu.pendingOp;
  vcpu.resumeWith = undefined;
  vcpu.pendingOp = undefined;
  let steps = 0;
  const tracer = module.platform.tracer;
  for (;;) {
    if (op === undefined) {
      const next = resumeProgram(vcpu, input);
      if (next === undefined) return TRIPLE_FAULT_EXIT;
      op = next;
    }
    if (steps >= module.stepBudget) {
      vcpu.pendingOp = op;
      return PREEMPTION_EXIT;
    }
    steps++;
    const event = pendingEvent(vcpu);
    const step = event ? ({ kind: 'result', result: event } as const) : execute(module, vcpu, op);
    if (step.kind === 'result') {
      if (tracer.enabled && step.result.kind === 've') traceVeDelivered(tracer, vcpu);
      input = step.result;
      op = undefined;
      continue;
    }
    const exit = step.exit;
    if (exit.kind === 'tdvmcall') {
      // Trap-like: RIP moves past TDCALL now; the guest continues after it at the next entry.
      vcpu.cpu.rip += BigInt(InstructionLength.TDCALL);
      vcpu.resumeWith = DONE;
    } else if (exit.retryInstruction) {
      vcpu.pendingOp = op;
    } else if (STATUS_LAYOUT.get(exit.status, 'non_recoverable') === 0n) {
      // A trap-like async exit: the instruction completed before the exit.
      vcpu.resumeWith = DONE;
    }
    return exit;
  }
}

/** Resume the guest program; undefined if it threw or ended (the CPU then triple-faults). */
function resumeProgram(vcpu: Vcpu, input: OpResult | undefined): GuestOp | undefined {
  const program = vcpu.program!;
  try {
    const r = input === undefined ? program.next() : program.next(input);
    if (r.done) {
      vcpu.guestError = new Error('guest program returned: the vCPU ran off the end of its code');
      return undefined;
    }
    return r.value;
  } catch (e) {
    vcpu.guestError = e;
    return undefined;
  }
}

/**
 * The first instruction fetch: find the guest program the boot page names. Returns the TD exit
 * if the vCPU cannot start, else undefined with `vcpu.program` set.
 */
function boot(module: TdxModule, vcpu: Vcpu): TdExitRequest | undefined {
  const access = translateAccess(module, vcpu, {
    gpa: BOOT_PAGE_GPA,
    length: PAGE_BYTES,
    write: false,
    fetch: true,
    origin: 'cpu',
  });
  if (access.kind === 'exit') return access.exit;
  // An exception before the guest has an IDT escalates to a triple fault.
  if (access.kind !== 'ok') return TRIPLE_FAULT_EXIT;
  const desc = decodeBootPage(readPieces(module, access.pieces));
  const program = desc ? module.platform.firmware.resolve(desc) : undefined;
  if (!program) {
    vcpu.guestError = new Error(desc ? `boot page names unknown program ${desc.program}` : 'boot page is not a boot descriptor');
    return TRIPLE_FAULT_EXIT;
  }
  try {
    vcpu.program = program(vcpu.cpu);
  } catch (e) {
    vcpu.guestError = e;
    return TRIPLE_FAULT_EXIT;
  }
  return undefined;
}

/** An NMI or external interrupt to deliver before the next instruction, if any. */
function pendingEvent(vcpu: Vcpu): OpResult | undefined {
  if (vcpu.pendingNmi && !vcpu.veInfo.valid) {
    vcpu.pendingNmi = false;
    return { kind: 'interrupt', vector: Vector.NMI };
  }
  if (vcpu.cpu.interruptsEnabled && vcpu.pendingInterrupts.length > 0) {
    return { kind: 'interrupt', vector: vcpu.pendingInterrupts.shift()! };
  }
  return undefined;
}

/** Execute one guest instruction. */
function execute(module: TdxModule, vcpu: Vcpu, op: GuestOp): Step {
  if (!wellFormed(op)) return exception({ vector: Vector.UD });
  switch (op.kind) {
    case 'tdcall':
      return executeTdcall(module, vcpu);
    case 'io':
      return ve(vcpu, {
        exitReason: VmxExitReason.IO_INSTRUCTION,
        exitQualification: IO_EXIT_QUAL.encode({ size_minus_1: op.size - 1, direction_in: op.write ? 0 : 1, port: op.port }),
        instructionLength: instructionLength(op),
      });
    case 'hlt':
      return ve(vcpu, { exitReason: VmxExitReason.HLT, exitQualification: 0n, instructionLength: instructionLength(op) });
    case 'vmcall':
      return ve(vcpu, { exitReason: VmxExitReason.VMCALL, exitQualification: 0n, instructionLength: instructionLength(op) });
    case 'wbinvd':
      return ve(vcpu, { exitReason: VmxExitReason.WBINVD, exitQualification: 0n, instructionLength: instructionLength(op) });
    case 'cpuid':
      return cpuid(vcpu, op);
    case 'rdmsr':
    case 'wrmsr':
      return msr(vcpu, op);
    case 'load':
    case 'store':
      return memory(module, vcpu, op);
    case 'triple_fault':
      return { kind: 'exit', exit: TRIPLE_FAULT_EXIT };
  }
}

/** Operands the simulated CPU can encode; anything else is an invalid opcode. */
function wellFormed(op: GuestOp): boolean {
  switch (op.kind) {
    case 'io':
      return (op.size === 1 || op.size === 2 || op.size === 4) && Number.isInteger(op.port) && op.port >= 0 && op.port <= MAX_PORT;
    case 'load':
      return typeof op.gpa === 'bigint' && op.gpa >= 0n && Number.isInteger(op.size) && op.size > 0 && op.size <= MAX_ACCESS_BYTES;
    case 'store':
      return typeof op.gpa === 'bigint' && op.gpa >= 0n && op.data instanceof Uint8Array && op.data.length > 0 && op.data.length <= MAX_ACCESS_BYTES;
    default:
      return true;
  }
}

function exception(e: GuestException): Step {
  if (e.vector === Vector.VE) return { kind: 'result', result: { kind: 've' } };
  return { kind: 'result', result: { kind: 'fault', vector: e.vector, ...(e.errorCode !== undefined && { errorCode: e.errorCode }) } };
}

function ve(vcpu: Vcpu, info: VeInfoInput): Step {
  return exception(injectVe(vcpu, info));
}

/** CPUID: EAX = leaf, ECX = sub-leaf; results zero-extended into RAX, RBX, RCX, RDX. */
function cpuid(vcpu: Vcpu, op: GuestOp): Step {
  const g = vcpu.cpu.regs.gpr;
  const outcome = virtualizeCpuid(vcpu, Number(g[Gpr.RAX]! & U32_MASK), Number(g[Gpr.RCX]! & U32_MASK));
  if (outcome.kind === 've') {
    return ve(vcpu, { exitReason: VmxExitReason.CPUID, exitQualification: 0n, instructionLength: instructionLength(op) });
  }
  const v = outcome.values;
  g[Gpr.RAX] = BigInt(v.eax >>> 0);
  g[Gpr.RBX] = BigInt(v.ebx >>> 0);
  g[Gpr.RCX] = BigInt(v.ecx >>> 0);
  g[Gpr.RDX] = BigInt(v.edx >>> 0);
  return done();
}

function msr(vcpu: Vcpu, op: Extract<GuestOp, { kind: 'rdmsr' | 'wrmsr' }>): Step {
  const read = op.kind === 'rdmsr';
  const outcome = read ? virtualizeRdmsr(vcpu) : virtualizeWrmsr(vcpu);
  if (outcome.kind === 'done') return done();
  if (outcome.kind === 'gp') return exception({ vector: Vector.GP, errorCode: 0n });
  return ve(vcpu, {
    exitReason: read ? VmxExitReason.RDMSR : VmxExitReason.WRMSR,
    exitQualification: 0n,
    instructionLength: instructionLength(op),
  });
}

/** A MOV to or from memory (length MOV_INSTRUCTION_LENGTH), through the TD's view of memory. */
function memory(module: TdxModule, vcpu: Vcpu, op: Extract<GuestOp, { kind: 'load' | 'store' }>): Step {
  const write = op.kind === 'store';
  const length = write ? op.data.length : op.size;
  const access = translateAccess(module, vcpu, { gpa: op.gpa, length, write, origin: 'cpu' });
  if (access.kind === 'exit') return access;
  if (access.kind === 'exception') return exception(access.exception);
  // 'invalid' is an operand check of TDCALL leaves; a CPU access never produces it.
  if (access.kind === 'invalid') return exception({ vector: Vector.UD });
  if (!write) return done(readPieces(module, access.pieces));
  writePieces(module, access.pieces, op.data);
  return done();
}

/** Length of a guest instruction as the simulated CPU encodes it (GuestCpu, VE_INFO). */
function instructionLength(op: GuestOp): number {
  switch (op.kind) {
    case 'tdcall':
      return InstructionLength.TDCALL;
    case 'io':
      return InstructionLength.IO_DX + (op.size === 2 ? 1 : 0);
    case 'cpuid':
      return InstructionLength.CPUID;
    case 'rdmsr':
      return InstructionLength.RDMSR;
    case 'wrmsr':
      return InstructionLength.WRMSR;
    case 'hlt':
      return InstructionLength.HLT;
    case 'vmcall':
      return InstructionLength.VMCALL;
    case 'wbinvd':
      return InstructionLength.WBINVD;
    case 'load':
    case 'store':
      return MOV_INSTRUCTION_LENGTH;
    case 'triple_fault':
      return 0;
  }
}
