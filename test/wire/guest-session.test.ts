import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegisterFile, Gpr, GPR_COUNT } from '../../src/abi/registers.ts';
import { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';
import { metadataFieldByName } from '../../src/abi/metadata.ts';
import { WireClient, WireDetached, WireError, type ExceptionInfo } from '../../src/wire/client.ts';
import { wireLeaf, type WireTd } from '../../src/wire/wire-host.ts';
import { E, T, guestClient, rawFrame, sleep, startServer, tdvmcall, wiredTd, type TestServer, type WiredTd } from './helpers.ts';

// Expected values written out from the facts (tdx-module.md §2.2, §6, linux-tdx.md §2) and the
// protocol document, independent of src/abi.
const RAX_TDVMCALL_EXIT = 77n;
const RAX_EPT_VIOLATION = 48n;
const RAX_EXTERNAL_INTERRUPT = 1n;
const RAX_TRIPLE_FAULT = 0x4000_0001_0000_0002n;
const TIMER_INTERRUPTION_INFO = 0x8000_00ecn; // valid, external interrupt, vector 0xEC
const RESET_RIP = 0xffff_fff0n;
const SEPT_VE_DISABLE = 1n << 28n;
const VE = 20;
const BOOT_PAGE = 0xffff_f000n;
const SHARED_BIT = 1n << 47n;
const DETACH = { HOST_ENDED: 1, VCPU_DESTROYED: 2, TRIPLE_FAULT: 4 };
const RESULT = { OK: 0, UNKNOWN_TOKEN: 5, TOKEN_IN_USE: 6 };

const sentinel = (i: number): bigint => 0x6000_0000_0000_0000n + BigInt(i);
function sentinelRegs(): RegisterFile {
  const r = new RegisterFile();
  for (let i = 0; i < GPR_COUNT; i++) r.gpr[i] = sentinel(i);
  return r;
}

function leaf(n: bigint): RegisterFile {
  const r = new RegisterFile();
  r.gpr[Gpr.RAX] = n;
  return r;
}

/** A host that keeps entering vCPU `index`, answering TDVMCALLs with `reply` until it says stop. */
async function hostLoop(td: WireTd, reply: (exit: RegisterFile) => RegisterFile | 'stop', index = 0): Promise<RegisterFile[]> {
  const exits: RegisterFile[] = [];
  let regs = new RegisterFile();
  for (;;) {
    const e = await td.enter(index, regs);
    exits.push(e);
    const r = reply(e);
    if (r === 'stop') return exits;
    regs = r;
  }
}

/** Answer Instruction.IO like a serial port that reads 0x5a, collecting what is written. */
function serialHost(written: number[]): (e: RegisterFile) => RegisterFile | 'stop' {
  return (e) => {
    if (e.gpr[Gpr.RAX] !== RAX_TDVMCALL_EXIT || e.gpr[Gpr.R11] !== 30n) return 'stop';
    const r = e.clone();
    r.gpr[Gpr.R10] = 0n;
    if (e.gpr[Gpr.R13] === 1n) written.push(Number(e.gpr[Gpr.R15]));
    else r.gpr[Gpr.R11] = 0x5an;
    return r;
  };
}

/** A #VE handler for port I/O and RDMSR, as a guest kernel's: VEINFO.GET, TDVMCALL, skip the instruction. */
function veHandler(seen: { ex: ExceptionInfo; veinfo: RegisterFile }[]) {
  return async (ex: ExceptionInfo, c: WireClient) => {
    const veinfo = await c.tdcall(leaf(3n));
    seen.push({ ex, veinfo });
    const reason = veinfo.gpr[Gpr.RCX];
    const gpr = ex.gpr.slice();
    if (reason === 30n) {
      const q = veinfo.gpr[Gpr.RDX]!;
      const isIn = (q >> 3n) & 1n;
      const r = await c.tdcall(tdvmcall(30n, { R12: (q & 7n) + 1n, R13: isIn ? 0n : 1n, R14: (q >> 16n) & 0xffffn, R15: isIn ? 0n : ex.gpr[Gpr.RAX]! }));
      if (isIn) gpr[Gpr.RAX] = r.gpr[Gpr.R11]!;
    } else if (reason === 31n) {
      gpr[Gpr.RAX] = 0x1234n;
      gpr[Gpr.RDX] = 0x5678n;
    } else {
      return { rip: ex.rip, gpr, giveUp: true };
    }
    return { rip: ex.rip + (veinfo.gpr[Gpr.R10]! & 0xffff_ffffn), gpr };
  };
}

async function attached(s: TestServer, w: WiredTd, index = 0): Promise<WireClient> {
  const g = await guestClient(s.path);
  assert.equal(await g.attach(w.token, index), RESULT.OK);
  return g;
}

describe('guest session', () => {
  let s: TestServer;
  before(async () => (s = await startServer({ guestWaitTickMs: 60_000 })));
  after(() => s.close());

  it("runs a guest client's TDCALLs inside one TDH.VP.ENTER of the host, with the module's exact outputs", async () => {
    const w = await wiredTd(s.path);
    let exited = false;
    const entry = w.td.enter(0).then((e) => ((exited = true), e));
    const g = await attached(s, w);
    const out = await g.tdcall(sentinelRegs().set('RAX', 1n)); // TDG.VP.INFO
    const want = sentinelRegs();
    want.gpr[Gpr.RAX] = 0n;
    want.gpr[Gpr.RCX] = 48n;
    want.gpr[Gpr.RDX] = SEPT_VE_DISABLE;
    want.gpr[Gpr.R8] = (1n << 32n) | 1n;
    want.gpr[Gpr.R9] = 0n;
    want.gpr[Gpr.R10] = 1n;
    want.gpr[Gpr.R11] = 0n;
    assert.deepEqual(out.toRecord(), want.toRecord());
    for (let i = 0; i < 5; i++) assert.equal((await g.tdcall(leaf(1n))).gpr[Gpr.RAX], 0n);
    assert.equal(exited, false, 'TDCALLs the module answers do not exit to the host');

    // A TDVMCALL is the first exit the host sees.
    const io = g.tdcall(tdvmcall(30n, { R12: 1n, R13: 1n, R14: 0x3f8n, R15: 0x41n }));
    const e = await entry;
    assert.deepEqual(
      [Gpr.RAX, Gpr.RCX, Gpr.RDX, Gpr.RBX, Gpr.RSI, Gpr.RDI, Gpr.R8, Gpr.R9, Gpr.R10, Gpr.R11, Gpr.R12, Gpr.R13, Gpr.R14, Gpr.R15].map((r) => e.gpr[r]),
      [RAX_TDVMCALL_EXIT, 0xfc00n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 30n, 1n, 1n, 0x3f8n, 0x41n],
    );
    const reply = e.clone();
    reply.gpr[Gpr.R10] = 0n;
    reply.gpr[Gpr.R11] = 0x77n;
    const next = w.td.enter(0, reply);
    const back = await io;
    assert.deepEqual(
      [Gpr.RAX, Gpr.RCX, Gpr.R10, Gpr.R11, Gpr.R12, Gpr.R15].map((r) => back.gpr[r]),
      [0n, 0xfc00n, 0n, 0x77n, 1n, 0x41n],
    );
    g.close();
    assert.equal((await next).gpr[Gpr.RAX], RAX_TRIPLE_FAULT, 'the client left: the vCPU has no code to run');
    w.host.close();
  });

  it('lets the guest attach before the vCPU boots, and refuses unknown tokens and a second client', async () => {
    const w = await wiredTd(s.path);
    const g = await attached(s, w);
    const other = await guestClient(s.path);
    assert.equal(await other.attach(w.token, 0), RESULT.TOKEN_IN_USE);
    assert.equal(await other.attach('0'.repeat(32), 0), RESULT.UNKNOWN_TOKEN);
    const tdcall = g.tdcall(leaf(1n)); // waits in the slot until the vCPU runs
    await sleep(20);
    void w.td.enter(0).catch(() => undefined);
    assert.equal((await tdcall).gpr[Gpr.RCX], 48n);
    other.close();
    g.close();
    w.host.close();
  });

  it('delivers #VE to the client, whose handler emulates OUT and IN with TDVMCALLs', async () => {
    const w = await wiredTd(s.path);
    const written: number[] = [];
    const host = hostLoop(w.td, serialHost(written));
    const g = await attached(s, w);
    const seen: { ex: ExceptionInfo; veinfo: RegisterFile }[] = [];
    g.onException = veHandler(seen);
    await g.ioOut(0x3f8, 1, 0x21n);
    assert.equal(await g.ioIn(0x3f8, 1), 0x5an);
    assert.deepEqual(written, [0x21]);
    assert.equal(seen.length, 2);
    const [out, inn] = seen;
    assert.equal(out!.ex.vector, VE);
    assert.equal(out!.ex.errorCode, undefined);
    assert.equal(out!.ex.rip, RESET_RIP);
    assert.equal(out!.ex.gpr[Gpr.RAX], 0x21n);
    assert.equal(out!.ex.gpr[Gpr.RDX], 0x3f8n);
    // VEINFO: exit reason IO, qualification {size-1 = 0, OUT, port}, instruction length 1.
    assert.deepEqual([Gpr.RAX, Gpr.RCX, Gpr.RDX, Gpr.R10].map((r) => out!.veinfo.gpr[r]), [0n, 30n, 0x3f8n << 16n, 1n]);
    assert.equal(inn!.ex.rip, RESET_RIP + 1n, 'the handler moved RIP past the OUT');
    assert.equal(inn!.veinfo.gpr[Gpr.RDX], (0x3f8n << 16n) | 8n);
    // RDMSR of an MSR the module does not virtualise: #VE, emulated by the handler.
    assert.equal(await g.rdmsr(0x4b564d00), 0x5678_0000_1234n);
    assert.equal(seen[2]!.veinfo.gpr[Gpr.RCX], 31n);
    g.close();
    await host;
    w.host.close();
  });

  it('triple-faults the vCPU when the client gives an exception up, and says DETACHED(TRIPLE_FAULT)', async () => {
    const w = await wiredTd(s.path);
    const entry = w.td.enter(0);
    const g = await attached(s, w); // no handler: every exception is given up
    await assert.rejects(g.ioOut(0x80, 1, 0n), (e: unknown) => e instanceof WireDetached && e.reason === DETACH.TRIPLE_FAULT);
    assert.equal(g.detachedReason, DETACH.TRIPLE_FAULT);
    const e = await entry;
    assert.equal(e.gpr[Gpr.RAX], RAX_TRIPLE_FAULT);
    w.host.close();
  });

  it('tells the guest DETACHED(HOST_ENDED) when the host session ends', async () => {
    const w = await wiredTd(s.path);
    void w.td.enter(0).catch(() => undefined);
    const g = await attached(s, w);
    await g.tdcall(leaf(1n));
    // HLT: exits to the host, which never answers.
    const detached = assert.rejects(g.tdcall(tdvmcall(12n)), (e: unknown) => e instanceof WireDetached && e.reason === DETACH.HOST_ENDED);
    await sleep(20);
    w.host.close();
    await detached;
  });

  it('tells the guest DETACHED(VCPU_DESTROYED) when the host tears the TD down', async () => {
    const w = await wiredTd(s.path);
    const entry = w.td.enter(0);
    const g = await attached(s, w);
    const detached = assert.rejects(g.tdcall(tdvmcall(12n)), (e: unknown) => e instanceof WireDetached && e.reason === DETACH.VCPU_DESTROYED);
    assert.equal((await entry).gpr[Gpr.R11], 12n);
    assert.equal(await w.td.destroy(), 17);
    await detached;
    w.host.close();
  });

  it('loads and stores private memory through the Secure EPT, and shared memory through the host shared EPT', async () => {
    const w = await wiredTd(s.path);
    const h = w.host;
    // Shared memory: a host page mapped at a shared GPA, the vCPU pointed at the table.
    const root = (await h.allocPages(1)).base;
    const page = (await h.allocPages(1)).base;
    const gpa = SHARED_BIT | 0x20_0000n;
    assert.equal(await h.sharedEpt(root, gpa, 1, page), 0);
    await h.memWrite(page + 16n, new Uint8Array([1, 2, 3, 4]));
    const field = metadataFieldByName('SHARED_EPTP')!.id;
    assert.equal((await wireLeaf(h, 0, SeamcallLeaf.TDH_VP_WR, { tdvpr: w.td.tdvprs[0]!, fieldId: field, value: root, mask: ~0n & 0xffff_ffff_ffff_ffffn })).status, 0n);

    const exits: RegisterFile[] = [];
    const host = hostLoop(w.td, (e) => (exits.push(e), 'stop'));
    const g = await attached(s, w);
    assert.equal(new TextDecoder().decode(await g.load(BOOT_PAGE, 11)), 'TDXSIM-BOOT');
    await g.store(BOOT_PAGE + 2048n, new Uint8Array([9, 8, 7]));
    assert.deepEqual([...(await g.load(BOOT_PAGE + 2047n, 5))], [0, 9, 8, 7, 0]);
    assert.deepEqual([...(await g.load(gpa + 16n, 4))], [1, 2, 3, 4]);
    await g.store(gpa + 100n, new Uint8Array([0xaa, 0xbb]));
    assert.deepEqual([...((await h.memRead(page + 100n, 2)) as Uint8Array)], [0xaa, 0xbb]);

    // An unmapped shared GPA: an EPT-violation TD exit to the host naming the GPA.
    void g.load(gpa + 0x1000n, 8).catch(() => undefined);
    await host;
    assert.equal(exits[0]!.gpr[Gpr.RAX], RAX_EPT_VIOLATION);
    assert.equal(exits[0]!.gpr[Gpr.R8], gpa + 0x1000n);
    g.close();
    h.close();
  });

  it('virtualises CPUID like the module does (leaf 0x21: the TDX signature)', async () => {
    const w = await wiredTd(s.path);
    void w.td.enter(0).catch(() => undefined);
    const g = await attached(s, w);
    assert.deepEqual(await g.cpuid(0x21, 0), { eax: 0, ebx: 0x6574_6e49, ecx: 0x2020_2020, edx: 0x5844_546c });
    await g.insn(4); // STI: no trap
    await g.insn(5); // CLI
    g.close();
    w.host.close();
  });

  it('answers an entry the module refuses at once, even while the vCPU waits for its client', async () => {
    const w = await wiredTd(s.path);
    const held = w.td.enter(0); // LP 0: held, the guest has not spoken
    const g = await attached(s, w);
    await sleep(20);
    const other = new RegisterFile();
    other.gpr[Gpr.RAX] = 0n; // TDH.VP.ENTER of the same vCPU from LP 1
    other.gpr[Gpr.RCX] = w.td.tdvprs[0]!;
    assert.equal((await w.host.seamcall(1, other)).gpr[Gpr.RAX], 0x8000_0701_0000_0000n); // TDX_VCPU_ASSOCIATED
    const pending = g.tdcall(tdvmcall(12n));
    assert.equal((await held).gpr[Gpr.R11], 12n, 'the held entry still runs the guest');
    void pending.catch(() => undefined);
    g.close();
    w.host.close();
  });

  it('gives each vCPU of a TD its own client, by VCPU_INDEX', async () => {
    const w = await wiredTd(s.path, { vcpus: 2 });
    void w.td.enter(0).catch(() => undefined);
    void w.td.enter(1).catch(() => undefined);
    const g0 = await attached(s, w, 0);
    const g1 = await attached(s, w, 1);
    const [a, b] = await Promise.all([g0.tdcall(leaf(1n)), g1.tdcall(leaf(1n))]);
    assert.equal(a.gpr[Gpr.R9], 0n);
    assert.equal(b.gpr[Gpr.R9], 1n);
    assert.equal(a.gpr[Gpr.R8], (2n << 32n) | 2n);
    g0.close();
    g1.close();
    w.host.close();
  });
});

describe('guest session: a silent client and the timer tick', () => {
  it('delivers the held entry as a timer exit after a tick of silence, and enters again', async () => {
    const s = await startServer({ guestWaitTickMs: 30 });
    try {
      const w = await wiredTd(s.path);
      const g = await attached(s, w);
      const tick = await w.td.enter(0);
      assert.deepEqual([Gpr.RAX, Gpr.RCX, Gpr.RDX, Gpr.R8, Gpr.R9, Gpr.R10].map((r) => tick.gpr[r]), [RAX_EXTERNAL_INTERRUPT, 0n, 0n, 0n, TIMER_INTERRUPTION_INFO, 0n]);
      const again = await w.td.enter(0); // still silent: another tick
      assert.equal(again.gpr[Gpr.RAX], RAX_EXTERNAL_INTERRUPT);
      const entry = w.td.enter(0);
      assert.equal((await g.tdcall(leaf(1n))).gpr[Gpr.RCX], 48n);
      const pending = g.tdcall(tdvmcall(12n));
      assert.equal((await entry).gpr[Gpr.R11], 12n);
      g.close();
      void pending.catch(() => undefined);
      w.host.close();
    } finally {
      await s.close();
    }
  });
});

describe('guest session: protocol violations close the connection with ERROR', () => {
  let s: TestServer;
  before(async () => (s = await startServer({ guestWaitTickMs: 60_000 })));
  after(() => s.close());

  async function violation(send: (g: WireClient, w: WiredTd) => void, code: number): Promise<void> {
    const w = await wiredTd(s.path);
    void w.td.enter(0).catch(() => undefined);
    const g = await attached(s, w);
    send(g, w);
    const e = await g.closed();
    assert.ok(e instanceof WireError, String(e));
    assert.equal(e.code, code);
    w.host.close();
  }

  const frame = (type: number, id: number, payload: Uint8Array) => rawFrame(type, id, payload);

  it('EXCEPTION_DONE with no exception open', () => violation((g) => g.sendRaw(frame(T.EXCEPTION_DONE, 5, Buffer.alloc(144))), E.UNEXPECTED_MESSAGE));
  it('a second instruction while one executes', () =>
    violation((g) => {
      g.sendRaw(frame(T.TDCALL, 5, Buffer.alloc(384)));
      g.sendRaw(frame(T.TDCALL, 6, Buffer.alloc(384)));
    }, E.UNEXPECTED_MESSAGE));
  it('an I/O size other than 1, 2 or 4', () => violation((g) => g.sendRaw(frame(0x0203, 5, Buffer.from([0xf8, 3, 3, 0, 0, 0, 0, 0]))), E.BAD_OPERAND));
  it('an undefined INSN code', () => violation((g) => g.sendRaw(frame(0x020a, 5, Buffer.from([9, 0, 0, 0, 0, 0, 0, 0]))), E.BAD_OPERAND));
  it('a LOAD of 0 bytes', () => violation((g) => g.sendRaw(frame(0x0205, 5, Buffer.alloc(16))), E.BAD_OPERAND));
  it('a host message from a guest', () => violation((g) => g.sendRaw(frame(T.PLATFORM_INFO, 5, Buffer.alloc(0))), E.UNEXPECTED_MESSAGE));
  it('a second ATTACH_GUEST', () => violation((g, w) => void g.attach(w.token, 1).catch(() => undefined), E.UNEXPECTED_MESSAGE));
  it('an EXCEPTION_DONE naming the wrong request', () =>
    violation((g) => {
      g.onException = async () => {
        g.sendRaw(frame(T.EXCEPTION_DONE, 999, Buffer.alloc(144)));
        return new Promise(() => {}); // never answers properly
      };
      void g.ioOut(0x80, 1, 0n).catch(() => undefined);
    }, E.UNEXPECTED_MESSAGE));

  it('an instruction before ATTACH_GUEST, and a token that is not hex', async () => {
    for (const [payload, type, code] of [
      [Buffer.alloc(384), T.TDCALL, E.UNEXPECTED_MESSAGE],
      [Buffer.from('Z'.repeat(32) + '\0'.repeat(8), 'latin1'), T.ATTACH_GUEST, E.BAD_OPERAND],
    ] as const) {
      const g = await guestClient(s.path);
      g.sendRaw(rawFrame(type, 3, payload));
      const e = await g.closed();
      assert.ok(e instanceof WireError);
      assert.equal(e.code, code);
      assert.equal(e.requestId, 3);
    }
  });
});
