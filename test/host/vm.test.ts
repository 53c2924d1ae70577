import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { HostError } from '../../src/host/errors.ts';
import { TdxStatus, OperandId, withOperand } from '../../src/abi/status.ts';
import { KvmTdState, KvmExitReason } from '../../src/abi/kvm.ts';
import { TdcallLeaf } from '../../src/abi/tdcall-leaves.ts';
import { LockKey } from '../../src/module/locks.ts';
import { BOOT_PAGE_GPA, encodeBootPage } from '../../src/platform/boot-image.ts';
import { bootTd, halt, hostEnv, register } from './host-env.ts';
import { Userspace } from '../../src/host/userspace/vmm.ts';
import { runVcpuLoop } from '../../src/host/userspace/vcpu-loop.ts';

const errnoIs = (errno: string, re?: RegExp) => (e: unknown) => e instanceof HostError && e.errno === errno && (!re || re.test(e.message));
const deltas = (before: Map<string, number>, after: Map<string, number>) =>
  Object.fromEntries([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]).filter(([, d]) => d !== 0));

describe('KVM_TDX_INIT_VM / INIT_VCPU / INIT_MEM_REGION / FINALIZE_VM', () => {
  it('issues the KVM SEAMCALL sequence', () => {
    const env = hostEnv();
    const log = env.host.sc.log;
    let before = new Map(log.counts);
    const vm = env.host.createVm({ memorySize: 16n << 20n, maxVcpus: 2 });
    assert.deepEqual(deltas(before, log.counts), {
      'TDH.MNG.CREATE': 1,
      'TDH.MNG.KEY.CONFIG': 2, // one LP per package
      'TDH.MNG.ADDCX': 6, // TDCS_BASE_SIZE / 4K
      'TDH.MNG.INIT': 1,
      'TDH.MNG.RD': 2, // TSC_OFFSET, TSC_MULTIPLIER
    });
    assert.equal(vm.state, KvmTdState.TD_STATE_INITIALIZED);
    assert.equal(vm.hkid, env.host.globalKeyId + 1);

    before = new Map(log.counts);
    const v0 = vm.createVcpu();
    const v1 = vm.createVcpu();
    assert.deepEqual(deltas(before, log.counts), {
      'TDH.VP.CREATE': 2,
      'TDH.VP.ADDCX': 10, // TDVPS_BASE_SIZE / 4K − 1 each
      'TDH.VP.INIT': 2,
      'TDH.VP.WR': 8, // POSTED_INTR_NV, POSTED_INTR_DESC_ADDR, PIN_BASED bit 7, SHARED_EPTP
    });
    assert.deepEqual([v0.lp.id, v1.lp.id], [0, 1]);
    assert.throws(() => vm.createVcpu(), errnoIs('EINVAL', /already has its 2 vCPUs/));

    before = new Map(log.counts);
    vm.initMemRegion(0x10_0000n, new Uint8Array(8192).fill(7), { measure: true });
    assert.deepEqual(deltas(before, log.counts), {
      'TDH.MEM.SEPT.ADD': 3, // PDPT, PD, PT for the first page; the second shares them
      'TDH.MEM.PAGE.ADD': 2,
      'TDH.MR.EXTEND': 32, // 16 × 256 bytes per page
    });
    before = new Map(log.counts);
    vm.initMemRegion(0x20_0000n, new Uint8Array(4096), { measure: false });
    assert.deepEqual(deltas(before, log.counts), { 'TDH.MEM.SEPT.ADD': 1, 'TDH.MEM.PAGE.ADD': 1 });
    assert.throws(() => vm.initMemRegion(0x10_0000n, new Uint8Array(4096)), errnoIs('EINVAL', /already populated/));
    assert.throws(() => vm.initMemRegion(0x30_0000n, new Uint8Array(100)), errnoIs('EINVAL'));
    assert.throws(() => vm.initMemRegion((1n << 47n) | 0x30_0000n, new Uint8Array(4096)), errnoIs('EINVAL', /not private guest memory/));
    assert.throws(() => v0.run(), errnoIs('EINVAL', /finalised/));

    vm.finalize();
    assert.equal(vm.state, KvmTdState.TD_STATE_RUNNABLE);
    assert.throws(() => vm.finalize(), errnoIs('EINVAL'));
    assert.throws(() => vm.createVcpu(), errnoIs('EIO'));
    assert.throws(() => vm.initMemRegion(0x40_0000n, new Uint8Array(4096)), errnoIs('EINVAL'));
    vm.destroy();
  });

  it('MRTD covers PAGE.ADD GPAs and, when measured, the contents', () => {
    const env = hostEnv();
    const mrtdOf = (bytes: Uint8Array, measure: boolean) => {
      const vm = env.host.createVm({ memorySize: 16n << 20n });
      vm.createVcpu();
      vm.initMemRegion(0x10_0000n, bytes, { measure });
      vm.finalize();
      const m = Buffer.from(vm.mrtd()).toString('hex');
      vm.destroy();
      return m;
    };
    const a = new Uint8Array(4096).fill(1);
    const b = new Uint8Array(4096).fill(2);
    assert.equal(mrtdOf(a, false), mrtdOf(b, false));
    assert.notEqual(mrtdOf(a, true), mrtdOf(b, true));
    assert.equal(mrtdOf(a, true), mrtdOf(a, true));
    assert.notEqual(mrtdOf(a, true), createHash('sha384').digest('hex'));
  });

  it('KVM-side refusals happen before any SEAMCALL', () => {
    const env = hostEnv();
    const before = env.host.sc.log.total;
    assert.throws(() => env.host.createVm({ memorySize: 1n << 20n, attributes: 1n }), errnoIs('EINVAL', /attributes 0x1 include bits KVM does not support/));
    assert.throws(() => env.host.createVm({ memorySize: 1n << 20n, xfam: 1n << 62n }), errnoIs('EINVAL', /XFAM/));
    assert.throws(() => env.host.createVm({ memorySize: 1n << 20n, gpaw: 50 }), errnoIs('EINVAL', /GPAW 50/));
    assert.throws(() => env.host.createVm({ memorySize: 1n << 20n, maxVcpus: 99 }), errnoIs('EINVAL', /maxVcpus/));
    assert.throws(() => env.host.createVm({ memorySize: 1n << 20n, cpuid: [{ leaf: 0x4000_0000, subleaf: null, eax: 0, ebx: 0, ecx: 0, edx: 0 }] }), errnoIs('EINVAL', /not configurable/));
    assert.throws(() => env.host.createVm({ memorySize: 1n << 20n, mrOwner: new Uint8Array(3) }), errnoIs('EINVAL', /48 bytes/));
    assert.equal(env.host.sc.log.total, before);
    assert.equal(env.host.hkids.inUse, 0);
  });

  it('TDH.MNG.INIT refusing TD_PARAMS is EINVAL with hw_error; the half-built TD is torn down', () => {
    const env = hostEnv();
    const census = env.module.pamt.census();
    const pages = env.host.memory.pagesInUse;
    // 50 MHz is below the module's 100 MHz minimum; KVM does not check it, the module does.
    assert.throws(
      () => env.host.createVm({ memorySize: 1n << 20n, tscKhz: 50_000 }),
      (e: unknown) => e instanceof HostError && e.errno === 'EINVAL' && e.hwError === withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.TSC_FREQUENCY) && /TSC_FREQUENCY/.test(e.message),
    );
    assert.deepEqual(env.module.pamt.census(), census);
    assert.equal(env.host.memory.pagesInUse, pages);
    assert.equal(env.host.hkids.inUse, 0);
  });

  it('GPAW 52: the shared bit is 51 and the S-EPT has 5 levels', () => {
    const env = hostEnv();
    const vm = env.host.createVm({ memorySize: 4n << 20n, gpaw: 52 });
    assert.equal(vm.addressing.sharedBit, 1n << 51n);
    assert.equal(vm.eptLevels, 5);
    vm.createVcpu();
    const before = env.host.sc.log.counts.get('TDH.MEM.SEPT.ADD') ?? 0;
    vm.initMemRegion(0n, new Uint8Array(4096));
    assert.equal(env.host.sc.log.counts.get('TDH.MEM.SEPT.ADD')! - before, 4);
    vm.destroy();
  });
});

describe('teardown', () => {
  it('reclaims every page: PAMT census, host memory and HKIDs back to their initial state', () => {
    const env = hostEnv();
    const census = env.module.pamt.census();
    const pages = env.host.memory.pagesInUse;
    const { vm, vcpus } = bootTd(env, 'demo', { vcpus: 2 });
    const hkid = vm.hkid;
    // Run only vCPU 0 (the demo) to its clean halt; vCPU 1 never entered.
    const out = runVcpuLoop(vcpus[0]!, new Userspace(vm), { maxExits: 10_000 });
    assert.equal(out.stop, 'halted');
    assert.ok(vm.guest.privatePages.size > 512);
    const before = new Map(env.host.sc.log.counts);
    const owned = vm.guest.privatePages.size + vm.guest.septPages.size + 2 * 6 + 6;
    const report = vm.destroy();
    const d = deltas(before, env.host.sc.log.counts);
    assert.deepEqual(report, { reclaimed: owned + 1, leaked: 0 });
    assert.equal(d['TDH.VP.FLUSH'], 2);
    assert.equal(d['TDH.MNG.VPFLUSHDONE'], 1);
    assert.equal(d['TDH.PHYMEM.CACHE.WB']! >= 2, true); // at least once per package
    assert.equal(d['TDH.MNG.KEY.FREEID'], 1);
    assert.equal(d['TDH.PHYMEM.PAGE.RECLAIM'], owned + 1);
    assert.equal(d['TDH.PHYMEM.PAGE.WBINVD'], 1); // the TDR, with the global KeyID
    assert.deepEqual(env.module.pamt.census(), census);
    assert.equal(env.host.memory.pagesInUse, pages);
    assert.equal(env.host.hkids.inUse, 0);
    assert.deepEqual(vm.destroy(), { reclaimed: 0, leaked: 0 });
    assert.throws(() => vm.createVcpu(), errnoIs('EIO', /destroyed/));
    // The KeyID is free again.
    assert.equal(env.host.createVm({ memorySize: 1n << 20n }).hkid, hkid);
  });

  it('a private→shared conversion zaps with BLOCK, TRACK, REMOVE, WBINVD and clears the page', () => {
    const env = hostEnv();
    const { vm, vcpu } = bootTd(env, function* (cpu) {
      yield* halt(cpu);
    });
    const boot = BOOT_PAGE_GPA;
    const hpa = vm.guest.privatePages.get(boot >> 12n)!;
    assert.ok(hpa);
    const before = new Map(env.host.sc.log.counts);
    vm.setMemoryAttributes(boot, 4096n, false);
    assert.deepEqual(deltas(before, env.host.sc.log.counts), {
      'TDH.MEM.RANGE.BLOCK': 1,
      'TDH.MEM.TRACK': 1,
      'TDH.MEM.PAGE.REMOVE': 1,
      'TDH.PHYMEM.PAGE.WBINVD': 1,
    });
    assert.equal(vm.guest.privatePages.has(boot >> 12n), false);
    assert.deepEqual(env.platform.memory.read(hpa, 16, 0), new Uint8Array(16));
    assert.equal(vm.guest.isPrivate(boot), false);
    // The boot page is gone: the vCPU's first fetch now faults on a shared-attribute GFN.
    const r = vcpu.run();
    assert.equal(r.kind, 'memory_fault');
    vm.destroy();
  });
});

describe('register helper', () => {
  it('names programs uniquely', () => {
    const env = hostEnv();
    const a = register(env, function* () {});
    const b = register(env, function* () {});
    assert.notEqual(a, b);
    assert.ok(encodeBootPage({ program: a, args: {} }).length === 4096);
  });
});

describe("KVM's OPERAND_BUSY policy", () => {
  it('KVM_TDX_INIT_MEM_REGION fails with EBUSY while the S-EPT is locked elsewhere', () => {
    const env = hostEnv();
    const vm = env.host.createVm({ memorySize: 16n << 20n });
    vm.createVcpu();
    const release = env.module.locks.hold(LockKey.septTree(vm.tdr >> 12n), 'exclusive');
    assert.throws(() => vm.initMemRegion(0x10_0000n, new Uint8Array(4096)), errnoIs('EBUSY'));
    release();
    vm.initMemRegion(0x10_0000n, new Uint8Array(4096));
    assert.equal(vm.guest.privatePages.size, 1);
    vm.destroy();
  });

  it('a busy run-time fault re-enters and faults again; run() returns intr when its budget is spent', () => {
    const env = hostEnv();
    const { vm, vcpu } = bootTd(
      env,
      function* (cpu) {
        cpu.regs.set('RAX', BigInt(TdcallLeaf.TDG_MEM_PAGE_ACCEPT.number)).set('RCX', 8n << 20n);
        yield* cpu.tdcall();
        yield* halt(cpu);
      },
      { config: { maxInKernelExits: 20 } },
    );
    const release = env.module.locks.hold(LockKey.septTree(vm.tdr >> 12n), 'exclusive');
    assert.deepEqual(vcpu.run(), { kind: 'intr', exitReason: KvmExitReason.INTR });
    assert.equal(vcpu.stats.tdExits.get('EPT_VIOLATION'), 20);
    release();
    assert.equal(vcpu.run().kind, 'hlt');
    vm.destroy();
  });
});
