import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Gpr } from '../../src/abi/registers.ts';
import { TD_CONFIG_FLAGS } from '../../src/abi/td-params.ts';
import type { GuestCpu, GuestGen } from '../../src/platform/guest-cpu.ts';
import { bringUp, type ModuleEnv } from '../helpers/module-harness.ts';
import {
  buildRunnableTd,
  DONE_MARKER,
  guestDone,
  guestTdcall,
  guestVmcall,
  HostLoop,
  isDone,
  type RunnableTd,
  type RunnableTdOptions,
} from '../helpers/td-runner.ts';

// Literal values (tdx-module.md §2.2, §3; linux-tdx.md §2.1).
const INVALID_RCX = 0xc000_0100_0000_0001n;
const NO_VALID_VE_INFO = 0xc000_0704_0000_0000n;
const TDG_VP_INFO = 1;
const TDG_VP_VEINFO_GET = 3;
const TDG_VP_CPUIDVE_SET = 5;
const VE = 20;

function run(env: ModuleEnv, body: (cpu: GuestCpu) => GuestGen<void>, extra: Partial<RunnableTdOptions> = {}, vcpu = 0): { rt: RunnableTd; host: HostLoop } {
  const rt = buildRunnableTd(env, {
    vcpus: vcpu + 1,
    ...extra,
    *program(cpu) {
      yield* body(cpu);
      yield* guestDone(cpu);
    },
  });
  return { rt, host: new HostLoop(env, rt.vcpus[vcpu]!.tdvpr) };
}

describe('TDG.VP.VMCALL', () => {
  it('a bad control word fails with OPERAND_INVALID | RCX and does not leave the TD', () => {
    const controls = [
      1n << 32n, // reserved bits 63:32
      1n << 63n,
      1n << 0n, // RAX
      1n << 1n, // RCX
      1n << 4n, // RSP
      1n << 5n, // RBP, forbidden under NO_RBP_MOD (the harness default)
    ];
    const env = bringUp();
    const statuses: bigint[] = [];
    const { host } = run(env, function* (cpu) {
      for (const c of controls) statuses.push(yield* guestVmcall(cpu, { R10: 0n, R11: 0x1234n }, c));
    });
    const exit = host.enter();
    assert.ok(isDone(exit), 'the only exit is the final one');
    assert.deepEqual(statuses, controls.map(() => INVALID_RCX));
  });

  it('RBP may be exposed when the TD does not set NO_RBP_MOD', () => {
    const env = bringUp();
    const { host } = run(
      env,
      function* (cpu) {
        assert.equal(yield* guestVmcall(cpu, { RBP: 0xbbn, R11: 7n }, (1n << 5n) | (1n << 11n)), 0n);
      },
      { configFlags: TD_CONFIG_FLAGS.encode({ gpaw: 0, no_rbp_mod: 0 }) },
    );
    const exit = host.enter();
    assert.equal(exit.rax, 0x4dn);
    assert.equal(exit.regs.gpr[Gpr.RCX], 0x820n);
    assert.equal(exit.regs.gpr[Gpr.RBP], 0xbbn);
    assert.equal(exit.regs.gpr[Gpr.R11], 7n);
    assert.ok(isDone(host.enter(exit.regs)));
  });
});

describe('TDG.VP.INFO', () => {
  it('returns GPAW, ATTRIBUTES, NUM|MAX vCPUs, VCPU_INDEX, R10 = 1, R11 = 0', () => {
    const env = bringUp();
    let out: bigint[] = [];
    const { rt, host } = run(
      env,
      function* (cpu) {
        for (const r of ['RCX', 'RDX', 'R8', 'R9', 'R10', 'R11'] as const) cpu.regs.set(r, 0xffff_ffff_ffff_ffffn);
        const st = yield* guestTdcall(cpu, TDG_VP_INFO);
        const g = cpu.regs.gpr;
        out = [st, g[Gpr.RCX]!, g[Gpr.RDX]!, g[Gpr.R8]!, g[Gpr.R9]!, g[Gpr.R10]!, g[Gpr.R11]!];
      },
      { maxVcpus: 5 },
      1,
    );
    assert.ok(isDone(host.enter()));
    // SEPT_VE_DISABLE (bit 28) is the harness's default ATTRIBUTES; 2 vCPUs of at most 5.
    assert.deepEqual(out, [0n, 48n, 1n << 28n, (5n << 32n) | 2n, 1n, 1n, 0n]);
    assert.equal(rt.td.attributes, 1n << 28n);
  });

  it('reports GPAW 52 for a TD with 5-level EPT', () => {
    const env = bringUp();
    let rcx = 0n;
    const { host } = run(
      env,
      function* (cpu) {
        yield* guestTdcall(cpu, TDG_VP_INFO);
        rcx = cpu.regs.get('RCX');
      },
      { gpaw52: true },
    );
    assert.ok(isDone(host.enter()));
    assert.equal(rcx, 52n);
  });
});

describe('TDG.VP.VEINFO.GET', () => {
  it('without a pending #VE: TDX_NO_VALID_VE_INFO and zeroed outputs', () => {
    const env = bringUp();
    let out: bigint[] = [];
    const { host } = run(env, function* (cpu) {
      for (const r of ['RCX', 'RDX', 'R8', 'R9', 'R10', 'R11'] as const) cpu.regs.set(r, 0x5555n);
      const st = yield* guestTdcall(cpu, TDG_VP_VEINFO_GET);
      const g = cpu.regs.gpr;
      out = [st, g[Gpr.RCX]!, g[Gpr.RDX]!, g[Gpr.R8]!, g[Gpr.R9]!, g[Gpr.R10]!, g[Gpr.R11]!];
    });
    assert.ok(isDone(host.enter()));
    assert.deepEqual(out, [NO_VALID_VE_INFO, 0n, 0n, 0n, 0n, 0n, 0x5555n]);
  });

  it('returns the #VE information once and frees VE_INFO', () => {
    const env = bringUp();
    const got: bigint[][] = [];
    const { rt, host } = run(env, function* (cpu) {
      cpu.idt.set(VE, function* (c) {
        for (let n = 0; n < 2; n++) {
          const st = yield* guestTdcall(c, TDG_VP_VEINFO_GET);
          const g = c.regs.gpr;
          got.push([st, g[Gpr.RCX]!, g[Gpr.RDX]!, g[Gpr.R8]!, g[Gpr.R9]!, g[Gpr.R10]!]);
        }
        c.rip += 2n;
      });
      yield* cpu.cpuid(0x4000_0001);
    });
    assert.ok(isDone(host.enter()));
    assert.deepEqual(got, [
      [0n, 10n, 0n, 0n, 0n, 2n],
      [NO_VALID_VE_INFO, 0n, 0n, 0n, 0n, 0n],
    ]);
    assert.equal(rt.vcpus[0]!.vcpu.veInfo.valid, false);
  });
});

describe('TDG.VP.CPUIDVE.SET', () => {
  it('sets the per-vCPU flags; reserved bits → OPERAND_INVALID | RCX and nothing changes', () => {
    const env = bringUp();
    const statuses: bigint[] = [];
    const { rt, host } = run(env, function* (cpu) {
      statuses.push(yield* guestTdcall(cpu, TDG_VP_CPUIDVE_SET, { RCX: 3n }));
      statuses.push(yield* guestTdcall(cpu, TDG_VP_CPUIDVE_SET, { RCX: 4n }));
      statuses.push(yield* guestTdcall(cpu, TDG_VP_CPUIDVE_SET, { RCX: 1n << 63n }));
    });
    const v = rt.vcpus[0]!.vcpu;
    assert.ok(isDone(host.enter()));
    assert.deepEqual(statuses, [0n, INVALID_RCX, INVALID_RCX]);
    assert.equal(v.cpuidVeSupervisor, true);
    assert.equal(v.cpuidVeUser, true);
  });

  it('clears the flags with RCX = 0', () => {
    const env = bringUp();
    const { rt, host } = run(env, function* (cpu) {
      yield* guestTdcall(cpu, TDG_VP_CPUIDVE_SET, { RCX: 2n });
      yield* guestTdcall(cpu, TDG_VP_CPUIDVE_SET, { RCX: 0n });
    });
    const exit = host.enter();
    assert.equal(exit.regs.gpr[Gpr.R11], DONE_MARKER);
    assert.equal(rt.vcpus[0]!.vcpu.cpuidVeUser, false);
    assert.equal(rt.vcpus[0]!.vcpu.cpuidVeSupervisor, false);
  });
});
