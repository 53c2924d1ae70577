/**
 * The trace's virtual clock: simulated nanoseconds since the run began.
 *
 * The simulator has no wall clock (runs must be deterministic and replayable), so trace events
 * are stamped with a clock that the emit points advance by the modelled cost of each crossing
 * (src/trace/costs.ts). Two runs of the same scenario give byte-identical traces, and Perfetto
 * still shows durations of the right order of magnitude.
 */
export class SimClock {
  private ns = 0;

  /** Current simulated time in nanoseconds. */
  get now(): number {
    return this.ns;
  }

  /**
   * Spend `cost` nanoseconds: returns the start of the span and moves the clock to its end.
   * Costs come from the cost table, so a bad one is a simulator bug, not simulation input.
   */
  advance(cost: number): number {
    if (!Number.isSafeInteger(cost) || cost < 0) throw new RangeError(`trace cost ${cost} ns is not a non-negative integer`);
    const start = this.ns;
    this.ns += cost;
    return start;
  }
}
