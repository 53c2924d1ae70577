/**
 * Every benchmark runs on tiny sizes and produces well-formed results, and each refuses to report
 * a figure when the simulator did something other than what it measures. Nothing here asserts on
 * time: the figures of a tiny run mean nothing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { BenchContext, BenchResult, Benchmark } from '../../bench/harness.ts';
import { BenchError, bootTd, machine, registerProgram } from '../../bench/env.ts';
import { cpuidLoop, ioInLoop } from '../../bench/guest.ts';
import { cpuidBatch, cpuidTd, tdvmcallBenchmark } from '../../bench/tdvmcall.ts';
import { tracingBenchmark } from '../../bench/tracing.ts';
import { ioBatch, userspaceExitBenchmark } from '../../bench/userspace-exit.ts';
import { seamcallBenchmark } from '../../bench/seamcall.ts';
import { buildOnce, measuredBytes, mrtdBenchmark } from '../../bench/mrtd.ts';
import { lifecycleBenchmark } from '../../bench/lifecycle.ts';
import { fuzzBenchmark } from '../../bench/fuzz.ts';
import { wireBenchmark } from '../../bench/wire.ts';
import { CpuidTable } from '../../src/host/cpuid-table.ts';
import { CPUID_HYPERVISOR_FIRST } from '../../src/abi/cpuid.ts';
import { BOOT_PAGE_GPA, encodeBootPage } from '../../src/platform/boot-image.ts';

const tiny: BenchContext = { scale: 'tiny', log: () => undefined };

async function run(b: Benchmark): Promise<BenchResult[]> {
  return b.run(tiny);
}

/** Each result is complete: a finite positive figure, its target and a verdict that agrees with them. */
function wellFormed(results: readonly BenchResult[], expected: readonly [name: string, unit: string, goal: '>=' | '<=', target: number][]): void {
  assert.deepEqual(
    results.map((r) => [r.name, r.unit, r.goal, r.target]),
    expected,
  );
  for (const r of results) {
    assert.ok(r.measured !== null && Number.isFinite(r.measured) && r.measured > 0, `${r.name} measured ${r.measured}`);
    assert.equal(r.ratio, r.measured / r.target);
    assert.equal(r.pass, r.goal === '>=' ? r.ratio >= 1 : r.ratio <= 1);
    assert.ok(r.note && r.note.length > 0, `${r.name} has a note`);
  }
}

describe('benchmarks on tiny sizes', () => {
  test('TDVMCALL round trip', async () => {
    wellFormed(await run(tdvmcallBenchmark), [['tdvmcall-round-trip', 'round trips/s', '>=', 2_000_000]]);
  });

  test('tracing cost (the emit points record events)', async () => {
    wellFormed(await run(tracingBenchmark), [['tracing-cost', 'x slower', '<=', 3]]);
  });

  test('userspace exit round trip', async () => {
    wellFormed(await run(userspaceExitBenchmark), [['userspace-exit', 'round trips/s', '>=', 1_000_000]]);
  });

  test('host SEAMCALLs', async () => {
    wellFormed(await run(seamcallBenchmark), [
      ['seamcall-mng-rd', 'calls/s', '>=', 2_000_000],
      ['seamcall-vp-rd', 'calls/s', '>=', 2_000_000],
    ]);
  });

  test('MRTD build', async () => {
    wellFormed(await run(mrtdBenchmark), [['mrtd-build', 'x SHA-384 rate', '>=', 0.9]]);
  });

  test('TD lifecycle', async () => {
    wellFormed(await run(lifecycleBenchmark), [['td-lifecycle', 'ms', '<=', 20]]);
  });

  test('fuzz throughput and scaling', async () => {
    wellFormed(await run(fuzzBenchmark), [
      ['fuzz-host-rate', 'steps/s', '>=', 200_000],
      ['fuzz-2-worker-scaling', 'x one worker', '>=', 1.8],
    ]);
  });

  test('wire round trips against raw ping-pong', async () => {
    wellFormed(await run(wireBenchmark), [['wire-tdcall', 'x raw ping-pong', '>=', 0.7]]);
  });
});

describe('benchmarks refuse a wrong simulation', () => {
  test('a CPUID answer other than KVM\'s signature leaf voids the TDVMCALL figure', () => {
    const td = cpuidTd('stub');
    cpuidBatch(td, 3);
    // A host whose CPUID table answers the hypervisor leaf differently: the guest counts it.
    Object.defineProperty(td.vcpu, 'cpuid', { value: new CpuidTable([{ leaf: CPUID_HYPERVISOR_FIRST, subleaf: null, eax: 7, ebx: 0, ecx: 0, edx: 0 }]) });
    assert.throws(() => cpuidBatch(td, 3), (e: unknown) => e instanceof BenchError && /3 of 3 CPUID TDVMCALLs came back wrong/.test(e.message));
  });

  test('the guest library path is checked the same way', () => {
    const td = cpuidTd('library');
    cpuidBatch(td, 2);
    Object.defineProperty(td.vcpu, 'cpuid', { value: new CpuidTable([{ leaf: CPUID_HYPERVISOR_FIRST, subleaf: null, eax: 1, ebx: 0, ecx: 0, edx: 0 }]) });
    assert.throws(() => cpuidBatch(td, 2), BenchError);
  });

  test('a userspace answer out of sequence is caught by the guest', () => {
    const td = bootTd(machine(), ioInLoop);
    ioBatch(td, { next: 1n }, 4);
    assert.throws(() => ioBatch(td, { next: 99n }, 2), (e: unknown) => e instanceof BenchError && /OUT|out/.test(e.message));
  });

  test('an MRTD that is not the hash of the measured bytes voids the build figure', () => {
    const m = machine();
    const image = new Uint8Array(randomBytes(8192));
    const boot = encodeBootPage({ program: registerProgram(m, cpuidLoop('stub')), args: {} });
    const bytes = measuredBytes(1n << 20n, image);
    assert.equal(bytes.length, 2 * (128 + 16 * (128 + 256)), 'a PAGE.ADD block and 16 MR.EXTEND blocks with chunks per page');
    assert.throws(() => buildOnce(m, image, boot, new Uint8Array(48)), (e: unknown) => e instanceof BenchError && /MRTD/.test(e.message));
    assert.ok(measuredBytes(BOOT_PAGE_GPA, boot).length > 0);
  });
});
