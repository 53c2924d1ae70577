/**
 * Benchmark 3: userspace exit round trip. The guest reads a port no device claims (TDVMCALL
 * <Instruction.IO>, an IN of 4 bytes); KVM hands it to userspace as a KVM_EXIT_IO record from
 * vcpu.run(); userspace answers with vcpu.complete({ kind: 'io', data }); the next run() re-enters
 * and the guest resumes with the value in R11 and checks it is the next number of its sequence.
 * One round trip = run() → io exit → complete() → guest resumes. Target: ≥ 1 M/s.
 */
import { BENCH_PORT, ioInLoop } from './guest.ts';
import { BenchError, bootTd, describe, machine, type BenchTd } from './env.ts';
import { measureRate, repetitions, result, sized, type BenchContext, type BenchResult, type Benchmark } from './harness.ts';
import { fmtRate } from './tdvmcall.ts';

export const USERSPACE_EXIT_TARGET = 1_000_000;

/** `n` userspace round trips, answering each IN with the next number; `next` is where the sequence is. */
export function ioBatch(td: BenchTd, state: { next: bigint }, n: number): void {
  const { vcpu } = td;
  for (let i = 0; i < n; i++) {
    const rec = vcpu.run();
    if (rec.kind !== 'io' || rec.direction !== 'in' || rec.port !== BENCH_PORT) throw new BenchError(`expected the guest's IN from port ${BENCH_PORT}, got ${describe(rec)}`);
    vcpu.complete({ kind: 'io', data: state.next });
    state.next = (state.next + 1n) & 0xffff_ffffn;
  }
}

export const userspaceExitBenchmark: Benchmark = {
  name: 'userspace-exit',
  summary: 'vcpu.run() → KVM_EXIT_IO → vcpu.complete() → guest resumes and checks the value',
  run(ctx: BenchContext): BenchResult[] {
    const td = bootTd(machine(), ioInLoop);
    const state = { next: 1n };
    const rate = measureRate((n) => ioBatch(td, state, n), { ops: sized(ctx, 100_000, 100), reps: repetitions(ctx) });
    // The guest reports a wrong value with an OUT to BENCH_PORT + 1: one more run() shows it.
    const last = td.vcpu.run();
    if (last.kind !== 'io' || last.port !== BENCH_PORT) throw new BenchError(`the guest saw a wrong value: ${describe(last)}`);
    td.vm.destroy();
    ctx.log(`userspace exit: ${fmtRate(rate)}`);
    return [result('userspace-exit', rate, 'round trips/s', '>=', USERSPACE_EXIT_TARGET, `median of ${repetitions(ctx)}`)];
  },
};
