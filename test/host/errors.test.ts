import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HostError, mapSeamcallError, seamcallErrno } from '../../src/host/errors.ts';
import { TdxSoftwareStatus, TdxStatus, OperandId, withOperand } from '../../src/abi/status.ts';

describe('mapSeamcallError: Linux seamcall_prerr classes', () => {
  it('VMFAILINVALID → ENODEV, "module not loaded"', () => {
    const e = mapSeamcallError('TDH.SYS.INIT', TdxSoftwareStatus.TDX_SEAMCALL_VMFAILINVALID);
    assert.equal(e.errno, 'ENODEV');
    assert.equal(e.errnoValue, 19);
    assert.match(e.message, /not loaded/);
    assert.match(e.message, /TDX_SEAMCALL_VMFAILINVALID/);
    assert.equal(e.hwError, TdxSoftwareStatus.TDX_SEAMCALL_VMFAILINVALID);
    assert.equal(e.details.leaf, 'TDH.SYS.INIT');
  });
  it('#GP → EOPNOTSUPP, #UD → EACCES', () => {
    assert.equal(seamcallErrno(TdxSoftwareStatus.TDX_SEAMCALL_GP), 'EOPNOTSUPP');
    assert.equal(seamcallErrno(TdxSoftwareStatus.TDX_SEAMCALL_UD), 'EACCES');
    assert.match(mapSeamcallError('X', TdxSoftwareStatus.TDX_SEAMCALL_GP).message, /SEAM is not enabled/);
    assert.match(mapSeamcallError('X', TdxSoftwareStatus.TDX_SEAMCALL_UD).message, /VMX root/);
  });
  it('any module status → EIO with the status decoded and outputs printed', () => {
    const status = withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX);
    const e = mapSeamcallError('TDH.MNG.CREATE', status, { rcx: 0x1000n }, 'creating a TD');
    assert.equal(e.errno, 'EIO');
    assert.equal(e.errnoValue, 5);
    assert.equal(e.message, 'EIO: SEAMCALL TDH.MNG.CREATE failed: 0xC000010000000001 TDX_OPERAND_INVALID operand=RCX [rcx=0x0000000000001000] while creating a TD');
    assert.ok(e instanceof HostError);
    assert.equal(e.name, 'HostError');
  });
  it('a user HostError has no hw_error', () => {
    assert.equal(new HostError('EINVAL', 'bad').hwError, 0n);
  });
});
