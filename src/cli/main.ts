/**
 * The `tdxsim` command line. Each subcommand lives in `commands/<name>.ts` and registers itself on
 * the program; this file only assembles them and maps user errors to a message and exit code 2.
 */
import { Command, CommanderError } from 'commander';
import { pathToFileURL } from 'node:url';
import { UsageError } from './errors.ts';
import { registerDecodeCommand } from './commands/decode.ts';
import { registerQuoteCommand } from './commands/quote.ts';
import { registerReportCommand } from './commands/report.ts';
import { registerAbiCommand } from './commands/abi.ts';
import { registerRunCommand } from './commands/run.ts';
import { registerDemoCommand } from './commands/demo.ts';
import { registerViewCommand } from './commands/view.ts';
import { registerFuzzCommand } from './commands/fuzz.ts';
import { registerServeCommand } from './commands/serve.ts';
import { registerConformanceCommand } from './commands/conformance.ts';

export function buildProgram(): Command {
  const program = new Command('tdxsim')
    .description('A register-accurate simulator of Intel TDX: module, host VMM and TD guest.')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  // Subcommands register here, one line each.
  registerDecodeCommand(program);
  registerQuoteCommand(program);
  registerReportCommand(program);
  registerAbiCommand(program);
  registerRunCommand(program);
  registerDemoCommand(program);
  registerViewCommand(program);
  registerFuzzCommand(program);
  registerServeCommand(program);
  registerConformanceCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its message; help and version are not errors.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (err instanceof UsageError) {
      console.error(`tdxsim: ${err.message}`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv).catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  });
}
