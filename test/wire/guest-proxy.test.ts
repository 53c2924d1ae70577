/**
 * The proxy program, its slot and the served module together, without sockets: a TD built by the
 * built-in host whose boot page names a wire token, entered directly with SEAMCALL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Gpr, RegisterFile } from '../../src/abi/registers.ts';
import { Platform } from '../../src/platform/platform.ts';
import { BOOT_PAGE_GPA, encodeBootPage } from '../../src/platform/boot-image.ts';
import { TdxModule } from '../../src/module/module.ts';
import { DEFAULT_MODULE_IDENTITY } from '../../src/module/identity.ts';
import { TdxHost } from '../../src/host/tdx-host.ts';
import { GuestDirectory, WAIT_FOR_CLIENT, type GuestSlot, type SlotClient } from '../../src/wire/guest-slot.ts';
import { wireProxyFactory } from '../../src/wire/guest-proxy.ts';
import { ServedModule } from '../../src/wire/served-module.ts';
import { frameBuffer } from '../../src/wire/frame.ts';
import { registerGuestPrograms } from '../../src/guest/programs/index.ts';

const RAX_PREEMPTED = 1n; // TDX_SUCCESS | EXTERNAL_INTERRUPT
const RAX_TDVMCALL = 77n;
const STEP_BUDGET = 1_000_000;

function servedTd() {
  const platform = new Platform({ packages: 1, lpsPerPackage: 1, memorySize: 256n << 20n });
  const module = new TdxModule(platform, DEFAULT_MODULE_IDENTITY);
  platform.loadModule(new ServedModule(module));
  registerGuestPrograms(platform.firmware);
  const host = TdxHost.bringUp(platform);
  const vm = host.createVm({ memorySize: 16n << 20n, maxVcpus: 1 });
  const v = vm.createVcpu();
  const directory = new GuestDirectory(wireProxyFactory);
  const booted: GuestSlot[] = [];
  const entry = directory.mint(module, platform.firmware, { slotBooted: (s) => booted.push(s) });
  vm.initMemRegion(BOOT_PAGE_GPA, encodeBootPage({ program: `wire:${entry.token}`, args: {} }), { measure: true });
  vm.finalize();
  const answers: Buffer[] = [];
  const client: SlotClient = { sendResult: (f) => answers.push(f), sendException: () => {}, detach: () => {} };
  const slot = directory.attach(entry.token, 0, client).slot!;
  const enter = (regs = new RegisterFile()): RegisterFile => {
    regs.gpr[Gpr.RAX] = 0n;
    regs.gpr[Gpr.RCX] = v.tdvprPa;
    return platform.lps[0]!.seamcall(regs);
  };
  return { module, slot, booted, answers, enter, vcpu: () => module.vcpu(v.tdvprPa)! };
}

/** A TDCALL message in the slot, as the guest session hands it over. */
function deliverTdcall(slot: GuestSlot, id: number, regs: Record<number, bigint>): void {
  const f = frameBuffer(0x0202, id, 384);
  for (const [i, v] of Object.entries(regs)) f.writeBigUInt64LE(v, 12 + 8 * Number(i));
  slot.deliver(0x0202, id, f, 12, 384);
}

describe('wire guest proxy', () => {
  it('boots into the slot of its VCPU_INDEX and waits: each entry is a preemption exit, the sentinel never runs', () => {
    const t = servedTd();
    assert.equal(t.enter().gpr[Gpr.RAX], RAX_PREEMPTED);
    assert.deepEqual(t.booted, [t.slot]);
    assert.equal(t.slot.vcpu, t.vcpu());
    assert.equal(t.vcpu().pendingOp, WAIT_FOR_CLIENT);
    assert.equal(t.slot.waiting, true);
    assert.equal(t.module.stepBudget, STEP_BUDGET, 'the budget is restored after the SEAMCALL');
    // Entering again while the client is silent: preempted at once, nothing executed.
    assert.equal(t.enter().gpr[Gpr.RAX], RAX_PREEMPTED);
    assert.equal(t.vcpu().pendingOp, WAIT_FOR_CLIENT);
    assert.equal(t.vcpu().veInfo.valid, false);
    assert.deepEqual(t.answers, []);
  });

  it('runs a delivered instruction at the next entry, answers it, and waits again', () => {
    const t = servedTd();
    t.enter();
    deliverTdcall(t.slot, 7, { [Gpr.RAX]: 1n, [Gpr.R12]: 0x1234n }); // TDG.VP.INFO
    assert.equal(t.vcpu().pendingOp, undefined, 'the sentinel is retired once the instruction is known');
    assert.equal(t.slot.waiting, false);
    assert.equal(t.enter().gpr[Gpr.RAX], RAX_PREEMPTED);
    assert.equal(t.answers.length, 1);
    const a = t.answers[0]!;
    assert.equal(a.readUInt16LE(4), 0x8202);
    assert.equal(a.readUInt32LE(8), 7);
    assert.deepEqual([Gpr.RAX, Gpr.RCX, Gpr.R12].map((r) => a.readBigUInt64LE(12 + 8 * r)), [0n, 48n, 0x1234n]);
    assert.equal(t.vcpu().cpu.rip, 0xffff_fff4n);
  });

  it('calls its runner back when the client speaks, and triple-faults the vCPU when the client leaves', () => {
    const t = servedTd();
    t.enter();
    const woken: GuestSlot[] = [];
    t.slot.runner = { onGuestReady: (s) => woken.push(s) };
    deliverTdcall(t.slot, 1, { [Gpr.RAX]: 0n, [Gpr.RCX]: 0xfc00n, [Gpr.R11]: 12n }); // TDVMCALL<HLT>
    assert.deepEqual(woken, [t.slot]);
    assert.equal(t.slot.runner, undefined);
    assert.equal(t.enter().gpr[Gpr.RAX], RAX_TDVMCALL);
    t.slot.clientLeft(t.slot.client!);
    assert.equal(t.slot.gone, true);
    // The host answers the HLT; the proxy then finds its client gone.
    assert.equal(t.enter().gpr[Gpr.RAX], 0x4000_0001_0000_0002n); // NON_RECOVERABLE_VCPU | triple fault
  });
});
