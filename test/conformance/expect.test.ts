/**
 * Expectations produce one decoded line per difference: statuses in RAX and (after a TDVMCALL)
 * R10 by name, other registers and fields as hex.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegisterFile } from '../../src/abi/registers.ts';
import { OperandId, TdxStatus, withOperand } from '../../src/abi/status.ts';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';
import { CaseFailure } from '../../src/conformance/case.ts';
import { diffRegs, expectFields, expectRegs, expectValue, asStatus } from '../../src/conformance/expect.ts';

function failure(fn: () => void): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof CaseFailure) return [...e.differences];
    throw e;
  }
  assert.fail('expected a CaseFailure');
}

describe('expectRegs', () => {
  it('passes when the named registers match and ignores the others', () => {
    expectRegs(RegisterFile.from({ RAX: 0n, RCX: 5n, R9: 7n }), { rax: 0n, rcx: 5n });
    expectRegs({ RAX: 0n, R10: 1n }, { rax: 0n, r10: 1n });
  });

  it('lists every differing register, decoding RAX as a TDX status', () => {
    const d = failure(() => expectRegs(RegisterFile.from({ RAX: TdxStatus.TDX_SUCCESS, RCX: 1n }), { rax: withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX), rcx: 0n, rdx: 0n }, { what: 'after X' }));
    assert.deepEqual(d, [
      'after X: RAX: expected 0xC000010000000001 TDX_OPERAND_INVALID operand=RCX, got 0x0000000000000000 TDX_SUCCESS',
      'after X: RCX: expected 0x0000000000000000, got 0x0000000000000001',
    ]);
  });

  it('decodes R10 as a TDVMCALL status only when asked', () => {
    const regs = { R10: TdvmcallStatus.SUCCESS };
    assert.deepEqual(diffRegs(regs, { r10: TdvmcallStatus.INVALID_OPERAND }, { tdvmcall: true }), [
      'R10: expected 0x8000000000000000 TDVMCALL_STATUS_INVALID_OPERAND (error), got 0x0000000000000000 TDVMCALL_STATUS_SUCCESS (success)',
    ]);
    assert.deepEqual(diffRegs(regs, { r10: 1n }), ['R10: expected 0x0000000000000001, got 0x0000000000000000']);
  });
});

describe('expectFields and expectValue', () => {
  it('compare bigints, byte arrays and nested data, naming the field', () => {
    expectFields({ a: 1n, b: new Uint8Array([1, 2]), c: { x: 1n } }, { a: 1n, b: new Uint8Array([1, 2]), c: { x: 1n } }, 'rec');
    assert.deepEqual(failure(() => expectFields({ a: 1n, b: new Uint8Array([1]) }, { a: 2n, b: new Uint8Array([2]) }, 'rec')), [
      'rec.a: expected 0x2, got 0x1',
      'rec.b: expected 1 bytes 02, got 1 bytes 01',
    ]);
    assert.deepEqual(failure(() => expectFields(undefined, { a: 1n }, 'rec')), ['rec: expected {"a":"0x1"}, got nothing']);
  });

  it('decodes a single status value', () => {
    assert.deepEqual(failure(() => expectValue(0n, TdxStatus.TDX_NO_VCPUS, 'RAX', asStatus)), ['RAX: expected 0xC000060900000000 TDX_NO_VCPUS, got 0x0000000000000000 TDX_SUCCESS']);
  });
});
