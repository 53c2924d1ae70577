/**
 * The `host` target: bounded smoke runs on both paths (the synthetic TD and the real TD), the
 * synthetic TD's exit images, and deliberately broken hosts the invariants must catch — userspace
 * that throws, a VMM that answers RETRY where the GHCI does not allow it, a host that reads TD
 * memory with the TD's KeyID, a host whose own SEAMCALL fails because of the guest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gpr } from '../../src/abi/registers.ts';
import { TdvmcallSubfunction, TDVMCALL_EXPOSE_REGS_MASK } from '../../src/abi/tdvmcall.ts';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';
import { VmxExitReason } from '../../src/abi/vmx.ts';
import { COM1_BASE } from '../../src/abi/pc-devices.ts';
import { HostError } from '../../src/host/errors.ts';
import { runFuzz, replay } from '../../src/fuzz/engine.ts';
import { Coverage } from '../../src/fuzz/coverage.ts';
import { Invariant } from '../../src/fuzz/invariants.ts';
import { hostTarget, HostEpisode } from '../../src/fuzz/targets/host.ts';
import { buildHostWorld } from '../../src/fuzz/targets/host-world.ts';
import type { HostAction, TdvmcallAction } from '../../src/fuzz/targets/host-gen.ts';
import { Rng } from '../../src/fuzz/rng.ts';

const Sub = TdvmcallSubfunction;
const call = (sub: number, r12 = 0n, r13 = 0n, r14 = 0n, r15 = 0n): TdvmcallAction => ({
  kind: 'tdvmcall',
  mask: TDVMCALL_EXPOSE_REGS_MASK,
  regs: { r10: 0n, r11: BigInt(sub), r12, r13, r14, r15 },
});

test('smoke: 2,000 synthetic steps from a fixed seed find nothing and reach every sub-function', () => {
  const r = runFuzz(hostTarget, { seed: 77n, steps: 2000, minimiseMs: 0 });
  assert.equal(r.steps, 2000);
  assert.deepEqual(r.findings.map((f) => `${f.invariant}: ${f.message}`), []);
  for (const s of Object.values(Sub)) assert.ok((r.coverage.reached[`TDVMCALL<${s.name}>`] ?? 0) > 0, `${s.name} never issued`);
  for (const kind of ['io', 'mmio', 'hypercall', 'tdx', 'system_event']) assert.ok((r.coverage.reached[`exit record ${kind}`] ?? 0) > 0, `no ${kind} exit`);
  assert.ok(Object.keys(r.coverage.outcomes).some((k) => k.endsWith('INVALID_OPERAND')));
});

test('smoke: the real-TD path runs the malicious guest end to end', () => {
  const ep = hostTarget.open('td', new Coverage());
  const rng = new Rng(5n);
  let steps = 0;
  for (; steps < 300 && ep.live; steps++) {
    const v = ep.step(ep.next(rng));
    assert.equal(v, undefined, v && `${v.invariant}: ${v.message}`);
  }
  assert.ok(steps >= 20, `the guest ran ${steps} steps`);
});

test('replay: a GetTdVmCallInfo and a bad IO size are answered the way KVM answers them', () => {
  const actions: HostAction[] = [call(Sub.GET_TD_VM_CALL_INFO.number, 0n), call(Sub.IO.number, 3n, 0n, BigInt(COM1_BASE)), { kind: 'interrupt' }];
  for (const path of ['synthetic', 'td'] as const) {
    const r = replay(hostTarget, path, actions);
    assert.equal(r.violation, undefined, path);
    assert.equal(r.step, 3);
  }
  const r = replay(hostTarget, 'synthetic', [...actions, call(Sub.CPUID.number)]);
  assert.equal(r.coverage.outcomes['TDVMCALL<GetTdVmCallInfo> → SUCCESS'], 1);
  assert.equal(r.coverage.outcomes['TDVMCALL<Instruction.IO> → INVALID_OPERAND'], 1);
});

test('the synthetic TD builds the exit image the module would: selected GPRs only, RCX the control word', () => {
  const world = buildHostWorld('synthetic');
  const s = world.synthetic!;
  const regs = world.vcpu.regs.clone();
  regs.gpr.fill(0xeeeen);
  s.queue.push({ kind: 'tdvmcall', mask: (1n << 11n) | (1n << 12n) | 1n, regs: { r11: 5n, r12: 6n, r13: 7n, rax: 9n } });
  const rax = s.enter(regs);
  assert.equal(rax, BigInt(VmxExitReason.TDCALL));
  assert.equal(regs.gpr[Gpr.RCX], (1n << 11n) | (1n << 12n), 'RAX can never be selected');
  assert.equal(regs.gpr[Gpr.R11], 5n);
  assert.equal(regs.gpr[Gpr.R12], 6n);
  assert.equal(regs.gpr[Gpr.R13], 0n, 'not selected: zeroed');
  assert.equal(regs.gpr[Gpr.RBP], 0xeeeen, 'RBP untouched (NO_RBP_MOD)');
  assert.equal(regs.gpr[Gpr.RSP], 0xeeeen, 'RSP never written');
  // Nothing queued: the host's timer takes the LP back.
  assert.equal(s.enter(regs), BigInt(VmxExitReason.EXTERNAL_INTERRUPT));
  assert.equal(regs.gpr[Gpr.R12], 0n);
});

test('broken userspace: an exception while handling an exit is a no-exception finding', () => {
  const world = buildHostWorld('synthetic');
  world.user.handle = () => {
    throw new RangeError('port out of range');
  };
  const v = new HostEpisode(world, new Coverage()).step(call(Sub.IO.number, 1n, 1n, 0x80n, 0x41n));
  assert.deepEqual(v, { invariant: Invariant.NO_EXCEPTION, message: 'userspace handling a io exit threw RangeError: port out of range' });
});

test('broken VMM: RETRY for a CPUID is a vmm-reply-contract finding', () => {
  const world = buildHostWorld('synthetic');
  const ep = new HostEpisode(world, new Coverage());
  const real = world.user.handle.bind(world.user);
  world.user.handle = (vcpu, rec) => {
    if (rec.kind === 'intr') vcpu.regs.gpr[Gpr.R10] = TdvmcallStatus.RETRY;
    return real(vcpu, rec);
  };
  assert.equal(ep.step(call(Sub.CPUID.number, 0x4000_0000n)), undefined);
  const v = ep.step(call(Sub.HLT.number, 1n));
  assert.equal(v?.invariant, Invariant.VMM_REPLY_CONTRACT);
  assert.match(v!.message, /VMM answered RETRY to sub-function 0x000000000000000A, which is not resumable/);
});

test('broken host: reading TD memory with the TD\'s own KeyID is a no-plaintext-leak finding', () => {
  const world = buildHostWorld('synthetic');
  const real = world.user.handle.bind(world.user);
  const page = world.vm.guest.privatePages.get(16n)!;
  world.user.handle = (vcpu, rec) => {
    world.platform.memory.read(page, 64, world.vm.hkid);
    return real(vcpu, rec);
  };
  const v = new HostEpisode(world, new Coverage()).step(call(Sub.IO.number, 1n, 1n, BigInt(COM1_BASE), 0x41n));
  assert.equal(v?.invariant, Invariant.NO_PLAINTEXT_LEAK);
  assert.match(v!.message, /host read .* with private KeyID/);
});

test('broken host: its own SEAMCALL failing on a guest fault is a host-survives-guest finding', () => {
  const world = buildHostWorld('synthetic');
  world.vm.guest.faultShared = () => ({ kind: 'error', error: new HostError('EIO', 'SEAMCALL TDH.MEM.SEPT.ADD failed', { leaf: 'TDH.MEM.SEPT.ADD', status: 0xc000_0100_0000_0000n }) });
  const ep = new HostEpisode(world, new Coverage());
  const v = ep.step({ kind: 'access', gpa: (1n << 47n) | 0x5000n, size: 4, write: true, value: 1n });
  assert.equal(v?.invariant, Invariant.HOST_SURVIVES_GUEST);
  assert.match(v!.message, /the VM died of a failed host SEAMCALL TDH\.MEM\.SEPT\.ADD 0xC000010000000000/i);
  assert.equal(ep.live, false);
});

test('a guest that gets itself killed (access before accept) ends the episode without a finding', () => {
  const world = buildHostWorld('td');
  const ep = new HostEpisode(world, new Coverage());
  // Convert the boot page's neighbour to shared and back, so the host AUGs it PENDING, then touch it.
  const gpa = 0x20000n;
  assert.equal(ep.step({ kind: 'access', gpa, size: 8, write: false, value: 0n }), undefined);
  assert.equal(ep.step({ kind: 'access', gpa, size: 8, write: false, value: 0n }), undefined);
  assert.equal(ep.live, false);
  assert.equal(ep.coverage.toRecord().reached['VM killed by the host'], 1);
});
