import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { RegisterFile, Gpr } from '../../src/abi/registers.ts';
import { MESSAGES } from '../../src/abi/wire.ts';
import { WireServer, WireServerError, defaultSocketPath } from '../../src/wire/server.ts';
import { WireClient, WireError } from '../../src/wire/client.ts';
import { FrameDecoder, isFrameError } from '../../src/wire/frame.ts';
import { benchWire } from '../../src/wire/bench.ts';
import { E, SMALL_HOST, T, helloPayload, hostClient, rawFrame, startServer, type TestServer } from './helpers.ts';

/** Open a raw socket, write `bytes`, and collect everything until the server closes it. */
function exchange(path: string, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect(path);
    const got: Buffer[] = [];
    s.on('data', (d) => got.push(d));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(got)));
    s.on('connect', () => s.write(bytes));
  });
}

/** The ERROR frame (code, request id) a server closed a raw connection with. */
async function errorOf(path: string, bytes: Buffer): Promise<{ code: number; requestId: number; message: string }> {
  const d = new FrameDecoder();
  d.push(await exchange(path, bytes));
  for (let f = d.next(); f; f = d.next()) {
    assert.ok(!isFrameError(f), 'the server sends well-formed frames');
    if (f.type === T.ERROR) return { code: f.data.readUInt32LE(f.offset), requestId: f.requestId, message: f.data.toString('utf8', f.offset + 8, f.offset + f.length) };
  }
  throw new Error('no ERROR frame before the connection closed');
}

const hello = (role = 1, id = 1) => rawFrame(T.HELLO, id, helloPayload(role));

describe('wire server: malformed and hostile frames', () => {
  let s: TestServer;
  let bystander: WireClient;
  before(async () => {
    s = await startServer();
    bystander = await hostClient(s.path);
  });
  after(async () => {
    bystander.close();
    await s.close();
  });

  /** After every refusal the server still serves another client. */
  async function stillServing(): Promise<void> {
    assert.equal((await bystander.platformInfo()).lpCount, 2);
  }

  const cases: [string, () => Buffer, number, number][] = [
    ['a frame shorter than its header', () => Buffer.from([5, 0, 0, 0]), E.MALFORMED_FRAME, 0],
    ['an oversized frame', () => rawFrame(T.HELLO, 4, new Uint8Array(0), 0, 12 + (1 << 20) + 1), E.FRAME_TOO_LARGE, 4],
    ['an unknown type', () => rawFrame(0x0abc, 5), E.UNKNOWN_TYPE, 5],
    ['a payload of the wrong length', () => rawFrame(T.HELLO, 6, Buffer.alloc(20)), E.BAD_PAYLOAD_LENGTH, 6],
    ['non-zero header flags', () => rawFrame(T.HELLO, 7, helloPayload(1), 0x0100), E.RESERVED_NOT_ZERO, 7],
    ['non-zero reserved payload bytes', () => rawFrame(T.HELLO, 8, Buffer.concat([helloPayload(1).subarray(0, 5), Buffer.from([1]), Buffer.alloc(18)])), E.RESERVED_NOT_ZERO, 8],
    ['a request before HELLO', () => rawFrame(T.PLATFORM_INFO, 9), E.UNEXPECTED_MESSAGE, 9],
    ['a server message sent by a client', () => rawFrame(0x8106, 10, Buffer.alloc(40)), E.UNEXPECTED_MESSAGE, 10],
    ['another major version', () => rawFrame(T.HELLO, 11, helloPayload(1, 2)), E.VERSION_MISMATCH, 11],
    ['an unknown role', () => rawFrame(T.HELLO, 12, helloPayload(3)), E.BAD_OPERAND, 12],
    ['a guest HELLO with platform options', () => rawFrame(T.HELLO, 13, Buffer.concat([helloPayload(2).subarray(0, 8), Buffer.from([1]), Buffer.alloc(15)])), E.BAD_OPERAND, 13],
    ['a second HELLO', () => Buffer.concat([hello(1, 1), hello(1, 14)]), E.UNEXPECTED_MESSAGE, 14],
    ['a guest message on a host session', () => Buffer.concat([hello(1, 1), rawFrame(T.TDCALL, 15, Buffer.alloc(384))]), E.UNEXPECTED_MESSAGE, 15],
  ];
  for (const [what, bytes, code, requestId] of cases) {
    it(`answers ${what} with ERROR ${code} naming request ${requestId}, closes that connection, and goes on`, async () => {
      const e = await errorOf(s.path, bytes());
      assert.equal(e.code, code, e.message);
      assert.equal(e.requestId, requestId);
      await stillServing();
    });
  }

  it('drops a client that disconnects mid-frame, and one that sends a valid header then nothing more', async () => {
    for (const bytes of [rawFrame(T.HELLO, 1, helloPayload(1)).subarray(0, 17), Buffer.concat([hello(), rawFrame(T.SEAMCALL, 2, Buffer.alloc(392)).subarray(0, 100)])]) {
      const half = connect(s.path);
      await new Promise((r) => half.on('connect', r));
      half.write(bytes);
      await new Promise((r) => setTimeout(r, 20));
      half.destroy();
    }
    await stillServing();
  });

  it('survives a bounded fuzz of mutated frames over real connections, and keeps serving', async () => {
    const valid = [...MESSAGES.values()].filter((m) => m.sender !== 'server').map((m) => rawFrame(m.type, 1, Buffer.alloc(m.layout?.size ?? 0)));
    const streams = fc.sample(
      fc.record({
        prefix: fc.boolean(),
        base: fc.constantFrom(...valid),
        flips: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
        tail: fc.uint8Array({ maxLength: 64 }),
      }),
      { seed: 0x7d5, numRuns: 300 },
    );
    for (let i = 0; i < streams.length; i += 30) {
      await Promise.all(
        streams.slice(i, i + 30).map(({ prefix, base, flips, tail }) => {
          const b = Buffer.concat([base, tail]);
          for (const f of flips) b[f.at % b.length] = f.value;
          const bytes = prefix ? Buffer.concat([hello(1 + (b[0]! & 1)), b]) : b;
          // Whatever happens, the server answers or closes; a stuck exchange is ended by us.
          return Promise.race([exchange(s.path, bytes), new Promise((r) => setTimeout(r, 200))]);
        }),
      );
    }
    await stillServing();
  });
});

describe('wire server: sessions and limits', () => {
  it('serves many concurrent host sessions, each its own machine', async () => {
    const s = await startServer();
    try {
      const clients = await Promise.all(Array.from({ length: 12 }, () => hostClient(s.path, SMALL_HOST)));
      const results = await Promise.all(
        clients.map(async (c, i) => {
          const regs = new RegisterFile();
          regs.gpr[Gpr.RAX] = 33n; // TDH.SYS.INIT: each machine's own module accepts it once
          const first = (await c.seamcall(i % 2, regs)).gpr[Gpr.RAX];
          const alloc = await c.allocPages(1);
          return [first, alloc.base];
        }),
      );
      for (const [status, base] of results) assert.deepEqual([status, base], [0n, 1n << 20n]);
      for (const c of clients) c.close();
    } finally {
      await s.close();
    }
  });

  it('refuses connections and host sessions beyond its limits with ERROR LIMIT_EXCEEDED', async () => {
    const s = await startServer({ maxConnections: 3, maxHostSessions: 1 });
    try {
      const a = await hostClient(s.path);
      const b = await WireClient.connect(s.path);
      await assert.rejects(b.hello('host', SMALL_HOST), (e: unknown) => e instanceof WireError && e.code === E.LIMIT_EXCEEDED);
      const c = await WireClient.connect(s.path);
      await c.hello('guest');
      const d = await WireClient.connect(s.path);
      await d.hello('guest');
      const over = await WireClient.connect(s.path);
      const e = await over.closed();
      assert.ok(e instanceof WireError && e.code === E.LIMIT_EXCEEDED);
      a.close();
      await new Promise((r) => setTimeout(r, 50));
      const again = await hostClient(s.path); // a's session was released
      again.close();
      c.close();
      d.close();
    } finally {
      await s.close();
    }
  });
});

describe('wire server: listening and shutting down', () => {
  it('creates the Unix socket owner-only (0600) and removes it on close, telling clients SHUTTING_DOWN', async () => {
    const s = await startServer();
    assert.equal(statSync(s.path).mode & 0o777, 0o600);
    const c = await hostClient(s.path);
    const closed = c.closed();
    await s.server.close();
    const e = await closed;
    assert.ok(e instanceof WireError && e.code === E.SHUTTING_DOWN, String(e));
    assert.equal(existsSync(s.path), false);
    await s.close(); // idempotent
  });

  it('replaces a stale socket file, and refuses a live socket or a path that is not a socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tdxsim-wire-test-'));
    try {
      const path = join(dir, 's.sock');
      const first = await WireServer.listen({ socketPath: path });
      await assert.rejects(WireServer.listen({ socketPath: path }), (e: unknown) => e instanceof WireServerError && /already listening/.test(e.message));
      await first.close();
      // A stale socket: bound and abandoned (simulated by a server whose file we keep).
      const stale = await WireServer.listen({ socketPath: path });
      await stale.close();
      writeFileSync(join(dir, 'plain'), 'x');
      await assert.rejects(WireServer.listen({ socketPath: join(dir, 'plain') }), (e: unknown) => e instanceof WireServerError && /not a socket/.test(e.message));
      const again = await WireServer.listen({ socketPath: path });
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('listens on TCP 127.0.0.1 only', async () => {
    const server = await WireServer.listen({ port: 0, log: () => {} });
    try {
      assert.ok('port' in server.address);
      assert.equal(server.address.host, '127.0.0.1');
      const c = await WireClient.connect({ port: server.address.port });
      assert.equal((await c.hello('guest')).major, 1);
      c.close();
    } finally {
      await server.close();
    }
  });

  it('puts the default socket in a private directory, and refuses one that is open to others', () => {
    const saved = { xdg: process.env.XDG_RUNTIME_DIR, tmp: process.env.TMPDIR };
    const root = mkdtempSync(join(tmpdir(), 'tdxsim-wire-test-'));
    try {
      delete process.env.XDG_RUNTIME_DIR;
      process.env.TMPDIR = root;
      const path = defaultSocketPath();
      assert.equal(path, join(root, `tdxsim-${process.getuid!()}`, 'tdxsim.sock'));
      assert.equal(statSync(join(root, `tdxsim-${process.getuid!()}`)).mode & 0o777, 0o700);
      chmodSync(join(root, `tdxsim-${process.getuid!()}`), 0o755);
      assert.throws(() => defaultSocketPath(), WireServerError);
      const xdg = join(root, 'xdg');
      mkdirSync(xdg, { mode: 0o700 });
      process.env.XDG_RUNTIME_DIR = xdg;
      assert.equal(defaultSocketPath(), join(xdg, 'tdxsim.sock'));
    } finally {
      if (saved.xdg === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = saved.xdg;
      if (saved.tmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved.tmp;
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('benchWire', () => {
  it('measures TDCALL round trips and a raw ping-pong of the same frame size (no timing asserted)', async () => {
    const r = await benchWire({ roundTrips: 200 });
    assert.equal(r.roundTrips, 200);
    assert.equal(r.frameSize, 396);
    assert.ok(Number.isFinite(r.tdcallPerSec) && r.tdcallPerSec > 0);
    assert.ok(Number.isFinite(r.rawPingPongPerSec) && r.rawPingPongPerSec > 0);
    await assert.rejects(benchWire({ roundTrips: 0 }), RangeError);
  });
});
