import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WireClient, WireError } from '../../src/wire/client.ts';
import { RegisterFile } from '../../src/abi/registers.ts';

const MAIN = join(import.meta.dirname, '../../src/cli/main.ts');

interface Cli {
  readonly child: ChildProcess;
  output: string;
  readonly exited: Promise<number | null>;
  /** Resolves with the first output line matching `re`. */
  waitFor(re: RegExp): Promise<RegExpMatchArray>;
}

function cli(args: string[]): Cli {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const c: Cli = {
    child,
    output: '',
    exited: new Promise((r) => child.on('close', r)),
    waitFor: (re) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(c.output);
          if (m) resolve(m);
          return m;
        };
        if (check()) return;
        const on = () => {
          if (check()) child.stdout!.off('data', on);
        };
        child.stdout!.on('data', on);
        void c.exited.then(() => (check() ? undefined : reject(new Error(`exited without ${re}:\n${c.output}`))));
      }),
  };
  child.stdout!.on('data', (d) => (c.output += d));
  child.stderr!.on('data', (d) => (c.output += d));
  return c;
}

describe('tdxsim serve', () => {
  it('serves on a private Unix socket until SIGINT, then tells clients, removes the socket and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tdxsim-serve-'));
    try {
      const path = join(dir, 'w.sock');
      const c = cli(['serve', '--socket', path]);
      await c.waitFor(/listening on (\S+) \(wire protocol 1\.0\)/);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const client = await WireClient.connect(path);
      await client.hello('host', { memoryBytes: 64n << 20n });
      assert.equal((await client.platformInfo()).lpCount, 2);
      const closed = client.closed();
      c.child.kill('SIGINT');
      assert.equal(await c.exited, 0);
      const e = await closed;
      assert.ok(e instanceof WireError && e.code === 12, String(e)); // SHUTTING_DOWN
      assert.match(c.output, /tdxsim serve: stopped/);
      assert.equal(existsSync(path), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--td builds a served TD, prints its token and its serial output, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tdxsim-serve-'));
    try {
      const path = join(dir, 'w.sock');
      const scenario = join(dir, 'td.json');
      writeFileSync(scenario, JSON.stringify({ platform: { packages: 1, lpsPerPackage: 2, memory: '1G' }, td: { memory: '16M' }, guest: { program: 'wire' } }));
      const c = cli(['serve', '--socket', path, '--td', scenario]);
      const [, token] = await c.waitFor(/guest token ([0-9a-f]{32})/);
      const g = await WireClient.connect(path);
      await g.hello('guest');
      assert.equal(await g.attach(token!, 0), 0);
      for (const b of Buffer.from('hi\n')) {
        const r = new RegisterFile().set('RCX', 0xfc00n).set('R11', 30n).set('R12', 1n).set('R13', 1n).set('R14', 0x3f8n).set('R15', BigInt(b));
        await g.tdcall(r);
      }
      await c.waitFor(/\[td\] hi/);
      c.child.kill('SIGTERM');
      assert.equal(await c.exited, 0);
      assert.match(c.output, /served TD: vCPU 0 stopped: vm_stopped/);
      assert.match(c.output, /served TD: torn down, 17 pages reclaimed, 0 leaked/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses --socket with --port, a bad port, and a scenario that does not run a wire guest (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tdxsim-serve-'));
    try {
      const scenario = join(dir, 'td.json');
      writeFileSync(scenario, JSON.stringify({ td: { memory: '16M' }, guest: { program: 'nope' } }));
      for (const [args, message] of [
        [['--socket', join(dir, 's'), '--port', '1'], /give --socket or --port, not both/],
        [['--port', '70000'], /--port must be an integer from 0 to 65535/],
        [['--socket', join(dir, 's'), '--td', scenario], /unknown guest program "nope"/],
      ] as const) {
        const c = cli(['serve', ...args]);
        assert.equal(await c.exited, 2, c.output);
        assert.match(c.output, message);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
