import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TdvmcallSubfunction } from '../../../src/abi/tdvmcall.ts';
import { Userspace } from '../../../src/host/userspace/vmm.ts';
import { runVcpuLoop, runVm } from '../../../src/host/userspace/vcpu-loop.ts';
import { bootTd, halt, hostEnv, vmcall } from '../host-env.ts';

const IO = BigInt(TdvmcallSubfunction.IO.number);

describe('runVcpuLoop / runVm with the default userspace', () => {
  it('hello: serial output collected, clean halt', () => {
    const env = hostEnv();
    const { vm, vcpu } = bootTd(env, 'hello', { args: { message: 'hi there' } });
    const user = new Userspace(vm);
    const out = runVcpuLoop(vcpu, user);
    assert.equal(out.stop, 'halted');
    assert.deepEqual(user.serial.lines, ['hi there']);
    assert.equal(out.exits.io, 'hi there\n'.length);
    assert.equal(out.exits.hlt, 1);
    vm.destroy();
  });

  it('unclaimed ports read all ones; the MMIO test device answers at its GPA', () => {
    const env = hostEnv();
    const seen: bigint[] = [];
    const S = 1n << 47n;
    const { vm, vcpu } = bootTd(env, function* (cpu) {
      seen.push((yield* vmcall(cpu, IO, { R12: 2n, R13: 0n, R14: 0x1234n })).r11);
      seen.push((yield* vmcall(cpu, BigInt(TdvmcallSubfunction.MMIO.number), { R12: 8n, R13: 0n, R14: S | 0xfeb0_0000n })).r11);
      seen.push((yield* vmcall(cpu, BigInt(TdvmcallSubfunction.MMIO.number), { R12: 4n, R13: 0n, R14: S | 0xfec0_0000n })).r11);
      yield* halt(cpu);
    });
    const user = new Userspace(vm, { mmioDeviceGpa: 0xfeb0_0000n });
    assert.equal(runVcpuLoop(vcpu, user).stop, 'halted');
    assert.deepEqual(seen, [0xffffn, 0x4f494d4953584454n, 0xffff_ffffn]);
    vm.destroy();
  });

  it('panic: the fatal error stops every vCPU; the message is in the record', () => {
    const env = hostEnv();
    const { vm } = bootTd(env, 'panic', { vcpus: 2, args: { message: 'oh no' } });
    const out = runVm(vm, new Userspace(vm));
    assert.equal(out[0]!.stop, 'fatal_error');
    assert.equal(out[0]!.last?.kind === 'system_event' && out[0]!.last.message, 'oh no');
    assert.equal(out[1]!.stop, 'vm_stopped');
    vm.destroy();
  });

  it('a VM that dies ends the loop with vm_dead and the error', () => {
    const env = hostEnv();
    const { vm, vcpu } = bootTd(env, function* (cpu) {
      yield* cpu.readValue(0x80_0000n, 8);
    });
    const out = runVcpuLoop(vcpu, new Userspace(vm));
    assert.equal(out.stop, 'vm_dead');
    assert.match(out.error!, /Guest access before accepting/);
    vm.destroy();
  });

  it('a guest that never stops ends at the exit limit', () => {
    const env = hostEnv();
    const { vm, vcpu } = bootTd(env, function* (cpu) {
      for (;;) yield* vmcall(cpu, IO, { R12: 1n, R13: 1n, R14: 0x80n });
    });
    const out = runVcpuLoop(vcpu, new Userspace(vm), { maxExits: 50 });
    assert.equal(out.stop, 'exit_limit');
    assert.equal(out.exits.io, 50);
    vm.destroy();
  });

  it('GetTdVmCallInfo(1) advertises SetupEventNotifyInterrupt; GetQuote is served', () => {
    const env = hostEnv();
    const seen: bigint[] = [];
    const { vm, vcpu } = bootTd(env, function* (cpu) {
      const r = yield* vmcall(cpu, BigInt(TdvmcallSubfunction.GET_TD_VM_CALL_INFO.number), { R12: 1n });
      seen.push(r.r10, r.r11);
      seen.push((yield* vmcall(cpu, BigInt(TdvmcallSubfunction.SETUP_EVENT_NOTIFY_INTERRUPT.number), { R12: 0x50n })).r10);
      yield* halt(cpu);
    });
    const user = new Userspace(vm);
    runVcpuLoop(vcpu, user);
    assert.deepEqual(seen, [0n, 2n, 0n]);
    assert.equal(user.notifyVectors.get(0), 0x50);
    vm.destroy();
  });
});
