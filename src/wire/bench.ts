/**
 * The wire benchmark `npm run bench` calls: TDCALL round trips of a guest client over a real Unix
 * socket, against a raw socket ping-pong of the same frame size measured in the same run.
 *
 * Both run in this process, client and server on one event loop, each over its own Unix socket in a
 * fresh private temporary directory:
 *   - raw: an echo server; the client writes `frameSize` bytes, waits until as many came back, and
 *     writes again — the floor any protocol over that socket pays;
 *   - tdcall: a WireServer; a host client (wire-host.ts) builds a one-vCPU TD whose boot page names
 *     a wire guest and enters it; the guest client attaches and sends TDCALL frames (TDG.VP.INFO,
 *     answered by the module without a TD exit) one after the other, each after the previous
 *     answer came back whole. The host's TDH.VP.ENTER stays in flight throughout: each TDCALL is
 *     the server's own per-frame path (decode, guest session, re-entry of the held vCPU, the
 *     module's TDCALL, answer), with no host round trip in it.
 * The two loops alternate in slices after a warm-up, so that load on the machine hits both alike.
 * Both loops are callback-driven with pre-built frames, so the ratio measures the server's
 * per-frame path (decode, guest session, vCPU entry, the module's TDCALL, answer), not client
 * overhead. The default frame size is the TDCALL frame's (header + register file).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gpr } from '../abi/registers.ts';
import { LEAF_WORD } from '../abi/operands.ts';
import { TdcallLeaf } from '../abi/tdcall-leaves.ts';
import { FRAME_HEADER_SIZE, MessageType, REGISTER_FILE, WIRE_PROGRAM_PREFIX } from '../abi/wire.ts';
import { WireClient } from './client.ts';
import { frameBuffer } from './frame.ts';
import { WireServer } from './server.ts';
import { WireTd } from './wire-host.ts';

export interface BenchWireOptions {
  /** Round trips per measurement (default 20,000). */
  readonly roundTrips?: number;
  /** Raw ping-pong frame size in bytes (default: the TDCALL frame, 396). */
  readonly frameSize?: number;
}

export interface BenchWireResult {
  readonly tdcallPerSec: number;
  readonly rawPingPongPerSec: number;
  readonly roundTrips: number;
  readonly frameSize: number;
}

/** Bytes of one TDCALL request (and answer) frame. */
export const TDCALL_FRAME_SIZE = FRAME_HEADER_SIZE + REGISTER_FILE.size;

/** Measurements alternate between the two loops in this many slices, so load drift hits both alike. */
const SLICES = 10;
const HOUR_MS = 3_600_000;

export async function benchWire(options: BenchWireOptions = {}): Promise<BenchWireResult> {
  const roundTrips = options.roundTrips ?? 20_000;
  const frameSize = options.frameSize ?? TDCALL_FRAME_SIZE;
  if (!Number.isInteger(roundTrips) || roundTrips < 1) throw new RangeError('roundTrips must be a positive integer');
  if (!Number.isInteger(frameSize) || frameSize < 1) throw new RangeError('frameSize must be a positive integer');
  const dir = mkdtempSync(join(tmpdir(), 'tdxsim-bench-'));
  const echo: Server = createServer({ noDelay: true }, (s) => s.on('data', (d: Buffer) => s.write(d)));
  let server: WireServer | undefined;
  const sockets: Socket[] = [];
  try {
    const rawPath = join(dir, 'raw.sock');
    await new Promise<void>((r) => echo.listen(rawPath, r));
    const raw = await open(rawPath);
    sockets.push(raw);
    // A tick longer than the run: the held TDH.VP.ENTER never comes back while raw slices run.
    server = await WireServer.listen({ socketPath: join(dir, 'wire.sock'), guestWaitTickMs: HOUR_MS });
    const { guest, host } = await servedGuest(join(dir, 'wire.sock'));
    sockets.push(guest, host.socket);
    const rawFrame = Buffer.alloc(frameSize, 0xa5);
    const tdcallFrame = frameBuffer(MessageType.TDCALL, 1, REGISTER_FILE.size);
    tdcallFrame.writeBigUInt64LE(LEAF_WORD.encode({ leaf: TdcallLeaf.TDG_VP_INFO.number, version: 0 }), FRAME_HEADER_SIZE + 8 * Gpr.RAX);
    // Warm both paths up (JIT) before timing anything.
    const warm = Math.max(2000, Math.min(roundTrips, 20_000));
    await loop(raw, rawFrame, frameSize, warm);
    await loop(guest, tdcallFrame, TDCALL_FRAME_SIZE, warm);
    let rawNs = 0;
    let tdcallNs = 0;
    let measured = 0;
    for (let i = 0; i < SLICES; i++) {
      const n = Math.floor((roundTrips * (i + 1)) / SLICES) - Math.floor((roundTrips * i) / SLICES);
      if (n === 0) continue;
      rawNs += await loop(raw, rawFrame, frameSize, n);
      tdcallNs += await loop(guest, tdcallFrame, TDCALL_FRAME_SIZE, n);
      measured += n;
    }
    return { tdcallPerSec: (measured * 1e9) / tdcallNs, rawPingPongPerSec: (measured * 1e9) / rawNs, roundTrips: measured, frameSize };
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => echo.close(() => r()));
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A TD built by a wire host client (SETUP_PLATFORM, then real SEAMCALLs) whose vCPU runs a wire
 * guest, entered once: the host's TDH.VP.ENTER stays in flight while the guest works, as on
 * hardware. Returns the guest's socket, attached, for the caller to drive directly.
 */
async function servedGuest(path: string): Promise<{ guest: Socket; host: WireClient }> {
  const host = await WireClient.connect(path);
  await host.hello('host', { packages: 1, lpsPerPackage: 1, memoryBytes: 256n << 20n });
  const setup = await host.setupPlatform();
  const token = await host.guestToken();
  const td = await WireTd.build(host, { program: WIRE_PROGRAM_PREFIX + token, hkid: setup.firstTdKeyId, globalKeyId: setup.globalKeyId });
  void td.enter(0).catch(() => undefined); // held by the server until the guest is done
  const client = await WireClient.connect(path);
  await client.hello('guest');
  await client.attach(token, 0);
  // From here on the socket is driven directly: the client object only did the handshake.
  client.socket.removeAllListeners('data');
  return { guest: client.socket, host };
}

function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.setNoDelay(true);
    s.once('error', reject);
    s.once('connect', () => resolve(s));
  });
}

/** Send `frame`, wait for `answerSize` bytes, `roundTrips` times; resolves to the nanoseconds taken. */
function loop(socket: Socket, frame: Buffer, answerSize: number, roundTrips: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let received = 0;
    let done = 0;
    const start = process.hrtime.bigint();
    const onData = (d: Buffer): void => {
      received += d.length;
      while (received >= answerSize) {
        received -= answerSize;
        if (++done === roundTrips) {
          socket.off('data', onData);
          socket.off('error', reject);
          resolve(Number(process.hrtime.bigint() - start));
          return;
        }
        socket.write(frame);
      }
    };
    socket.on('error', reject);
    socket.on('data', onData);
    socket.write(frame);
  });
}
