/**
 * Where trace events go. Every emitter checks `tracer.enabled` before building an event, so with
 * tracing off a crossing pays one property read.
 */
import { SimClock } from './clock.ts';
import type { TraceEvent } from './events.ts';

export interface Tracer {
  readonly enabled: boolean;
  /** Allocate the next sequence number (also used as a flow id). */
  nextSeq(): number;
  emit(event: TraceEvent): void;
  /**
   * The run's virtual clock. The trace helpers (record.ts) read it for each event's start and
   * advance it by the crossing's modelled cost, only while tracing is on.
   */
  readonly clock: SimClock;
}

/** Tracing off. */
export const NULL_TRACER: Tracer = Object.freeze({
  enabled: false,
  nextSeq: () => 0,
  emit: () => {},
  clock: new SimClock(),
});

/** Collects events in memory (tests, the CLI's --trace, the viewer). */
export class RecordingTracer implements Tracer {
  readonly enabled = true;
  readonly events: TraceEvent[] = [];
  readonly clock = new SimClock();
  private seq = 0;

  nextSeq(): number {
    return ++this.seq;
  }

  emit(event: TraceEvent): void {
    this.events.push(event);
  }
}
