/**
 * `tdxsim serve [--socket PATH | --port N] [--td scenario.json] [--tick-ms N]`: run the wire
 * server, so that host VMMs and TD guests written in any language can take part in simulations
 * (docs/wire-protocol.md; clients/c/tdxsim.h is a C client).
 *
 * By default the server listens on a Unix socket private to the user ($XDG_RUNTIME_DIR/tdxsim.sock,
 * or a 0700 directory under the temporary directory); --port listens on 127.0.0.1 instead. With
 * --td the server also builds the scenario's TD with the built-in host — the scenario's guest
 * program must be "wire" — and prints the token a guest client attaches with; the TD's serial
 * output and how its vCPUs ended are printed as they happen. SIGINT or SIGTERM shut the server
 * down cleanly (clients are told, the socket file is removed) and the command exits 0.
 */
import type { Command } from 'commander';
import { loadScenario, ScenarioError, type Scenario } from '../../host/scenario.ts';
import { HostError } from '../../host/errors.ts';
import { WireServer, WireServerError } from '../../wire/server.ts';
import { BuiltinTd, SERVE_CATALOGUE, type BuiltinTdReport } from '../../wire/builtin-td.ts';
import { WIRE_PROGRAM_PREFIX } from '../../abi/wire.ts';
import { UsageError } from '../errors.ts';

interface ServeOptions {
  socket?: string;
  port?: string;
  td?: string;
  tickMs?: string;
}

/** A non-negative integer option, or a UsageError naming it. */
function intOption(value: string | undefined, name: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) > max) throw new UsageError(`serve: ${name} must be an integer from 0 to ${max}, got "${value}"`);
  return Number(value);
}

function describe(report: BuiltinTdReport): string {
  const lines = report.vcpus.map((v) => `served TD: vCPU ${v.index} stopped: ${v.stop}${v.error ? ` (${v.error})` : ''}`);
  if (report.fatal) lines.push(`served TD: fatal error from vCPU ${report.fatal.vcpu}: "${report.fatal.message}" (code ${report.fatal.errorCode})`);
  if (report.teardown) lines.push(`served TD: torn down, ${report.teardown.reclaimed} pages reclaimed, ${report.teardown.leaked} leaked`);
  return lines.join('\n');
}

/** Start serving; resolves when a signal has shut the server down. */
export async function serve(opts: ServeOptions, out: (line: string) => void = (l) => process.stdout.write(l + '\n')): Promise<void> {
  if (opts.socket !== undefined && opts.port !== undefined) throw new UsageError('serve: give --socket or --port, not both');
  const port = intOption(opts.port, '--port', 65535);
  const tick = intOption(opts.tickMs, '--tick-ms', 3_600_000);
  let scenario: Scenario | undefined;
  if (opts.td !== undefined) {
    try {
      scenario = loadScenario(opts.td, SERVE_CATALOGUE);
    } catch (e) {
      if (e instanceof ScenarioError) throw new UsageError(e.message);
      throw e;
    }
  }
  let server: WireServer;
  try {
    server = await WireServer.listen({
      ...(opts.socket !== undefined && { socketPath: opts.socket }),
      ...(port !== undefined && { port }),
      ...(tick !== undefined && { guestWaitTickMs: tick }),
    });
  } catch (e) {
    if (e instanceof WireServerError) throw new UsageError(`serve: ${e.message}`);
    throw e;
  }
  const where = 'path' in server.address ? server.address.path : `${server.address.host}:${server.address.port}`;
  out(`tdxsim serve: listening on ${where} (wire protocol 1.0)`);
  if (scenario) {
    let td: BuiltinTd;
    try {
      td = BuiltinTd.create(server, scenario, { onSerialLine: (l) => out(`[td] ${l}`) });
    } catch (e) {
      await server.close();
      if (e instanceof HostError) throw new UsageError(`serve: the TD could not be built: ${e.message}`);
      throw e;
    }
    out(`served TD: MRTD ${td.mrtd}`);
    out(`served TD: guest token ${td.token} (boot page program "${WIRE_PROGRAM_PREFIX}${td.token}"); attach as vCPU 0..${scenario.td.vcpus - 1}`);
    void td.done.then((r) => out(describe(r)));
    td.start();
  }
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void server.close().then(() => {
        out('tdxsim serve: stopped');
        resolve();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('Run the wire server: host VMMs and TD guests in any language connect over a socket')
    .option('--socket <path>', 'Unix socket path (default: $XDG_RUNTIME_DIR/tdxsim.sock or a private temporary directory)')
    .option('--port <n>', 'listen on TCP 127.0.0.1:<n> instead of a Unix socket')
    .option('--td <scenario>', 'also build and run this scenario\'s TD (guest.program "wire") for guest clients')
    .option('--tick-ms <n>', 'how long a TD entry waits for a silent guest client before a timer exit (default 100)')
    .action((opts: ServeOptions) => serve(opts));
}
