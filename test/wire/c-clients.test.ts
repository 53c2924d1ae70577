/**
 * The C reference client (clients/c/tdxsim.h) and its two examples, built with the system's C
 * compiler and run against a server in this process: a guest that runs as the code of a served
 * TD's vCPU, and a host that brings the module up and runs a TD with real SEAMCALLs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../src/host/scenario.ts';
import { BuiltinTd, SERVE_CATALOGUE } from '../../src/wire/builtin-td.ts';
import { startServer, type TestServer } from './helpers.ts';

const EXAMPLES = join(import.meta.dirname, '../../clients/c/examples');

/** Compile an example with warnings as errors; throws with the compiler's output. */
function compile(name: string, dir: string): string {
  const out = join(dir, name);
  const r = spawnSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-O1', '-o', out, join(EXAMPLES, `${name}.c`)], { encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('cc is not installed: run `apt-get install -y gcc libc6-dev`');
  if (r.status !== 0) throw new Error(`cc ${name}.c failed:\n${r.stdout}${r.stderr}`);
  return out;
}

/** Run a program without blocking the event loop (the server lives in this process). */
function run(program: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('C clients', () => {
  let dir: string;
  let s: TestServer;
  let guest: string;
  let host: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tdxsim-c-'));
    guest = compile('guest', dir);
    host = compile('host', dir);
    s = await startServer();
  });
  after(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('guest.c: TDG.VP.INFO, serial output through TDVMCALL and through #VE, ReportFatalError seen by the host', async () => {
    const scenario = parseScenario({ platform: { packages: 1, lpsPerPackage: 2, memory: '1G' }, td: { memory: '16M' }, guest: { program: 'wire' } }, SERVE_CATALOGUE, dir);
    const td = BuiltinTd.create(s.server, scenario);
    td.start();
    const r = await run(guest, [s.path, td.token]);
    assert.equal(r.stderr, '');
    assert.equal(
      r.stdout,
      [
        'guest: TDG.VP.INFO gpaw=48 attributes=0x0000000010000000 vcpus=1/1 index=0',
        'guest: 31 #VE exceptions handled',
        'guest: detached after ReportFatalError (reason 3)',
        '',
      ].join('\n'),
    );
    assert.equal(r.code, 0);
    const report = await td.done;
    assert.deepEqual(report.serial, ['hello from a C guest', 'and this line went through #VE']);
    assert.deepEqual(report.fatal, { vcpu: 0, message: 'C guest gives up: error 0x42', errorCode: '0x0000004200000000' });
    assert.deepEqual(report.vcpus, [{ index: 0, stop: 'fatal_error' }]);
  });

  it('host.c: bring-up, TD build, run of the built-in "hello" guest and teardown, all with SEAMCALLs', async () => {
    const r = await run(host, [s.path]);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      [
        'host: 1 package(s) x 2 LPs, 4096 MiB, 1 CMR(s), TDX KeyIDs 16..63',
        'host: module ready: TDMR [0x0, 0x100000000), PAMT 16420 KiB at 0x100000, 1 reserved areas',
        'host: TD built (TDR 0x1109000, HKID 17) running "hello"',
        'Hello from a TD',
        'host: guest halted after 16 serial exits',
        'host: TD torn down, 17 of 17 pages reclaimed',
        '',
      ].join('\n'),
    );
  });

  it('host.c reports a guest that fails to boot (an unknown program) and still tears the TD down', async () => {
    const r = await run(host, [s.path, 'no-such-program']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /TD exit with status 0x4000000100000002/); // NON_RECOVERABLE_VCPU | triple fault
    assert.match(r.stdout, /TD torn down, 17 of 17 pages reclaimed/);
  });
});
