/**
 * Benchmark 1: TDVMCALL round trip with tracing off.
 *
 * One round trip: the guest issues TDG.VP.VMCALL<Instruction.CPUID> for leaf 0x40000000 → the
 * module checks the control word and performs the TD exit (register image, extended-state reset,
 * epoch) → TDH.VP.ENTER returns to the host, whose KVM-shaped exit handler classifies the exit and
 * answers from the vCPU's CPUID table in the kernel → the host re-enters with TDH.VP.ENTER (all
 * of its checks and locks) → the module copies the exposed registers back and the guest resumes
 * after its TDCALL and checks EAX. Userspace is not involved: the batch runs inside one
 * vcpu.run(). Target: ≥ 2 M round trips/s on one core (perf-anchors.md §4 T1 aims at 2.5 M/s;
 * the hardware rate is ≈ 0.25 M/s).
 *
 * The guest issues the call through a hypercall stub (guest.ts), as a guest kernel does; the same
 * loop through the guest library's typed wrapper `ghci.cpuid` is reported in the note.
 */
import { BENCH_PORT, cpuidLoop, type CpuidVia } from './guest.ts';
import { BenchError, bootTd, expectOut, machine, type BenchTd } from './env.ts';
import { measureRate, repetitions, result, sized, type BenchContext, type BenchResult, type Benchmark } from './harness.ts';

export const TDVMCALL_TARGET = 2_000_000;

/** A TD whose guest runs CPUID TDVMCALL batches on request (see guest.ts). */
export function cpuidTd(via: CpuidVia): BenchTd {
  // The whole batch runs inside one KVM_RUN: let it handle that many in-kernel exits.
  return bootTd(machine(), cpuidLoop(via), { config: { maxInKernelExits: Number.MAX_SAFE_INTEGER } });
}

/** Run `n` round trips: tell the guest n, let it run, check it saw no wrong answer. */
export function cpuidBatch(td: BenchTd, n: number): void {
  const { vcpu } = td;
  const rec = vcpu.run();
  if (rec.kind !== 'io' || rec.direction !== 'in' || rec.port !== BENCH_PORT) throw new BenchError(`expected the guest's IN, got ${rec.kind}`);
  vcpu.complete({ kind: 'io', data: BigInt(n) });
  const wrong = expectOut(vcpu, BENCH_PORT);
  vcpu.complete({ kind: 'io' });
  if (wrong !== 0n) throw new BenchError(`${wrong} of ${n} CPUID TDVMCALLs came back wrong`);
}

/** Round trips per second through `via`. */
export function tdvmcallRate(ctx: BenchContext, via: CpuidVia): number {
  const td = cpuidTd(via);
  const ops = sized(ctx, via === 'stub' ? 200_000 : 50_000, 200);
  const rate = measureRate((n) => cpuidBatch(td, n), { ops, reps: repetitions(ctx) });
  td.vm.destroy();
  return rate;
}

export const tdvmcallBenchmark: Benchmark = {
  name: 'tdvmcall-round-trip',
  summary: 'guest TDG.VP.VMCALL<CPUID 0x40000000> → module → host kernel handler → guest, tracing off',
  run(ctx: BenchContext): BenchResult[] {
    const stub = tdvmcallRate(ctx, 'stub');
    const library = tdvmcallRate(ctx, 'library');
    ctx.log(`tdvmcall: ${fmtRate(stub)} through a hypercall stub, ${fmtRate(library)} through ghci.cpuid`);
    return [
      result('tdvmcall-round-trip', stub, 'round trips/s', '>=', TDVMCALL_TARGET, `median of ${repetitions(ctx)}; through the guest library's ghci.cpuid: ${fmtRate(library)}`),
    ];
  },
};

export function fmtRate(perSec: number): string {
  return perSec >= 1e6 ? `${(perSec / 1e6).toFixed(2)} M/s` : `${(perSec / 1e3).toFixed(1)} k/s`;
}
