import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TdcallLeaf } from '../../src/abi/tdcall-leaves.ts';
import { OperandId, TdxStatus, withOperand } from '../../src/abi/status.ts';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';
import { EXPOSED_GPRS, ghciPayload, HypercallUsageError, issueTdvmcall, kvmHypercall, tdxHypercall } from '../../src/guest/hypercall.ts';
import { MockTdx } from '../helpers/mock-tdx.ts';

test('the exposed GPRs are exactly TDVMCALL_EXPOSE_REGS_MASK 0xFFCC', () => {
  assert.deepEqual(EXPOSED_GPRS, ['RDX', 'RBX', 'RSI', 'RDI', 'R8', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15']);
});

test('tdxHypercall loads RAX = 0, RCX = 0xFFCC, R10 = 0, R11 = sub-function, arguments, zero elsewhere', () => {
  const mock = new MockTdx({ vmm: () => ({ regs: { R10: 0n, R11: 0x11n, R12: 0x12n, R13: 0x13n, R14: 0x14n, R15: 0x15n } }) });
  // Stale values in exposed registers must not reach the VMM; RBP (not exposed) is left alone.
  for (const r of ['RDX', 'RBX', 'RSI', 'RDI', 'R8', 'R9', 'RBP'] as const) mock.cpu.regs.set(r, 0x5a5an);
  const res = mock.run((cpu) => tdxHypercall(cpu, 0x10004, { R12: 0xaan, R13: 0xbbn, R14: 0xccn, R15: 0xddn }));
  assert.deepEqual(res, { ok: true, r11: 0x11n, r12: 0x12n, r13: 0x13n, r14: 0x14n, r15: 0x15n });
  const [call] = mock.tdvmcalls();
  const r = call!.request.regs;
  assert.equal(r.RAX, 0n);
  assert.equal(r.RCX, 0xffccn);
  assert.equal(r.R10, 0n);
  assert.equal(r.R11, 0x10004n);
  assert.deepEqual([r.R12, r.R13, r.R14, r.R15], [0xaan, 0xbbn, 0xccn, 0xddn]);
  assert.deepEqual([r.RDX, r.RBX, r.RSI, r.RDI, r.R8, r.R9], [0n, 0n, 0n, 0n, 0n, 0n]);
  assert.equal(r.RBP, 0x5a5an);
  assert.equal(mock.cpu.regs.get('RAX'), 0n);
});

test('a non-zero R10 is returned as a VMM failure with its status and R11', () => {
  const mock = new MockTdx({ vmm: () => ({ regs: { R10: TdvmcallStatus.RETRY, R11: 0x3000n } }) });
  assert.deepEqual(mock.run((cpu) => tdxHypercall(cpu, 0x10001)), {
    ok: false,
    status: 1n,
    statusName: 'RETRY',
    r11: 0x3000n,
  });
  const odd = new MockTdx({ vmm: () => ({ regs: { R10: 0x8000000000000009n } }) });
  assert.deepEqual(odd.run((cpu) => tdxHypercall(cpu, 12)), { ok: false, status: 0x8000000000000009n, statusName: undefined, r11: 12n });
});

test('a non-zero RAX from TDG.VP.VMCALL is a module bug: the guest panics', () => {
  let failures = 1;
  const mock = new MockTdx({
    tdcall: {
      [TdcallLeaf.TDG_VP_VMCALL.number]: () =>
        failures-- > 0 ? { status: withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX) } : undefined,
    },
  });
  const res = mock.run((cpu) => tdxHypercall(cpu, 12));
  assert.equal(res, undefined, 'never returns');
  assert.deepEqual(mock.outcome, {
    kind: 'panic',
    panic: { errorCode: 0n, tdSpecificCode: 0n, message: 'TDVMCALL failed 0xC000010000000001: TDX module bug?' },
  });
});

test('kvmHypercall puts the number in R10 and the arguments in R11–R14, and returns R10', () => {
  const mock = new MockTdx({ vmm: () => ({ regs: { R10: 0xfffffffffffffc18n } }) });
  const res = mock.run((cpu) => kvmHypercall(cpu, 12, 1n, 2n, 3n, 4n));
  assert.deepEqual(res, { ret: 0xfffffffffffffc18n });
  const r = mock.tdvmcalls()[0]!.request.regs;
  assert.deepEqual([r.RCX, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15], [0xffccn, 12n, 1n, 2n, 3n, 4n, 0n]);
  assert.equal(mock.tdvmcalls()[0]!.name, 'KVM 12');
  assert.throws(() => new MockTdx().run((cpu) => kvmHypercall(cpu, 0)), HypercallUsageError);
});

test('the payload helpers refuse registers the convention reserves or does not expose', () => {
  assert.throws(() => ghciPayload(12, { R10: 1n }), HypercallUsageError);
  assert.throws(() => ghciPayload(12, { R11: 1n }), HypercallUsageError);
  assert.throws(() => new MockTdx().run((cpu) => issueTdvmcall(cpu, { RBP: 1n })), HypercallUsageError);
  assert.deepEqual(ghciPayload(12, { R12: 1n }), { R10: 0n, R11: 12n, R12: 1n });
});
