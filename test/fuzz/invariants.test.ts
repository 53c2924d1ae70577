/**
 * Each invariant check, against a healthy world (no violation) and against a deliberately broken
 * one (the violation it must report): corrupted PAMT entries and CHLDCNT, a held lock, a changed
 * MRTD, a reclaimed page left typed, leaked secrets in registers and memory, an unexposed
 * register changed, undefined statuses, and VMM replies that break the GHCI contract.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegisterFile } from '../../src/abi/registers.ts';
import { PamtPageSize, PamtPageType } from '../../src/abi/pamt.ts';
import { TdxStatus, TdxSoftwareStatus, withOperand, OperandId } from '../../src/abi/status.ts';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';
import { TdvmcallSubfunction } from '../../src/abi/tdvmcall.ts';
import { bringUp, buildTd, createWorld } from '../../src/fuzz/world.ts';
import {
  checkReclaimed,
  checkStatus,
  checkTdvmcallStatus,
  checkUnexposedRegisters,
  exceptionViolation,
  Invariant,
  ModuleStateWatch,
  MrtdWatch,
  SecretWords,
} from '../../src/fuzz/invariants.ts';
import { checkTdvmcallReply } from '../../src/fuzz/ghci-contract.ts';
import { MemoryWatch } from '../../src/fuzz/memory-watch.ts';
import { LockKey } from '../../src/module/locks.ts';

function worldWithTd() {
  const w = createWorld();
  bringUp(w);
  const built = buildTd(w, { hkid: w.globalHkid + 1, pages: new Map([[0n, new Uint8Array(4096)]]) });
  const td = w.module.td(built.tdr)!;
  return { w, built, td };
}

test('checkStatus: defined codes (with operands, exit reasons, software codes) pass; others fail', () => {
  assert.equal(checkStatus(TdxStatus.TDX_SUCCESS, 'x'), undefined);
  assert.equal(checkStatus(withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX), 'x'), undefined);
  assert.equal(checkStatus(TdxSoftwareStatus.TDX_SEAMCALL_VMFAILINVALID, 'x'), undefined);
  const v = checkStatus(0x4000_1234_0000_0000n, 'SEAMCALL TDH.X');
  assert.equal(v?.invariant, Invariant.STATUS_DEFINED);
  assert.match(v!.message, /SEAMCALL TDH\.X returned undefined status 0x4000123400000000/i);
});

test('checkTdvmcallStatus: the GHCI statuses pass; anything else fails', () => {
  for (const s of Object.values(TdvmcallStatus)) assert.equal(checkTdvmcallStatus(s, 'x'), undefined);
  assert.equal(checkTdvmcallStatus(5n, 'reply')?.invariant, Invariant.STATUS_DEFINED);
  assert.equal(checkTdvmcallStatus(0x8000_0000_0000_0009n, 'reply')?.invariant, Invariant.STATUS_DEFINED);
});

test('exceptionViolation names where and what', () => {
  const v = exceptionViolation('SEAMCALL TDH.MEM.PAGE.AUG', new RangeError('level 9'));
  assert.deepEqual(v, { invariant: Invariant.NO_EXCEPTION, message: 'SEAMCALL TDH.MEM.PAGE.AUG threw RangeError: level 9' });
});

test('SecretWords finds a secret in any GPR or XMM half, and aligned words in bytes', () => {
  const s = new SecretWords();
  s.add(0x1122_3344_5566_7788n);
  const regs = new RegisterFile();
  assert.equal(s.scanRegisters(regs, 'out'), undefined);
  regs.set('R13', 0x1122_3344_5566_7788n);
  assert.deepEqual(s.scanRegisters(regs, 'out'), { invariant: Invariant.NO_PLAINTEXT_LEAK, message: 'out: R13 holds TD secret 0x1122334455667788' });
  regs.set('R13', 0n);
  regs.xmm[5] = 0x1122_3344_5566_7788n;
  assert.match(s.scanRegisters(regs, 'out')!.message, /XMM2 holds TD secret/);
  const bytes = new Uint8Array(24);
  new DataView(bytes.buffer).setBigUint64(8, 0x1122_3344_5566_7788n, true);
  assert.equal(s.scanBytes(bytes, 0x1000n), 0x1122_3344_5566_7788n);
  // Read from PA 0x1004, the word at offset 8 is not 8-byte aligned in memory: not a planted word.
  assert.equal(s.scanBytes(bytes, 0x1004n), undefined);
  assert.equal(s.scanBytes(bytes.subarray(12), 0x1000n), undefined);
});

test('checkUnexposedRegisters: exposed registers may change, others may not (RAX excepted)', () => {
  const before = new RegisterFile();
  for (let i = 0; i < 16; i++) before.gpr[i] = BigInt(i + 100);
  const after = before.clone();
  after.set('RAX', 0n).set('R12', 7n);
  assert.equal(checkUnexposedRegisters(before, after, 1n << 12n, 'call'), undefined);
  after.set('RBX', 9n);
  const v = checkUnexposedRegisters(before, after, 1n << 12n, 'call');
  assert.equal(v?.invariant, Invariant.UNEXPOSED_REGISTERS);
  assert.match(v!.message, /unexposed RBX changed from 0x0000000000000067 to 0x0000000000000009/i);
});

test('ModuleStateWatch: a freshly built TD is consistent', () => {
  const { w } = worldWithTd();
  assert.equal(new ModuleStateWatch().check(w.module), undefined);
});

test('ModuleStateWatch: a PAMT entry that disagrees with the TD structures is reported', () => {
  const { w, built } = worldWithTd();
  const watch = new ModuleStateWatch();
  w.module.pamt.set(built.pages.get(0n)!, PamtPageSize.PT_4KB, PamtPageType.PT_TDCX, built.tdr);
  const v = watch.check(w.module);
  assert.equal(v?.invariant, Invariant.PAMT_SEPT_CONSISTENT);
  assert.match(v!.message, /private page of TD .* should be PT_REG .*; PAMT has PT_TDCX/);
});

test('ModuleStateWatch: an owned page nobody names, and a wrong CHLDCNT, are reported', () => {
  const { w, built, td } = worldWithTd();
  const watch = new ModuleStateWatch();
  const stray = w.tdPages.alloc4k();
  w.module.pamt.set(stray, PamtPageSize.PT_4KB, PamtPageType.PT_REG, built.tdr);
  assert.match(watch.check(w.module)!.message, /owned by TD .* but none of its structures names it/);
  w.module.pamt.free(stray, PamtPageSize.PT_4KB);
  assert.equal(watch.check(w.module), undefined);
  td.childCount += 1n;
  assert.match(watch.check(w.module)!.message, /CHLDCNT is \d+ but its structures name \d+ pages/);
});

test('ModuleStateWatch: a page owned by a TDR that no longer exists is reported', () => {
  const { w, built } = worldWithTd();
  const page = w.tdPages.alloc4k();
  w.module.pamt.set(page, PamtPageSize.PT_4KB, PamtPageType.PT_EPT, built.tdr + 0x1000n);
  assert.match(new ModuleStateWatch().check(w.module)!.message, /is owned by .*, which is not a live TDR/);
});

test('ModuleStateWatch: a lock left held between calls is reported', () => {
  const { w, built } = worldWithTd();
  const release = w.module.locks.hold(LockKey.pamt(built.tdr >> 12n), 'shared');
  assert.equal(new ModuleStateWatch().check(w.module)?.invariant, Invariant.LOCKS_IDLE);
  release();
  assert.equal(new ModuleStateWatch().check(w.module), undefined);
});

test('MrtdWatch: a finalised MRTD may not change; one still being built is ignored', () => {
  const w = createWorld();
  bringUp(w);
  const td = w.module.td(buildTd(w, { hkid: w.globalHkid + 1, finalize: false }).tdr)!;
  const watch = new MrtdWatch();
  assert.equal(watch.check(w.module), undefined);
  assert.ok(td.mrtdHash, 'not finalised');
  td.mrtd[0] = td.mrtd[0]! ^ 1; // ignored: MRTD is still a hash in progress
  assert.equal(watch.check(w.module), undefined);

  const w2 = createWorld();
  bringUp(w2);
  const b2 = buildTd(w2, { hkid: w2.globalHkid + 1 });
  const td2 = w2.module.td(b2.tdr)!;
  const watch2 = new MrtdWatch();
  assert.equal(watch2.check(w2.module), undefined);
  td2.mrtd[3] = td2.mrtd[3]! ^ 255;
  const v = watch2.check(w2.module);
  assert.equal(v?.invariant, Invariant.MRTD_IMMUTABLE);
  assert.match(v!.message, /MRTD of TD .* changed after finalisation/);
});

test('checkReclaimed: a reclaimed page must be PT_NDA', () => {
  const { w, built } = worldWithTd();
  assert.equal(checkReclaimed(w.module, w.tdPages.alloc4k()), undefined);
  assert.match(checkReclaimed(w.module, built.tdr)!.message, /was reclaimed but its PAMT entry is PT_TDR/);
});

test('MemoryWatch: host reads see ciphertext of a planted page; private KeyIDs and leaks are caught', () => {
  const w = createWorld();
  const secrets = new SecretWords();
  const watch = new MemoryWatch(w.platform, secrets);
  watch.install();
  bringUp(w);
  const built = buildTd(w, { hkid: w.globalHkid + 1, pages: new Map([[0n, new Uint8Array(4096)]]) });
  const page = built.pages.get(0n)!;
  watch.plant(page, built.hkid, 0x5ec2e7n);
  assert.equal(watch.take(), undefined, 'planting is a guest write');
  // The host reads the page with its own KeyID: ciphertext, no secret, no violation.
  w.platform.memory.read(page, 4096, 0);
  assert.equal(watch.take(), undefined);
  // The host using the TD's private KeyID is what the CPU forbids.
  w.platform.memory.read(page, 8, built.hkid);
  const v = watch.take();
  assert.equal(v?.invariant, Invariant.NO_PLAINTEXT_LEAK);
  assert.match(v!.message, /host read .* with private KeyID/);
  assert.equal(watch.take(), undefined, 'take() forgets');
  // A broken module that copies the TD's page into host memory is caught as it writes.
  const leaky = {
    loaded: true,
    seamcall: () => w.platform.memory.write(8n << 20n, w.platform.memory.read(page, 64, built.hkid), 0),
  };
  const real = w.platform.seamModule!;
  w.platform.loadModule(leaky);
  const inner = new MemoryWatch(w.platform, secrets);
  inner.install();
  w.lps[0]!.seamcall(new RegisterFile());
  assert.match(inner.take()!.message, /module wrote TD secret 0x00000000005EC2E7 to host-readable/i);
  w.platform.loadModule(real);
});

test('MemoryWatch: a host read that returns a planted secret (a memory model that stops encrypting) is caught', () => {
  const w = createWorld();
  const secrets = new SecretWords();
  const watch = new MemoryWatch(w.platform, secrets);
  const page = 16n << 20n;
  watch.plant(page, 0, 0xabcdefn); // KeyID 0: as if encryption were off
  watch.install();
  w.platform.memory.read(page + 8n, 16, 0);
  assert.match(watch.take()!.message, /returned TD secret 0x0000000000ABCDEF/i);
});

test('GHCI contract: RETRY only for MapGPA, inside the range; defined statuses only', () => {
  const map = { callType: 0n, subfunction: BigInt(TdvmcallSubfunction.MAP_GPA.number), r12: 0x10000n, r13: 0x4000n };
  assert.equal(checkTdvmcallReply(map, TdvmcallStatus.RETRY, 0x11000n, 'r'), undefined);
  assert.equal(checkTdvmcallReply(map, TdvmcallStatus.RETRY, 0x10000n, 'r'), undefined);
  assert.equal(checkTdvmcallReply(map, TdvmcallStatus.RETRY, 0x14000n, 'r')?.invariant, Invariant.VMM_REPLY_CONTRACT);
  assert.equal(checkTdvmcallReply(map, TdvmcallStatus.RETRY, 0xf000n, 'r')?.invariant, Invariant.VMM_REPLY_CONTRACT);
  const cpuid = { ...map, subfunction: BigInt(TdvmcallSubfunction.CPUID.number) };
  assert.match(checkTdvmcallReply(cpuid, TdvmcallStatus.RETRY, 0n, 'r')!.message, /not resumable/);
  assert.equal(checkTdvmcallReply(cpuid, 77n, 0n, 'r')?.invariant, Invariant.STATUS_DEFINED);
  // KVM hypercalls answer with KVM's own values.
  assert.equal(checkTdvmcallReply({ ...map, callType: 12n }, 77n, 0n, 'r'), undefined);
});

test('ModuleStateWatch sees a page in two TDs at once', () => {
  const { w, built } = worldWithTd();
  const b2 = buildTd(w, { hkid: w.globalHkid + 2 });
  const td2 = w.module.td(b2.tdr)!;
  td2.tdcx[0] = built.tdcs[0]!; // the same page in both TDCSs
  assert.match(new ModuleStateWatch().check(w.module)!.message, /is both TDCS page of TD .* and TDCS page of TD/);
});
