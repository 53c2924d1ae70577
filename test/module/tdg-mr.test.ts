import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { Gpr } from '../../src/abi/registers.ts';
import { LockKey } from '../../src/module/locks.ts';
import { verifyReportMac } from '../../src/module/tdreport.ts';
import type { GuestCpu, GuestGen } from '../../src/platform/guest-cpu.ts';
import { bringUp, type ModuleEnv } from '../helpers/module-harness.ts';
import { patternPage } from '../helpers/td-memory.ts';
import {
  attachSharedEpt,
  buildRunnableTd,
  guestDone,
  guestTdcall,
  HostLoop,
  isDone,
  type RunnableTd,
  type RunnableTdOptions,
} from '../helpers/td-runner.ts';

// Literal values (tdx-module.md §2.2, §3, §7.2–7.3).
const TDG_MR_RTMR_EXTEND = 2;
const TDG_MR_REPORT = 4;
const INVALID = 0xc000_0100_0000_0000n;
const RCX = 1n;
const RDX = 2n;
const R8 = 8n;
const BUSY_RTMR = 0x8000_0200_0000_00a8n;
const SHARED_BIT = 1n << 47n;

const DATA_GPA = 0x10_0000n; // private page with test data
const REPORT_GPA = 0x20_0000n; // private page for reports
const sha384 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha384').update(b).digest());

function run(env: ModuleEnv, body: (cpu: GuestCpu) => GuestGen<void>, extra: Partial<RunnableTdOptions> = {}): { rt: RunnableTd; host: HostLoop } {
  const rt = buildRunnableTd(env, {
    pages: [{ gpa: DATA_GPA, bytes: patternPage(7) }, { gpa: REPORT_GPA }],
    ...extra,
    *program(cpu) {
      yield* body(cpu);
      yield* guestDone(cpu);
    },
  });
  return { rt, host: new HostLoop(env, rt.vcpus[0]!.tdvpr) };
}

describe('TDG.MR.RTMR.EXTEND', () => {
  it('RTMR[i] = SHA-384(RTMR[i] || 48 bytes at the private GPA), chained', () => {
    const env = bringUp();
    const statuses: bigint[] = [];
    const { rt, host } = run(env, function* (cpu) {
      statuses.push(yield* guestTdcall(cpu, TDG_MR_RTMR_EXTEND, { RCX: DATA_GPA + 0x40n, RDX: 2n }));
      statuses.push(yield* guestTdcall(cpu, TDG_MR_RTMR_EXTEND, { RCX: DATA_GPA + 0x80n, RDX: 2n }));
    });
    rt.td.teeInfoHash = new Uint8Array(48).fill(1); // a stale cached hash must be dropped
    assert.ok(isDone(host.enter()));
    assert.deepEqual(statuses, [0n, 0n]);
    const page = patternPage(7);
    const once = sha384(new Uint8Array([...new Uint8Array(48), ...page.subarray(0x40, 0x70)]));
    const twice = sha384(new Uint8Array([...once, ...page.subarray(0x80, 0xb0)]));
    assert.deepEqual(rt.td.rtmr[2], twice);
    assert.deepEqual(rt.td.rtmr[0], new Uint8Array(48));
    assert.equal(rt.td.teeInfoHash, undefined);
    assert.ok(env.module.locks.idle());
  });

  it('checks RCX alignment, RCX private and within GPAW, then RDX < 4, then the RTMR lock', () => {
    const env = bringUp();
    const statuses: bigint[] = [];
    const { rt, host } = run(env, function* (cpu) {
      const ext = (gpa: bigint, index: bigint) => guestTdcall(cpu, TDG_MR_RTMR_EXTEND, { RCX: gpa, RDX: index });
      statuses.push(yield* ext(DATA_GPA + 0x20n, 0n)); // not 64-byte aligned
      statuses.push(yield* ext(DATA_GPA + 0x20n, 9n)); // RCX is checked first
      statuses.push(yield* ext(SHARED_BIT | DATA_GPA, 0n)); // shared
      statuses.push(yield* ext(1n << 48n, 0n)); // beyond GPAW 48
      statuses.push(yield* ext(DATA_GPA, 4n));
      statuses.push(yield* ext(DATA_GPA, 1n << 63n));
      statuses.push(yield* ext(DATA_GPA, 3n)); // RTMR lock held below
    });
    const release = env.module.locks.hold(LockKey.rtmr(rt.td.tdrPfn), 'shared');
    assert.ok(isDone(host.enter()));
    release();
    assert.deepEqual(statuses, [INVALID | RCX, INVALID | RCX, INVALID | RCX, INVALID | RCX, INVALID | RDX, INVALID | RDX, BUSY_RTMR]);
    for (const r of rt.td.rtmr) assert.deepEqual(r, new Uint8Array(48));
  });
});

describe('TDG.MR.REPORT', () => {
  const mrconfigid = new Uint8Array(48).fill(0x11);
  const mrowner = new Uint8Array(48).fill(0x22);
  const mrownerconfig = new Uint8Array(48).fill(0x33);

  function reportRun(reportGpa: bigint, reportDataGpa: bigint, subtype = 0n, extra: Partial<RunnableTdOptions> = {}, before?: (cpu: GuestCpu) => GuestGen<void>) {
    const env = bringUp();
    let status = -1n;
    let report: Uint8Array = new Uint8Array();
    const { rt, host } = run(
      env,
      function* (cpu) {
        if (before) yield* before(cpu);
        status = yield* guestTdcall(cpu, TDG_MR_REPORT, { RCX: reportGpa, RDX: reportDataGpa, R8: subtype });
        if (status === 0n) report = yield* cpu.read(reportGpa, 1024);
      },
      { mrconfigid, mrowner, mrownerconfig, ...extra },
    );
    return { env, rt, host, result: () => ({ status, report }) };
  }

  it('writes TDREPORT_STRUCT: REPORTMACSTRUCT, TEE_TCB_INFO, TDINFO with hashes and a MAC that verify', () => {
    const { env, rt, host, result } = reportRun(REPORT_GPA, DATA_GPA + 0x100n, 0n, {}, function* (cpu) {
      assert.equal(yield* guestTdcall(cpu, TDG_MR_RTMR_EXTEND, { RCX: DATA_GPA, RDX: 3n }), 0n);
    });
    assert.ok(isDone(host.enter()));
    const { status, report } = result();
    assert.equal(status, 0n);
    const dv = new DataView(report.buffer, report.byteOffset, report.byteLength);
    const bytes = (o: number, n: number) => report.subarray(o, o + n);
    const zero = (n: number) => new Uint8Array(n);
    // REPORTMACSTRUCT
    assert.deepEqual([...bytes(0, 4)], [0x81, 0, 0, 0], 'REPORTTYPE TDX, subtype 0, version 0');
    assert.deepEqual(bytes(4, 12), zero(12));
    assert.deepEqual(bytes(16, 16), zero(16), 'CPUSVN (simulated: zero)');
    assert.deepEqual(bytes(32, 48), sha384(bytes(256, 256)), 'TEE_TCB_INFO_HASH');
    assert.deepEqual(bytes(80, 48), sha384(bytes(512, 512)), 'TEE_INFO_HASH');
    assert.deepEqual(bytes(128, 64), patternPage(7).subarray(0x100, 0x140), 'REPORTDATA');
    assert.deepEqual(bytes(192, 32), zero(32));
    const mac = new Uint8Array(createHmac('sha256', env.platform.reportKey).update(bytes(0, 224)).digest());
    assert.deepEqual(bytes(224, 32), mac, 'MAC = HMAC-SHA-256(report key, bytes 0..223)');
    // TEE_TCB_INFO (simulated identity of module 1.5.1 build 1)
    assert.equal(dv.getBigUint64(256, true), 0xffffn, 'VALID: words 0..15');
    assert.deepEqual([...bytes(264, 16)], [1, 1, ...zero(14)], 'TEE_TCB_SVN');
    const mrseam = sha384(new TextEncoder().encode('tdxsim simulated TDX module 1.5.1 build 1 (20250101)'));
    assert.deepEqual(bytes(280, 48), mrseam, 'MRSEAM');
    assert.deepEqual(bytes(328, 48), zero(48), 'MRSIGNERSEAM');
    assert.equal(dv.getBigUint64(376, true), 0n, 'ATTRIBUTES');
    assert.deepEqual(bytes(384, 128), zero(128));
    // TDINFO
    assert.equal(dv.getBigUint64(512, true), 1n << 28n, 'ATTRIBUTES');
    assert.equal(dv.getBigUint64(520, true), 0x7n, 'XFAM');
    assert.deepEqual(bytes(528, 48), rt.td.mrtd);
    assert.notDeepEqual(bytes(528, 48), zero(48), 'MRTD is finalised');
    assert.deepEqual(bytes(576, 48), mrconfigid);
    assert.deepEqual(bytes(624, 48), mrowner);
    assert.deepEqual(bytes(672, 48), mrownerconfig);
    assert.deepEqual(bytes(720, 48 * 3), zero(48 * 3), 'RTMR0..2');
    assert.deepEqual(bytes(864, 48), sha384(new Uint8Array([...zero(48), ...patternPage(7).subarray(0, 48)])), 'RTMR3');
    assert.deepEqual(bytes(912, 48), zero(48), 'SERVTD_HASH');
    assert.deepEqual(bytes(960, 64), zero(64));
    // The module's own verifier agrees, and any change to a covered byte breaks the MAC.
    assert.ok(verifyReportMac(env.platform, report));
    const forged = report.slice();
    forged[130]! ^= 1;
    assert.equal(verifyReportMac(env.platform, forged), false);
    const other = bringUp();
    assert.equal(verifyReportMac(other.platform, report), false, 'another platform has another key');
    assert.ok(env.module.locks.idle());
  });

  it('private output is encrypted with the TD key; shared input and output use KeyID 0', () => {
    const priv = reportRun(REPORT_GPA + 0x400n, DATA_GPA);
    assert.ok(isDone(priv.host.enter()));
    const hpa = priv.rt.td.sept!.translate(REPORT_GPA + 0x400n);
    assert.equal(hpa.kind, 'mapped');
    if (hpa.kind === 'mapped') {
      assert.notDeepEqual(priv.env.platform.memory.read(hpa.hpa, 1024, 0), priv.result().report, 'host sees ciphertext');
      assert.deepEqual(priv.env.platform.memory.read(hpa.hpa, 1024, priv.rt.hkid), priv.result().report);
    }

    const shared = SHARED_BIT | 0x30_0000n;
    const sh = reportRun(shared + 0x800n, shared + 0x40n);
    const table = attachSharedEpt(sh.env, sh.rt.vcpus[0]!);
    const hostPage = sh.env.shared.alloc4k();
    table.map(shared, hostPage);
    const reportData = new Uint8Array(64).map((_, i) => 0xa0 + i);
    sh.env.platform.memory.write(hostPage + 0x40n, reportData, 0);
    assert.ok(isDone(sh.host.enter()));
    const seenByHost = sh.env.platform.memory.read(hostPage + 0x800n, 1024, 0);
    assert.deepEqual(seenByHost, sh.result().report);
    assert.deepEqual(seenByHost.subarray(128, 192), reportData);
  });

  it('TEE_INFO_HASH follows the RTMRs: a report after an extend has a new hash', () => {
    const env = bringUp();
    const reports: Uint8Array[] = [];
    const { host } = run(env, function* (cpu) {
      for (const extend of [false, false, true]) {
        if (extend) yield* guestTdcall(cpu, TDG_MR_RTMR_EXTEND, { RCX: DATA_GPA, RDX: 0n });
        assert.equal(yield* guestTdcall(cpu, TDG_MR_REPORT, { RCX: REPORT_GPA, RDX: DATA_GPA, R8: 0n }), 0n);
        reports.push(yield* cpu.read(REPORT_GPA, 1024));
      }
    });
    assert.ok(isDone(host.enter()));
    const hash = (r: Uint8Array) => r.subarray(80, 128);
    assert.deepEqual(hash(reports[0]!), hash(reports[1]!));
    assert.notDeepEqual(hash(reports[1]!), hash(reports[2]!));
    assert.deepEqual(hash(reports[2]!), sha384(reports[2]!.subarray(512, 1024)));
  });

  it('checks RCX alignment, RDX alignment and validity, R8, the RTMR lock, then RCX validity', () => {
    const cases: [bigint, bigint, bigint, bigint][] = [
      [REPORT_GPA + 0x200n, DATA_GPA, 0n, INVALID | RCX],
      [REPORT_GPA + 0x200n, DATA_GPA + 1n, 1n, INVALID | RCX],
      [REPORT_GPA, DATA_GPA + 0x20n, 0n, INVALID | RDX],
      [REPORT_GPA, 1n << 50n, 0n, INVALID | RDX],
      [REPORT_GPA, DATA_GPA, 1n, INVALID | R8],
      [1n << 48n, DATA_GPA, 0n, INVALID | RCX],
    ];
    for (const [rcx, rdx, r8, expected] of cases) {
      const r = reportRun(rcx, rdx, r8);
      assert.ok(isDone(r.host.enter()));
      assert.equal(r.result().status, expected, `RCX ${rcx.toString(16)} RDX ${rdx.toString(16)} R8 ${r8}`);
    }
    const locked = reportRun(REPORT_GPA, DATA_GPA);
    const release = locked.env.module.locks.hold(LockKey.rtmr(locked.rt.td.tdrPfn), 'exclusive');
    assert.ok(isDone(locked.host.enter()));
    release();
    assert.equal(locked.result().status, BUSY_RTMR);
  });

  it('an unmapped output page exits to the host (read+write access) and the report is retried', () => {
    const r = reportRun(0x4000_0000n, DATA_GPA);
    const exit = r.host.enter();
    assert.equal(exit.rax, 0x30n);
    assert.equal(exit.regs.gpr[Gpr.RCX], 0x3n);
    assert.equal(exit.regs.gpr[Gpr.R8], 0x4000_0000n);
    assert.equal(r.host.enter().rax, 0x30n);
  });
});
