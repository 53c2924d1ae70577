/**
 * The lazy-accept measurement, run in a child process of its own (`--expose-gc`) so that its
 * memory figures are this workload's alone:
 *
 *   node --expose-gc --import tsx bench/lazy-accept-child.ts <pages> <batch>
 *
 * Brings up a platform with room for a 16 GiB TD (plus TDMR overhead), builds a TD whose guest
 * accepts never-touched 4K pages on request (guest.ts `acceptLoop`), warms up, then measures
 * resident memory (RSS, and V8 heap + external + array buffers) after forced garbage collection,
 * accepts `pages` pages in batches of `batch`, and measures again. Prints one JSON line.
 */
import { BENCH_PORT, acceptLoop } from './guest.ts';
import { BenchError, bootTd, expectOut, machine } from './env.ts';
import { time } from './harness.ts';

export interface LazyAcceptReport {
  readonly pages: number;
  /** Per batch: pages per second. */
  readonly batchRates: readonly number[];
  readonly rssGrowth: number;
  readonly heapGrowth: number;
  /** Pages of physical memory that hold data before and after (accepting must not add any). */
  readonly residentBefore: number;
  readonly residentAfter: number;
}

const GIB = 1n << 30n;
const WARMUP_PAGES = 65_536;

function gcNow(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 3; i++) gc();
}

function memory(): { rss: number; heap: number } {
  gcNow();
  const u = process.memoryUsage();
  return { rss: u.rss, heap: u.heapUsed + u.external };
}

function main(): void {
  const pages = Number(process.argv[2]);
  const batch = Number(process.argv[3]);
  if (!Number.isInteger(pages) || !Number.isInteger(batch) || pages < 1 || batch < 1) throw new Error('usage: lazy-accept-child <pages> <batch>');
  const tdBytes = BigInt(pages + WARMUP_PAGES) * 4096n;
  const m = machine({ memorySize: tdBytes + 2n * GIB });
  // Above the firmware range below 4 GiB (where the boot page is already added and measured), so
  // that every page the guest accepts was never touched.
  const firstGpa = 4n * GIB;
  const { vcpu } = bootTd(m, acceptLoop(firstGpa), { memorySize: firstGpa + tdBytes, config: { maxInKernelExits: Number.MAX_SAFE_INTEGER } });
  const accept = (n: number) => {
    const rec = vcpu.run();
    if (rec.kind !== 'io' || rec.direction !== 'in' || rec.port !== BENCH_PORT) throw new BenchError(`expected the guest's IN, got ${rec.kind}`);
    vcpu.complete({ kind: 'io', data: BigInt(n) });
    const failed = expectOut(vcpu, BENCH_PORT);
    vcpu.complete({ kind: 'io' });
    if (failed !== 0n) throw new BenchError(`${failed} of ${n} accepts failed`);
  };
  accept(WARMUP_PAGES);
  const residentBefore = m.platform.memory.residentPages();
  const before = memory();
  const batchRates: number[] = [];
  for (let done = 0; done < pages; ) {
    const n = Math.min(batch, pages - done);
    batchRates.push(n / time(() => accept(n)));
    done += n;
  }
  const after = memory();
  const report: LazyAcceptReport = {
    pages,
    batchRates,
    rssGrowth: after.rss - before.rss,
    heapGrowth: after.heap - before.heap,
    residentBefore,
    residentAfter: m.platform.memory.residentPages(),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main();
