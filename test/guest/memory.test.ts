import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OperandId, TdxStatus, withOperand } from '../../src/abi/status.ts';
import { TdcallLeaf } from '../../src/abi/tdcall-leaves.ts';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';
import type { RegisterFile } from '../../src/abi/registers.ts';
import { acceptMemory, describeMemoryFailure, MemoryUsageError, setMemoryPrivate, setMemoryShared } from '../../src/guest/memory.ts';
import { MockTdx, type MockConfig, type ModuleReply, type VmmReply, type VmmRequest } from '../helpers/mock-tdx.ts';

const SHARED = 1n << 47n;
const K4 = 0x1000n;
const M2 = 0x20_0000n;
const G1 = 0x4000_0000n;

function withAccept(accept: (gpa: bigint, level: number) => bigint, config: MockConfig = {}) {
  const calls: { gpa: bigint; level: number }[] = [];
  const accepted: { gpa: bigint; level: number }[] = [];
  const handler = (regs: RegisterFile): ModuleReply => {
    const rcx = regs.get('RCX');
    const call = { gpa: rcx & ~0xfffn, level: Number(rcx & 7n) };
    calls.push(call);
    const status = accept(call.gpa, call.level);
    if (status >> 63n === 0n) accepted.push(call);
    return { status };
  };
  const mock = new MockTdx({ ...config, tdcall: { [TdcallLeaf.TDG_MEM_PAGE_ACCEPT.number]: handler } });
  return { mock, calls, accepted, env: { cpu: mock.cpu, sharedBit: SHARED } };
}

const UNSUPPORTED = withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX);

test('accept tries 1G, then 2M, then 4K at each step', () => {
  // 1G is not supported (TDX 1.5); the second 2M page is mapped with 4K pages (size mismatch).
  const { mock, calls, accepted, env } = withAccept((gpa, level) =>
    level === 2 ? UNSUPPORTED : level === 1 && gpa === G1 + M2 ? withOperand(TdxStatus.TDX_PAGE_SIZE_MISMATCH, 0) : 0n,
  );
  const res = mock.run(() => acceptMemory(env, G1, G1 + K4));
  assert.deepEqual(res, { ok: true });
  assert.deepEqual(calls.slice(0, 4), [
    { gpa: G1, level: 2 },
    { gpa: G1, level: 1 },
    { gpa: G1 + M2, level: 1 },
    { gpa: G1 + M2, level: 0 },
  ]);
  assert.equal(mock.tdcalls()[0]!.in.RCX, 0x4000_0002n, 'RCX = GPA | level');
  let next = G1;
  for (const c of accepted) {
    assert.equal(c.gpa, next, 'accepted in order, without gaps or overlaps');
    next += c.level === 1 ? M2 : K4;
  }
  assert.equal(next, G1 + G1 + K4, 'every byte accepted exactly once');
  assert.deepEqual(calls.at(-1), { gpa: G1 + G1, level: 0 });
  assert.equal(calls.filter((c) => c.level === 0).length, 512 + 1);
});

test('a 1G accept that succeeds covers the whole gigabyte in one call', () => {
  const { mock, calls, env } = withAccept(() => 0n);
  assert.deepEqual(mock.run(() => acceptMemory(env, G1, G1)), { ok: true });
  assert.deepEqual(calls, [{ gpa: G1, level: 2 }]);
});

test('PAGE_ALREADY_ACCEPTED counts as accepted', () => {
  const { mock, calls, env } = withAccept(() => withOperand(TdxStatus.TDX_PAGE_ALREADY_ACCEPTED, 0));
  assert.deepEqual(mock.run(() => acceptMemory(env, 0x3000n, 2n * K4)), { ok: true });
  assert.deepEqual(calls, [
    { gpa: 0x3000n, level: 0 },
    { gpa: 0x4000n, level: 0 },
  ]);
});

test('a 4K failure, or a 2M error that is not a size problem, fails the accept', () => {
  const busy = withOperand(TdxStatus.TDX_OPERAND_BUSY, OperandId.RCX);
  const a = withAccept((gpa) => (gpa === 0x5000n ? busy : 0n));
  const res = a.mock.run(() => acceptMemory(a.env, 0x4000n, 2n * K4));
  assert.deepEqual(res, { ok: false, kind: 'accept', gpa: 0x5000n, level: 0, status: 0x8000020000000001n });
  assert.equal(describeMemoryFailure(res as never), 'accept 0x5000 level 0: status 0x8000020000000001');
  const b = withAccept((_gpa, level) => (level === 1 ? busy : 0n));
  assert.deepEqual(b.mock.run(() => acceptMemory(b.env, M2, M2)), { ok: false, kind: 'accept', gpa: M2, level: 1, status: busy });
  assert.equal(b.calls.length, 1, 'no fallback on OPERAND_BUSY');
});

test('accept refuses unaligned, empty and shared ranges (guest code bug)', () => {
  const { mock, env } = withAccept(() => 0n);
  assert.throws(() => mock.run(() => acceptMemory(env, 0x1001n, K4)), MemoryUsageError);
  assert.throws(() => mock.run(() => acceptMemory(env, 0x1000n, 0n)), MemoryUsageError);
  assert.throws(() => mock.run(() => acceptMemory(env, SHARED | 0x1000n, K4)), MemoryUsageError);
  assert.throws(() => mock.run(() => setMemoryShared(env, SHARED - K4, 2n * K4)), MemoryUsageError);
  assert.equal(mock.crossings.length, 0);
});

/** A VMM that answers MapGPA calls from a script of replies. */
function mapGpaVmm(replies: VmmReply[]) {
  const seen: VmmRequest[] = [];
  const vmm = (req: VmmRequest): VmmReply => {
    seen.push(req);
    return replies.shift() ?? {};
  };
  return { seen, vmm };
}
const retry = (next: bigint): VmmReply => ({ regs: { R10: TdvmcallStatus.RETRY, R11: next } });

test('setMemoryShared issues MapGPA with the shared bit set in R12, size in R13', () => {
  const { seen, vmm } = mapGpaVmm([]);
  const mock = new MockTdx({ vmm });
  assert.deepEqual(mock.run((cpu) => setMemoryShared({ cpu, sharedBit: SHARED }, 0x10_0000n, 2n * K4)), { ok: true });
  assert.equal(seen.length, 1);
  assert.deepEqual([seen[0]!.regs.R11, seen[0]!.regs.R12, seen[0]!.regs.R13], [0x10001n, SHARED | 0x10_0000n, 0x2000n]);
  assert.deepEqual(mock.tdcalls().map((c) => c.name), ['TDG.VP.VMCALL'], 'no accept when converting to shared');
});

test('MapGPA RETRY resumes from R11 when it lies in [start, end) and makes progress', () => {
  const start = SHARED | 0x10_0000n;
  const { seen, vmm } = mapGpaVmm([retry(start + K4), retry(start + K4), retry(start + 3n * K4)]);
  const mock = new MockTdx({ vmm });
  assert.deepEqual(mock.run((cpu) => setMemoryShared({ cpu, sharedBit: SHARED }, 0x10_0000n, 4n * K4)), { ok: true });
  assert.deepEqual(
    seen.map((r) => [r.regs.R12, r.regs.R13]),
    [
      [start, 4n * K4],
      [start + K4, 3n * K4],
      [start + K4, 3n * K4],
      [start + 3n * K4, K4],
    ],
  );
});

test('a malicious VMM: R11 outside the range is rejected', () => {
  const start = SHARED | 0x10_0000n;
  for (const bad of [start - K4, start + 4n * K4, 0n]) {
    const { seen, vmm } = mapGpaVmm([retry(bad)]);
    const mock = new MockTdx({ vmm });
    const res = mock.run((cpu) => setMemoryShared({ cpu, sharedBit: SHARED }, 0x10_0000n, 4n * K4));
    assert.deepEqual(res, { ok: false, kind: 'map_gpa_bad_retry', gpa: start, nextGpa: bad });
    assert.equal(seen.length, 1);
  }
});

test('a malicious VMM: RETRY without progress is tolerated 3 times in a row, then rejected', () => {
  const start = SHARED | 0x10_0000n;
  const { seen, vmm } = mapGpaVmm(Array.from({ length: 10 }, () => retry(start)));
  const mock = new MockTdx({ vmm });
  const res = mock.run((cpu) => setMemoryShared({ cpu, sharedBit: SHARED }, 0x10_0000n, 4n * K4));
  assert.deepEqual(res, { ok: false, kind: 'map_gpa_no_progress', gpa: start });
  assert.equal(seen.length, 3);
  // Progress resets the count: 2 stalls, progress, 2 stalls, success.
  const again = mapGpaVmm([retry(start), retry(start), retry(start + K4), retry(start + K4), retry(start + K4), {}]);
  const mock2 = new MockTdx({ vmm: again.vmm });
  assert.deepEqual(mock2.run((cpu) => setMemoryShared({ cpu, sharedBit: SHARED }, 0x10_0000n, 4n * K4)), { ok: true });
  assert.equal(again.seen.length, 6);
});

test('any other MapGPA status is a failure in the VMM domain', () => {
  const { vmm } = mapGpaVmm([{ regs: { R10: TdvmcallStatus.INVALID_OPERAND, R11: 0x1234n } }]);
  const mock = new MockTdx({ vmm });
  const res = mock.run((cpu) => setMemoryShared({ cpu, sharedBit: SHARED }, 0x10_0000n, K4));
  assert.deepEqual(res, { ok: false, kind: 'map_gpa', gpa: SHARED | 0x10_0000n, status: 0x8000000000000000n, statusName: 'INVALID_OPERAND' });
  assert.equal(describeMemoryFailure(res as never), 'MapGPA 0x800000100000: VMM INVALID_OPERAND');
});

test('setMemoryPrivate maps without the shared bit and then accepts the range', () => {
  const { seen, vmm } = mapGpaVmm([]);
  const { mock, calls } = withAccept(() => 0n, { vmm });
  const res = mock.run((cpu) => setMemoryPrivate({ cpu, sharedBit: SHARED }, 0x10_0000n, 2n * K4));
  assert.deepEqual(res, { ok: true });
  assert.deepEqual([seen[0]!.regs.R12, seen[0]!.regs.R13], [0x10_0000n, 0x2000n]);
  assert.deepEqual(calls, [
    { gpa: 0x10_0000n, level: 0 },
    { gpa: 0x10_1000n, level: 0 },
  ]);
  assert.deepEqual(mock.trace(), ['VMCALL MapGPA', 'TDG.MEM.PAGE.ACCEPT', 'TDG.MEM.PAGE.ACCEPT']);
});

test('setMemoryPrivate does not accept when MapGPA fails', () => {
  const { vmm } = mapGpaVmm([{ regs: { R10: TdvmcallStatus.ALIGN_ERROR } }]);
  const { mock, calls } = withAccept(() => 0n, { vmm });
  const res = mock.run((cpu) => setMemoryPrivate({ cpu, sharedBit: SHARED }, 0x10_0000n, K4));
  assert.equal(res?.ok, false);
  assert.equal(calls.length, 0);
});
