/**
 * The guest side of a TD vCPU: registers, RIP, interrupt flag, an IDT, and the instructions that
 * can leave the guest's control.
 *
 * Guest code is a generator function over a `GuestCpu`. Every instruction that can trap (TDCALL,
 * port I/O, CPUID, RDMSR/WRMSR, HLT, VMCALL, and any memory access by GPA) is a `yield` of a
 * `GuestOp` to whoever executes the vCPU — the TDX module's vCPU runner inside TDH.VP.ENTER. The
 * runner answers with an `OpResult`:
 *   - `done`: the instruction completed (its effects are already in the registers, or `data`);
 *   - `ve`:   the module injected a virtualization exception (#VE, vector 20); VE_INFO is set;
 *   - `fault`: the module injected another exception (#GP, #UD, #PF, #DF);
 *   - `interrupt`: an external interrupt is delivered before the instruction executes.
 * On an injected exception the CPU here runs the guest's own handler from its IDT (with `yield*`,
 * so the handler's instructions trap the same way) and then re-executes the instruction unless
 * the handler moved RIP past it — which is what a #VE handler does once it has emulated the
 * instruction. An exception with no handler, or one raised while delivering another, escalates
 * to a triple fault, which the runner turns into a TD exit (TDX_NON_RECOVERABLE_VCPU).
 *
 * Because the whole vCPU is one generator chain, the runner can suspend it at any yield (a TD
 * exit) and resume it at the next TDH.VP.ENTER. Nothing here runs concurrently; runs are
 * deterministic and replayable.
 */
import { RegisterFile, Gpr } from '../abi/registers.ts';
import { InstructionLength, Vector } from '../abi/vmx.ts';
import { U32_MASK } from '../abi/bitfield.ts';

/** Length the simulated CPU reports for a MOV between a register and memory (REX.W 8B /r). */
export const MOV_INSTRUCTION_LENGTH = 3;

export type GuestOp =
  /** TDCALL: leaf and operands in `cpu.regs`; the runner writes the outputs there. */
  | { readonly kind: 'tdcall' }
  /** IN/OUT via DX: IN loads AL/AX/EAX (zero-extending into RAX), OUT sends the low bytes of RAX. */
  | { readonly kind: 'io'; readonly port: number; readonly size: 1 | 2 | 4; readonly write: boolean }
  /** CPUID: EAX, ECX in; EAX, EBX, ECX, EDX out (upper halves of RAX..RDX cleared). */
  | { readonly kind: 'cpuid' }
  /** RDMSR: ECX in, EDX:EAX out. */
  | { readonly kind: 'rdmsr' }
  /** WRMSR: ECX, EDX:EAX in. */
  | { readonly kind: 'wrmsr' }
  /** HLT: wait for an interrupt. */
  | { readonly kind: 'hlt' }
  /** VMCALL (not TDCALL): a TD gets #VE for it. */
  | { readonly kind: 'vmcall' }
  /** WBINVD: a TD gets #VE for it (the host owns cache maintenance). */
  | { readonly kind: 'wbinvd' }
  /** Load `size` bytes at a GPA (shared bit included). A MOV into RAX when size ≤ 8. */
  | { readonly kind: 'load'; readonly gpa: bigint; readonly size: number }
  /** Store bytes at a GPA. A MOV from RAX when size ≤ 8. */
  | { readonly kind: 'store'; readonly gpa: bigint; readonly data: Uint8Array }
  /** The guest gave up: an exception it could not handle (the runner exits with TRIPLE_FAULT). */
  | { readonly kind: 'triple_fault' };

export type OpResult =
  | { readonly kind: 'done'; readonly data?: Uint8Array }
  | { readonly kind: 've' }
  | { readonly kind: 'fault'; readonly vector: number; readonly errorCode?: bigint }
  /** An external interrupt arrived before the instruction executed: run its handler, then retry. */
  | { readonly kind: 'interrupt'; readonly vector: number };

/**
 * A guest exception handler (an IDT entry). It may execute instructions itself. As on x86, the CPU
 * saves nothing but the faulting RIP: like a kernel's entry code, the handler saves the interrupted
 * GPRs (a pt_regs frame), works on that frame, and restores it before returning (IRET). To emulate
 * the faulting instruction it advances the frame's RIP past it (see src/guest/ve.ts).
 */
export type ExceptionHandler = (cpu: GuestCpu, vector: number, errorCode: bigint | undefined) => GuestGen<void>;

/** The generator type of guest code returning T. */
export type GuestGen<T> = Generator<GuestOp, T, OpResult>;

/** A guest program: what a vCPU runs from its first instruction. */
export type GuestProgram = (cpu: GuestCpu) => GuestGen<void>;

/** Thrown inside guest code when an exception cannot be delivered; ends in a triple fault. */
export class GuestTripleFault extends Error {
  override readonly name = 'GuestTripleFault';
}

/** The TDCALL instruction: it has no operands besides the registers, so one object serves all. */
const TDCALL_OP: GuestOp = Object.freeze({ kind: 'tdcall' });

export class GuestCpu {
  readonly regs = new RegisterFile();
  /** Instruction pointer: advances by each instruction's length, so #VE handlers can skip one. */
  rip = 0n;
  /** RFLAGS.IF: interrupts enabled. */
  interruptsEnabled = false;
  /** Current privilege level (the simulated guest kernel runs at 0). */
  cpl = 0;
  /** Exception handlers by vector (the IDT). */
  readonly idt = new Map<number, ExceptionHandler>();
  /** The instruction being executed, for a handler that must "decode" it (MMIO emulation). */
  currentOp: GuestOp | undefined;
  /** Nesting depth of exception delivery, to detect #DF and triple faults. */
  private delivering = 0;

  /** Execute one trapping instruction until it completes (see the module comment). */
  *exec(op: GuestOp, length: number): GuestGen<Uint8Array | undefined> {
    for (;;) {
      const start = this.rip;
      const saved = this.currentOp;
      this.currentOp = op;
      const res = yield op;
      this.currentOp = saved;
      if (res.kind === 'done') {
        this.rip = start + BigInt(length);
        return res.data;
      }
      if (res.kind === 'interrupt') {
        // Interrupts are delivered between instructions: RIP still points at this one.
        yield* this.deliver(res.vector, undefined);
        continue;
      }
      const vector = res.kind === 've' ? Vector.VE : res.vector;
      const errorCode = res.kind === 'fault' ? res.errorCode : undefined;
      this.currentOp = op;
      yield* this.deliver(vector, errorCode);
      this.currentOp = saved;
      if (this.rip !== start) return undefined; // the handler emulated the instruction
    }
  }

  /** Deliver an exception through the IDT; no handler (or a fault while delivering) escalates. */
  *deliver(vector: number, errorCode: bigint | undefined): GuestGen<void> {
    const handler = this.idt.get(vector);
    if (!handler || this.delivering > 1) {
      if (vector !== Vector.DF && this.delivering === 0) {
        return yield* this.deliver(Vector.DF, 0n);
      }
      yield { kind: 'triple_fault' };
      throw new GuestTripleFault(`unhandled exception vector ${vector}`);
    }
    this.delivering++;
    try {
      yield* handler(this, vector, errorCode);
    } finally {
      this.delivering--;
    }
  }

  // ---- Instructions -------------------------------------------------------------------------

  /**
   * TDCALL with the current registers (RAX = leaf word). Returns exec's generator itself rather
   * than wrapping it in another (one generator fewer on the hottest guest instruction); TDCALL
   * completes without data, so the generator's value is always undefined.
   */
  tdcall(): GuestGen<void> {
    return this.exec(TDCALL_OP, InstructionLength.TDCALL) as GuestGen<void>;
  }

  /** IN: returns the value read (also left in RAX). */
  *in(port: number, size: 1 | 2 | 4): GuestGen<bigint> {
    this.regs.gpr[Gpr.RDX] = BigInt(port);
    yield* this.exec({ kind: 'io', port, size, write: false }, InstructionLength.IO_DX + (size === 2 ? 1 : 0));
    return this.regs.gpr[Gpr.RAX]! & sizeMask(size);
  }

  /** OUT of the low `size` bytes of `value`. */
  *out(port: number, size: 1 | 2 | 4, value: bigint): GuestGen<void> {
    this.regs.gpr[Gpr.RDX] = BigInt(port);
    this.regs.gpr[Gpr.RAX] = value & sizeMask(size);
    yield* this.exec({ kind: 'io', port, size, write: true }, InstructionLength.IO_DX + (size === 2 ? 1 : 0));
  }

  *cpuid(leaf: number, subleaf = 0): GuestGen<{ eax: number; ebx: number; ecx: number; edx: number }> {
    const g = this.regs.gpr;
    g[Gpr.RAX] = BigInt(leaf >>> 0);
    g[Gpr.RCX] = BigInt(subleaf >>> 0);
    yield* this.exec({ kind: 'cpuid' }, InstructionLength.CPUID);
    return { eax: low32(g[Gpr.RAX]!), ebx: low32(g[Gpr.RBX]!), ecx: low32(g[Gpr.RCX]!), edx: low32(g[Gpr.RDX]!) };
  }

  *rdmsr(msr: number): GuestGen<bigint> {
    const g = this.regs.gpr;
    g[Gpr.RCX] = BigInt(msr >>> 0);
    yield* this.exec({ kind: 'rdmsr' }, InstructionLength.RDMSR);
    return ((g[Gpr.RDX]! & U32_MASK) << 32n) | (g[Gpr.RAX]! & U32_MASK);
  }

  *wrmsr(msr: number, value: bigint): GuestGen<void> {
    const g = this.regs.gpr;
    g[Gpr.RCX] = BigInt(msr >>> 0);
    g[Gpr.RAX] = value & U32_MASK;
    g[Gpr.RDX] = (value >> 32n) & U32_MASK;
    yield* this.exec({ kind: 'wrmsr' }, InstructionLength.WRMSR);
  }

  *hlt(): GuestGen<void> {
    yield* this.exec({ kind: 'hlt' }, InstructionLength.HLT);
  }

  *vmcall(): GuestGen<void> {
    yield* this.exec({ kind: 'vmcall' }, InstructionLength.VMCALL);
  }

  *wbinvd(): GuestGen<void> {
    yield* this.exec({ kind: 'wbinvd' }, InstructionLength.WBINVD);
  }

  /** Read bytes at a GPA (private, or shared with the shared bit set). */
  *read(gpa: bigint, size: number): GuestGen<Uint8Array> {
    const data = yield* this.exec({ kind: 'load', gpa, size }, MOV_INSTRUCTION_LENGTH);
    // Emulated by a #VE handler (MMIO): the value is in RAX.
    return data ?? leBytes(this.regs.gpr[Gpr.RAX]!, size);
  }

  *write(gpa: bigint, data: Uint8Array): GuestGen<void> {
    if (data.length <= 8) this.regs.gpr[Gpr.RAX] = fromLeBytes(data);
    yield* this.exec({ kind: 'store', gpa, data }, MOV_INSTRUCTION_LENGTH);
  }

  /** MOV RAX, [gpa] of 1, 2, 4 or 8 bytes, zero-extended. */
  *readValue(gpa: bigint, size: 1 | 2 | 4 | 8): GuestGen<bigint> {
    const bytes = yield* this.read(gpa, size);
    const v = fromLeBytes(bytes);
    this.regs.gpr[Gpr.RAX] = v;
    return v;
  }

  /** MOV [gpa], value of 1, 2, 4 or 8 bytes. */
  *writeValue(gpa: bigint, size: 1 | 2 | 4 | 8, value: bigint): GuestGen<void> {
    yield* this.write(gpa, leBytes(value, size));
  }
}

function sizeMask(size: number): bigint {
  return (1n << BigInt(8 * size)) - 1n;
}

function low32(v: bigint): number {
  return Number(v & U32_MASK);
}

/** Little-endian bytes of the low `size` bytes of `v`. */
export function leBytes(v: bigint, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** Value of up to 8 little-endian bytes. */
export function fromLeBytes(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = Math.min(b.length, 8) - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}
