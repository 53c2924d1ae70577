import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gpr } from '../../src/abi/registers.ts';
import { TdcallLeaf } from '../../src/abi/tdcall-leaves.ts';
import { TdvmcallSubfunction } from '../../src/abi/tdvmcall.ts';
import { KvmExitReason, KVM_MEMORY_EXIT_FLAG_PRIVATE } from '../../src/abi/kvm.ts';
import { TdxStatus } from '../../src/abi/status.ts';
import type { GuestCpu, GuestGen } from '../../src/platform/guest-cpu.ts';
import { HostError } from '../../src/host/errors.ts';
import { Userspace } from '../../src/host/userspace/vmm.ts';
import { bootTd, halt, hostEnv, vmcall } from './host-env.ts';

const env = hostEnv();
const S = 1n << 47n;
const MiB = 1n << 20n;

after(() => {
  for (const vm of [...env.host.vms]) vm.destroy();
});

function* accept(cpu: GuestCpu, gpa: bigint): GuestGen<bigint> {
  cpu.regs.set('RAX', BigInt(TdcallLeaf.TDG_MEM_PAGE_ACCEPT.number)).set('RCX', gpa);
  yield* cpu.tdcall();
  return cpu.regs.gpr[Gpr.RAX]!;
}

describe('private EPT violations', () => {
  it('TDG.MEM.PAGE.ACCEPT of a missing page: the host adds the S-EPT path and AUGs; the accept succeeds', () => {
    const seen: bigint[] = [];
    const { vcpu, vm } = bootTd(env, function* (cpu) {
      seen.push(yield* accept(cpu, 8n * MiB));
      seen.push(yield* accept(cpu, 8n * MiB + 0x1000n));
      yield* cpu.writeValue(8n * MiB, 8, 0x1234n);
      seen.push(yield* cpu.readValue(8n * MiB, 8));
      yield* halt(cpu);
    });
    const sept = vm.guest.septPages.size;
    const aug = vm.sc.log.counts.get('TDH.MEM.PAGE.AUG') ?? 0;
    assert.equal(vcpu.run().kind, 'hlt');
    assert.deepEqual(seen, [TdxStatus.TDX_SUCCESS, TdxStatus.TDX_SUCCESS, 0x1234n]);
    assert.equal(vm.sc.log.counts.get('TDH.MEM.PAGE.AUG')! - aug, 2);
    // The boot page's path already has the PDPT page (GPAs below 512 GiB); 8 MiB needs its own
    // PD (first GiB) and PT (its 2 MiB) pages.
    assert.equal(vm.guest.septPages.size - sept, 2);
    assert.equal(vm.guest.privatePages.has(8n * MiB >> 12n), true);
    assert.deepEqual(vcpu.stats.tdExits.get('EPT_VIOLATION'), 2);
    vm.destroy();
  });

  it('a guest access before accepting kills the VM (SEPT_VE_DISABLE): run() fails with EIO from then on', () => {
    const { vcpu, vm } = bootTd(env, function* (cpu) {
      yield* cpu.readValue(9n * MiB, 8);
      yield* halt(cpu);
    });
    assert.throws(
      () => vcpu.run(),
      (e: unknown) => e instanceof HostError && e.errno === 'EIO' && e.details.vmDead === true && /Guest access before accepting GPA 0x900000/.test(e.message),
    );
    assert.throws(() => vcpu.run(), (e: unknown) => e instanceof HostError && e.errno === 'EIO');
    assert.ok(env.host.warnings.log.some((w) => w.kind === 'access-before-accept' && w.culprit === 'guest'));
    // A dead VM still tears down completely.
    assert.deepEqual(vm.destroy().leaked, 0);
  });

  it('a private access to a GFN userspace made shared is a KVM_EXIT_MEMORY_FAULT(PRIVATE)', () => {
    const seen: bigint[] = [];
    const { vcpu, vm } = bootTd(env, function* (cpu) {
      seen.push(yield* accept(cpu, 10n * MiB));
      yield* halt(cpu);
    });
    vm.setMemoryAttributes(10n * MiB, 0x1000n, false);
    assert.deepEqual(vcpu.run(), { kind: 'memory_fault', exitReason: KvmExitReason.MEMORY_FAULT, flags: KVM_MEMORY_EXIT_FLAG_PRIVATE, gpa: 10n * MiB, size: 0x1000n });
    vm.setMemoryAttributes(10n * MiB, 0x1000n, true);
    assert.equal(vcpu.run().kind, 'hlt');
    assert.deepEqual(seen, [TdxStatus.TDX_SUCCESS]);
    vm.destroy();
  });
});

describe('shared EPT violations', () => {
  it('after MapGPA to shared, a shared write is backed by a host page userspace can read', () => {
    const { vcpu, vm } = bootTd(env, function* (cpu) {
      yield* vmcall(cpu, BigInt(TdvmcallSubfunction.MAP_GPA.number), { R12: S | (12n * MiB), R13: 0x1000n });
      yield* cpu.write(S | (12n * MiB) | 0x10n, new TextEncoder().encode('shared!'));
      yield* halt(cpu);
    });
    const user = new Userspace(vm);
    for (;;) {
      const r = vcpu.run();
      if (r.kind === 'hlt') break;
      assert.equal(user.handle(vcpu, r).kind, 'continue');
    }
    assert.equal(new TextDecoder().decode(vm.guest.readShared(12n * MiB + 0x10n, 7)), 'shared!');
    assert.equal(vm.guest.sharedPages.size, 1);
    assert.deepEqual(user.converter.log, [{ gpa: 12n * MiB, size: 0x1000n, toPrivate: false }]);
    vm.destroy();
  });

  it('a shared access to a private GFN is a KVM_EXIT_MEMORY_FAULT (shared)', () => {
    const { vcpu, vm } = bootTd(env, function* (cpu) {
      yield* cpu.readValue(S | (13n * MiB), 8);
      yield* halt(cpu);
    });
    assert.deepEqual(vcpu.run(), { kind: 'memory_fault', exitReason: KvmExitReason.MEMORY_FAULT, flags: 0n, gpa: 13n * MiB, size: 0x1000n });
    vm.destroy();
  });

  it('outside every memslot the host installs the MMIO marker: the guest takes a #VE', () => {
    const vectors: number[] = [];
    const { vcpu, vm } = bootTd(env, function* (cpu) {
      // eslint-disable-next-line require-yield -- the handler emulates nothing that traps
      cpu.idt.set(20, function* (c, vector) {
        vectors.push(vector);
        c.rip += 3n; // skip the MOV as an MMIO emulation would
      });
      yield* cpu.readValue(S | 0xfeb0_0000n, 4);
      yield* halt(cpu);
    });
    assert.equal(vcpu.run().kind, 'hlt');
    assert.deepEqual(vectors, [20]);
    assert.deepEqual(vm.guest.sharedEpt.lookup(S | 0xfeb0_0000n), { kind: 'mmio' });
    vm.destroy();
  });
});

describe('exits that end a vCPU', () => {
  it('a triple fault is KVM_EXIT_SHUTDOWN; the disabled vCPU then fails entry (KVM_EXIT_FAIL_ENTRY)', () => {
    const { vcpu, vm } = bootTd(env, function* () {
      yield { kind: 'triple_fault' };
    });
    assert.deepEqual(vcpu.run(), { kind: 'shutdown', exitReason: KvmExitReason.SHUTDOWN });
    const r = vcpu.run();
    assert.deepEqual(r, { kind: 'fail_entry', exitReason: KvmExitReason.FAIL_ENTRY, hardwareEntryFailureReason: 0xffff_ffffn, cpu: vcpu.lp.id });
    assert.equal(vm.destroy().leaked, 0);
  });
});
