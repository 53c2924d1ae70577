/**
 * Benchmark 6: lazy accept of never-touched private memory.
 *
 * The guest accepts 4K pages one by one (TDG.MEM.PAGE.ACCEPT); none is mapped yet, so each is an
 * EPT-violation TD exit, the host's fault handler (TDH.MEM.SEPT.ADD when a new page table is
 * needed, TDH.MEM.PAGE.AUG of a fresh host page) and a re-entry in which the ACCEPT runs again,
 * succeeds and zeroes the page under the TD's key. Measured over 4 Mi pages (16 GiB) in a child
 * process of its own (lazy-accept-child.ts) with forced garbage collection around the run:
 *   - accept rate (median of the per-batch rates). Target: ≥ 1 M pages/s;
 *   - resident memory per accepted page: the larger of RSS growth and V8 heap + external growth,
 *     divided by the pages. Target: ≤ 24 bytes/page;
 *   - and that pages never written cost no backing: physical memory must hold no more pages with
 *     data after accepting 16 GiB than before (a BenchError otherwise).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BenchError } from './env.ts';
import { median, result, sized, type BenchContext, type BenchResult, type Benchmark } from './harness.ts';
import type { LazyAcceptReport } from './lazy-accept-child.ts';
import { fmtRate } from './tdvmcall.ts';

const run = promisify(execFile);

export const ACCEPT_RATE_TARGET = 1_000_000;
export const BYTES_PER_PAGE_TARGET = 24;

/** Run the child and parse its report. */
export async function lazyAccept(pages: number, batch: number): Promise<LazyAcceptReport> {
  const child = fileURLToPath(new URL(`./lazy-accept-child${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
  const loader = import.meta.url.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const { stdout } = await run(process.execPath, ['--expose-gc', ...loader, child, String(pages), String(batch)], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as LazyAcceptReport;
}

export const lazyAcceptBenchmark: Benchmark = {
  name: 'lazy-accept',
  summary: 'guest ACCEPT of never-touched 4K pages: EPT-violation exit, SEPT.ADD + PAGE.AUG, re-entry; 16 GiB',
  async run(ctx: BenchContext): Promise<BenchResult[]> {
    const pages = sized(ctx, 4 << 20, 2048);
    const r = await lazyAccept(pages, sized(ctx, 256 << 10, 1024));
    if (r.residentAfter > r.residentBefore) throw new BenchError(`${r.residentAfter - r.residentBefore} pages gained backing although the guest never wrote them`);
    const rate = median(r.batchRates);
    const perPage = Math.max(r.rssGrowth, r.heapGrowth) / r.pages;
    const gib = (r.pages * 4096) / 2 ** 30;
    ctx.log(`lazy accept: ${fmtRate(rate)}, RSS +${(r.rssGrowth / 2 ** 20).toFixed(1)} MiB, heap +${(r.heapGrowth / 2 ** 20).toFixed(1)} MiB over ${gib.toFixed(2)} GiB`);
    return [
      result('lazy-accept-rate', rate, 'pages/s', '>=', ACCEPT_RATE_TARGET, `median of ${r.batchRates.length} batches over ${r.pages} pages (${gib.toFixed(2)} GiB)`),
      result(
        'lazy-accept-memory',
        perPage,
        'bytes/page',
        '<=',
        BYTES_PER_PAGE_TARGET,
        `RSS ${(r.rssGrowth / r.pages).toFixed(1)} B/page, heap+external ${(r.heapGrowth / r.pages).toFixed(1)} B/page (the larger is reported); pages with backing before/after: ${r.residentBefore}/${r.residentAfter}`,
      ),
    ];
  },
};
