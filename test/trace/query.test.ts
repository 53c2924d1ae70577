import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildDemoTrace } from '../../scripts/make-fixture-trace.ts';
import type { TraceParty } from '../../src/trace/events.ts';
import { chainOf, filterEvents, formatTime, outcome, SHOW_ALL, vcpusOf, type TraceFilter } from '../../src/trace/query.ts';

const demo = buildDemoTrace();
const names = (f: Partial<TraceFilter>): string[] => filterEvents(demo, { ...SHOW_ALL, ...f }).map((i) => `${demo[i]!.kind}:${demo[i]!.name}`);

describe('trace queries', () => {
  it('outcome reads both statuses: a VMM refusal is an error though RAX is success', () => {
    const refused = demo.find((e) => e.kind === 'resume' && e.vmmStatus?.name === 'TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED')!;
    assert.equal(refused.status?.error, false);
    assert.equal(outcome(refused), 'error');
    assert.equal(outcome(demo.find((e) => e.status?.name === 'TDX_PAGE_ALREADY_ACCEPTED')!), 'warning');
    assert.equal(outcome(demo[0]!), 'ok');
    assert.equal(outcome(demo.find((e) => e.kind === 'page')!), 'none');
  });

  it('filters by outcome', () => {
    assert.deepEqual(names({ outcome: 'error' }), [
      'tdvmcall:MapGPA',
      'resume:TDG.VP.VMCALL<MapGPA>',
      'tdvmcall:sub-function 0x00000000000100FF',
      'resume:TDG.VP.VMCALL<sub-function 0x00000000000100FF>',
      'seamcall:TDH.PHYMEM.CACHE.WB',
      'seamcall:TDH.PHYMEM.CACHE.WB',
      'seamcall:TDH.MEM.PAGE.ADD',
    ]);
    assert.deepEqual(names({ outcome: 'warning' }), ['tdcall:TDG.MEM.PAGE.ACCEPT']);
    assert.equal(names({ outcome: 'ok' }).length, demo.length - 8);
  });

  it('filters by name or sub-function, case-insensitively, and by vCPU and party', () => {
    // Two conversions to shared and back (the page, then GetQuote's buffer) and one refused call.
    assert.deepEqual(names({ text: 'mapgpa', parties: new Set<TraceParty>(['host']) }), Array(5).fill('tdvmcall:MapGPA'));
    assert.deepEqual(names({ text: 'instruction.io' }), [
      'tdcall:TDG.VP.VMCALL<Instruction.IO>',
      'td_exit:TD exit: TDCALL',
      'tdvmcall:Instruction.IO',
      'resume:TDG.VP.VMCALL<Instruction.IO>',
    ]);
    assert.deepEqual(names({ text: 'hlt', vcpu: 0 }), [
      'tdcall:TDG.VP.VMCALL<Instruction.HLT>',
      'td_exit:TD exit: TDCALL',
      'tdvmcall:Instruction.HLT',
      'user_exit:KVM_EXIT_HLT',
    ]);
    assert.deepEqual(names({ text: 'hlt', vcpu: 1 }), []);
    assert.deepEqual(names({ parties: new Set() }), []);
    assert.deepEqual(vcpusOf(demo), [0]);
  });

  it('chainOf gives the whole round trip from any of its events', () => {
    const exit = demo.find((e) => e.kind === 'td_exit' && e.fields?.['out.subfunction'] === 'Instruction.IO')!;
    assert.deepEqual(chainOf(demo, exit).map((e) => e.kind), ['tdcall', 'td_exit', 'tdvmcall', 'user_exit', 'user_complete', 'td_entry', 'resume']);
    assert.deepEqual(chainOf(demo, demo[0]!), []);
  });

  it('formatTime picks a unit', () => {
    assert.deepEqual([830, 41_100, 2_387_600, 3_000_000_000].map(formatTime), ['830 ns', '41.1 µs', '2.3876 ms', '3 s']);
  });
});
