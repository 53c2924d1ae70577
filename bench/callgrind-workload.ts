/**
 * The workload the instruction-count benchmark runs under callgrind (callgrind.ts bundles it to
 * plain JavaScript first: the count must not include a TypeScript loader).
 *
 *   node workload.mjs <round trips>
 *
 * Boots the TDVMCALL benchmark's TD, warms the JIT up with a fixed number of round trips, then
 * runs the requested number. Everything but the last batch is the same in every run, so the
 * difference between two runs' instruction counts is the cost of the extra round trips alone.
 */
import { cpuidBatch, cpuidTd } from './tdvmcall.ts';

const WARMUP_ROUND_TRIPS = 20_000;

const n = Number(process.argv[2]);
if (!Number.isInteger(n) || n < 1) throw new Error('usage: workload <round trips>');
const td = cpuidTd('stub');
cpuidBatch(td, WARMUP_ROUND_TRIPS);
cpuidBatch(td, n);
