/**
 * The malicious guest of the `host` target: what it does next.
 *
 *   tdvmcall     (85%) TDG.VP.VMCALL with Linux's exposed-register mask (or a random valid
 *                subset), R10 = 0 (a GHCI call) or a random KVM hypercall number, R11 one of
 *                every sub-function — or a number no GHCI defines — and the argument registers
 *                drawn per sub-function: valid values, boundaries, shared and private GPAs, GPAs
 *                beyond the address width, huge and overflowing sizes, wrong alignments, bogus
 *                vectors, unknown MSRs and ports
 *   access       (8%) a load or store at a GPA (shared or private, mapped or not, in RAM or not):
 *                EPT violations and MMIO
 *   instruction  (5%, TD path only) IN/OUT, CPUID, RDMSR/WRMSR, HLT executed for real, so the
 *                guest kernel's #VE handler turns them into TDVMCALLs
 *   interrupt    (2%) the host's timer preempting the vCPU
 */
import { GPR_NAMES, type GprName } from '../../abi/registers.ts';
import { TDVMCALL_EXPOSE_REGS_MASK, TdvmcallSubfunction, MAP_GPA_MAX_CHUNK } from '../../abi/tdvmcall.ts';
import { KvmHypercall } from '../../abi/kvm.ts';
import { Msr } from '../../abi/msr.ts';
import { KvmMsr } from '../../abi/kvm-msrs.ts';
import { COM1_BASE, MMIO_TEST_DEVICE_SIZE } from '../../abi/pc-devices.ts';
import { CPUID_HYPERVISOR_FIRST, CPUID_HYPERVISOR_LAST } from '../../abi/cpuid.ts';
import { FIRST_EXTERNAL_VECTOR, LAST_VECTOR } from '../../abi/posted-interrupt.ts';
import { BOOT_PAGE_GPA } from '../../platform/boot-image.ts';
import type { Rng } from '../rng.ts';
import { boundary, flipBit, smallInt, U64_MAX } from '../values.ts';

export type LowerGpr = Lowercase<GprName>;

/** TDG.VP.VMCALL with these exposed registers (only the ones in `mask` reach the host). */
export interface TdvmcallAction {
  readonly kind: 'tdvmcall';
  readonly mask: bigint;
  readonly regs: Partial<Record<LowerGpr, bigint>>;
}

/** A guest load or store of `size` bytes at `gpa`. */
export interface AccessAction {
  readonly kind: 'access';
  readonly gpa: bigint;
  readonly size: 1 | 2 | 4 | 8;
  readonly write: boolean;
  readonly value: bigint;
}

/** A trapping instruction the guest executes (TD path): `a`, `b` are its operands. */
export interface InstructionAction {
  readonly kind: 'instruction';
  readonly op: 'in' | 'out' | 'cpuid' | 'rdmsr' | 'wrmsr' | 'hlt';
  readonly a: bigint;
  readonly b: bigint;
}

export interface InterruptAction {
  readonly kind: 'interrupt';
}

export type HostAction = TdvmcallAction | AccessAction | InstructionAction | InterruptAction;

/** What the generator must know about the guest's address space. */
export interface GuestLayout {
  readonly sharedBit: bigint;
  readonly gpaw: number;
  /** Guest RAM [0, ramSize). */
  readonly ramSize: bigint;
  /** GPAs of private pages the guest owns (accepted). */
  readonly privatePages: readonly bigint[];
  /** GPA (shared bit stripped) of the userspace MMIO test device. */
  readonly mmioDevice: bigint;
  /** Whether trapping instructions can be executed (a real guest runs). */
  readonly realGuest: boolean;
}

const PAGE = 4096n;
const Sub = TdvmcallSubfunction;
const SUBFUNCTIONS: readonly bigint[] = Object.values(Sub).map((s) => BigInt(s.number));
const MSRS: readonly number[] = [...Object.values(Msr), ...Object.values(KvmMsr)];
const IO_SIZES: readonly bigint[] = [1n, 2n, 4n, 1n, 2n, 4n, 0n, 3n, 8n];
const MMIO_SIZES: readonly bigint[] = [1n, 2n, 4n, 8n, 1n, 2n, 4n, 8n, 0n, 3n, 16n];
const KVM_HYPERCALLS: readonly bigint[] = Object.values(KvmHypercall).map(BigInt);
/** Registers a TDVMCALL may expose: Linux's mask (RDX, RBX, RSI, RDI, R8–R15). */
const EXPOSABLE: readonly number[] = [...Array(16).keys()].filter((i) => (TDVMCALL_EXPOSE_REGS_MASK >> BigInt(i)) & 1n);
const EXPOSABLE_NAMES: readonly LowerGpr[] = EXPOSABLE.map((i) => GPR_NAMES[i]!.toLowerCase() as LowerGpr);

export class HostGenerator {
  constructor(readonly layout: GuestLayout) {}

  next(rng: Rng): HostAction {
    const r = rng.float();
    if (r < 0.85) return this.tdvmcall(rng);
    if (r < 0.93) return this.access(rng);
    if (r < 0.98 && this.layout.realGuest) return this.instruction(rng);
    return { kind: 'interrupt' };
  }

  private tdvmcall(rng: Rng): TdvmcallAction {
    const regs: Partial<Record<LowerGpr, bigint>> = {};
    // Registers the sub-function does not read may still carry something: a careless guest's
    // leftovers (the rest are 0, as a careful guest loads them).
    if (rng.chance(0.25)) for (const name of EXPOSABLE_NAMES) regs[name] = boundary(rng);
    let mask = TDVMCALL_EXPOSE_REGS_MASK;
    if (rng.chance(0.15)) {
      mask = 0n;
      for (const i of EXPOSABLE) if (rng.chance(0.7)) mask |= 1n << BigInt(i);
    }
    regs.r10 = rng.chance(0.92) ? 0n : rng.chance(0.6) ? rng.pick(KVM_HYPERCALLS) : boundary(rng);
    const sub = rng.chance(0.95) ? rng.pick(SUBFUNCTIONS) : rng.chance(0.5) ? flipBit(rng, rng.pick(SUBFUNCTIONS)) : boundary(rng);
    regs.r11 = sub;
    this.arguments(rng, sub, regs);
    return { kind: 'tdvmcall', mask, regs };
  }

  /** R12–R15 for sub-function `sub`. */
  private arguments(rng: Rng, sub: bigint, regs: Partial<Record<LowerGpr, bigint>>): void {
    const L = this.layout;
    switch (Number(sub)) {
      case Sub.CPUID.number:
        regs.r12 = rng.chance(0.5) ? BigInt(rng.range(CPUID_HYPERVISOR_FIRST, CPUID_HYPERVISOR_LAST)) : rng.chance(0.5) ? BigInt(rng.u32()) : boundary(rng);
        regs.r13 = rng.chance(0.7) ? smallInt(rng) : boundary(rng);
        return;
      case Sub.HLT.number:
        regs.r12 = rng.chance(0.95) ? BigInt(rng.int(2)) : boundary(rng);
        return;
      case Sub.IO.number:
        regs.r12 = rng.chance(0.9) ? rng.pick(IO_SIZES) : boundary(rng);
        regs.r13 = rng.chance(0.9) ? BigInt(rng.int(2)) : boundary(rng);
        regs.r14 = rng.chance(0.5) ? BigInt(COM1_BASE + rng.int(8)) : rng.chance(0.7) ? BigInt(rng.int(65536)) : boundary(rng);
        regs.r15 = rng.chance(0.5) ? BigInt(rng.int(256)) : boundary(rng);
        return;
      case Sub.RDMSR.number:
      case Sub.WRMSR.number:
        regs.r12 = rng.chance(0.7) ? BigInt(rng.pick(MSRS) + (rng.chance(0.2) ? rng.int(8) : 0)) : rng.chance(0.5) ? BigInt(rng.u32()) : boundary(rng);
        regs.r13 = boundary(rng);
        return;
      case Sub.MMIO.number:
        regs.r12 = rng.chance(0.9) ? rng.pick(MMIO_SIZES) : boundary(rng);
        regs.r13 = rng.chance(0.9) ? BigInt(rng.int(2)) : boundary(rng);
        regs.r14 = rng.chance(0.4) ? (L.mmioDevice + BigInt(rng.int(MMIO_TEST_DEVICE_SIZE))) | L.sharedBit : this.gpa(rng);
        regs.r15 = boundary(rng);
        return;
      case Sub.GET_TD_VM_CALL_INFO.number:
        regs.r12 = rng.chance(0.8) ? BigInt(rng.int(3)) : boundary(rng);
        return;
      case Sub.MAP_GPA.number:
        regs.r12 = this.gpa(rng);
        regs.r13 = this.size(rng);
        return;
      case Sub.GET_QUOTE.number:
        regs.r12 = this.gpa(rng);
        regs.r13 = rng.chance(0.3) ? PAGE * BigInt(rng.range(1, 33)) : this.size(rng);
        return;
      case Sub.SETUP_EVENT_NOTIFY_INTERRUPT.number:
        regs.r12 = rng.chance(0.8) ? BigInt(rng.int(LAST_VECTOR + 8)) : boundary(rng);
        return;
      case Sub.REPORT_FATAL_ERROR.number:
        regs.r12 = rng.chance(0.5) ? 0n : boundary(rng);
        regs.r13 = this.gpa(rng);
        return;
      default:
        regs.r12 = boundary(rng);
        regs.r13 = boundary(rng);
    }
  }

  /** A GPA: in RAM or not, shared or private, aligned or not, beyond the address width. */
  gpa(rng: Rng): bigint {
    const L = this.layout;
    let g: bigint;
    const r = rng.float();
    if (r < 0.4) g = BigInt(rng.int(Number(L.ramSize / PAGE))) * PAGE;
    else if (r < 0.55 && L.privatePages.length > 0) g = rng.pick(L.privatePages);
    else if (r < 0.65) g = BOOT_PAGE_GPA;
    else if (r < 0.75) g = L.mmioDevice;
    else if (r < 0.85) g = L.ramSize - PAGE * BigInt(rng.int(4));
    else g = boundary(rng) & ~(PAGE - 1n);
    if (rng.chance(0.5)) g |= L.sharedBit;
    if (rng.chance(0.1)) g |= BigInt(rng.range(1, 4095));
    if (rng.chance(0.05)) g |= 1n << BigInt(rng.range(L.gpaw, 63));
    return g & U64_MAX;
  }

  /** A size: a few pages, a chunk, huge, zero, unaligned, overflowing. */
  size(rng: Rng): bigint {
    switch (rng.int(8)) {
      case 0:
      case 1:
      case 2:
        return PAGE * BigInt(rng.range(1, 16));
      case 3:
        return MAP_GPA_MAX_CHUNK * BigInt(rng.range(1, 3));
      case 4:
        return rng.chance(0.5) ? 0n : BigInt(rng.range(1, 4095));
      case 5:
        return U64_MAX - PAGE + 1n;
      case 6:
        return this.layout.sharedBit;
      default:
        return boundary(rng);
    }
  }

  private access(rng: Rng): AccessAction {
    const size = rng.pick([1, 2, 4, 8] as const);
    const L = this.layout;
    let gpa: bigint;
    const r = rng.float();
    if (r < 0.35) gpa = (L.mmioDevice + BigInt(rng.int(MMIO_TEST_DEVICE_SIZE))) | L.sharedBit;
    else if (r < 0.65) gpa = (BigInt(rng.int(Number(L.ramSize / PAGE))) * PAGE) | L.sharedBit;
    else if (r < 0.85 && L.privatePages.length > 0) gpa = rng.pick(L.privatePages);
    else gpa = this.gpa(rng);
    // A real guest touching private memory it never accepted gets its VM killed (correctly) and
    // ends the episode; most such accesses go to the shared alias instead.
    if (L.realGuest && (gpa & L.sharedBit) === 0n && !L.privatePages.includes(gpa & ~(PAGE - 1n)) && rng.chance(0.9)) gpa |= L.sharedBit;
    gpa += BigInt(rng.int(4096 - size));
    gpa &= ~(BigInt(size) - 1n);
    return { kind: 'access', gpa, size, write: rng.chance(0.5), value: rng.u64() };
  }

  private instruction(rng: Rng): InstructionAction {
    const op = rng.pick(['in', 'out', 'cpuid', 'rdmsr', 'wrmsr', 'hlt'] as const);
    switch (op) {
      case 'in':
      case 'out':
        return { kind: 'instruction', op, a: BigInt(rng.chance(0.6) ? COM1_BASE + rng.int(8) : rng.int(65536)), b: rng.u64() };
      case 'cpuid':
        return { kind: 'instruction', op, a: BigInt(rng.chance(0.5) ? rng.range(CPUID_HYPERVISOR_FIRST, CPUID_HYPERVISOR_FIRST + 16) : rng.u32()), b: smallInt(rng) };
      case 'rdmsr':
      case 'wrmsr':
        return { kind: 'instruction', op, a: BigInt(rng.chance(0.8) ? rng.pick(MSRS) : rng.u32()), b: rng.u64() };
      default:
        return { kind: 'instruction', op, a: 0n, b: 0n };
    }
  }
}

/** The vector the host posts to wake a halted vCPU. */
export const WAKE_VECTOR = FIRST_EXTERNAL_VECTOR;
