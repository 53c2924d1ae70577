/**
 * Questions the viewer asks of a trace: how an event turned out, and which events a set of
 * filters keeps. Pure functions over TraceEvents, so they are tested in Node and run in the
 * browser unchanged.
 */
import type { TraceEvent, TraceParty } from './events.ts';

/** How a crossing ended: an error or warning in either status, ok, or no status at all. */
export type Outcome = 'error' | 'warning' | 'ok' | 'none';

/** A TDG.VP.VMCALL can fail in the module (status) or in the VMM (vmmStatus); either counts. */
export function outcome(e: TraceEvent): Outcome {
  if (e.status?.error || e.vmmStatus?.error) return 'error';
  if (e.status?.warning || e.vmmStatus?.warning) return 'warning';
  return e.status || e.vmmStatus ? 'ok' : 'none';
}

export interface TraceFilter {
  /** Parties shown (all four when empty is not meant: an empty set shows nothing). */
  readonly parties: ReadonlySet<TraceParty>;
  /** Case-insensitive text found in the name (leaf, sub-function, exit) or the sub-function field. */
  readonly text: string;
  /** `ok` keeps events that did not fail or warn, including those without a status. */
  readonly outcome: 'all' | 'ok' | 'warning' | 'error';
  readonly vcpu: 'all' | number;
}

export const SHOW_ALL: TraceFilter = Object.freeze({
  parties: new Set<TraceParty>(['guest', 'module', 'host', 'userspace']),
  text: '',
  outcome: 'all',
  vcpu: 'all',
});

export function matches(e: TraceEvent, f: TraceFilter): boolean {
  if (!f.parties.has(e.party)) return false;
  if (f.vcpu !== 'all' && e.vcpu !== f.vcpu) return false;
  if (f.outcome !== 'all') {
    const o = outcome(e);
    if (f.outcome === 'ok' ? o === 'error' || o === 'warning' : o !== f.outcome) return false;
  }
  if (f.text !== '') {
    const needle = f.text.toLowerCase();
    const sub = e.fields?.['in.subfunction'] ?? e.fields?.['out.subfunction'] ?? '';
    if (!e.name.toLowerCase().includes(needle) && !sub.toLowerCase().includes(needle)) return false;
  }
  return true;
}

/** Indexes of the events the filter keeps, in order. */
export function filterEvents(events: readonly TraceEvent[], f: TraceFilter): number[] {
  const out: number[] = [];
  for (let i = 0; i < events.length; i++) if (matches(events[i]!, f)) out.push(i);
  return out;
}

/** The vCPU indexes that occur, ascending. */
export function vcpusOf(events: readonly TraceEvent[]): number[] {
  const s = new Set<number>();
  for (const e of events) if (e.vcpu !== undefined) s.add(e.vcpu);
  return [...s].sort((a, b) => a - b);
}

/** The other events of an event's flow chain, in order (empty when it is in none). */
export function chainOf(events: readonly TraceEvent[], e: TraceEvent): TraceEvent[] {
  const id = e.flowOut ?? e.flowIn;
  if (id === undefined) return [];
  return events.filter((x) => x.flowOut === id || x.flowIn === id);
}

/** Simulated time for people: `41.1 µs`, `2.387 ms`, `830 ns`. */
export function formatTime(ns: number): string {
  if (ns < 1_000) return `${ns} ns`;
  if (ns < 1_000_000) return `${trim(ns / 1_000)} µs`;
  if (ns < 1_000_000_000) return `${trim(ns / 1_000_000)} ms`;
  return `${trim(ns / 1_000_000_000)} s`;
}

function trim(x: number): string {
  return Number(x.toPrecision(6)).toString();
}
