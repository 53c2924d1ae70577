import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TdcallLeaf } from '../../src/abi/tdcall-leaves.ts';
import { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';
import { OperandId, TdxStatus, withOperand } from '../../src/abi/status.ts';
import { tdcall, tdcallOrPanic, TdcallUsageError } from '../../src/guest/tdcall.ts';
import { MockTdx } from '../helpers/mock-tdx.ts';

test('tdcall loads the leaf word, zeroes unnamed inputs and reads outputs by name', () => {
  const mock = new MockTdx({ gpaw: 52, attributes: 0x1234n, numVcpus: 2n, maxVcpus: 8n, vcpuIndex: 1n });
  mock.cpu.regs.set('RCX', 0xdeadn).set('R8', 0xbeefn);
  const res = mock.run((cpu) => tdcall(cpu, TdcallLeaf.TDG_VP_INFO));
  assert.deepEqual(res, {
    ok: true,
    status: 0n,
    out: { gpaw: 52n, attributes: 0x1234n, vcpus: 2n | (8n << 32n), vcpuIndex: 1n, features: 1n, reserved11: 0n },
  });
  const [call] = mock.tdcalls();
  assert.equal(call!.in.RAX, 1n);
  assert.equal(call!.name, 'TDG.VP.INFO');
});

test('tdcall gives every input operand it is not told as 0 and honours the version', () => {
  const mock = new MockTdx({ metadata: new Map([[0x42n, 7n]]) });
  mock.cpu.regs.set('RCX', 0xffffn);
  const res = mock.run((cpu) => tdcall(cpu, TdcallLeaf.TDG_VM_RD, { fieldId: 0x42n }, 1));
  assert.equal(res?.ok, true);
  assert.equal(res?.ok && res.out.value, 7n);
  const [call] = mock.tdcalls();
  assert.equal(call!.in.RAX, 7n | (1n << 16n), 'leaf 7 version 1');
  assert.equal(call!.in.RCX, 0n, 'vm operand zeroed');
  assert.equal(call!.in.RDX, 0x42n);
});

test('tdcall reports a module error without outputs, and a warning as ok with its status', () => {
  const invalid = withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX);
  const failing = new MockTdx({ tdcall: { [TdcallLeaf.TDG_MEM_PAGE_ACCEPT.number]: () => ({ status: invalid }) } });
  assert.deepEqual(
    failing.run((cpu) => tdcall(cpu, TdcallLeaf.TDG_MEM_PAGE_ACCEPT, { gpaLevel: 0x1000n })),
    { ok: false, status: 0xc000010000000001n },
  );
  const warning = withOperand(TdxStatus.TDX_PAGE_ALREADY_ACCEPTED, 1);
  const warned = new MockTdx({ tdcall: { [TdcallLeaf.TDG_MEM_PAGE_ACCEPT.number]: () => ({ status: warning }) } });
  assert.deepEqual(
    warned.run((cpu) => tdcall(cpu, TdcallLeaf.TDG_MEM_PAGE_ACCEPT, { gpaLevel: 0x1000n })),
    { ok: true, status: 0x00000b0a00000001n, out: {} },
  );
});

test('tdcall refuses a SEAMCALL leaf and a version the leaf does not have', () => {
  const mock = new MockTdx();
  assert.throws(() => mock.run((cpu) => tdcall(cpu, SeamcallLeaf.TDH_VP_ENTER as never)), TdcallUsageError);
  assert.throws(() => mock.run((cpu) => tdcall(cpu, TdcallLeaf.TDG_VP_INFO, {}, 1)), TdcallUsageError);
  assert.equal(mock.crossings.length, 0);
});

test('tdcallOrPanic returns the outputs on success', () => {
  const mock = new MockTdx({ vcpuIndex: 3n });
  const out = mock.run((cpu) => tdcallOrPanic(cpu, TdcallLeaf.TDG_VP_INFO));
  assert.equal(out?.vcpuIndex, 3n);
  assert.deepEqual(mock.outcome, { kind: 'returned' });
});

test('tdcallOrPanic panics through ReportFatalError when the module fails', () => {
  const mock = new MockTdx();
  mock.run((cpu) => tdcallOrPanic(cpu, TdcallLeaf.TDG_VP_VEINFO_GET));
  assert.deepEqual(mock.trace(), ['TDG.VP.VEINFO.GET', 'VMCALL ReportFatalError']);
  assert.deepEqual(mock.outcome, {
    kind: 'panic',
    panic: { errorCode: 0n, tdSpecificCode: 0n, message: 'TDG.VP.VEINFO.GET failed 0xC000070400000000: TDX module bug?' },
  });
});
