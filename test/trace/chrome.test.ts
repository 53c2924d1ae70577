import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildDemoTrace } from '../../scripts/make-fixture-trace.ts';
import { CHROME_CATEGORY, formatChromeTrace, toChromeTrace, type ChromeEvent, type ChromeTrace } from '../../src/trace/chrome.ts';
import type { TraceEvent } from '../../src/trace/events.ts';

const demo = buildDemoTrace();
const trace = toChromeTrace(demo, { source: 'demo' });
const ev = trace.traceEvents;
const of = (ph: ChromeEvent['ph']): ChromeEvent[] => ev.filter((e) => e.ph === ph);

/** A minimal crossing for hand-built chains. */
function crossing(seq: number, time: number, party: TraceEvent['party'], flow: Partial<Pick<TraceEvent, 'flowIn' | 'flowOut'>>, extra: Partial<TraceEvent> = {}): TraceEvent {
  return { seq, time, duration: 100, kind: 'tdcall', party, name: `e${seq}`, vcpu: 0, lp: 0, ...flow, ...extra };
}

describe('Chrome Trace Event export: structure Perfetto needs', () => {
  it('every X slice has a name, ts, dur, pid and tid, in µs, with the tdx category', () => {
    const xs = of('X');
    assert.equal(xs.length, demo.filter((e) => e.kind !== 'page' && e.kind !== 'measure').length);
    for (const x of xs) {
      assert.equal(typeof x.name, 'string');
      for (const k of ['ts', 'dur', 'pid', 'tid'] as const) assert.equal(typeof x[k], 'number', `${x.name}: ${k}`);
      assert.ok(x.dur! > 0, `${x.name} has a duration`);
      assert.equal(x.cat, CHROME_CATEGORY);
    }
    const first = demo[0]!;
    assert.deepEqual(xs[0], {
      name: 'TDH.SYS.INIT',
      cat: 'tdx',
      ph: 'X',
      ts: 0,
      dur: 41.1,
      pid: 1,
      tid: 1000,
      args: { seq: 1, kind: 'seamcall', lp: 0, in: first.in, out: first.out, fields: first.fields, status: first.status },
    });
  });

  it('names every process and thread it uses with M events, lanes sorted guest, module, host, userspace', () => {
    const named = new Map(of('M').filter((m) => m.name === 'process_name').map((m) => [m.pid, (m.args as { name: string }).name]));
    assert.deepEqual([...named], [
      [1, 'host VMM'],
      [2, 'TDX module'],
      [3, 'VMM userspace'],
      [100, 'TD guest 0x0000000000101000'],
    ]);
    const sort = new Map(of('M').filter((m) => m.name === 'process_sort_index').map((m) => [m.pid, (m.args as { sort_index: number }).sort_index]));
    assert.deepEqual([100, 2, 1, 3].map((p) => sort.get(p)), [0, 1000, 1001, 1002]);
    const threads = new Set(of('M').filter((m) => m.name === 'thread_name').map((m) => `${m.pid}/${m.tid}`));
    for (const e of ev) if (e.ph !== 'M') assert.ok(threads.has(`${e.pid}/${e.tid}`), `${e.ph} ${e.name} on an unnamed thread ${e.pid}/${e.tid}`);
    assert.deepEqual(of('M').filter((m) => m.name === 'thread_name' && m.pid === 100).map((m) => (m.args as { name: string }).name), ['vCPU 0']);
    // Thread ids never repeat across processes.
    const tidToPid = new Map<number, number>();
    for (const e of ev) {
      if (e.tid === undefined) continue;
      assert.equal(tidToPid.get(e.tid) ?? e.pid, e.pid, `tid ${e.tid} in two processes`);
      tidToPid.set(e.tid, e.pid);
    }
  });

  it('slices on one thread never overlap, so they nest', () => {
    const byThread = new Map<string, ChromeEvent[]>();
    for (const x of of('X')) byThread.set(`${x.pid}/${x.tid}`, [...(byThread.get(`${x.pid}/${x.tid}`) ?? []), x]);
    for (const [thread, xs] of byThread) {
      xs.sort((a, b) => a.ts! - b.ts!);
      for (let i = 1; i < xs.length; i++) assert.ok(xs[i]!.ts! >= xs[i - 1]!.ts! + xs[i - 1]!.dur! - 1e-9, `${thread}: ${xs[i - 1]!.name} overlaps ${xs[i]!.name}`);
    }
  });

  it('every flow start has exactly one finish with the same id, name and category, each bound to a slice', () => {
    const starts = of('s');
    const finishes = of('f');
    assert.ok(starts.length > 0);
    assert.equal(starts.length, finishes.length);
    const slices = of('X');
    for (const s of starts) {
      const f = finishes.filter((x) => x.id === s.id);
      assert.equal(f.length, 1, `flow ${s.id} has ${f.length} finishes`);
      assert.equal(f[0]!.name, s.name);
      assert.equal(f[0]!.cat, s.cat);
      assert.equal(f[0]!.bp, 'e', 'a finish binds to its enclosing slice');
      assert.ok(f[0]!.ts! >= s.ts!, 'arrows go forward in time');
    }
    // Binding rule (ecosystem.md §3): same cat, pid, tid and ts as a slice, written after it.
    for (const flow of [...starts, ...finishes]) {
      const i = ev.indexOf(flow);
      const slice = ev.findLastIndex((x, j) => j < i && x.ph === 'X' && x.cat === flow.cat && x.pid === flow.pid && x.tid === flow.tid && x.ts === flow.ts);
      assert.ok(slice >= 0 && slices.includes(ev[slice]!), `flow ${flow.ph} ${flow.id} is not bound to a slice`);
    }
  });

  it('a userspace TDVMCALL round trip is one arrow per step, guest → module → host → userspace → module → guest', () => {
    const io = demo.find((e) => e.name === 'TDG.VP.VMCALL<Instruction.IO>' && e.kind === 'tdcall')!;
    const chain = demo.filter((e) => e.flowOut === io.seq || e.flowIn === io.seq);
    assert.deepEqual(chain.map((e) => e.kind), ['tdcall', 'td_exit', 'tdvmcall', 'user_exit', 'user_complete', 'td_entry', 'resume']);
    const flows = ev.filter((e) => (e.ph === 's' || e.ph === 'f') && e.name === io.name);
    const hops = of('s').filter((s) => s.name === io.name).map((s) => {
      const f = flows.find((x) => x.ph === 'f' && x.id === s.id)!;
      return `${s.pid}→${f.pid}`;
    });
    assert.deepEqual(hops, ['100→2', '2→1', '1→3', '3→3', '3→2', '2→100']);
  });

  it('page changes are instants and drive a pages counter per TD, in 4K pages', () => {
    const counters = of('C');
    assert.equal(counters.length, demo.filter((e) => e.kind === 'page').length);
    for (const c of counters) assert.equal(c.pid, 100);
    // After the build: the boot page. Then the heap and a range are AUGed (pending) and accepted,
    // and a page goes shared (blocked, removed, then in the shared EPT) and back, twice.
    assert.deepEqual(counters[0]!.args, { private: 1, shared: 0, pending: 0, blocked: 0 });
    assert.deepEqual(counters[1]!.args, { private: 1, shared: 0, pending: 1, blocked: 0 });
    assert.equal(counters.filter((c) => (c.args as { shared: number }).shared === 1).length, 2);
    assert.deepEqual(counters.at(-1)!.args, { private: 7, shared: 0, pending: 0, blocked: 0 });
    const instants = of('i');
    assert.equal(instants.length, demo.filter((e) => e.kind === 'page' || e.kind === 'measure').length);
    for (const i of instants) assert.equal(i.s, 't');
  });

  it('a 2M page counts 512 4K pages', () => {
    const t = toChromeTrace([
      { seq: 1, time: 0, duration: 0, kind: 'page', party: 'module', name: 'p', td: '0x1', data: { gpa: '0x0000000000200000', from: 'FREE', to: 'PENDING', level: 1 } },
      { seq: 2, time: 5, duration: 0, kind: 'page', party: 'module', name: 'p', td: '0x1', data: { gpa: '0x0000000000200000', from: 'PENDING', to: 'MAPPED', level: 1 } },
    ]);
    assert.deepEqual(t.traceEvents.filter((e) => e.ph === 'C').map((c) => c.args), [
      { private: 0, shared: 0, pending: 512, blocked: 0 },
      { private: 512, shared: 0, pending: 0, blocked: 0 },
    ]);
  });

  it('links only crossings: chains through instants and dangling flows draw nothing broken', () => {
    const t = toChromeTrace([
      crossing(1, 0, 'guest', { flowOut: 1 }),
      { seq: 2, time: 100, duration: 0, kind: 'page', party: 'module', name: 'p', flowIn: 1, data: { gpa: '0x0000000000000000', from: 'FREE', to: 'MAPPED' } },
      crossing(3, 100, 'module', { flowIn: 1 }),
      crossing(4, 200, 'host', { flowIn: 99 }),
    ]);
    const flows = t.traceEvents.filter((e) => e.ph === 's' || e.ph === 'f');
    assert.deepEqual(flows.map((f) => [f.ph, f.id, f.pid]), [
      ['s', 1, 100],
      ['f', 1, 2],
    ]);
  });

  it('formats as JSON that parses back to the same object, with the source in otherData', () => {
    const text = formatChromeTrace(trace);
    const parsed = JSON.parse(text) as ChromeTrace;
    assert.deepEqual(parsed, JSON.parse(JSON.stringify(trace)));
    assert.deepEqual(parsed.otherData, { generator: 'tdxsim', clock: 'simulated (virtual clock, src/trace/costs.ts)', source: 'demo' });
    assert.equal('displayTimeUnit' in parsed, false, 'Perfetto would read ns as the unit of ts');
  });
});
