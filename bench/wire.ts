/**
 * Benchmark 9b: the wire protocol's TDCALL round trip against a raw socket ping-pong of the same
 * frame size over the same kind of Unix socket, both measured in the same run by `benchWire`
 * (src/wire/bench.ts, which alternates the two loops in slices). Target: ≥ 0.7× raw.
 */
import { benchWire } from '../src/wire/bench.ts';
import { result, sized, type BenchContext, type BenchResult, type Benchmark } from './harness.ts';
import { fmtRate } from './tdvmcall.ts';

export const WIRE_RATIO_TARGET = 0.7;

export const wireBenchmark: Benchmark = {
  name: 'wire',
  summary: 'wire TDCALL round trips vs raw Unix-socket ping-pong of the same frame size',
  async run(ctx: BenchContext): Promise<BenchResult[]> {
    const r = await benchWire({ roundTrips: sized(ctx, 50_000, 500) });
    const note = `TDCALL ${fmtRate(r.tdcallPerSec)}, raw ping-pong ${fmtRate(r.rawPingPongPerSec)}, ${r.frameSize}-byte frames, ${r.roundTrips} round trips each`;
    ctx.log(`wire: ${note}`);
    return [result('wire-tdcall', r.tdcallPerSec / r.rawPingPongPerSec, 'x raw ping-pong', '>=', WIRE_RATIO_TARGET, note)];
  },
};
