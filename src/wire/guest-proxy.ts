/**
 * The guest program of a vCPU whose code is a wire client: a generator over GuestCpu, like every
 * guest program, that turns each instruction the client sends into the GuestCpu instruction it
 * names and sends back what the vCPU saw.
 *
 * Because the instructions run through GuestCpu, everything the module does to a guest applies
 * unchanged: TDCALLs reach the TDCALL dispatcher; IN/OUT, HLT, VMCALL, WBINVD and unvirtualised
 * CPUID/MSR accesses raise #VE; loads and stores go through the Secure EPT or the host's shared
 * EPT with private/shared semantics; RIP advances by each instruction's length. The vCPU's IDT
 * sends every vector to the client: an EXCEPTION frame carries the vector, error code, RIP and the
 * interrupted GPRs; the client's handler may execute instructions (TDG.VP.VEINFO.GET, TDVMCALLs, …)
 * and ends with EXCEPTION_DONE giving the RIP and GPRs to return with — past the instruction if
 * it emulated it, in which case the instruction completes with those registers; otherwise the CPU
 * executes it again (GuestCpu.exec). A handler that gives up triple-faults the vCPU.
 *
 * Register state lives in the vCPU (its TDVPS), as on hardware: a TDCALL request replaces all 16
 * GPRs and XMM0–15; other instructions write only the registers the instruction itself uses
 * (IN/OUT: RAX, RDX; CPUID: RAX–RDX; RDMSR/WRMSR: RAX, RCX, RDX; a MOV of up to 8 bytes: RAX), so an
 * EXCEPTION shows what a kernel's pt_regs would.
 *
 * When the client has sent nothing yet, the program waits as guest-slot.ts describes. If the client
 * leaves after the vCPU booted, the program ends by throwing, which the vCPU runner treats as
 * guest code gone wrong: a triple fault, the vCPU disabled.
 */
import { GuestTripleFault, type ExceptionHandler, type GuestCpu, type GuestGen } from '../platform/guest-cpu.ts';
import { LAST_VECTOR } from '../abi/posted-interrupt.ts';
import {
  CPUID_RESULT,
  DetachReason,
  EXCEPTION,
  EXCEPTION_DONE,
  EXCEPTION_DONE_GIVE_UP,
  EXCEPTION_ERROR_CODE_VALID,
  FRAME_HEADER_SIZE,
  GuestInsn,
  IO_OUT,
  MEM_ACCESS,
  MessageType,
  REGISTER_FILE,
  U64_VALUE,
  WRMSR,
} from '../abi/wire.ts';
import type { TdxModule } from '../module/module.ts';
import type { Vcpu } from '../module/vcpu.ts';
import { frameBuffer } from './frame.ts';
import { RegisterView } from './register-view.ts';
import { WAIT_FOR_CLIENT, type GuestSlot, type ProxyFactory } from './guest-slot.ts';

/** The client of a booted vCPU went away: its code is gone (the runner turns this into a triple fault). */
export class WireGuestGone extends Error {
  override readonly name = 'WireGuestGone';
}

const P = FRAME_HEADER_SIZE;
const IO_PORT = 0;
const IO_SIZE = 2;
const IO_VALUE = IO_OUT.field('value').offset;
const MEM_LENGTH = MEM_ACCESS.field('length').offset;
const MEM_DATA = MEM_ACCESS.size;
const WRMSR_VALUE = WRMSR.field('value').offset;
const XMM_OFFSET = REGISTER_FILE.field('xmm').offset;
const EXC_FLAGS = EXCEPTION.field('flags').offset;
const EXC_ERROR_CODE = EXCEPTION.field('error_code').offset;
const EXC_RIP = EXCEPTION.field('rip').offset;
const EXC_GPR = EXCEPTION.field('gpr').offset;
const DONE_RIP = EXCEPTION_DONE.field('rip').offset;
const DONE_GPR = EXCEPTION_DONE.field('gpr').offset;

/** One booted vCPU running a wire client's instructions. */
class WireGuestCpu {
  private readonly view: RegisterView;

  constructor(
    private readonly cpu: GuestCpu,
    private readonly slot: GuestSlot,
  ) {
    this.view = new RegisterView(cpu.regs);
  }

  *run(): GuestGen<void> {
    const handler: ExceptionHandler = (_cpu, vector, errorCode) => this.exception(vector, errorCode);
    for (let v = 0; v <= LAST_VECTOR; v++) this.cpu.idt.set(v, handler);
    for (;;) {
      yield* this.nextMessage();
      yield* this.execute();
    }
  }

  /** Wait until the client's next message is in the slot. */
  private *nextMessage(): GuestGen<void> {
    const slot = this.slot;
    while (!slot.hasPending) {
      if (slot.gone) throw new WireGuestGone(`the wire guest of vCPU ${slot.index} disconnected`);
      // Preempt before the sentinel executes; the served module restores the budget after this
      // SEAMCALL (served-module.ts).
      slot.module.stepBudget = 0;
      yield WAIT_FOR_CLIENT;
    }
  }

  /** Execute the pending instruction message and answer it. */
  private *execute(): GuestGen<void> {
    const slot = this.slot;
    const cpu = this.cpu;
    const type = slot.pendingType;
    const id = slot.pendingId;
    const d = slot.pendingData;
    const o = slot.pendingOffset;
    slot.consume();
    slot.executing.push(id);
    try {
      switch (type) {
        case MessageType.TDCALL: {
          this.view.loadGprs(d, o);
          this.view.loadXmms(d, o + XMM_OFFSET);
          yield* cpu.tdcall();
          const f = frameBuffer(MessageType.TDCALL_RESULT, id, REGISTER_FILE.size, false);
          this.view.storeGprs(f, P);
          this.view.storeXmms(f, P + XMM_OFFSET);
          return this.answer(f);
        }
        case MessageType.IO_IN: {
          const value = yield* cpu.in(d.readUInt16LE(o + IO_PORT), d[o + IO_SIZE] as 1 | 2 | 4);
          return this.answer(u64Frame(MessageType.IO_IN_RESULT, id, value));
        }
        case MessageType.IO_OUT:
          yield* cpu.out(d.readUInt16LE(o + IO_PORT), d[o + IO_SIZE] as 1 | 2 | 4, d.readBigUInt64LE(o + IO_VALUE));
          return this.answer(frameBuffer(MessageType.IO_OUT_RESULT, id, 0));
        case MessageType.LOAD: {
          const data = yield* cpu.read(d.readBigUInt64LE(o), d.readUInt32LE(o + MEM_LENGTH));
          const f = frameBuffer(MessageType.LOAD_RESULT, id, data.length, false);
          f.set(data, P);
          return this.answer(f);
        }
        case MessageType.STORE: {
          const length = d.readUInt32LE(o + MEM_LENGTH);
          yield* cpu.write(d.readBigUInt64LE(o), d.subarray(o + MEM_DATA, o + MEM_DATA + length));
          return this.answer(frameBuffer(MessageType.STORE_RESULT, id, 0));
        }
        case MessageType.CPUID: {
          const r = yield* cpu.cpuid(d.readUInt32LE(o), d.readUInt32LE(o + 4));
          const f = frameBuffer(MessageType.CPUID_RESULT, id, CPUID_RESULT.size, false);
          f.writeUInt32LE(r.eax, P);
          f.writeUInt32LE(r.ebx, P + 4);
          f.writeUInt32LE(r.ecx, P + 8);
          f.writeUInt32LE(r.edx, P + 12);
          return this.answer(f);
        }
        case MessageType.RDMSR: {
          const value = yield* cpu.rdmsr(d.readUInt32LE(o));
          return this.answer(u64Frame(MessageType.RDMSR_RESULT, id, value));
        }
        case MessageType.WRMSR:
          yield* cpu.wrmsr(d.readUInt32LE(o), d.readBigUInt64LE(o + WRMSR_VALUE));
          return this.answer(frameBuffer(MessageType.WRMSR_RESULT, id, 0));
        case MessageType.INSN:
          yield* this.insn(d[o]!);
          return this.answer(frameBuffer(MessageType.INSN_RESULT, id, 0));
        default:
          // guest-session.ts lets only instructions and (inside a handler) EXCEPTION_DONE through.
          throw new Error(`wire guest: message type 0x${type.toString(16)} is not an instruction`);
      }
    } finally {
      slot.executing.pop();
    }
  }

  private *insn(code: number): GuestGen<void> {
    const cpu = this.cpu;
    switch (code) {
      case GuestInsn.HLT:
        return yield* cpu.hlt();
      case GuestInsn.VMCALL:
        return yield* cpu.vmcall();
      case GuestInsn.WBINVD:
        return yield* cpu.wbinvd();
      case GuestInsn.STI:
        cpu.interruptsEnabled = true;
        return;
      case GuestInsn.CLI:
        cpu.interruptsEnabled = false;
        return;
      default:
        throw new Error(`wire guest: INSN ${code} is not an instruction`);
    }
  }

  private answer(frame: Buffer): void {
    this.slot.client?.sendResult(frame);
  }

  /** The vCPU's handler for every vector: the client handles it (see the file comment). */
  private *exception(vector: number, errorCode: bigint | undefined): GuestGen<void> {
    const slot = this.slot;
    const cpu = this.cpu;
    const id = slot.executing[slot.executing.length - 1] ?? 0;
    const f = frameBuffer(MessageType.EXCEPTION, id, EXCEPTION.size);
    f[P] = vector;
    f[P + EXC_FLAGS] = errorCode === undefined ? 0 : EXCEPTION_ERROR_CODE_VALID;
    f.writeBigUInt64LE(errorCode ?? 0n, P + EXC_ERROR_CODE);
    f.writeBigUInt64LE(cpu.rip, P + EXC_RIP);
    this.view.storeGprs(f, P + EXC_GPR);
    slot.client?.sendException(f, id);
    for (;;) {
      yield* this.nextMessage();
      if (slot.pendingType !== MessageType.EXCEPTION_DONE) {
        yield* this.execute(); // an instruction of the handler
        continue;
      }
      const d = slot.pendingData;
      const o = slot.pendingOffset;
      slot.consume();
      if ((d[o]! & EXCEPTION_DONE_GIVE_UP) !== 0) {
        slot.end(DetachReason.TRIPLE_FAULT);
        yield { kind: 'triple_fault' };
        throw new GuestTripleFault(`the wire guest gave up exception vector ${vector}`);
      }
      cpu.rip = d.readBigUInt64LE(o + DONE_RIP);
      this.view.loadGprs(d, o + DONE_GPR);
      return;
    }
  }
}

function u64Frame(type: number, id: number, value: bigint): Buffer {
  const f = frameBuffer(type, id, U64_VALUE.size, false);
  f.writeBigUInt64LE(value, P);
  return f;
}

/** The vCPU whose guest CPU is `cpu`. */
function vcpuOf(module: TdxModule, cpu: GuestCpu): Vcpu | undefined {
  for (const v of module.vcpus.values()) if (v.cpu === cpu) return v;
  return undefined;
}

/**
 * The firmware-catalogue factory of a token: on boot, bind the vCPU to the slot of its
 * VCPU_INDEX and run the client's instructions. A second vCPU booting into an occupied slot (a
 * token reused in another TD's boot page) cannot be served: the factory throws, and the runner
 * turns that into a triple fault of that vCPU.
 */
export const wireProxyFactory: ProxyFactory = (entry) => () => (cpu) => {
  const vcpu = vcpuOf(entry.module, cpu);
  if (!vcpu) throw new Error('wire guest: no vCPU of this platform runs that CPU');
  const slot = entry.slot(vcpu.index);
  if (slot.vcpu || slot.ended) throw new Error(`wire guest ${entry.token}: vCPU ${vcpu.index} is already running in another TD`);
  slot.vcpu = vcpu;
  entry.owner.slotBooted(slot);
  return new WireGuestCpu(cpu, slot).run();
};
