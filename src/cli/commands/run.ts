/**
 * `tdxsim run [scenario.json] [--json] [--schema] [--trace FILE [--format jsonl|chrome]]`: boot the TD a scenario describes on a fresh
 * simulated machine and tell what happened — each phase, MRTD and the RTMRs, the exits by kind,
 * how each vCPU ended, whether every page came back — or print it all as JSON.
 *
 * Exit status: 0 when the run completed (whatever the guest did), 1 when the host stopped it
 * (a HostError) or pages leaked, 2 for a bad scenario (every problem is listed with its JSON path).
 * This is the CLI wiring: it builds the platform, loads the TDX module and registers the guest
 * programs, then hands over to the host's scenario runner.
 */
import type { Command } from 'commander';
import { Platform } from '../../platform/platform.ts';
import { TdxModule } from '../../module/module.ts';
import { DEFAULT_MODULE_IDENTITY } from '../../module/identity.ts';
import { GUEST_PROGRAMS, registerGuestPrograms } from '../../guest/programs/index.ts';
import { loadScenario, parseScenario, scenarioJsonSchema, ScenarioError, type Scenario, type ProgramCatalogue } from '../../host/scenario.ts';
import { formatStory, runScenario, type ScenarioRun } from '../../host/scenario-run.ts';
import { UsageError } from '../errors.ts';
import { toJson } from './decode.ts';
import { addTraceOptions, finishTrace, openTraceSink, type TraceOptions } from '../../trace/cli-option.ts';

/** The guest programs a scenario may name, with their argument schemas. */
export const CATALOGUE: ProgramCatalogue = { programs: GUEST_PROGRAMS };

/** A simulated machine for a scenario: platform, loaded TDX module, built-in guest programs. */
export function scenarioPlatform(s: Scenario): Platform {
  const platform = new Platform({ packages: s.platform.packages, lpsPerPackage: s.platform.lpsPerPackage, memorySize: s.platform.memory });
  platform.loadModule(new TdxModule(platform, DEFAULT_MODULE_IDENTITY));
  registerGuestPrograms(platform.firmware);
  return platform;
}

/** Validate raw JSON as a scenario, turning a ScenarioError into a UsageError (exit 2). */
export function scenarioFromJson(json: unknown, source: string, baseDir = process.cwd()): Scenario {
  try {
    return parseScenario(json, CATALOGUE, baseDir, source);
  } catch (e) {
    if (e instanceof ScenarioError) throw new UsageError(e.message);
    throw e;
  }
}

/**
 * Run a scenario and print the story (or JSON); returns the exit status. With `--trace`, every
 * crossing of the run is recorded to the trace file (its note goes to stderr, so `--json` output
 * stays a single document).
 */
export function executeScenario(s: Scenario, json: boolean, trace: TraceOptions = {}): number {
  const sink = openTraceSink(trace, s.name);
  const platform = scenarioPlatform(s);
  if (sink) platform.tracer = sink.tracer;
  let run: ScenarioRun;
  try {
    run = runScenario(s, platform);
  } finally {
    const note = finishTrace(sink);
    if (note) process.stderr.write(`trace: ${note}\n`);
  }
  process.stdout.write(json ? toJson(run) + '\n' : formatStory(run));
  return run.error !== undefined || (run.teardown?.leaked ?? 0) > 0 ? 1 : 0;
}

interface RunOptions extends TraceOptions {
  json?: boolean;
  schema?: boolean;
}

export function registerRunCommand(program: Command): void {
  const cmd = program
    .command('run')
    .description('Boot a TD described by a scenario file and tell what happened')
    .argument('[scenario]', 'scenario JSON file (see --schema)')
    .option('--json', 'print the result as JSON (64-bit values as 0x hex strings)')
    .option('--schema', 'print the JSON Schema of scenario files and exit');
  addTraceOptions(cmd).action((file: string | undefined, opts: RunOptions) => {
      if (opts.schema) {
        process.stdout.write(JSON.stringify(scenarioJsonSchema(), null, 2) + '\n');
        return;
      }
      if (file === undefined) throw new UsageError('run: give a scenario file (tdxsim run scenario.json), or --schema for its format');
      let s: Scenario;
      try {
        s = loadScenario(file, CATALOGUE);
      } catch (e) {
        if (e instanceof ScenarioError) throw new UsageError(e.message);
        throw e;
      }
      process.exitCode = executeScenario(s, opts.json === true, opts);
    });
}
