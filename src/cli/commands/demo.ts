/**
 * `tdxsim demo [--json] [--trace FILE [--format jsonl|chrome]]`: the built-in demo scenario — one TD running the `demo` guest program
 * (early init, accept memory, share a page and back, extend RTMR2, TDREPORT, GetQuote, halt) on a
 * 2-package, 4-LP machine — with the same story `tdxsim run` tells.
 */
import type { Command } from 'commander';
import { addAttestationOptions, executeScenario, scenarioFromJson, type AttestationOutputs } from './run.ts';
import { addTraceOptions, type TraceOptions } from '../trace-options.ts';

/** The demo scenario, in the scenario-file format. */
export const DEMO_SCENARIO = Object.freeze({
  name: 'demo',
  description: 'One TD running the demo guest program: memory acceptance, conversion, RTMR, report and quote',
  platform: { packages: 2, lpsPerPackage: 2, memory: '4G' },
  td: { attributes: ['SEPT_VE_DISABLE'], vcpus: 1, memory: '64M', gpaw: 48 },
  guest: { program: 'demo', args: {} },
  userspace: { quote: 'dcap', eventNotify: true },
});

export function registerDemoCommand(program: Command): void {
  const cmd = program
    .command('demo')
    .description('Run the built-in demo TD and tell what happened')
    .option('--json', 'print the result as JSON');
  addAttestationOptions(addTraceOptions(cmd)).action(async (opts: TraceOptions & AttestationOutputs & { json?: boolean }) => {
    process.exitCode = await executeScenario(scenarioFromJson(DEMO_SCENARIO, 'built-in demo scenario'), opts.json === true, opts);
  });
}
