/**
 * Benchmark 7: a whole TD lifecycle, as a host runs it, on an already brought-up platform:
 *   bring-up   KVM_CREATE_VM + KVM_TDX_INIT_VM (HKID, TDR, TDCS, TDH.MNG.CREATE/KEY.CONFIG/
 *              ADDCX/INIT) and one vCPU (TDH.VP.CREATE/ADDCX/INIT, TDH.VP.WRs)
 *   build      a 2 MiB image added and measured (PAGE.ADD + 16 × MR.EXTEND per page) and the
 *              boot page
 *   finalize   TDH.MR.FINALIZE
 *   run        vcpu.run() to the guest's first exit (an IN from the benchmark port)
 *   teardown   vm.destroy(): flush, KEY.FREEID, PAGE.RECLAIM of every page, WBINVD of the TDR
 * Every page must come back: none leaked, and the host allocator holds as many pages as before.
 * Target: median ≤ 20 ms.
 */
import { randomBytes } from 'node:crypto';
import { BOOT_PAGE_GPA, encodeBootPage } from '../src/platform/boot-image.ts';
import { BENCH_PORT, cpuidLoop } from './guest.ts';
import { BenchError, describe, machine, registerProgram } from './env.ts';
import { median, result, sized, time, type BenchContext, type BenchResult, type Benchmark } from './harness.ts';

export const LIFECYCLE_TARGET_MS = 20;

const IMAGE_GPA = 1n << 20n;

export const lifecycleBenchmark: Benchmark = {
  name: 'td-lifecycle',
  summary: 'create → build and measure 2 MiB → finalize → run to the first exit → teardown, every page reclaimed',
  run(ctx: BenchContext): BenchResult[] {
    let m: ReturnType<typeof machine> | undefined;
    const platformMs = time(() => (m = machine())) * 1e3;
    const host = m!.host;
    const image = new Uint8Array(randomBytes(sized(ctx, 2 << 20, 16 << 10)));
    const boot = encodeBootPage({ program: registerProgram(m!, cpuidLoop('stub')), args: {} });
    const pagesBefore = host.memory.pagesInUse;
    const once = () => {
      const vm = host.createVm({ memorySize: 64n << 20n, maxVcpus: 1 });
      const vcpu = vm.createVcpu();
      vm.initMemRegion(IMAGE_GPA, image, { measure: true });
      vm.initMemRegion(BOOT_PAGE_GPA, boot, { measure: true });
      vm.finalize();
      const rec = vcpu.run();
      if (rec.kind !== 'io' || rec.port !== BENCH_PORT) throw new BenchError(`first exit: expected the guest's IN, got ${describe(rec)}`);
      const report = vm.destroy();
      if (report.leaked !== 0) throw new BenchError(`${report.leaked} pages leaked at teardown`);
      if (host.memory.pagesInUse !== pagesBefore) throw new BenchError(`${host.memory.pagesInUse - pagesBefore} host pages not returned after teardown`);
    };
    once(); // warm-up
    const ms: number[] = [];
    for (let i = 0; i < sized(ctx, 15, 2); i++) ms.push(time(once) * 1e3);
    const note = `median of ${ms.length}, min ${Math.min(...ms).toFixed(1)} ms; platform bring-up (TDH.SYS.* with 4 GiB of TDMRs) once: ${platformMs.toFixed(0)} ms`;
    ctx.log(`lifecycle: ${note}`);
    return [result('td-lifecycle', median(ms), 'ms', '<=', LIFECYCLE_TARGET_MS, note)];
  },
};
