/**
 * The machine's load while a benchmark runs: wall-clock figures are only comparable between runs
 * made under similar load, so the suite prints the load average before and after.
 */
import { availableParallelism, loadavg } from 'node:os';

/** `load 1.23 / 2 CPUs` (1-minute load average over available CPUs). */
export function loadNote(): string {
  return `load average ${loadavg()[0]!.toFixed(2)} on ${availableParallelism()} CPUs`;
}
