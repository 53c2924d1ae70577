import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Gpr, RegisterFile } from '../../src/abi/registers.ts';
import { parseScenario } from '../../src/host/scenario.ts';
import { HostError } from '../../src/host/errors.ts';
import { BuiltinTd, SERVE_CATALOGUE } from '../../src/wire/builtin-td.ts';
import { WireDetached } from '../../src/wire/client.ts';
import { guestClient, startServer, tdvmcall, type TestServer } from './helpers.ts';

const DETACH = { VCPU_STOPPED: 3, SERVER_SHUTDOWN: 5 };
const REPORT_FATAL_ERROR = 0x10003n;

function scenario(vcpus = 1, program = 'wire') {
  return parseScenario(
    { platform: { packages: 1, lpsPerPackage: 2, memory: '1G' }, td: { memory: '16M', vcpus }, guest: { program } },
    SERVE_CATALOGUE,
    process.cwd(),
    'test',
  );
}

/** Print `text` through Instruction.IO, one byte per TDVMCALL. */
async function print(g: Awaited<ReturnType<typeof guestClient>>, text: string): Promise<void> {
  for (const b of Buffer.from(text)) {
    const r = await g.tdcall(tdvmcall(30n, { R12: 1n, R13: 1n, R14: 0x3f8n, R15: BigInt(b) }));
    assert.deepEqual([r.gpr[Gpr.RAX], r.gpr[Gpr.R10]], [0n, 0n]);
  }
}

/** ReportFatalError with `message` packed into R14, R15, RBX, RDI, RSI, R8, R9, RDX. */
function fatal(message: string, code: bigint): RegisterFile {
  const r = tdvmcall(REPORT_FATAL_ERROR, { R12: code << 32n });
  r.gpr[Gpr.RCX] = 0xffccn;
  const bytes = Buffer.alloc(64);
  bytes.write(message);
  [Gpr.R14, Gpr.R15, Gpr.RBX, Gpr.RDI, Gpr.RSI, Gpr.R8, Gpr.R9, Gpr.RDX].forEach((reg, i) => (r.gpr[reg] = bytes.readBigUInt64LE(8 * i)));
  return r;
}

async function withServer(fn: (s: TestServer) => Promise<void>): Promise<void> {
  const s = await startServer();
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

describe('BuiltinTd (the server runs the host, a wire client the guest)', () => {
  it('shows the serial output and the fatal-error system event to the host, and detaches the guest', () =>
    withServer(async (s) => {
      const lines: string[] = [];
      const td = BuiltinTd.create(s.server, scenario(), { onSerialLine: (l) => lines.push(l) });
      assert.match(td.token, /^[0-9a-f]{32}$/);
      assert.match(td.mrtd, /^[0-9a-f]{96}$/);
      td.start();
      const g = await guestClient(s.path);
      assert.equal(await g.attach(td.token, 0), 0);
      await print(g, 'first line\nsecond');
      await assert.rejects(g.tdcall(fatal('wire guest gave up', 0x42n)), (e: unknown) => e instanceof WireDetached && e.reason === DETACH.VCPU_STOPPED);
      const report = await td.done;
      assert.deepEqual(lines, ['first line']);
      assert.deepEqual(report.serial, ['first line', 'second']);
      assert.deepEqual(report.vcpus, [{ index: 0, stop: 'fatal_error' }]);
      assert.deepEqual(report.fatal, { vcpu: 0, message: 'wire guest gave up', errorCode: '0x0000004200000000' });
      assert.deepEqual(report.teardown, { reclaimed: 17, leaked: 0 });
      assert.equal(s.server.directory.size, 0, 'the token is gone with the TD');
    }));

  it('stops a vCPU that halts, and the whole VM when one vCPU reports a fatal error', () =>
    withServer(async (s) => {
      const td = BuiltinTd.create(s.server, scenario(2));
      td.start();
      const g0 = await guestClient(s.path);
      const g1 = await guestClient(s.path);
      assert.equal(await g0.attach(td.token, 0), 0);
      assert.equal(await g1.attach(td.token, 1), 0);
      // vCPU 1 halts with interrupts blocked: TDVMCALL<Instruction.HLT>, R12 = 1.
      await assert.rejects(g1.tdcall(tdvmcall(12n, { R12: 1n })), (e: unknown) => e instanceof WireDetached && e.reason === DETACH.VCPU_STOPPED);
      await assert.rejects(g0.tdcall(fatal('bye', 1n)), WireDetached);
      const report = await td.done;
      assert.deepEqual(report.vcpus, [
        { index: 0, stop: 'fatal_error' },
        { index: 1, stop: 'halted' },
      ]);
    }));

  it('stops the TD and detaches its guests when the server shuts down', () =>
    withServer(async (s) => {
      const td = BuiltinTd.create(s.server, scenario());
      td.start();
      const g = await guestClient(s.path);
      assert.equal(await g.attach(td.token, 0), 0);
      await g.tdcall(new RegisterFile().set('RAX', 1n));
      const detached = g.closed();
      await s.server.close();
      const e = await detached;
      assert.ok(e instanceof WireDetached && e.reason === DETACH.SERVER_SHUTDOWN, String(e));
      assert.deepEqual((await td.done).vcpus, [{ index: 0, stop: 'vm_stopped' }]);
    }));

  it('refuses a scenario whose guest program is not "wire"', () =>
    withServer(async (s) => {
      assert.throws(() => BuiltinTd.create(s.server, scenario(1, 'hello')), (e: unknown) => e instanceof HostError && e.errno === 'EINVAL');
    }));
});
