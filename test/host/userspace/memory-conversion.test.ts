import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { KvmExitReason, KvmHypercall, KVM_MAP_GPA_RANGE_ENCRYPTED, KVM_MEMORY_EXIT_FLAG_PRIVATE, KVM_EXIT_HYPERCALL_LONG_MODE } from '../../../src/abi/kvm.ts';
import { HYPERCALL_EINVAL, MemoryConverter } from '../../../src/host/userspace/memory-conversion.ts';
import type { HypercallExit } from '../../../src/host/exit-records.ts';
import { hostEnv } from '../host-env.ts';

const env = hostEnv();
const vm = env.host.createVm({ memorySize: 16n << 20n });
after(() => vm.destroy());

const hc = (gpa: bigint, pages: bigint, attrs: bigint, nr = BigInt(KvmHypercall.MAP_GPA_RANGE)): HypercallExit => ({
  kind: 'hypercall',
  exitReason: KvmExitReason.HYPERCALL,
  nr,
  args: [gpa, pages, attrs, 0n, 0n, 0n],
  ret: 0n,
  flags: KVM_EXIT_HYPERCALL_LONG_MODE,
});

describe('MemoryConverter', () => {
  it('flips the attribute of a MapGPA chunk', () => {
    const c = new MemoryConverter(vm);
    assert.equal(c.mapGpaRange(hc(0x20_0000n, 2n, 0n)), 0n);
    assert.equal(vm.guest.isPrivate(0x20_0000n), false);
    assert.equal(vm.guest.isPrivate(0x20_1000n), false);
    assert.equal(vm.guest.isPrivate(0x20_2000n), true);
    assert.equal(c.mapGpaRange(hc(0x20_0000n, 1n, KVM_MAP_GPA_RANGE_ENCRYPTED)), 0n);
    assert.equal(vm.guest.isPrivate(0x20_0000n), true);
    assert.deepEqual(c.log, [
      { gpa: 0x20_0000n, size: 0x2000n, toPrivate: false },
      { gpa: 0x20_0000n, size: 0x1000n, toPrivate: true },
    ]);
  });
  it('refuses ranges outside guest RAM, bad attributes and other hypercalls with -EINVAL', () => {
    const c = new MemoryConverter(vm);
    assert.equal(c.mapGpaRange(hc(16n << 20n, 1n, 0n)), HYPERCALL_EINVAL);
    assert.equal(c.mapGpaRange(hc(0x1000n, 1n, 3n)), HYPERCALL_EINVAL);
    assert.equal(c.mapGpaRange(hc(0x1000n, 0n, 0n)), HYPERCALL_EINVAL);
    assert.equal(c.mapGpaRange(hc(0x1000n, 1n, 0n, 5n)), HYPERCALL_EINVAL);
    assert.equal(HYPERCALL_EINVAL, 0xffff_ffff_ffff_ffean);
    assert.equal(c.log.length, 0);
  });
  it('converts implicitly on a memory fault, in the direction of the access', () => {
    const c = new MemoryConverter(vm);
    assert.equal(c.memoryFault({ kind: 'memory_fault', exitReason: KvmExitReason.MEMORY_FAULT, flags: 0n, gpa: 0x30_0000n, size: 0x1000n }), true);
    assert.equal(vm.guest.isPrivate(0x30_0000n), false);
    assert.equal(c.memoryFault({ kind: 'memory_fault', exitReason: KvmExitReason.MEMORY_FAULT, flags: KVM_MEMORY_EXIT_FLAG_PRIVATE, gpa: 0x30_0000n, size: 0x1000n }), true);
    assert.equal(vm.guest.isPrivate(0x30_0000n), true);
    assert.equal(c.memoryFault({ kind: 'memory_fault', exitReason: KvmExitReason.MEMORY_FAULT, flags: 0n, gpa: 1n << 40n, size: 0x1000n }), false);
  });
});
