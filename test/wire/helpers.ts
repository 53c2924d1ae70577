/**
 * Shared pieces of the wire tests: a server on a socket in a fresh private directory, connected
 * clients, a TD built by a wire host whose vCPU runs a wire guest, and raw-frame helpers for
 * talking to the server byte by byte.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WireServer, type WireServerOptions } from '../../src/wire/server.ts';
import { WireClient, type HostOptions } from '../../src/wire/client.ts';
import { WireTd } from '../../src/wire/wire-host.ts';
import { RegisterFile, Gpr } from '../../src/abi/registers.ts';

/** Wire constants written out from docs/wire-protocol.md, independent of src/abi/wire.ts. */
export const T = {
  HELLO: 0x0001,
  HELLO_OK: 0x8001,
  ERROR: 0x8000,
  SEAMCALL: 0x0101,
  PLATFORM_INFO: 0x0106,
  ATTACH_GUEST: 0x0201,
  TDCALL: 0x0202,
  EXCEPTION_DONE: 0x0210,
  EXCEPTION: 0x8210,
} as const;

export const E = {
  MALFORMED_FRAME: 1,
  FRAME_TOO_LARGE: 2,
  UNKNOWN_TYPE: 3,
  BAD_PAYLOAD_LENGTH: 4,
  RESERVED_NOT_ZERO: 5,
  VERSION_MISMATCH: 6,
  UNEXPECTED_MESSAGE: 7,
  MISALIGNED: 8,
  BAD_OPERAND: 9,
  LIMIT_EXCEEDED: 10,
  SHUTTING_DOWN: 12,
} as const;

/** A small machine for host sessions (64 MiB keeps sessions cheap). */
export const SMALL_HOST: HostOptions = { packages: 1, lpsPerPackage: 2, memoryBytes: 64n << 20n };

export interface TestServer {
  readonly server: WireServer;
  readonly path: string;
  close(): Promise<void>;
}

export async function startServer(options: Omit<WireServerOptions, 'socketPath'> = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tdxsim-wire-test-'));
  const path = join(dir, 'tdxsim.sock');
  const server = await WireServer.listen({ ...options, socketPath: path, log: options.log ?? (() => {}) });
  return {
    server,
    path,
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function hostClient(path: string, options: HostOptions = SMALL_HOST): Promise<WireClient> {
  const c = await WireClient.connect(path);
  await c.hello('host', options);
  return c;
}

export async function guestClient(path: string): Promise<WireClient> {
  const c = await WireClient.connect(path);
  await c.hello('guest');
  return c;
}

/** A frame from raw parts: header (length, type, flags, id) then the payload. */
export function rawFrame(type: number, id: number, payload: Uint8Array = new Uint8Array(0), flags = 0, length = 12 + payload.length): Buffer {
  const b = Buffer.alloc(12 + payload.length);
  b.writeUInt32LE(length, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(id, 8);
  b.set(payload, 12);
  return b;
}

/** A HELLO payload (24 bytes). */
export function helloPayload(role: number, major = 1, minor = 0): Buffer {
  const p = Buffer.alloc(24);
  p.writeUInt16LE(major, 0);
  p.writeUInt16LE(minor, 2);
  p[4] = role;
  return p;
}

/** A host with its module up (SETUP_PLATFORM) and a TD whose vCPU 0 runs a wire guest. */
export interface WiredTd {
  readonly host: WireClient;
  readonly td: WireTd;
  readonly token: string;
  readonly globalKeyId: number;
}

export async function wiredTd(path: string, options: { vcpus?: number; hostOptions?: HostOptions } = {}): Promise<WiredTd> {
  const host = await hostClient(path, options.hostOptions ?? { packages: 1, lpsPerPackage: 2, memoryBytes: 1n << 30n });
  const setup = await host.setupPlatform();
  if (setup.result !== 0) throw new Error(`SETUP_PLATFORM: ${setup.message}`);
  const token = await host.guestToken();
  const td = await WireTd.build(host, { program: `wire:${token}`, hkid: setup.firstTdKeyId, globalKeyId: setup.globalKeyId, vcpus: options.vcpus ?? 1 });
  return { host, td, token, globalKeyId: setup.globalKeyId };
}

/** Registers of a TDG.VP.VMCALL exposing R10–R15 (RCX = 0xFC00) with sub-function `sub`. */
export function tdvmcall(sub: bigint, args: Partial<Record<'R12' | 'R13' | 'R14' | 'R15', bigint>> = {}): RegisterFile {
  const r = new RegisterFile();
  r.gpr[Gpr.RAX] = 0n;
  r.gpr[Gpr.RCX] = 0xfc00n;
  r.gpr[Gpr.R10] = 0n;
  r.gpr[Gpr.R11] = sub;
  for (const [k, v] of Object.entries(args)) r.gpr[Gpr[k as 'R12']] = v;
  return r;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
