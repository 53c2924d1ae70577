/**
 * The guest half of the benchmarks: a TDG.VP.VMCALL issued the way Linux's `__tdx_hypercall`
 * issues it, and the guest programs the benchmarks boot.
 *
 * `Hypercall` prepares one GHCI sub-function call from the ABI tables (which register carries the
 * call type, the sub-function and each named input) once, so the timed loop does what a guest
 * kernel's hypercall stub does and nothing more: load RAX with the TDG.VP.VMCALL leaf word, RCX
 * with the exposure mask, every exposed register (zero unless it carries an input), execute
 * TDCALL, read the results. The guest library's typed wrappers (`ghci.cpuid` …) do the same with
 * more bookkeeping per call; the TDVMCALL benchmark reports them separately.
 *
 * Control traffic between a benchmark and its guest goes through one I/O port (BENCH_PORT) the
 * host has no device for, so every access there is a userspace exit: the host tells the guest how
 * many iterations to run with the reply to an IN, and the guest reports how many of them went
 * wrong with an OUT. A benchmark whose guest saw a wrong answer is void (BenchError).
 */
import { GPA_AND_LEVEL, LEAF_WORD } from '../src/abi/operands.ts';
import { SeptLevel } from '../src/abi/sept.ts';
import { operandReg } from '../src/abi/leaf.ts';
import { Gpr, GPR_COUNT } from '../src/abi/registers.ts';
import { TdcallLeaf } from '../src/abi/tdcall-leaves.ts';
import {
  TDVMCALL_EXPOSE_REGS_MASK,
  TDVMCALL_REGS,
  TDX_HYPERCALL_STANDARD,
  TdvmcallDirection,
  TdvmcallSubfunction,
} from '../src/abi/tdvmcall.ts';
import { TdvmcallStatus } from '../src/abi/tdvmcall-status.ts';
import { CPUID_HYPERVISOR_FIRST } from '../src/abi/cpuid.ts';
import type { GuestCpu, GuestGen } from '../src/platform/guest-cpu.ts';
import * as ghci from '../src/guest/ghci.ts';

/** The port benchmarks and their guests talk through (POST-code port; no device claims it). */
export const BENCH_PORT = 0x80;

/** CPUID leaf the TDVMCALL benchmark asks for: KVM's signature leaf, answered in the kernel. */
export const BENCH_CPUID_LEAF = CPUID_HYPERVISOR_FIRST;
/** What KVM answers in EAX for it: the highest hypervisor leaf (KVM_CPUID_FEATURES). */
export const BENCH_CPUID_EAX = BigInt(CPUID_HYPERVISOR_FIRST + 1);

const VMCALL_WORD = LEAF_WORD.encode({ leaf: TdcallLeaf.TDG_VP_VMCALL.number });
const EXPOSED: readonly number[] = Array.from({ length: GPR_COUNT }, (_, i) => i).filter((i) => ((TDVMCALL_EXPOSE_REGS_MASK >> BigInt(i)) & 1n) === 1n);
const CALL_TYPE = Gpr[TDVMCALL_REGS.callType];
const SUBFUNCTION = Gpr[TDVMCALL_REGS.subfunction];
const STATUS = Gpr[TDVMCALL_REGS.status];

type Sub = (typeof TdvmcallSubfunction)[keyof typeof TdvmcallSubfunction];

/** One GHCI sub-function call with fixed inputs, ready to issue many times. */
export class Hypercall {
  private readonly subfunction: bigint;
  /** (GPR index, value) of each input, from the sub-function's table entry. */
  private readonly inputs: readonly (readonly [number, bigint])[];

  constructor(
    sub: Sub,
    inputs: Readonly<Record<string, bigint>>,
  ) {
    this.subfunction = BigInt(sub.number);
    this.inputs = Object.entries(inputs).map(([name, value]) => {
      const op = sub.inputs.find((o) => o.name === name);
      if (!op) throw new Error(`${sub.name} has no input ${name}`);
      return [Gpr[op.reg], value] as const;
    });
  }

  /** Issue it; afterwards RAX is the module's status and R10 the VMM's, results in R11–R15. */
  issue(cpu: GuestCpu): GuestGen<void> {
    const g = cpu.regs.gpr;
    g[Gpr.RAX] = VMCALL_WORD;
    g[Gpr.RCX] = TDVMCALL_EXPOSE_REGS_MASK;
    for (const r of EXPOSED) g[r] = 0n;
    g[CALL_TYPE] = TDX_HYPERCALL_STANDARD;
    g[SUBFUNCTION] = this.subfunction;
    for (const [r, v] of this.inputs) g[r] = v;
    return cpu.tdcall();
  }
}

/** True if the last TDVMCALL succeeded in both failure domains (RAX: module, R10: VMM). */
export function succeeded(cpu: GuestCpu): boolean {
  const g = cpu.regs.gpr;
  return g[Gpr.RAX] === 0n && g[STATUS] === TdvmcallStatus.SUCCESS;
}

const CPUID_EAX = Gpr[TdvmcallSubfunction.CPUID.outputs.find((o) => o.name === 'eax')!.reg];

/** TDVMCALL<Instruction.CPUID> of the benchmark leaf. */
export const cpuidCall = new Hypercall(TdvmcallSubfunction.CPUID, { leaf: BigInt(BENCH_CPUID_LEAF), subleaf: 0n });

/** How each iteration of a CPUID loop issues its call. */
export type CpuidVia = 'stub' | 'library';

/**
 * The TDVMCALL round-trip guest: forever, ask the host how many CPUID TDVMCALLs to make (IN from
 * BENCH_PORT), make them, and report how many came back wrong (OUT to BENCH_PORT).
 */
export function cpuidLoop(via: CpuidVia) {
  return function* (cpu: GuestCpu): GuestGen<void> {
    const g = cpu.regs.gpr;
    for (;;) {
      const n = yield* ghci.ioRead(cpu, BENCH_PORT, 4);
      const count = n.ok ? n.out.data : 0n;
      let wrong = n.ok ? 0n : 1n;
      for (let i = 0n; i < count; i++) {
        if (via === 'stub') {
          yield* cpuidCall.issue(cpu);
          if (!succeeded(cpu) || g[CPUID_EAX] !== BENCH_CPUID_EAX) wrong++;
        } else {
          const r = yield* ghci.cpuid(cpu, BENCH_CPUID_LEAF, 0);
          if (!r.ok || r.out.eax !== BENCH_CPUID_EAX) wrong++;
        }
      }
      yield* ghci.ioWrite(cpu, BENCH_PORT, 4, wrong);
    }
  };
}

const IO_DATA = Gpr[TdvmcallSubfunction.IO.outputs.find((o) => o.name === 'data')!.reg];
const ioIn = new Hypercall(TdvmcallSubfunction.IO, { size: 4n, direction: TdvmcallDirection.READ, port: BigInt(BENCH_PORT) });

/**
 * The userspace-exit guest: forever, IN a 32-bit value from BENCH_PORT (each a userspace exit)
 * and check it is the next number of a sequence starting at 1; on a wrong value, OUT it to
 * BENCH_PORT + 1 so the host notices.
 */
export function* ioInLoop(cpu: GuestCpu): GuestGen<void> {
  const g = cpu.regs.gpr;
  for (let expect = 1n; ; expect = (expect + 1n) & 0xffff_ffffn) {
    yield* ioIn.issue(cpu);
    if (!succeeded(cpu) || g[IO_DATA] !== expect) {
      yield* ghci.ioWrite(cpu, BENCH_PORT + 1, 4, g[IO_DATA]!);
      expect = g[IO_DATA]!;
    }
  }
}

const ACCEPT = TdcallLeaf.TDG_MEM_PAGE_ACCEPT;
const ACCEPT_WORD = LEAF_WORD.encode({ leaf: ACCEPT.number });
const ACCEPT_OPERAND = Gpr[operandReg(ACCEPT.inputs, 'gpaLevel')];

/**
 * The lazy-accept guest: forever, ask the host how many pages to accept (IN from BENCH_PORT),
 * accept that many never-touched 4K pages one after the other from where it left off, starting
 * at `firstGpa` — each TDG.MEM.PAGE.ACCEPT of a page the host has not mapped is an EPT-violation
 * TD exit, the host maps a PENDING page (SEPT.ADD as needed, PAGE.AUG) and re-enters, and the
 * re-executed ACCEPT succeeds — and report how many failed (OUT to BENCH_PORT).
 */
export function acceptLoop(firstGpa: bigint) {
  return function* (cpu: GuestCpu): GuestGen<void> {
    const g = cpu.regs.gpr;
    let pfn = firstGpa >> 12n;
    for (;;) {
      const n = yield* ghci.ioRead(cpu, BENCH_PORT, 4);
      const count = n.ok ? n.out.data : 0n;
      let failed = n.ok ? 0n : 1n;
      for (let i = 0n; i < count; i++, pfn++) {
        g[Gpr.RAX] = ACCEPT_WORD;
        g[ACCEPT_OPERAND] = GPA_AND_LEVEL.encode({ level: SeptLevel.PT, gpa_page: pfn });
        yield* cpu.tdcall();
        if (g[Gpr.RAX] !== 0n) failed++;
      }
      yield* ghci.ioWrite(cpu, BENCH_PORT, 4, failed);
    }
  };
}
