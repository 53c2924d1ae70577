import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { RegisterFile, Gpr, GPR_COUNT } from '../../src/abi/registers.ts';
import { WireClient, WireError } from '../../src/wire/client.ts';
import { WireTd, wireLeaf } from '../../src/wire/wire-host.ts';
import { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';
import { E, SMALL_HOST, hostClient, startServer, type TestServer } from './helpers.ts';

// Expected values written out from the facts (tdx-module.md §1, §3) and docs/wire-protocol.md.
const OPERAND_INVALID_RAX = 0xc000_0100_0000_0000n;
const SYS_NOT_READY = 0xc000_0505_0000_0000n;
const TDH_SYS_INIT = 33n;
const TDH_SYS_LP_INIT = 35n;
const TDH_MNG_CREATE = 9n;
const MiB = 1n << 20n;
const RESULT = { OK: 0, NOT_OWNED: 1, OUT_OF_MEMORY: 2, BAD_STATE: 3 };

/** Distinct sentinels in every GPR and XMM half. */
function sentinels(): RegisterFile {
  const r = new RegisterFile();
  for (let i = 0; i < GPR_COUNT; i++) r.gpr[i] = 0x5a5a_0000_0000_0000n + BigInt(i);
  for (let i = 0; i < 32; i++) r.xmm[i] = 0x3c3c_0000_0000_0000n + BigInt(i);
  return r;
}

async function expectClosedWith(c: WireClient, code: number): Promise<void> {
  const e = await c.closed();
  assert.ok(e instanceof WireError, String(e));
  assert.equal(e.code, code);
}

describe('host session', () => {
  let s: TestServer;
  before(async () => (s = await startServer()));
  after(() => s.close());

  it('answers HELLO with version 1.0, the role and the limits', async () => {
    const c = await WireClient.connect(s.path);
    assert.deepEqual(await c.hello('host', SMALL_HOST), { major: 1, minor: 0, maxPayload: 1 << 20, maxMemOp: 256 << 10 });
    c.close();
  });

  it('exchanges exactly the bytes of the worked example in docs/wire-protocol.md §9', async () => {
    const sock = connect(s.path);
    await new Promise((r) => sock.on('connect', r));
    let got = Buffer.alloc(0);
    sock.on('data', (d) => (got = Buffer.concat([got, d])));
    const exchange = async (hex: string, answer: number): Promise<Buffer> => {
      sock.write(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
      while (got.length < answer) await new Promise((r) => setTimeout(r, 5));
      const a = got.subarray(0, answer);
      got = got.subarray(answer);
      return a;
    };
    const helloOk = await exchange('24000000 0100 0000 01000000 0100 0000 01 000000 0000 0000 0000 0000 0000000000000000', 28);
    assert.equal(helloOk.toString('hex'), '1c000000' + '0180' + '0000' + '01000000' + '01000000' + '01000000' + '00001000' + '00000400');
    const seamcall = '94010000 0101 0000 02000000 00000000 00000000' + '2100000000000000' + '00'.repeat(16) + '1111000000000000' + '00'.repeat(8 * 12 + 256);
    const result = await exchange(seamcall, 404);
    const want = Buffer.from(seamcall.replace(/\s+/g, ''), 'hex');
    want.writeUInt16LE(0x8101, 4);
    want.writeBigUInt64LE(0n, 20); // RAX = TDX_SUCCESS; RCX, RDX, R8–R10 = 0 already
    assert.equal(result.toString('hex'), want.toString('hex'));
    sock.destroy();
  });

  it('builds the machine HELLO asked for (PLATFORM_INFO)', async () => {
    const c = await hostClient(s.path, { packages: 2, lpsPerPackage: 2, memoryBytes: 64n * MiB, mktmeKeyIds: 7, tdxKeyIds: 8 });
    assert.deepEqual(await c.platformInfo(), {
      packages: 2,
      lpsPerPackage: 2,
      lpCount: 4,
      maxPa: 52,
      keyIdShift: 48, // 52 − ⌈log2(7 + 8 + 1)⌉
      memoryBytes: 64n * MiB,
      mktmeKeyIds: 7,
      tdxKeyIds: 8,
      firstTdxKeyId: 8,
      freePages: (63n * MiB) / 4096n,
      cmrs: [{ base: MiB, size: 63n * MiB }],
    });
    c.close();
  });

  it('refuses a platform outside the limits with ERROR BAD_OPERAND', async () => {
    for (const options of [{ packages: 9 }, { memoryBytes: 1n << 40n }, { memoryBytes: 64n * MiB + 1n }, { tdxKeyIds: 1 }]) {
      const c = await WireClient.connect(s.path);
      await assert.rejects(c.hello('host', options), (e: unknown) => e instanceof WireError && e.code === E.BAD_OPERAND);
      c.close();
    }
  });

  it('runs SEAMCALL with the module: TDH.SYS.INIT writes RAX and its outputs, every other register comes back', async () => {
    const c = await hostClient(s.path);
    const regs = sentinels();
    regs.gpr[Gpr.RAX] = TDH_SYS_INIT;
    regs.gpr[Gpr.RCX] = 0n;
    const out = await c.seamcall(0, regs);
    const want = regs.clone();
    want.gpr[Gpr.RAX] = 0n;
    for (const r of [Gpr.RCX, Gpr.RDX, Gpr.R8, Gpr.R9, Gpr.R10]) want.gpr[r] = 0n;
    assert.deepEqual(out.toRecord(), want.toRecord());
    assert.deepEqual([...out.xmm], [...want.xmm]);
    c.close();
  });

  it('passes module failures through unchanged: unknown leaf, not ready', async () => {
    const c = await hostClient(s.path);
    const regs = sentinels();
    regs.gpr[Gpr.RAX] = 99n;
    const out = await c.seamcall(1, regs);
    const want = regs.clone();
    want.gpr[Gpr.RAX] = OPERAND_INVALID_RAX;
    assert.deepEqual(out.toRecord(), want.toRecord());
    const create = sentinels();
    create.gpr[Gpr.RAX] = TDH_MNG_CREATE;
    assert.equal((await c.seamcall(0, create)).gpr[Gpr.RAX], SYS_NOT_READY);
    c.close();
  });

  it('runs SEAMCALLs on different LPs concurrently and matches answers by request id', async () => {
    const c = await hostClient(s.path);
    const init = new RegisterFile();
    init.gpr[Gpr.RAX] = TDH_SYS_INIT;
    assert.equal((await c.seamcall(0, init)).gpr[Gpr.RAX], 0n);
    const lpInit = new RegisterFile();
    lpInit.gpr[Gpr.RAX] = TDH_SYS_LP_INIT;
    const again = lpInit.clone();
    // Two on LP 1 (the second finds it already done), one on LP 0.
    const [a, b, d] = await Promise.all([c.seamcall(1, lpInit), c.seamcall(0, lpInit), c.seamcall(1, again)]);
    assert.equal(a.gpr[Gpr.RAX], 0n);
    assert.equal(b.gpr[Gpr.RAX], 0n);
    assert.equal(d.gpr[Gpr.RAX], 0xc000_0503_0000_0000n); // TDX_SYS_LP_INIT_DONE
    c.close();
  });

  it('closes the connection with ERROR BAD_OPERAND for an LP that does not exist; other clients go on', async () => {
    const c = await hostClient(s.path);
    const other = await hostClient(s.path);
    await assert.rejects(c.seamcall(2, new RegisterFile()), (e: unknown) => e instanceof WireError && e.code === E.BAD_OPERAND && e.requestId === 2);
    await expectClosedWith(c, E.BAD_OPERAND);
    assert.equal((await other.platformInfo()).lpCount, 2);
    other.close();
  });

  it('allocates zeroed pages, and reads and writes only the pages the client owns', async () => {
    const c = await hostClient(s.path);
    const a = await c.allocPages(2);
    assert.deepEqual(a, { result: RESULT.OK, base: MiB });
    assert.equal(await c.memWrite(a.base + 4090n, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])), RESULT.OK);
    assert.deepEqual([...((await c.memRead(a.base + 4088n, 12)) as Uint8Array)], [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0]);
    assert.equal(await c.memRead(a.base + 8190n, 4), RESULT.NOT_OWNED);
    assert.equal(await c.memWrite(0n, new Uint8Array([1])), RESULT.NOT_OWNED);
    assert.equal(await c.freePages(a.base + 4096n, 1), RESULT.OK);
    assert.equal(await c.memRead(a.base + 4096n, 1), RESULT.NOT_OWNED);
    assert.equal(await c.freePages(a.base + 4096n, 1), RESULT.NOT_OWNED);
    assert.deepEqual(await c.allocPages(1 << 18), { result: RESULT.OUT_OF_MEMORY, base: 0n });
    assert.deepEqual(await c.allocPages(1, 2 << 20), { result: RESULT.OK, base: 2n * MiB });
    c.close();
  });

  it('refuses malformed memory requests with ERROR and closes', async () => {
    const cases: [(c: WireClient) => Promise<unknown>, number][] = [
      [(c) => c.memRead(MiB, 0), E.BAD_OPERAND],
      [(c) => c.freePages(MiB + 1n, 1), E.MISALIGNED],
      [(c) => c.freePages(MiB, 0), E.BAD_OPERAND],
      [(c) => c.allocPages(0), E.BAD_OPERAND],
      [(c) => c.allocPages(1, 3 * 4096), E.BAD_OPERAND],
      [(c) => c.allocPages(1, 2048), E.BAD_OPERAND],
      [(c) => c.sharedEpt(MiB + 8n, 0n, 1, 0n), E.MISALIGNED],
      [(c) => c.sharedEpt(MiB, 0n, 9, 0n), E.BAD_OPERAND],
      [(c) => c.sharedEpt(MiB, 0n, 2, MiB), E.BAD_OPERAND],
    ];
    for (const [request, code] of cases) {
      const c = await hostClient(s.path);
      await assert.rejects(request(c), (e: unknown) => e instanceof WireError && e.code === code);
      await expectClosedWith(c, code);
    }
  });

  it('edits shared EPTs rooted in pages the client owns', async () => {
    const c = await hostClient(s.path);
    const root = (await c.allocPages(1)).base;
    const page = (await c.allocPages(1)).base;
    const shared = (1n << 47n) | 0x10_0000n;
    assert.equal(await c.sharedEpt(root, shared, 1, page), RESULT.OK);
    assert.equal(await c.sharedEpt(root, shared + 4096n, 2), RESULT.OK);
    assert.equal(await c.sharedEpt(root, shared, 3), RESULT.OK);
    assert.equal(await c.sharedEpt(root, shared, 1, 0n), RESULT.NOT_OWNED); // page 0 is not the client's
    assert.equal(await c.sharedEpt(0n, shared, 3), RESULT.NOT_OWNED);
    c.close();
  });

  it('SETUP_PLATFORM runs the built-in bring-up once, on a fresh machine, and reserves the PAMT', async () => {
    const c = await hostClient(s.path);
    const before = (await c.platformInfo()).freePages;
    const pamtSize = 4n * MiB + 3n * 4096n; // a 1 GiB TDMR: 4K, 2M and 1G entries of 16 bytes, each rounded to 4K
    assert.deepEqual(await c.setupPlatform(), {
      result: RESULT.OK,
      globalKeyId: 16,
      firstTdKeyId: 17,
      tdKeyIdCount: 47,
      tdmrs: [{ base: 0n, size: 1n << 30n, pamtBase: 64n * MiB - pamtSize, pamtSize }],
      message: '',
    });
    assert.equal((await c.platformInfo()).freePages, before - pamtSize / 4096n);
    const init = new RegisterFile();
    init.gpr[Gpr.RAX] = TDH_SYS_INIT;
    assert.equal((await c.seamcall(0, init)).gpr[Gpr.RAX], 0xc000_0500_0000_0000n); // TDX_SYS_INIT_NOT_PENDING
    const again = await c.setupPlatform();
    assert.equal(again.result, RESULT.BAD_STATE);
    assert.match(again.message, /fresh machine/);
    assert.deepEqual(again.tdmrs, []);
    c.close();

    const d = await hostClient(s.path);
    await d.allocPages(1);
    assert.equal((await d.setupPlatform()).result, RESULT.BAD_STATE);
    d.close();
  });

  it('hands out distinct 32-character hex guest tokens', async () => {
    const c = await hostClient(s.path);
    const a = await c.guestToken();
    const b = await c.guestToken();
    assert.match(a, /^[0-9a-f]{32}$/);
    assert.notEqual(a, b);
    c.close();
  });

  it('reads a TD-private page as ciphertext with KeyID 0', async () => {
    const c = await hostClient(s.path);
    const setup = await c.setupPlatform();
    const tdr = (await c.allocPages(1)).base;
    assert.deepEqual([...((await c.memRead(tdr, 64)) as Uint8Array)], new Array(64).fill(0));
    const r = await wireLeaf(c, 0, SeamcallLeaf.TDH_MNG_CREATE, { tdr, hkid: BigInt(setup.firstTdKeyId) });
    assert.equal(r.status, 0n);
    const seen = (await c.memRead(tdr, 64)) as Uint8Array;
    assert.notDeepEqual([...seen], new Array(64).fill(0));
    c.close();
  });

  it('builds, runs and tears down a TD with real SEAMCALLs (built-in program "hello")', async () => {
    const c = await hostClient(s.path, { packages: 1, lpsPerPackage: 2, memoryBytes: 1n << 30n });
    const setup = await c.setupPlatform();
    const free = (await c.platformInfo()).freePages;
    const td = await WireTd.build(c, { program: 'hello', args: { message: 'over the wire' }, hkid: setup.firstTdKeyId, globalKeyId: setup.globalKeyId });
    let text = '';
    let reply = new RegisterFile();
    let first: RegisterFile | undefined;
    for (;;) {
      const e = await td.enter(0, reply);
      assert.equal(e.gpr[Gpr.RAX], 77n, 'every exit is a TDG.VP.VMCALL');
      reply = e.clone();
      reply.gpr[Gpr.R10] = 0n;
      if (e.gpr[Gpr.R11] === 12n) break; // Instruction.HLT
      assert.equal(e.gpr[Gpr.R11], 30n); // Instruction.IO
      first ??= e;
      text += String.fromCharCode(Number(e.gpr[Gpr.R15]));
    }
    assert.equal(text, 'over the wire\n');
    // The first serial exit as the host sees it: the guest's exposed registers (Linux's 0xFFCC).
    assert.deepEqual(
      [Gpr.RCX, Gpr.R10, Gpr.R11, Gpr.R12, Gpr.R13, Gpr.R14, Gpr.R15].map((r) => first!.gpr[r]),
      [0xffccn, 0n, 30n, 1n, 1n, 0x3f8n, BigInt('o'.charCodeAt(0))],
    );
    assert.equal(await td.destroy(), 17);
    assert.equal((await c.platformInfo()).freePages, free);
    c.close();
  });
});
