/**
 * `npm run bench` — the performance suite (docs/benchmarks.md says how to read it).
 *
 *   npm run bench                      every benchmark, a table for people
 *   npm run bench -- --json            the same as JSON
 *   npm run bench -- --callgrind       also the instruction-count benchmark (slow: valgrind)
 *   npm run bench -- --only a,b        just the named benchmarks
 *   npm run bench -- --list            what there is
 *   npm run bench -- --tiny            every benchmark on tiny sizes (checks the harness; the
 *                                      figures mean nothing)
 *
 * Exit status: 0 when every measured target is met, 1 when one falls short, 2 on a harness error.
 * Progress goes to stderr so the JSON on stdout stays machine-readable.
 */
import { BENCHMARKS } from './suite.ts';
import { formatJson, formatTable } from './report.ts';
import type { BenchContext, BenchResult } from './harness.ts';
import { loadNote } from './load.ts';

interface Args {
  readonly json: boolean;
  readonly tiny: boolean;
  readonly callgrind: boolean;
  readonly only: readonly string[] | undefined;
  readonly list: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  let json = false;
  let tiny = false;
  let callgrind = false;
  let list = false;
  let only: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') json = true;
    else if (a === '--tiny') tiny = true;
    else if (a === '--callgrind') callgrind = true;
    else if (a === '--list') list = true;
    else if (a === '--only') only = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (a.startsWith('--only=')) only = a.slice('--only='.length).split(',').filter(Boolean);
    else throw new Error(`unknown argument ${a} (try --json, --callgrind, --only a,b, --tiny, --list)`);
  }
  return { json, tiny, callgrind, only, list };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.list) {
    for (const b of BENCHMARKS) console.log(`${b.name.padEnd(24)} ${b.onDemand ? '(--callgrind) ' : ''}${b.summary}`);
    return 0;
  }
  const unknown = (args.only ?? []).filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0) throw new Error(`no benchmark named ${unknown.join(', ')} (see --list)`);
  const selected = BENCHMARKS.filter((b) => (args.only ? args.only.includes(b.name) : !b.onDemand || args.callgrind));
  const ctx: BenchContext = { scale: args.tiny ? 'tiny' : 'full', log: (line) => process.stderr.write(`${line}\n`) };
  const results: BenchResult[] = [];
  ctx.log(`load before: ${loadNote()}`);
  for (const b of selected) {
    ctx.log(`running ${b.name}: ${b.summary}`);
    results.push(...(await b.run(ctx)));
  }
  ctx.log(`load after: ${loadNote()}`);
  console.log(args.json ? formatJson(results) : formatTable(results));
  return results.some((r) => r.pass === false) ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 2;
  },
);
