/**
 * `tdxsim run [scenario.json] [--json] [--schema] [--trace FILE [--format jsonl|chrome]]
 *  [--quote-out FILE] [--collateral-out DIR]`: boot the TD a scenario describes on a fresh
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
import { createQuotingInfrastructure, type QuotingInfrastructure } from '../../attestation/infrastructure.ts';
import type { QuoteVerification } from '../../attestation/verify.ts';
import { writeFile } from 'node:fs/promises';
import { UsageError } from '../errors.ts';
import { toJson } from './decode.ts';
import { addTraceOptions, finishTrace, openTraceSink, type TraceOptions } from '../trace-options.ts';

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

/** Where to save what a relying party needs: the quote, and the collateral with the root CA. */
export interface AttestationOutputs {
  quoteOut?: string;
  collateralOut?: string;
}

/** A run with its quote checked the way a relying party would. */
export interface AttestedRun {
  readonly run: ScenarioRun;
  /** The verifier's verdict on the run's quote (DCAP scenarios that produced one). */
  readonly verification?: QuoteVerification;
  readonly infrastructure?: QuotingInfrastructure;
}

/**
 * Run a scenario; for a `dcap` scenario, behind GetQuote stands the simulated quoting
 * infrastructure (src/attestation), keyed to this platform's report key, and the quote the guest
 * received is verified against its root CA and collateral. The verdict becomes the story's
 * `attestation` phase.
 */
export async function runScenarioAttested(s: Scenario, platform: Platform): Promise<AttestedRun> {
  const infrastructure = s.userspace.quote === 'dcap' ? await createQuotingInfrastructure({ reportKey: platform.reportKey }) : undefined;
  const run = runScenario(s, platform, infrastructure ? { quoteService: infrastructure.quotingService } : {});
  if (!infrastructure || !run.quote) return { run, ...(infrastructure && { infrastructure }) };
  const verification = await infrastructure.verify(run.quote);
  const q = verification.quote;
  run.phases.push({
    phase: 'attestation',
    lines: [
      `quote: DCAP v${q?.header.version ?? '?'} from the tdxsim SIMULATED quoting enclave (not Intel's), signed under the simulated root CA`,
      verification.summary,
    ],
  });
  return { run, verification, infrastructure };
}

/**
 * Run a scenario and print the story (or JSON); returns the exit status. With `--trace`, every
 * crossing of the run is recorded to the trace file (its note goes to stderr, so `--json` output
 * stays a single document). `--quote-out` / `--collateral-out` save the quote and the collateral
 * (with the root CA) so any verifier can check it.
 */
export async function executeScenario(s: Scenario, json: boolean, options: TraceOptions & AttestationOutputs = {}): Promise<number> {
  if ((options.quoteOut || options.collateralOut) && s.userspace.quote !== 'dcap') {
    throw new UsageError(`--quote-out and --collateral-out need DCAP quotes: the scenario's userspace.quote is "${s.userspace.quote}"`);
  }
  const sink = openTraceSink(options, s.name);
  const platform = scenarioPlatform(s);
  if (sink) platform.tracer = sink.tracer;
  let attested: AttestedRun;
  try {
    attested = await runScenarioAttested(s, platform);
  } finally {
    const note = finishTrace(sink);
    if (note) process.stderr.write(`trace: ${note}\n`);
  }
  const { run, verification, infrastructure } = attested;
  if (options.quoteOut) {
    if (!run.quote) throw new UsageError(`--quote-out ${options.quoteOut}: the guest never asked for a quote`);
    await writeFile(options.quoteOut, run.quote);
  }
  if (options.collateralOut && infrastructure) await infrastructure.writeCollateral(options.collateralOut);
  const attestation = verification && { verified: verification.verified, summary: verification.summary, tcbStatus: verification.tcbStatus };
  process.stdout.write(json ? toJson({ ...run, quote: undefined, ...(attestation && { attestation }) }) + '\n' : formatStory(run));
  const failed = run.error !== undefined || (run.teardown?.leaked ?? 0) > 0 || (verification !== undefined && !verification.verified);
  return failed ? 1 : 0;
}

/** The options `run` and `demo` share for saving attestation evidence. */
export function addAttestationOptions(cmd: Command): Command {
  return cmd
    .option('--quote-out <file>', 'save the quote the guest received (binary)')
    .option('--collateral-out <dir>', 'save the collateral and the simulated root CA that verify it');
}

interface RunOptions extends TraceOptions, AttestationOutputs {
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
  addAttestationOptions(addTraceOptions(cmd)).action(async (file: string | undefined, opts: RunOptions) => {
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
      process.exitCode = await executeScenario(s, opts.json === true, opts);
    });
}
