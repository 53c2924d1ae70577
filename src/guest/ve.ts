/**
 * The #VE (virtualization exception, vector 20) handler: what Linux's
 * `exc_virtualization_exception` → `tdx_handle_virt_exception` does (arch/x86/coco/tdx/tdx.c;
 * facts linux-tdx.md §6.3).
 *
 * The TDX module injects #VE for the instructions a TD may not execute natively (port I/O, HLT,
 * MSRs it does not virtualise, CPUID leaves it does not know) and for guest accesses to shared
 * GPAs the VMM marked as MMIO. The handler:
 *   1. reads and consumes VE_INFO with TDG.VP.VEINFO.GET first — until then a second #VE would be
 *      a #DF — and a failure there is a module bug (panic);
 *   2. turns the exit into the matching GHCI TDVMCALL, or refuses it;
 *   3. on success moves RIP past the instruction: VE_INFO's instruction length, or for MMIO the
 *      length of the simulated MOV (VE_INFO has no length for EPT violations);
 *   4. on failure raises a guest fault. A kernel treats that like #GP and dies; here it is a panic
 *      through ReportFatalError naming the instruction.
 *
 * Every value from the VMM is untrusted: results are masked to the instruction's width, and a
 * CPUID outside the hypervisor range is never asked of the VMM at all.
 */
import { IO_EXIT_QUAL, VEINFO_R10 } from '../abi/operands.ts';
import { TdcallLeaf } from '../abi/tdcall-leaves.ts';
import { Vector, VmxExitReason } from '../abi/vmx.ts';
import { U32_MASK } from '../abi/bitfield.ts';
import { CPUID_HYPERVISOR_FIRST, CPUID_HYPERVISOR_LAST } from '../abi/cpuid.ts';
import { fromLeBytes, MOV_INSTRUCTION_LENGTH, type ExceptionHandler, type GuestCpu, type GuestGen, type GuestOp } from '../platform/guest-cpu.ts';
import type { RegisterFile } from '../abi/registers.ts';
import { tdcallOrPanic } from './tdcall.ts';
import { panic } from './panic.ts';
import * as ghci from './ghci.ts';
import type { VmcallFailure } from './hypercall.ts';

/** What the handler needs to know about its TD. */
export interface VeEnv {
  /** The shared-bit mask (from TDG.VP.INFO's GPAW). */
  readonly sharedBit: bigint;
}

/** VE_INFO as TDG.VP.VEINFO.GET returns it. */
export interface VeInfo {
  readonly exitReason: number;
  readonly exitQualification: bigint;
  readonly gla: bigint;
  readonly gpa: bigint;
  readonly instructionLength: number;
  readonly instructionInfo: number;
}

/** Result of emulating one #VE: how far RIP moves, or why the instruction faults. */
type VeOutcome = { readonly ok: true; readonly length: number } | { readonly ok: false; readonly reason: string };

/**
 * The interrupted context, as exception entry saves it (Linux's `pt_regs`): the handler's own
 * TDCALLs clobber the live registers and move RIP, so emulation reads and writes this copy and
 * the handler restores it on return (IRET).
 */
interface VeFrame {
  readonly regs: RegisterFile;
  readonly op: GuestOp | undefined;
}

type ExitHandler = (cpu: GuestCpu, frame: VeFrame, env: VeEnv, ve: VeInfo) => GuestGen<VeOutcome>;

const PAGE_BYTES = 4096n;

/** TDG.VP.VEINFO.GET: read and consume the pending #VE's information. Panics on failure. */
export function* getVeInfo(cpu: GuestCpu): GuestGen<VeInfo> {
  const out = yield* tdcallOrPanic(cpu, TdcallLeaf.TDG_VP_VEINFO_GET);
  return {
    exitReason: Number(out.exitReason & U32_MASK),
    exitQualification: out.exitQualification,
    gla: out.gla,
    gpa: out.gpa,
    instructionLength: Number(VEINFO_R10.get(out.instruction, 'instr_len')),
    instructionInfo: Number(VEINFO_R10.get(out.instruction, 'instr_info')),
  };
}

/** The #VE handler for a TD whose shared bit is `env.sharedBit`. */
export function createVeHandler(env: VeEnv): ExceptionHandler {
  return function* veHandler(cpu: GuestCpu): GuestGen<void> {
    const rip = cpu.rip;
    const frame: VeFrame = { regs: cpu.regs.clone(), op: cpu.currentOp };
    const ve = yield* getVeInfo(cpu);
    const outcome = yield* handleVirtualizationException(cpu, frame, env, ve);
    if (!outcome.ok) return yield* raiseGuestFault(cpu, outcome.reason);
    cpu.regs.copyFrom(frame.regs);
    cpu.rip = rip + BigInt(outcome.length);
  };
}

/** Install the #VE handler in the vCPU's IDT. */
export function installVeHandler(cpu: GuestCpu, env: VeEnv): void {
  cpu.idt.set(Vector.VE, createVeHandler(env));
}

/**
 * A fault the #VE handler raises for an instruction it cannot emulate. The simulated kernel has
 * no fixup tables, so like an unhandled #GP in the kernel it dies: a panic naming the instruction.
 */
export function* raiseGuestFault(cpu: GuestCpu, reason: string): GuestGen<never> {
  return yield* panic(cpu, `#VE fault: ${reason}`);
}

/** Dispatch a #VE by exit reason (user mode may only have CPUID emulated, as in Linux). */
function* handleVirtualizationException(cpu: GuestCpu, frame: VeFrame, env: VeEnv, ve: VeInfo): GuestGen<VeOutcome> {
  if (cpu.cpl > 0 && ve.exitReason !== VmxExitReason.CPUID) {
    return fail(`unexpected #VE in user mode, exit reason ${ve.exitReason}`);
  }
  const handler = EXIT_HANDLERS[ve.exitReason];
  if (!handler) return fail(`unexpected #VE, exit reason ${ve.exitReason}`);
  return yield* handler(cpu, frame, env, ve);
}

const EXIT_HANDLERS: Readonly<Record<number, ExitHandler>> = {
  [VmxExitReason.HLT]: handleHlt,
  [VmxExitReason.IO_INSTRUCTION]: handleIo,
  [VmxExitReason.RDMSR]: handleRdmsr,
  [VmxExitReason.WRMSR]: handleWrmsr,
  [VmxExitReason.CPUID]: handleCpuid,
  [VmxExitReason.EPT_VIOLATION]: handleEptViolation,
};

/**
 * HLT → TDVMCALL<Instruction.HLT> with R12 = "interrupts blocked" (RFLAGS.IF clear), so the VMM
 * knows whether an interrupt may wake the vCPU. (The newest Linux refuses HLT with interrupts
 * enabled because of the STI;HLT window; this kernel has no such window, so it passes the flag.)
 */
function* handleHlt(cpu: GuestCpu, _frame: VeFrame, _env: VeEnv, ve: VeInfo): GuestGen<VeOutcome> {
  const res = yield* ghci.hlt(cpu, !cpu.interruptsEnabled);
  return res.ok ? done(ve.instructionLength) : failVmm('HLT', res);
}

/**
 * IN/OUT → TDVMCALL<Instruction.IO>. Size, direction and port come from the exit qualification
 * (IO_EXIT_QUAL). String I/O (INS/OUTS) is refused: it would need the guest's memory operands
 * decoded, and Linux does not support it in a TD either. IN merges the VMM's value into RAX under
 * the access-size mask; bits above it keep their value, as the CPU does for AL/AX. (Linux uses
 * GENMASK(8*size, 0), one bit too wide; this handler masks exactly 8*size bits.)
 */
function* handleIo(cpu: GuestCpu, frame: VeFrame, _env: VeEnv, ve: VeInfo): GuestGen<VeOutcome> {
  const q = IO_EXIT_QUAL.decode(ve.exitQualification);
  const size = Number(q.size_minus_1) + 1;
  const port = Number(q.port);
  const insn = `${q.direction_in ? 'IN' : 'OUT'} port 0x${port.toString(16)}`;
  if (q.string) return fail(`${insn}: string I/O is not supported`);
  if (size !== 1 && size !== 2 && size !== 4) return fail(`${insn}: bad size ${size}`);
  const mask = widthMask(size);
  const rax = frame.regs.get('RAX');
  if (q.direction_in) {
    const res = yield* ghci.ioRead(cpu, port, size);
    if (!res.ok) return failVmm(insn, res);
    frame.regs.set('RAX', (rax & ~mask) | (res.out.data & mask));
  } else {
    const res = yield* ghci.ioWrite(cpu, port, size, rax & mask);
    if (!res.ok) return failVmm(insn, res);
  }
  return done(ve.instructionLength);
}

/** RDMSR → TDVMCALL<Instruction.RDMSR>; the 64-bit result is split into EDX:EAX. */
function* handleRdmsr(cpu: GuestCpu, frame: VeFrame, _env: VeEnv, ve: VeInfo): GuestGen<VeOutcome> {
  const msr = Number(frame.regs.get('RCX') & U32_MASK);
  const res = yield* ghci.rdmsr(cpu, msr);
  if (!res.ok) return failVmm(`RDMSR 0x${msr.toString(16)}`, res);
  frame.regs.set('RAX', res.out.value & U32_MASK);
  frame.regs.set('RDX', (res.out.value >> 32n) & U32_MASK);
  return done(ve.instructionLength);
}

/** WRMSR → TDVMCALL<Instruction.WRMSR> with EDX:EAX joined into one value. */
function* handleWrmsr(cpu: GuestCpu, frame: VeFrame, _env: VeEnv, ve: VeInfo): GuestGen<VeOutcome> {
  const msr = Number(frame.regs.get('RCX') & U32_MASK);
  const value = ((frame.regs.get('RDX') & U32_MASK) << 32n) | (frame.regs.get('RAX') & U32_MASK);
  const res = yield* ghci.wrmsr(cpu, msr, value);
  return res.ok ? done(ve.instructionLength) : failVmm(`WRMSR 0x${msr.toString(16)}`, res);
}

/**
 * CPUID. Only the hypervisor range 0x40000000–0x4FFFFFFF is the VMM's to define; any other leaf
 * that reaches the #VE handler reads as all zeros, so a VMM cannot make the guest believe in a
 * feature the TDX module did not vouch for (this protects the guest from a lying VMM). The
 * VMM's values are truncated to 32 bits, as CPUID writes EAX..EDX.
 */
function* handleCpuid(cpu: GuestCpu, frame: VeFrame, _env: VeEnv, ve: VeInfo): GuestGen<VeOutcome> {
  const leaf = Number(frame.regs.get('RAX') & U32_MASK);
  const subleaf = Number(frame.regs.get('RCX') & U32_MASK);
  let values = { eax: 0n, ebx: 0n, ecx: 0n, edx: 0n };
  if (leaf >= CPUID_HYPERVISOR_FIRST && leaf <= CPUID_HYPERVISOR_LAST) {
    const res = yield* ghci.cpuid(cpu, leaf, subleaf);
    if (!res.ok) return failVmm(`CPUID 0x${leaf.toString(16)}`, res);
    values = res.out;
  }
  frame.regs.set('RAX', values.eax & U32_MASK);
  frame.regs.set('RBX', values.ebx & U32_MASK);
  frame.regs.set('RCX', values.ecx & U32_MASK);
  frame.regs.set('RDX', values.edx & U32_MASK);
  return done(ve.instructionLength);
}

/**
 * EPT violation. On a private GPA it means the VMM removed or never mapped memory the guest owns
 * (or the TD was configured to get #VE on pending pages): the guest cannot continue safely and
 * panics. On a shared GPA it is MMIO: the faulting MOV is "decoded" from the instruction the CPU
 * was executing, checked, and forwarded as TDVMCALL<#VE.RequestMMIO>.
 */
function* handleEptViolation(cpu: GuestCpu, frame: VeFrame, env: VeEnv, ve: VeInfo): GuestGen<VeOutcome> {
  if ((ve.gpa & env.sharedBit) === 0n) {
    return yield* panic(cpu, 'unexpected EPT violation on private memory');
  }
  return yield* handleMmio(cpu, frame, ve);
}

/**
 * MMIO emulation: a load or store of 1, 2, 4 or 8 bytes that does not cross a page (a split
 * access would touch two GPAs the VMM could map differently). Stores send the stored bytes;
 * loads zero-extend the VMM's value into RAX. RIP moves by the simulated MOV's length.
 */
function* handleMmio(cpu: GuestCpu, frame: VeFrame, ve: VeInfo): GuestGen<VeOutcome> {
  const op = frame.op;
  const where = `MMIO 0x${ve.gpa.toString(16)}`;
  if (!op || (op.kind !== 'load' && op.kind !== 'store')) return fail(`${where}: not a MOV to or from memory`);
  const size = op.kind === 'load' ? op.size : op.data.length;
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) return fail(`${where}: bad size ${size}`);
  if (op.gpa / PAGE_BYTES !== (op.gpa + BigInt(size) - 1n) / PAGE_BYTES) return fail(`${where}: access crosses a page`);
  if (op.kind === 'store') {
    const res = yield* ghci.mmioWrite(cpu, ve.gpa, size, fromLeBytes(op.data));
    if (!res.ok) return failVmm(`MMIO write 0x${ve.gpa.toString(16)}`, res);
  } else {
    const res = yield* ghci.mmioRead(cpu, ve.gpa, size);
    if (!res.ok) return failVmm(`MMIO read 0x${ve.gpa.toString(16)}`, res);
    frame.regs.set('RAX', res.out.data & widthMask(size));
  }
  return done(MOV_INSTRUCTION_LENGTH);
}

function widthMask(bytes: number): bigint {
  return (1n << BigInt(8 * bytes)) - 1n;
}

function done(length: number): VeOutcome {
  return { ok: true, length };
}

function fail(reason: string): VeOutcome {
  return { ok: false, reason };
}

function failVmm(insn: string, res: VmcallFailure): VeOutcome {
  return fail(`${insn}: VMM ${res.statusName ?? `0x${res.status.toString(16)}`}`);
}
