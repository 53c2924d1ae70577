import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { TdvmcallSubfunction } from '../../src/abi/tdvmcall.ts';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';
import { KvmExitReason, KvmHypercall, KVM_ENOSYS, KVM_EXIT_HYPERCALL_LONG_MODE } from '../../src/abi/kvm.ts';
import { U64_MASK } from '../../src/abi/bitfield.ts';
import type { PortIoDevice, MmioDevice } from '../../src/host/devices.ts';
import { HostError } from '../../src/host/errors.ts';
import { bootTd, halt, hostEnv, vmcall, type VmcallResult } from './host-env.ts';

const env = hostEnv();
const S = 1n << 47n; // shared bit, GPAW 48
const sub = (s: { number: number }) => BigInt(s.number);
const IO = sub(TdvmcallSubfunction.IO);
const MMIO = sub(TdvmcallSubfunction.MMIO);
const CPUID = sub(TdvmcallSubfunction.CPUID);
const RDMSR = sub(TdvmcallSubfunction.RDMSR);
const WRMSR = sub(TdvmcallSubfunction.WRMSR);
const HLT = sub(TdvmcallSubfunction.HLT);

after(() => {
  for (const vm of [...env.host.vms]) vm.destroy();
});

/** Boot a TD whose program makes the given calls and records what the guest saw. */
function guest(calls: (seen: VmcallResult[]) => Parameters<typeof bootTd>[1], options?: Parameters<typeof bootTd>[2]) {
  const seen: VmcallResult[] = [];
  const td = bootTd(env, calls(seen), options);
  return { ...td, seen };
}

describe('Instruction.IO', () => {
  it('OUT goes to userspace as KVM_EXIT_IO; the guest gets R10 = SUCCESS and its own R11 back', () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, IO, { R12: 1n, R13: 1n, R14: 0x3f8n, R15: 0x4142n }));
        yield* halt(cpu);
      },
    );
    assert.deepEqual(vcpu.run(), { kind: 'io', exitReason: KvmExitReason.IO, direction: 'out', size: 1, port: 0x3f8, count: 1, data: 0x42n });
    assert.equal(vcpu.run().kind, 'hlt');
    assert.deepEqual(seen[0], { rax: 0n, r10: 0n, r11: IO, r12: 1n, r13: 1n, r14: 0x3f8n, r15: 0x4142n });
    vm.destroy();
  });

  it('IN: complete() supplies R11', () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, IO, { R12: 2n, R13: 0n, R14: 0x71n }));
        yield* halt(cpu);
      },
    );
    assert.deepEqual(vcpu.run(), { kind: 'io', exitReason: KvmExitReason.IO, direction: 'in', size: 2, port: 0x71, count: 1, data: 0n });
    vcpu.complete({ kind: 'io', data: 0xbeefn });
    vcpu.run();
    assert.equal(seen[0]!.r10, TdvmcallStatus.SUCCESS);
    assert.equal(seen[0]!.r11, 0xbeefn);
    vm.destroy();
  });

  it('IN without a reply leaves R11 = 0 (KVM uses what is in kvm_run)', () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, IO, { R12: 1n, R13: 0n, R14: 0x60n }));
        yield* halt(cpu);
      },
    );
    vcpu.run();
    vcpu.run();
    assert.equal(seen[0]!.r11, 0n);
    vm.destroy();
  });

  it('an in-kernel device answers without a userspace exit', () => {
    const writes: bigint[] = [];
    const dev: PortIoDevice = { name: 'k', port: 0x80, ports: 1, read: () => 0x5an, write: (_p, _s, v) => void writes.push(v) };
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, IO, { R12: 1n, R13: 1n, R14: 0x80n, R15: 7n }));
        seen.push(yield* vmcall(cpu, IO, { R12: 1n, R13: 0n, R14: 0x80n }));
        yield* halt(cpu);
      },
    );
    vm.kernelBus.addPortDevice(dev);
    assert.equal(vcpu.run().kind, 'hlt');
    assert.deepEqual(writes, [7n]);
    assert.equal(seen[1]!.r11, 0x5an);
    assert.equal(seen[1]!.r10, 0n);
    vm.destroy();
  });

  it('refuses bad sizes and directions with INVALID_OPERAND in the kernel (R11 untouched)', () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, IO, { R12: 3n, R13: 0n, R14: 0x80n }));
        seen.push(yield* vmcall(cpu, IO, { R12: 1n, R13: 2n, R14: 0x80n }));
        yield* halt(cpu);
      },
    );
    assert.equal(vcpu.run().kind, 'hlt');
    for (const r of seen) {
      assert.equal(r.r10, TdvmcallStatus.INVALID_OPERAND);
      assert.equal(r.r11, IO);
    }
    assert.ok(env.host.warnings.log.some((w) => w.kind === 'io-invalid' && w.culprit === 'guest'));
    vm.destroy();
  });
});

describe('#VE.RequestMMIO', () => {
  it('read and write go to userspace with the shared bit stripped', () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, MMIO, { R12: 4n, R13: 1n, R14: S | 0xfeb0_0008n, R15: 0x1_2345_6789n }));
        seen.push(yield* vmcall(cpu, MMIO, { R12: 8n, R13: 0n, R14: S | 0xfeb0_0000n }));
        yield* halt(cpu);
      },
    );
    assert.deepEqual(vcpu.run(), { kind: 'mmio', exitReason: KvmExitReason.MMIO, physAddr: 0xfeb0_0008n, len: 4, isWrite: true, data: 0x2345_6789n });
    assert.deepEqual(vcpu.run(), { kind: 'mmio', exitReason: KvmExitReason.MMIO, physAddr: 0xfeb0_0000n, len: 8, isWrite: false, data: 0n });
    vcpu.complete({ kind: 'mmio', data: 0x1122_3344_5566_7788n });
    assert.equal(vcpu.run().kind, 'hlt');
    assert.equal(seen[0]!.r10, 0n);
    assert.equal(seen[1]!.r10, 0n);
    assert.equal(seen[1]!.r11, 0x1122_3344_5566_7788n);
    vm.destroy();
  });

  it('an in-kernel MMIO device answers in the kernel', () => {
    const dev: MmioDevice = { name: 'k', base: 0x1000_0000n, size: 0x1000n, read: (o) => o + 1n, write: () => {} };
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, MMIO, { R12: 2n, R13: 0n, R14: S | 0x1000_0010n }));
        yield* halt(cpu);
      },
    );
    vm.kernelBus.addMmioDevice(dev);
    assert.equal(vcpu.run().kind, 'hlt');
    assert.equal(seen[0]!.r11, 0x11n);
    vm.destroy();
  });

  it('refuses private GPAs, straddling accesses, bad sizes: R10 = INVALID_OPERAND', () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, MMIO, { R12: 4n, R13: 0n, R14: 0x1000n }));
        seen.push(yield* vmcall(cpu, MMIO, { R12: 8n, R13: 0n, R14: U64_MASK - 3n }));
        seen.push(yield* vmcall(cpu, MMIO, { R12: 3n, R13: 0n, R14: S }));
        seen.push(yield* vmcall(cpu, MMIO, { R12: 4n, R13: 9n, R14: S }));
        yield* halt(cpu);
      },
    );
    assert.equal(vcpu.run().kind, 'hlt');
    assert.deepEqual(seen.map((r) => [r.r10, r.r11]), Array(4).fill([TdvmcallStatus.INVALID_OPERAND, MMIO]));
    vm.destroy();
  });
});

describe('Instruction.CPUID', () => {
  it("answers from the vCPU's table in the kernel; R10 keeps the guest's 0", () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, CPUID, { R12: 0x4000_0000n, R13: 0n }));
        seen.push(yield* vmcall(cpu, CPUID, { R12: 0x4000_0123n, R13: 0n }));
        seen.push(yield* vmcall(cpu, CPUID, { R12: 0x8000_0008n, R13: 0n }));
        yield* halt(cpu);
      },
    );
    assert.equal(vcpu.run().kind, 'hlt');
    // "KVMKVMKVM\0\0\0": EBX = "KVMK", ECX = "VMKV", EDX = "M\0\0\0".
    assert.deepEqual(seen[0], { rax: 0n, r10: 0n, r11: CPUID, r12: 0x4000_0001n, r13: 0x4b4d_564bn, r14: 0x564b_4d56n, r15: 0x4dn });
    assert.deepEqual([seen[1]!.r12, seen[1]!.r13, seen[1]!.r14, seen[1]!.r15], [0n, 0n, 0n, 0n]);
    assert.equal(seen[2]!.r12, 0x30_3030n); // physical, linear and guest physical address bits: 48
    vm.destroy();
  });
});

describe('Instruction.RDMSR / WRMSR', () => {
  it('emulated MSRs read and write; read-only, virtualised and filtered ones are refused', () => {
    const { vcpu, vm, seen } = guest(
      (seen) =>
        function* (cpu) {
          seen.push(yield* vmcall(cpu, RDMSR, { R12: 0x1bn })); // APICBASE
          seen.push(yield* vmcall(cpu, WRMSR, { R12: 0x6e0n, R13: 0x1234n })); // TSC_DEADLINE
          seen.push(yield* vmcall(cpu, RDMSR, { R12: 0x6e0n }));
          seen.push(yield* vmcall(cpu, WRMSR, { R12: 0x1bn, R13: 0n })); // read-only
          seen.push(yield* vmcall(cpu, RDMSR, { R12: 0x808n })); // TPR: CPU-virtualised
          seen.push(yield* vmcall(cpu, RDMSR, { R12: 0x10n })); // TSC: not emulated by KVM for TDs
          seen.push(yield* vmcall(cpu, WRMSR, { R12: 0x277n, R13: 0x0202020202020202n })); // invalid PAT
          seen.push(yield* vmcall(cpu, RDMSR, { R12: 0x1a0n })); // MISC_ENABLE, denied by the filter
          yield* halt(cpu);
        },
      { config: { msrFilter: { default: 'allow', ranges: [{ base: 0x1a0, count: 1, accesses: ['read'], action: 'deny' }] } } },
    );
    assert.equal(vcpu.run().kind, 'hlt');
    assert.deepEqual([seen[0]!.r10, seen[0]!.r11], [0n, 0xfee0_0d00n]);
    assert.equal(seen[1]!.r10, 0n);
    assert.deepEqual([seen[2]!.r10, seen[2]!.r11], [0n, 0x1234n]);
    for (const i of [3, 4, 5, 6, 7]) assert.equal(seen[i]!.r10, TdvmcallStatus.INVALID_OPERAND, `call ${i}`);
    assert.ok(env.host.warnings.log.some((w) => w.kind === 'msr-filtered' && w.culprit === 'guest'));
    vm.destroy();
  });
});

describe('Instruction.HLT and interrupts', () => {
  it('HLT with interrupts blocked returns an hlt record, and again on every run', () => {
    const { vcpu, vm } = guest(() =>
      function* (cpu) {
        yield* halt(cpu);
      },
    );
    assert.deepEqual(vcpu.run(), { kind: 'hlt', exitReason: KvmExitReason.HLT, interruptsBlocked: true });
    assert.deepEqual(vcpu.run(), { kind: 'hlt', exitReason: KvmExitReason.HLT, interruptsBlocked: true });
    assert.equal(vcpu.stats.entries, 1);
    vm.destroy();
  });

  it('HLT with interrupts enabled wakes on a posted interrupt; the vector goes to the PI descriptor', () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, HLT, { R12: 0n }));
        yield* halt(cpu);
      },
    );
    assert.deepEqual(vcpu.run(), { kind: 'hlt', exitReason: KvmExitReason.HLT, interruptsBlocked: false });
    vcpu.postInterrupt(0x31);
    assert.deepEqual(vcpu.pi.pendingVectors(), [0x31]);
    assert.equal(vcpu.pi.pending(), true);
    assert.deepEqual(vcpu.run(), { kind: 'hlt', exitReason: KvmExitReason.HLT, interruptsBlocked: true });
    // TD entry moved the posted vector into the guest's virtual APIC and cleared the descriptor.
    assert.deepEqual(vcpu.pi.pendingVectors(), []);
    assert.equal(vcpu.pi.pending(), false);
    assert.equal(seen[0]!.r10, 0n);
    assert.throws(() => vcpu.postInterrupt(31), (e: unknown) => e instanceof HostError && e.errno === 'EINVAL');
    vm.destroy();
  });
});

describe('KVM hypercalls (R10 ≠ 0)', () => {
  it('known ones return 0 in R10, unknown ones -KVM_ENOSYS', () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, 0n, {}, BigInt(KvmHypercall.SCHED_YIELD)));
        seen.push(yield* vmcall(cpu, 0n, {}, 99n));
        seen.push(yield* vmcall(cpu, 0x20_0000n, { R12: 1n, R13: 0n }, BigInt(KvmHypercall.MAP_GPA_RANGE)));
        seen.push(yield* vmcall(cpu, 0x20_0001n, { R12: 1n }, BigInt(KvmHypercall.MAP_GPA_RANGE)));
        yield* halt(cpu);
      },
    );
    const rec = vcpu.run();
    assert.deepEqual(rec, {
      kind: 'hypercall',
      exitReason: KvmExitReason.HYPERCALL,
      nr: BigInt(KvmHypercall.MAP_GPA_RANGE),
      args: [0x20_0000n, 1n, 0n, 0n, 0n, 0n],
      ret: 0n,
      flags: KVM_EXIT_HYPERCALL_LONG_MODE,
    });
    vcpu.complete({ kind: 'hypercall', ret: 5n });
    assert.equal(vcpu.run().kind, 'hlt');
    assert.equal(seen[0]!.r10, 0n);
    assert.equal(seen[1]!.r10, -BigInt(KVM_ENOSYS) & U64_MASK);
    assert.equal(seen[2]!.r10, 5n);
    assert.equal(seen[3]!.r10, -22n & U64_MASK); // unaligned: -KVM_EINVAL
    vm.destroy();
  });
});
