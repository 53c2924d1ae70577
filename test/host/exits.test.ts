import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { RegisterFile } from '../../src/abi/registers.ts';
import { TdxSoftwareStatus, TdxStatus, OperandId, withOperand } from '../../src/abi/status.ts';
import { VmxExitReason } from '../../src/abi/vmx.ts';
import { INTERRUPTION_INFO, InterruptionType } from '../../src/abi/vmx-events.ts';
import { KvmExitReason, KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON } from '../../src/abi/kvm.ts';
import { handleExit } from '../../src/host/exits.ts';
import { HostError } from '../../src/host/errors.ts';
import { bootTd, halt, hostEnv } from './host-env.ts';

const env = hostEnv();
after(() => {
  for (const vm of [...env.host.vms]) vm.destroy();
});

/** A booted (never run) vCPU to classify synthetic exits with. */
function vcpuFor(): ReturnType<typeof bootTd> {
  return bootTd(env, function* (cpu) {
    yield* halt(cpu);
  });
}

const exit = (reason: number) => TdxStatus.TDX_SUCCESS | BigInt(reason);

describe('handleExit: classification as tdx_handle_exit does it', () => {
  it('OPERAND_BUSY from TDH.VP.ENTER re-enters (fast path)', () => {
    const { vcpu, vm } = vcpuFor();
    assert.deepEqual(handleExit(vcpu, withOperand(TdxStatus.TDX_OPERAND_BUSY, OperandId.TD_EPOCH)), { kind: 'resume' });
    assert.equal(vcpu.stats.tdExits.get('OPERAND_BUSY'), 1);
    vm.destroy();
  });

  it('external interrupts and SMIs re-enter; NMI and #MC exceptions too', () => {
    const { vcpu, vm } = vcpuFor();
    assert.equal(handleExit(vcpu, exit(VmxExitReason.EXTERNAL_INTERRUPT)).kind, 'resume');
    assert.equal(handleExit(vcpu, exit(VmxExitReason.OTHER_SMI)).kind, 'resume');
    vcpu.regs = RegisterFile.from({ R9: INTERRUPTION_INFO.encode({ vector: 2, interruption_type: InterruptionType.NMI, valid: 1 }) });
    assert.equal(handleExit(vcpu, exit(VmxExitReason.EXCEPTION_OR_NMI)).kind, 'resume');
    vcpu.regs = RegisterFile.from({ R9: INTERRUPTION_INFO.encode({ vector: 18, interruption_type: InterruptionType.HARDWARE_EXCEPTION, valid: 1 }) });
    assert.equal(handleExit(vcpu, exit(VmxExitReason.EXCEPTION_OR_NMI)).kind, 'resume');
    vm.destroy();
  });

  it('other exceptions are KVM_EXIT_EXCEPTION with error code 0', () => {
    const { vcpu, vm } = vcpuFor();
    vcpu.regs = RegisterFile.from({ R9: INTERRUPTION_INFO.encode({ vector: 6, interruption_type: InterruptionType.HARDWARE_EXCEPTION, valid: 1 }) });
    assert.deepEqual(handleExit(vcpu, exit(VmxExitReason.EXCEPTION_OR_NMI)), {
      kind: 'user',
      record: { kind: 'exception', exitReason: KvmExitReason.EXCEPTION, exception: 6, errorCode: 0 },
    });
    vm.destroy();
  });

  it('an exit reason KVM does not handle is KVM_EXIT_INTERNAL_ERROR(UNEXPECTED_EXIT_REASON, [RAX, LP])', () => {
    const { vcpu, vm } = vcpuFor();
    const a = handleExit(vcpu, exit(VmxExitReason.WBINVD));
    assert.equal(a.kind, 'user');
    if (a.kind !== 'user' || a.record.kind !== 'internal_error') return assert.fail('expected an internal error');
    assert.equal(a.record.exitReason, KvmExitReason.INTERNAL_ERROR);
    assert.equal(a.record.suberror, KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON);
    assert.equal(a.record.ndata, 2);
    assert.deepEqual(a.record.data, [exit(VmxExitReason.WBINVD), BigInt(vcpu.lp.id)]);
    assert.equal(vm.dead, undefined);
    vm.destroy();
  });

  it('a NON_RECOVERABLE_TD exit is unexpected too (only a triple fault may be non-recoverable)', () => {
    const { vcpu, vm } = vcpuFor();
    const a = handleExit(vcpu, TdxStatus.TDX_NON_RECOVERABLE_TD | BigInt(VmxExitReason.EPT_MISCONFIGURATION));
    assert.equal(a.kind === 'user' && a.record.kind, 'internal_error');
    const t = handleExit(vcpu, TdxStatus.TDX_NON_RECOVERABLE_VCPU | BigInt(VmxExitReason.TRIPLE_FAULT));
    assert.deepEqual(t, { kind: 'user', record: { kind: 'shutdown', exitReason: KvmExitReason.SHUTDOWN } });
    vm.destroy();
  });

  it('a SEAMCALL that never reached the module is an internal error and kills the VM', () => {
    const { vcpu, vm } = vcpuFor();
    const a = handleExit(vcpu, TdxSoftwareStatus.TDX_SEAMCALL_VMFAILINVALID);
    assert.equal(a.kind === 'user' && a.record.kind, 'internal_error');
    assert.ok(vm.dead instanceof HostError && vm.dead.errno === 'EIO');
    assert.throws(() => vcpu.run(), /EIO/);
    vm.destroy();
  });

  it('an entry error is KVM_EXIT_FAIL_ENTRY with reason 0xFFFFFFFF; without NON_RECOVERABLE it is a KVM bug', () => {
    const { vcpu, vm } = vcpuFor();
    const a = handleExit(vcpu, TdxStatus.TDX_VCPU_STATE_INCORRECT);
    assert.deepEqual(a, {
      kind: 'user',
      record: { kind: 'fail_entry', exitReason: KvmExitReason.FAIL_ENTRY, hardwareEntryFailureReason: 0xffff_ffffn, cpu: vcpu.lp.id },
    });
    assert.equal(vm.dead, undefined); // 0xC… codes carry NON_RECOVERABLE
    handleExit(vcpu, TdxStatus.TDX_VCPU_ASSOCIATED);
    const dead: unknown = vm.dead;
    assert.ok(dead instanceof HostError);
    vm.destroy();
  });
});
