/**
 * Choosing TDMRs, PAMTs and reserved areas over the CMRs, as Linux does at TDX bring-up
 * (arch/x86/virt/vmx/tdx/tdx.c; facts linux-tdx.md §1.4 step 5):
 *
 *   - one TDMR per run of memory, 1G-aligned: a region's TDMR starts at its base rounded down
 *     and ends at its end rounded up to 1 GiB; a region already covered by the previous TDMR
 *     only extends it when it reaches past it;
 *   - each TDMR's PAMT is one contiguous allocation holding the 4K, then the 2M, then the 1G
 *     entries; each level needs (TDMR size >> level page shift) × entry size bytes, rounded up
 *     to 4K. tdxsim places PAMTs at the top of the highest CMR, where no TD page will be;
 *   - reserved areas cover what the module must not treat as TD memory: holes (parts of the
 *     TDMR no CMR covers) and every PAMT inside the TDMR, 4K-aligned, sorted ascending. Linux keeps
 *     one area per hole and per PAMT; tdxsim merges touching areas, which the module accepts just
 *     the same and which keeps fewer of the MAX_RESERVED_PER_TDMR slots in use.
 *
 * A layout that needs more TDMRs or reserved areas than the module supports fails with ENOSPC.
 */
import { PAGE_SIZE, SIZE_1G, SIZE_2M } from '../abi/pamt.ts';
import { TDMR_ALIGNMENT, TDMR_INFO, encodeReservedAreas } from '../abi/tdmr.ts';
import { HostError } from './errors.ts';
import type { Range } from './host-memory.ts';

export interface PamtArea {
  readonly base: bigint;
  readonly size: bigint;
}

export interface PlannedTdmr {
  readonly base: bigint;
  readonly size: bigint;
  readonly pamt4k: PamtArea;
  readonly pamt2m: PamtArea;
  readonly pamt1g: PamtArea;
  /** Offsets are relative to `base`. */
  readonly reserved: readonly { readonly offset: bigint; readonly size: bigint }[];
}

export interface TdmrLimits {
  readonly maxTdmrs: number;
  readonly maxReservedPerTdmr: number;
  /** PAMT entry size in bytes for the 4K, 2M and 1G levels (TDH.SYS.RD PAMT_*_ENTRY_SIZE). */
  readonly pamtEntrySize: { readonly l4k: number; readonly l2m: number; readonly l1g: number };
}

export interface TdmrPlan {
  readonly tdmrs: readonly PlannedTdmr[];
  /** Memory left for the host after the PAMTs are carved out: the CMRs minus every PAMT. */
  readonly hostRanges: readonly Range[];
}

const roundDown = (v: bigint, a: bigint): bigint => v - (v % a);
const roundUp = (v: bigint, a: bigint): bigint => roundDown(v + a - 1n, a);

/** PAMT bytes per level for a TDMR of `size`. */
export function pamtSizes(size: bigint, entry: TdmrLimits['pamtEntrySize']): { l4k: bigint; l2m: bigint; l1g: bigint } {
  const level = (pageSize: bigint, entrySize: number) => roundUp((size / pageSize) * BigInt(entrySize), PAGE_SIZE);
  return { l4k: level(PAGE_SIZE, entry.l4k), l2m: level(SIZE_2M, entry.l2m), l1g: level(SIZE_1G, entry.l1g) };
}

/** Plan TDMRs over `cmrs` (which must be sorted and non-overlapping, as the BIOS reports them). */
export function planTdmrs(cmrs: readonly Range[], limits: TdmrLimits): TdmrPlan {
  // 1. TDMR ranges.
  const ranges: { base: bigint; end: bigint }[] = [];
  for (const c of cmrs) {
    const start = roundDown(c.base, TDMR_ALIGNMENT);
    const end = roundUp(c.base + c.size, TDMR_ALIGNMENT);
    const last = ranges.at(-1);
    if (last && end <= last.end) continue;
    ranges.push({ base: last && start < last.end ? last.end : start, end });
  }
  if (ranges.length > limits.maxTdmrs) {
    throw new HostError('ENOSPC', `memory needs ${ranges.length} TDMRs; the TDX module supports ${limits.maxTdmrs}`);
  }

  // 2. PAMTs, carved from the top of the highest CMR downwards.
  const free = cmrs.map((c) => ({ base: c.base, end: c.base + c.size }));
  const pamts = ranges.map((r) => {
    const s = pamtSizes(r.end - r.base, limits.pamtEntrySize);
    const total = s.l4k + s.l2m + s.l1g;
    const pool = [...free].reverse().find((f) => f.end - f.base >= total);
    if (!pool) throw new HostError('ENOMEM', `no contiguous ${total} bytes of convertible memory for a PAMT`);
    pool.end -= total;
    const base = pool.end;
    return {
      pamt4k: { base, size: s.l4k },
      pamt2m: { base: base + s.l4k, size: s.l2m },
      pamt1g: { base: base + s.l4k + s.l2m, size: s.l1g },
      whole: { base, end: base + total },
    };
  });

  // 3. Reserved areas: holes and PAMTs, per TDMR.
  const tdmrs = ranges.map((r, i): PlannedTdmr => {
    const areas: { start: bigint; end: bigint }[] = [];
    let cursor = r.base;
    for (const c of cmrs) {
      const cs = c.base > r.base ? c.base : r.base;
      const ce = c.base + c.size < r.end ? c.base + c.size : r.end;
      if (ce <= cs) continue;
      if (cs > cursor) areas.push({ start: cursor, end: cs });
      if (ce > cursor) cursor = ce;
    }
    if (cursor < r.end) areas.push({ start: cursor, end: r.end });
    for (const p of pamts) {
      const s = p.whole.base > r.base ? p.whole.base : r.base;
      const e = p.whole.end < r.end ? p.whole.end : r.end;
      if (s < e) areas.push({ start: s, end: e });
    }
    areas.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    const merged: { start: bigint; end: bigint }[] = [];
    for (const a of areas) {
      const last = merged.at(-1);
      if (last && a.start <= last.end) last.end = a.end > last.end ? a.end : last.end;
      else merged.push({ ...a });
    }
    if (merged.length > limits.maxReservedPerTdmr) {
      throw new HostError('ENOSPC', `TDMR ${i} needs ${merged.length} reserved areas; the TDX module supports ${limits.maxReservedPerTdmr}`);
    }
    const p = pamts[i]!;
    return {
      base: r.base,
      size: r.end - r.base,
      pamt4k: p.pamt4k,
      pamt2m: p.pamt2m,
      pamt1g: p.pamt1g,
      reserved: merged.map((a) => ({ offset: a.start - r.base, size: a.end - a.start })),
    };
  });

  return { tdmrs, hostRanges: free.map((f) => ({ base: f.base, size: f.end - f.base })).filter((f) => f.size > 0n) };
}

/** The TDMR_INFO entry TDH.SYS.CONFIG reads for a planned TDMR. */
export function encodeTdmrInfo(t: PlannedTdmr): Uint8Array {
  return TDMR_INFO.encode({
    base: t.base,
    size: t.size,
    pamt_1g_base: t.pamt1g.base,
    pamt_1g_size: t.pamt1g.size,
    pamt_2m_base: t.pamt2m.base,
    pamt_2m_size: t.pamt2m.size,
    pamt_4k_base: t.pamt4k.base,
    pamt_4k_size: t.pamt4k.size,
    reserved_areas: encodeReservedAreas(t.reserved),
  });
}
