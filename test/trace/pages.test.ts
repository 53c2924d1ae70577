import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TraceEvent } from '../../src/trace/events.ts';
import { isTracePageState, pageCategory, TRACE_PAGE_STATES } from '../../src/trace/page-states.ts';
import { pageChange, PageTally, pageStatesAt, pageTimelines } from '../../src/trace/pages.ts';

const page = (seq: number, time: number, gpa: string, from: string, to: string, td = '0xA', level?: number): TraceEvent => ({
  seq,
  time,
  duration: 0,
  kind: 'page',
  party: 'module',
  name: `${from} → ${to}`,
  td,
  data: { gpa, from, to, ...(level !== undefined && { level }) },
});

describe('page states', () => {
  it('every Secure-EPT state and SHARED has a category', () => {
    assert.equal(TRACE_PAGE_STATES.length, 17);
    assert.deepEqual(
      TRACE_PAGE_STATES.map((s) => [s, pageCategory(s)]).filter(([, c]) => c !== 'blocked'),
      [
        ['FREE', 'none'],
        ['PENDING', 'pending'],
        ['MAPPED', 'private'],
        ['REMOVED', 'none'],
        ['EXPORTED_DIRTY', 'private'],
        ['PENDING_EXPORTED_DIRTY', 'pending'],
        ['NL_MAPPED', 'none'],
        ['SHARED', 'shared'],
      ],
    );
    assert.equal(isTracePageState('PENDING_BLOCKED'), true);
    assert.equal(isTracePageState('toString'), false);
  });
});

describe('PageTally', () => {
  it('moves pages between categories in 4K units', () => {
    const t = new PageTally();
    t.apply('0x1000', 'PENDING', 1);
    t.apply('0x200000', 'PENDING', 512);
    t.apply('0x1000', 'MAPPED', 1);
    t.apply('0x200000', 'PENDING_BLOCKED', 512);
    assert.deepEqual(t.counts, { private: 1, shared: 0, pending: 0, blocked: 512 });
    t.apply('0x200000', 'FREE', 512);
    t.apply('0x200000', 'SHARED', 512);
    assert.deepEqual(t.counts, { private: 1, shared: 512, pending: 0, blocked: 0 });
  });
});

describe('page timelines', () => {
  const events: TraceEvent[] = [
    { seq: 1, time: 0, duration: 10, kind: 'seamcall', party: 'host', name: 'TDH.MEM.PAGE.AUG' },
    page(2, 10, '0x0000000000003000', 'FREE', 'PENDING'),
    page(3, 20, '0x0000000000001000', 'FREE', 'MAPPED'),
    page(4, 20, '0x0000000000010000', 'FREE', 'MAPPED', '0xB', 1),
    page(5, 30, '0x0000000000003000', 'PENDING', 'MAPPED'),
  ];

  it('one per TD, GPAs ascending, changes in time order', () => {
    const [a, b] = pageTimelines(events) as [ReturnType<typeof pageTimelines>[number], ReturnType<typeof pageTimelines>[number]];
    assert.equal(a.td, '0xA');
    assert.deepEqual(a.gpas, ['0x0000000000001000', '0x0000000000003000']);
    assert.deepEqual(a.sizes, [1, 1]);
    assert.deepEqual(a.changes, [
      { time: 10, seq: 2, index: 1, to: 'PENDING' },
      { time: 20, seq: 3, index: 0, to: 'MAPPED' },
      { time: 30, seq: 5, index: 1, to: 'MAPPED' },
    ]);
    assert.deepEqual(b, { td: '0xB', gpas: ['0x0000000000010000'], sizes: [512], changes: [{ time: 20, seq: 4, index: 0, to: 'MAPPED' }] });
  });

  it('states at a time replay every change up to it', () => {
    const [a] = pageTimelines(events);
    assert.deepEqual(pageStatesAt(a!, 5), [undefined, undefined]);
    assert.deepEqual(pageStatesAt(a!, 10), [undefined, 'PENDING']);
    assert.deepEqual(pageStatesAt(a!, 25), ['MAPPED', 'PENDING']);
    assert.deepEqual(pageStatesAt(a!, 1e9), ['MAPPED', 'MAPPED']);
  });

  it('pageChange reads only page events', () => {
    assert.equal(pageChange(events[0]!), undefined);
    assert.deepEqual(pageChange(events[3]!), { gpa: '0x0000000000010000', from: 'FREE', to: 'MAPPED', pages: 512 });
  });
});
