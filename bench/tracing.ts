/**
 * Benchmark 2: what tracing costs. The TDVMCALL round trip of benchmark 1, on two identical TDs,
 * one with a RecordingTracer on its platform (every crossing recorded: TDCALL, TD exit, the host's
 * TDVMCALL handling, TD entry, guest resume, SEAMCALLs), one with tracing off; the two loops
 * alternate batch by batch so both see the same machine load. Reported: the slowdown, rate off ÷
 * rate on. Target: ≤ 3×. Recorded events are dropped after each batch (a recorder that grows to
 * millions of events would measure the garbage collector instead).
 */
import { RecordingTracer } from '../src/trace/tracer.ts';
import { cpuidBatch, cpuidTd, fmtRate } from './tdvmcall.ts';
import { measurePaired, repetitions, result, sized, type BenchContext, type BenchResult, type Benchmark } from './harness.ts';
import { BenchError } from './env.ts';

export const TRACING_SLOWDOWN_TARGET = 3;

export const tracingBenchmark: Benchmark = {
  name: 'tracing-cost',
  summary: 'the TDVMCALL round trip with a RecordingTracer on, relative to tracing off',
  run(ctx: BenchContext): BenchResult[] {
    const off = cpuidTd('stub');
    const on = cpuidTd('stub');
    const tracer = new RecordingTracer();
    on.machine.platform.tracer = tracer;
    let events = 0;
    const traced = (n: number) => {
      cpuidBatch(on, n);
      events = tracer.events.length;
      tracer.events.length = 0;
    };
    const ops = sized(ctx, 50_000, 100);
    const r = measurePaired((n) => cpuidBatch(off, n), traced, { ops, reps: repetitions(ctx) });
    if (events < ops) throw new BenchError(`tracing recorded ${events} events for ${ops} round trips: the emit points are not wired`);
    off.vm.destroy();
    on.vm.destroy();
    const slowdown = r.ratio;
    ctx.log(`tracing: off ${fmtRate(r.a)}, on ${fmtRate(r.b)} (${(events / ops).toFixed(1)} events per round trip)`);
    return [
      result('tracing-cost', slowdown, 'x slower', '<=', TRACING_SLOWDOWN_TARGET, `off ${fmtRate(r.a)}, on ${fmtRate(r.b)}; ${(events / ops).toFixed(1)} events per round trip; median of ${repetitions(ctx)} paired batches`),
    ];
  },
};
