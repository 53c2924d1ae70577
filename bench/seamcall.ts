/**
 * Benchmark 4: host SEAMCALL rate for the metadata reads KVM issues most: TDH.MNG.RD (a TD-scope
 * field, TSC_MULTIPLIER) and TDH.VP.RD (a vCPU field, POSTED_INTR_NV), each through the host's
 * SEAMCALL helper (`Seamcaller.call`, Linux's `seamcall_ret` with its RND_NO_ENTROPY retry and
 * the call log) into a register file the caller keeps, as KVM keeps its `tdx_module_args`. Every
 * answer is checked against the value the host wrote or read at build time. Target: ≥ 2 M/s each.
 */
import { SeamcallLeaf } from '../src/abi/seamcall-leaves.ts';
import { RegisterFile } from '../src/abi/registers.ts';
import { POSTED_INTR_VECTOR } from '../src/abi/posted-interrupt.ts';
import { fieldId } from '../src/host/sysinfo.ts';
import { BenchError, bootTd, machine } from './env.ts';
import { cpuidLoop } from './guest.ts';
import { measureRate, repetitions, result, sized, type BenchContext, type BenchResult, type Benchmark } from './harness.ts';
import { fmtRate } from './tdvmcall.ts';

export const SEAMCALL_TARGET = 2_000_000;

export const seamcallBenchmark: Benchmark = {
  name: 'host-seamcall',
  summary: 'TDH.MNG.RD and TDH.VP.RD through the host SEAMCALL helper',
  run(ctx: BenchContext): BenchResult[] {
    const { vm, vcpu } = bootTd(machine(), cpuidLoop('stub'));
    const regs = new RegisterFile();
    const tdr = vm.tdr;
    const tdvpr = vcpu.tdvprPa;
    const tscMultiplier = fieldId('TSC_MULTIPLIER');
    const postedIntrNv = fieldId('POSTED_INTR_NV');
    const mngRd = (n: number) => {
      for (let i = 0; i < n; i++) {
        const r = vm.sc.call(vm.lp, SeamcallLeaf.TDH_MNG_RD, { tdr, fieldId: tscMultiplier }, { into: regs });
        if (!r.ok || r.outputs.value !== vm.tsc.multiplier) throw new BenchError(`TDH.MNG.RD returned status ${r.status}, value ${r.outputs.value}`);
      }
    };
    const vpRd = (n: number) => {
      for (let i = 0; i < n; i++) {
        const r = vm.sc.call(vcpu.lp, SeamcallLeaf.TDH_VP_RD, { tdvpr, fieldId: postedIntrNv }, { into: regs });
        if (!r.ok || r.outputs.value !== BigInt(POSTED_INTR_VECTOR)) throw new BenchError(`TDH.VP.RD returned status ${r.status}, value ${r.outputs.value}`);
      }
    };
    const o = { ops: sized(ctx, 200_000, 100), reps: repetitions(ctx) };
    const mng = measureRate(mngRd, o);
    const vp = measureRate(vpRd, o);
    vm.destroy();
    ctx.log(`seamcall: TDH.MNG.RD ${fmtRate(mng)}, TDH.VP.RD ${fmtRate(vp)}`);
    return [
      result('seamcall-mng-rd', mng, 'calls/s', '>=', SEAMCALL_TARGET, `TDH.MNG.RD TSC_MULTIPLIER; median of ${o.reps}`),
      result('seamcall-vp-rd', vp, 'calls/s', '>=', SEAMCALL_TARGET, `TDH.VP.RD POSTED_INTR_NV; median of ${o.reps}`),
    ];
  },
};
