/**
 * The TD's memory over time, replayed from `page` events: what the Perfetto page counters
 * (chrome.ts) and the viewer's memory map show. Pages are counted in 4K units, so a 2M mapping
 * counts 512 (one SEPT page of entries per level).
 */
import { SEPT_ENTRIES_PER_PAGE } from '../abi/sept.ts';
import type { TraceEvent } from './events.ts';
import { PAGE_CATEGORIES, pageCategory, type PageCategory, type TracePageState } from './page-states.ts';

export type PageCounts = Record<(typeof PAGE_CATEGORIES)[number], number>;

/** 4K pages in a mapping at this Secure-EPT level (0 = 4K, 1 = 2M, 2 = 1G). */
function pagesAtLevel(level: number | undefined): number {
  return SEPT_ENTRIES_PER_PAGE ** (level ?? 0);
}

/** The fields of a page event, or undefined for any other event. */
export function pageChange(e: TraceEvent): { gpa: string; from: TracePageState; to: TracePageState; pages: number } | undefined {
  if (e.kind !== 'page' || !e.data) return undefined;
  const { gpa, from, to, level } = e.data;
  if (typeof gpa !== 'string' || typeof from !== 'string' || typeof to !== 'string') return undefined;
  return { gpa, from: from as TracePageState, to: to as TracePageState, pages: pagesAtLevel(typeof level === 'number' ? level : undefined) };
}

/** Running count of one TD's pages by category; feed it the TD's page events in order. */
export class PageTally {
  private readonly byGpa = new Map<string, { category: PageCategory; pages: number }>();
  readonly counts: PageCounts = { private: 0, shared: 0, pending: 0, blocked: 0 };

  apply(gpa: string, to: TracePageState, pages: number): void {
    const before = this.byGpa.get(gpa);
    if (before && before.category !== 'none') this.counts[before.category] -= before.pages;
    const category = pageCategory(to);
    this.byGpa.set(gpa, { category, pages });
    if (category !== 'none') this.counts[category] += pages;
  }
}

export interface PageTimeline {
  /** The TD (TDR PA as hex), or "-" for page events without one. */
  readonly td: string;
  /** Every GPA that ever changed, ascending. */
  readonly gpas: readonly string[];
  /** 4K pages behind each GPA (from its mapping level), parallel to `gpas`. */
  readonly sizes: readonly number[];
  /** The changes in time order: which GPA (index into `gpas`) went to which state when. */
  readonly changes: readonly { readonly time: number; readonly seq: number; readonly index: number; readonly to: TracePageState }[];
}

/** One timeline per TD, in order of first appearance. */
export function pageTimelines(events: readonly TraceEvent[]): PageTimeline[] {
  const perTd = new Map<string, { seen: Map<string, number>; raw: { time: number; seq: number; gpa: string; to: TracePageState }[] }>();
  for (const e of events) {
    const c = pageChange(e);
    if (!c) continue;
    const td = e.td ?? '-';
    let t = perTd.get(td);
    if (!t) perTd.set(td, (t = { seen: new Map(), raw: [] }));
    t.seen.set(c.gpa, c.pages);
    t.raw.push({ time: e.time, seq: e.seq, gpa: c.gpa, to: c.to });
  }
  return [...perTd].map(([td, t]) => {
    t.raw.sort((a, b) => a.time - b.time || a.seq - b.seq);
    const gpas = [...t.seen.keys()].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
    const index = new Map(gpas.map((g, i) => [g, i]));
    return {
      td,
      gpas,
      sizes: gpas.map((g) => t.seen.get(g)!),
      changes: t.raw.map((r) => ({ time: r.time, seq: r.seq, index: index.get(r.gpa)!, to: r.to })),
    };
  });
}

/** Each GPA's state after the first `count` changes (undefined: not touched yet). */
export function pageStatesAfter(timeline: PageTimeline, count: number): (TracePageState | undefined)[] {
  const states: (TracePageState | undefined)[] = new Array(timeline.gpas.length).fill(undefined);
  const n = Math.min(count, timeline.changes.length);
  for (let i = 0; i < n; i++) {
    const c = timeline.changes[i]!;
    states[c.index] = c.to;
  }
  return states;
}

/** Each GPA's state after every change up to and including `time`. */
export function pageStatesAt(timeline: PageTimeline, time: number): (TracePageState | undefined)[] {
  let count = 0;
  while (count < timeline.changes.length && timeline.changes[count]!.time <= time) count++;
  return pageStatesAfter(timeline, count);
}
