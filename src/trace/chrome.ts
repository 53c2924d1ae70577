/**
 * Export a trace as Chrome Trace Event JSON, the format Perfetto UI (ui.perfetto.dev) and
 * chrome://tracing open directly (facts: ecosystem.md §3).
 *
 * Layout: one process per party, so Perfetto shows four groups of tracks —
 *   pid 100+n  "TD guest <TDR>"  one per TD, a thread per vCPU   (tdcall, resume, ve)
 *   pid 2      "TDX module"      a thread per logical processor (td_exit, td_entry, page, measure)
 *   pid 1      "host VMM"        a thread per logical processor (seamcall, tdvmcall, shared pages)
 *   pid 3      "VMM userspace"   a thread per vCPU              (user_exit, user_complete)
 * named by `M` metadata events (process_name, thread_name, and sort indexes that put the lanes in
 * the order guest, module, host, userspace). Thread ids are unique across processes (pid × 1000 +
 * index), so no importer can mistake one party's thread for another's.
 *
 * - Each crossing is an `X` slice named by its mnemonic or sub-function, args = registers,
 *   decoded fields and statuses. The virtual clock is sequential, so slices on one thread never
 *   overlap and always nest.
 * - `page` and `measure` events are thread-scoped instants (`i`, s = "t"); every page change
 *   also updates a `C` counter "pages" on its TD's process with the 4K pages by category.
 * - A flow chain becomes one `s` → `f` pair per link between consecutive events of the chain.
 *   Binding (ecosystem.md §3, Chrome DevTools FlowsHandler): a flow event attaches to the slice
 *   with the same cat, pid, tid and ts, so each is written at exactly its slice's ts, on its pid
 *   and tid, with the slices' cat, right after the slice itself. The `f` carries bp = "e" so that
 *   it binds to that enclosing slice rather than to the next one (Perfetto's v1 flow rule). The
 *   `s` and `f` of a pair share id, cat and name, which Perfetto uses together as the flow key.
 *
 * Timestamps are microseconds (the format's unit) with the nanoseconds as fractions;
 * displayTimeUnit is left out because Perfetto reads "ns" there as the unit of ts itself.
 */
import type { TraceEvent, TraceParty } from './events.ts';
import { PARTY_LABELS } from './lanes.ts';
import { pageChange, PageTally } from './pages.ts';

export interface ChromeEvent {
  readonly name: string;
  readonly ph: 'X' | 'i' | 'C' | 's' | 'f' | 'M';
  readonly pid: number;
  readonly tid?: number;
  readonly ts?: number;
  readonly dur?: number;
  readonly cat?: string;
  readonly id?: number;
  /** Flow binding point: "e" = the enclosing slice. */
  readonly bp?: 'e';
  /** Instant scope: "t" = the thread. */
  readonly s?: 't';
  readonly args?: Readonly<Record<string, unknown>>;
}

export interface ChromeTrace {
  readonly traceEvents: readonly ChromeEvent[];
  readonly otherData: Readonly<Record<string, string>>;
}

/** Category of every slice and flow event (flows bind only to slices of their own category). */
export const CHROME_CATEGORY = 'tdx';

const PID = Object.freeze({ host: 1, module: 2, userspace: 3, firstTd: 100 });
/** Threads per process: tid = pid × TIDS_PER_PID + index. */
const TIDS_PER_PID = 1000;
/** Sort indexes: TDs first (0, 1, …), then module, host, userspace. */
const SORT = Object.freeze({ module: 1000, host: 1001, userspace: 1002 });

const us = (ns: number): number => ns / 1000;

/** Assigns processes and threads as events arrive, and remembers them for the metadata. */
class Tracks {
  private readonly tds = new Map<string, number>();
  private readonly threads = new Map<string, { pid: number; tid: number; name: string; index: number }>();
  readonly processes = new Map<number, { name: string; sort: number }>([
    [PID.module, { name: PARTY_LABELS.module, sort: SORT.module }],
    [PID.host, { name: PARTY_LABELS.host, sort: SORT.host }],
    [PID.userspace, { name: PARTY_LABELS.userspace, sort: SORT.userspace }],
  ]);

  tdPid(td: string | undefined): number {
    const key = td ?? '-';
    let pid = this.tds.get(key);
    if (pid === undefined) {
      pid = PID.firstTd + this.tds.size;
      this.tds.set(key, pid);
      this.processes.set(pid, { name: td ? `${PARTY_LABELS.guest} ${td}` : PARTY_LABELS.guest, sort: pid - PID.firstTd });
    }
    return pid;
  }

  /** The (pid, tid) of an event: its party's process, the vCPU or LP thread within it. */
  of(party: TraceParty, e: Pick<TraceEvent, 'td' | 'vcpu' | 'lp'>): { pid: number; tid: number } {
    const pid = party === 'guest' ? this.tdPid(e.td) : PID[party];
    const perVcpu = party === 'guest' || party === 'userspace';
    const index = (perVcpu ? e.vcpu : e.lp) ?? 0;
    return { pid, tid: this.thread(pid, index, `${perVcpu ? 'vCPU' : 'LP'} ${index}`) };
  }

  thread(pid: number, index: number, name: string): number {
    const key = `${pid}/${index}`;
    let t = this.threads.get(key);
    if (!t) this.threads.set(key, (t = { pid, tid: pid * TIDS_PER_PID + index, name, index }));
    return t.tid;
  }

  metadata(): ChromeEvent[] {
    const out: ChromeEvent[] = [];
    for (const [pid, p] of [...this.processes].sort((a, b) => a[0] - b[0])) {
      out.push({ name: 'process_name', ph: 'M', pid, args: { name: p.name } });
      out.push({ name: 'process_sort_index', ph: 'M', pid, args: { sort_index: p.sort } });
    }
    for (const t of [...this.threads.values()].sort((a, b) => a.tid - b.tid)) {
      out.push({ name: 'thread_name', ph: 'M', pid: t.pid, tid: t.tid, args: { name: t.name } });
      out.push({ name: 'thread_sort_index', ph: 'M', pid: t.pid, tid: t.tid, args: { sort_index: t.index } });
    }
    return out;
  }
}

/** The slice's args: what the details pane shows. */
function sliceArgs(e: TraceEvent): Record<string, unknown> {
  const args: Record<string, unknown> = { seq: e.seq, kind: e.kind };
  if (e.td !== undefined) args.td = e.td;
  if (e.vcpu !== undefined) args.vcpu = e.vcpu;
  if (e.lp !== undefined) args.lp = e.lp;
  if (e.in) args.in = e.in;
  if (e.out) args.out = e.out;
  if (e.fields) args.fields = e.fields;
  if (e.status) args.status = e.status;
  if (e.vmmStatus) args.vmmStatus = e.vmmStatus;
  if (e.data) args.data = e.data;
  return args;
}

const isInstant = (e: TraceEvent): boolean => e.kind === 'page' || e.kind === 'measure';

/**
 * The links of every flow chain: for each event, the link id it starts (to the next event of its
 * chain) and the link id it finishes (from the previous one), with the chain's name.
 */
function flowLinks(events: readonly TraceEvent[]): Map<number, { out?: number; in?: number; name: string }> {
  const chains = new Map<number, TraceEvent[]>();
  for (const e of events) {
    if (isInstant(e)) continue;
    if (e.flowOut !== undefined) chains.set(e.flowOut, [e]);
    else if (e.flowIn !== undefined) chains.get(e.flowIn)?.push(e);
  }
  const links = new Map<number, { out?: number; in?: number; name: string }>();
  let next = 1;
  for (const members of chains.values()) {
    const name = members[0]!.name;
    for (let i = 0; i + 1 < members.length; i++) {
      const id = next++;
      const a = members[i]!.seq;
      const b = members[i + 1]!.seq;
      links.set(a, { ...links.get(a), name, out: id });
      links.set(b, { ...links.get(b), name, in: id });
    }
  }
  return links;
}

export interface ChromeOptions {
  /** Recorded in otherData.source. */
  readonly source?: string;
}

/**
 * Convert trace events to a Chrome Trace Event JSON object. Events are written in time order
 * (longer first on a tie, so an enclosing slice precedes what it encloses; then seq), which keeps
 * every flow event right after the slice it binds to even in importers that only sort by ts.
 */
export function toChromeTrace(events: readonly TraceEvent[], options: ChromeOptions = {}): ChromeTrace {
  const tracks = new Tracks();
  const links = flowLinks([...events].sort((a, b) => a.seq - b.seq));
  const tallies = new Map<string, PageTally>();
  const body: ChromeEvent[] = [];
  const ordered = [...events].sort((a, b) => a.time - b.time || b.duration - a.duration || a.seq - b.seq);

  for (const e of ordered) {
    const { pid, tid } = tracks.of(e.party, e);
    const ts = us(e.time);
    if (isInstant(e)) {
      body.push({ name: e.name, cat: CHROME_CATEGORY, ph: 'i', s: 't', ts, pid, tid, args: sliceArgs(e) });
      const page = pageChange(e);
      if (page) {
        const td = e.td ?? '-';
        let tally = tallies.get(td);
        if (!tally) tallies.set(td, (tally = new PageTally()));
        tally.apply(page.gpa, page.to, page.pages);
        const tdPid = tracks.tdPid(e.td);
        body.push({ name: 'pages', ph: 'C', ts, pid: tdPid, tid: tracks.thread(tdPid, 0, 'vCPU 0'), args: { ...tally.counts } });
      }
      continue;
    }
    body.push({ name: e.name, cat: CHROME_CATEGORY, ph: 'X', ts, dur: us(e.duration), pid, tid, args: sliceArgs(e) });
    const link = links.get(e.seq);
    if (link?.in !== undefined) body.push({ name: link.name, cat: CHROME_CATEGORY, ph: 'f', bp: 'e', id: link.in, ts, pid, tid });
    if (link?.out !== undefined) body.push({ name: link.name, cat: CHROME_CATEGORY, ph: 's', id: link.out, ts, pid, tid });
  }
  return {
    traceEvents: [...tracks.metadata(), ...body],
    otherData: { generator: 'tdxsim', clock: 'simulated (virtual clock, src/trace/costs.ts)', ...(options.source !== undefined && { source: options.source }) },
  };
}

/** The export as text (one event per line, so diffs of two runs stay readable). */
export function formatChromeTrace(trace: ChromeTrace): string {
  const lines = trace.traceEvents.map((e) => JSON.stringify(e));
  return `{"traceEvents":[\n${lines.join(',\n')}\n],\n"otherData":${JSON.stringify(trace.otherData)}}\n`;
}
