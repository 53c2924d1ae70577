import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';
import type { GuestCpu, GuestGen } from '../../src/platform/guest-cpu.ts';
import * as ghci from '../../src/guest/ghci.ts';
import { MockTdx, type Regs } from '../helpers/mock-tdx.ts';

/** Run one wrapper against a VMM that answers `reply`; return its result and the guest's registers at the call. */
function call<T>(fn: (cpu: GuestCpu) => GuestGen<T>, reply: Partial<Regs> = {}) {
  const mock = new MockTdx({ vmm: () => ({ regs: reply }) });
  const result = mock.run(fn);
  const calls = mock.tdvmcalls();
  assert.equal(calls.length, 1);
  const r = calls[0]!.request.regs;
  assert.equal(r.RCX, 0xffccn);
  assert.equal(r.R10, 0n);
  return { result, r, name: calls[0]!.name };
}

const args = (r: Regs) => [r.R11, r.R12, r.R13, r.R14, r.R15];

test('Instruction.CPUID: R12 = leaf, R13 = sub-leaf → EAX..EDX in R12..R15', () => {
  const { result, r, name } = call((cpu) => ghci.cpuid(cpu, 0x4000_0001, 2), { R12: 1n, R13: 2n, R14: 3n, R15: 4n });
  assert.equal(name, 'Instruction.CPUID');
  assert.deepEqual(args(r), [10n, 0x40000001n, 2n, 0n, 0n]);
  assert.deepEqual(result, { ok: true, out: { eax: 1n, ebx: 2n, ecx: 3n, edx: 4n } });
});

test('Instruction.HLT: R12 = interrupts blocked', () => {
  assert.deepEqual(args(call((cpu) => ghci.hlt(cpu, true)).r), [12n, 1n, 0n, 0n, 0n]);
  const { result, r } = call((cpu) => ghci.hlt(cpu, false));
  assert.deepEqual(args(r), [12n, 0n, 0n, 0n, 0n]);
  assert.deepEqual(result, { ok: true, out: {} });
});

test('Instruction.IO read: R12 = size, R13 = 0, R14 = port → R11 = data', () => {
  const { result, r } = call((cpu) => ghci.ioRead(cpu, 0x3fd, 1), { R11: 0x60n });
  assert.deepEqual(args(r), [30n, 1n, 0n, 0x3fdn, 0n]);
  assert.deepEqual(result, { ok: true, out: { data: 0x60n } });
});

test('Instruction.IO write: R12 = size, R13 = 1, R14 = port, R15 = data', () => {
  const { result, r } = call((cpu) => ghci.ioWrite(cpu, 0x3f8, 2, 0x4142n));
  assert.deepEqual(args(r), [30n, 2n, 1n, 0x3f8n, 0x4142n]);
  assert.deepEqual(result, { ok: true, out: {} });
});

test('Instruction.RDMSR: R12 = MSR → R11 = value', () => {
  const { result, r } = call((cpu) => ghci.rdmsr(cpu, 0x1b), { R11: 0xfee00900n });
  assert.deepEqual(args(r), [31n, 0x1bn, 0n, 0n, 0n]);
  assert.deepEqual(result, { ok: true, out: { value: 0xfee00900n } });
});

test('Instruction.WRMSR: R12 = MSR, R13 = value', () => {
  const { r } = call((cpu) => ghci.wrmsr(cpu, 0x4b564d00, 0x1234_5678_9abc_def0n));
  assert.deepEqual(args(r), [32n, 0x4b564d00n, 0x123456789abcdef0n, 0n, 0n]);
});

test('#VE.RequestMMIO read and write: R12 = size, R13 = direction, R14 = GPA, R15 = data', () => {
  const read = call((cpu) => ghci.mmioRead(cpu, 0x8000_fee0_0000n, 8), { R11: 0xabn });
  assert.deepEqual(args(read.r), [48n, 8n, 0n, 0x8000fee00000n, 0n]);
  assert.deepEqual(read.result, { ok: true, out: { data: 0xabn } });
  const write = call((cpu) => ghci.mmioWrite(cpu, 0x8000_fee0_0008n, 4, 0xdeadbeefn));
  assert.deepEqual(args(write.r), [48n, 4n, 1n, 0x8000fee00008n, 0xdeadbeefn]);
  assert.equal(write.name, '#VE.RequestMMIO');
});

test('GetTdVmCallInfo: R12 = leaf → R11..R14', () => {
  const { result, r } = call((cpu) => ghci.getTdVmCallInfo(cpu, 1n), { R11: 2n, R12: 0n, R13: 0n, R14: 0n });
  assert.deepEqual(args(r), [0x10000n, 1n, 0n, 0n, 0n]);
  assert.deepEqual(result, { ok: true, out: { r11: 2n, r12: 0n, r13: 0n, r14: 0n } });
});

test('MapGPA: R12 = GPA, R13 = size', () => {
  const { result, r } = call((cpu) => ghci.mapGpa(cpu, 0x8000_0010_0000n, 0x2000n));
  assert.deepEqual(args(r), [0x10001n, 0x800000100000n, 0x2000n, 0n, 0n]);
  assert.deepEqual(result, { ok: true, out: {} });
});

test('GetQuote: R12 = shared GPA, R13 = size', () => {
  const { r } = call((cpu) => ghci.getQuote(cpu, 0x8000_0020_0000n, 0x2000n));
  assert.deepEqual(args(r), [0x10002n, 0x800000200000n, 0x2000n, 0n, 0n]);
});

test('ReportFatalError (one call): R12 = code, R13 = 0, message in R14…', () => {
  const mock = new MockTdx({ stopOnPanic: false });
  const result = mock.run((cpu) => ghci.reportFatalError(cpu, 'AB', 3n));
  const r = mock.tdvmcalls()[0]!.request.regs;
  assert.deepEqual(args(r), [0x10003n, 3n << 32n, 0n, 0x4241n, 0n]);
  assert.deepEqual(result, { ok: true, out: {} }, 'a VMM that resumes the guest answers the call');
});

test('SetupEventNotifyInterrupt: R12 = vector', () => {
  const { r } = call((cpu) => ghci.setupEventNotifyInterrupt(cpu, 0xf3));
  assert.deepEqual(args(r), [0x10004n, 0xf3n, 0n, 0n, 0n]);
});

test('a refusal comes back as the VMM failure, not as outputs', () => {
  const { result } = call((cpu) => ghci.ioRead(cpu, 0x60, 1), { R10: TdvmcallStatus.INVALID_OPERAND, R11: 0xffn });
  assert.deepEqual(result, { ok: false, status: 0x8000000000000000n, statusName: 'INVALID_OPERAND', r11: 0xffn });
  const sub = call((cpu) => ghci.setupEventNotifyInterrupt(cpu, 32), { R10: TdvmcallStatus.SUBFUNC_UNSUPPORTED });
  assert.equal(sub.result?.ok, false);
  assert.equal(!sub.result?.ok && sub.result?.statusName, 'SUBFUNC_UNSUPPORTED');
});
