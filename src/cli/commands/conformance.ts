/**
 * `tdxsim conformance [--area A] [--case C] [--json] [--host file] [--guest file]`: run the
 * conformance suite (src/conformance) against the built-in host and guest, or against a user's
 * exit handlers or guest library loaded from an ES module.
 *
 * Output: a results table (area, case, pass/fail, what differed — expected vs actual register or
 * field, decoded) and a summary, or with --json `{ passed, failed, cases: [{ area, name, pass,
 * detail }] }`. A progress line is shown on stderr only when it is a terminal and CI is not set.
 * Exit status: 0 when every selected case passes, 1 when one fails, 2 for a usage error (an
 * unknown area or case — the message lists the valid ones — or a party module that cannot be
 * loaded).
 */
import type { Command } from 'commander';
import { ALL_CASES } from '../../conformance/suite.ts';
import { AREAS } from '../../conformance/case.ts';
import { runCases, selectCases, SelectionError } from '../../conformance/runner.ts';
import { setSuiteTracer } from '../../conformance/machine.ts';
import { addTraceOptions, finishTrace, openTraceSink, type TraceOptions } from '../trace-options.ts';
import { builtinGuest, builtinHost } from '../../conformance/builtin.ts';
import { loadGuest, loadHost, PartyLoadError } from '../../conformance/load-party.ts';
import { formatResults, Progress, suiteJson } from '../../conformance/report.ts';
import type { ConformanceGuest, ConformanceHost } from '../../conformance/interfaces.ts';
import { UsageError } from '../errors.ts';

export interface ConformanceOutput {
  readonly write: (text: string) => void;
  /** Where the progress line goes (stderr). */
  readonly progress: { write(text: string): unknown };
  /** Colour and progress: a terminal outside CI. */
  readonly tty: boolean;
  readonly width?: number;
}

const defaultOutput = (): ConformanceOutput => ({
  write: (t) => void process.stdout.write(t),
  progress: process.stderr,
  tty: Boolean(process.stderr.isTTY) && process.env.CI !== 'true',
  ...(process.stdout.columns !== undefined && { width: process.stdout.columns }),
});

interface Options {
  area: string[];
  case: string[];
  json?: boolean;
  host?: string;
  guest?: string;
  failures?: boolean;
}

/** Collect a repeatable option; each value may also be a comma-separated list. */
const collect = (value: string, previous: string[]): string[] => [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];

async function party<T>(file: string | undefined, load: (f: string) => Promise<T>, builtin: T): Promise<T> {
  if (file === undefined) return builtin;
  try {
    return await load(file);
  } catch (e) {
    if (e instanceof PartyLoadError) throw new UsageError(`conformance: ${e.message}`);
    throw e;
  }
}

export function registerConformanceCommand(program: Command, output: ConformanceOutput = defaultOutput()): void {
  const cmd = program
    .command('conformance')
    .description('Run the conformance suite against the built-in host and guest, or your own')
    .option('--area <area>', `only cases of this area (repeatable; ${AREAS.map((a) => a.id).join(', ')})`, collect, [])
    .option('--case <name>', 'only the case with this name (repeatable)', collect, [])
    .option('--json', 'print { passed, failed, cases: [{ area, name, pass, detail }] } instead of the table')
    .option('--host <module>', 'ES module exporting TDVMCALL exit handlers (ConformanceHost) to test instead of the built-in host')
    .option('--guest <module>', 'ES module exporting a guest library (ConformanceGuest) to test instead of the built-in guest')
    .option('--failures', 'list only the failing cases in the table');
  addTraceOptions(cmd).action(async (opts: Options & TraceOptions) => {
      let cases;
      try {
        cases = selectCases(ALL_CASES, { areas: opts.area, cases: opts.case });
      } catch (e) {
        if (e instanceof SelectionError) throw new UsageError(`conformance: ${e.message}`);
        throw e;
      }
      const host: ConformanceHost = await party(opts.host, loadHost, builtinHost);
      const guest: ConformanceGuest = await party(opts.guest, loadGuest, builtinGuest);
      const progress = new Progress(output.progress, output.tty && !opts.json);
      const sink = openTraceSink(opts, 'conformance suite');
      setSuiteTracer(sink?.tracer);
      let result;
      try {
        result = runCases(cases, { host, guest }, (r, done, total) => progress.update(r, done, total));
      } finally {
        setSuiteTracer(undefined);
        const note = finishTrace(sink);
        if (note) process.stderr.write(`trace: ${note}\n`);
      }
      progress.done();
      if (opts.json) output.write(JSON.stringify(suiteJson(result), null, 2) + '\n');
      else output.write(formatResults(result, { host: host.name, guest: guest.name }, { color: output.tty, all: !opts.failures, ...(output.width !== undefined && { width: output.width }) }));
      process.exitCode = result.failed > 0 ? 1 : 0;
    });
}
