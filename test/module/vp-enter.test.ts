import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RegisterFile, Gpr, GPR_COUNT, XMM_COUNT } from '../../src/abi/registers.ts';
import { LastTdExit, VcpuState } from '../../src/abi/lifecycle.ts';
import { TD_CONFIG_FLAGS } from '../../src/abi/td-params.ts';
import { LockKey } from '../../src/module/locks.ts';
import { BOOT_PAGE_GPA, encodeBootPage } from '../../src/platform/boot-image.ts';
import type { GuestCpu, GuestProgram } from '../../src/platform/guest-cpu.ts';
import { bringUp, createTd, type ModuleEnv } from '../helpers/module-harness.ts';
import { createVcpu } from '../helpers/vcpu-harness.ts';
import { addSeptPath, gpaLevel, ST } from '../helpers/td-memory.ts';
import {
  attachSharedEpt,
  buildRunnableTd,
  guestDone,
  guestVmcall,
  HostLoop,
  isDone,
  type RunnableTd,
  type RunnableTdOptions,
  type TdExit,
} from '../helpers/td-runner.ts';

// Expected values written out from the facts (tdx-module.md §3, §6), independent of src/abi.
const RAX_TDVMCALL = 0x4dn;
const RAX_EPT_VIOLATION = 0x30n;
const RAX_TRIPLE_FAULT = 0x4000_0001_0000_0002n;
const RAX_EXTERNAL_INTERRUPT = 0x1n;
const OPERAND_INVALID_RCX = 0xc000_0100_0000_0001n;
const SHARED_BIT_48 = 1n << 47n;

/** Distinct guest values for every GPR (index i → 0x6000_0000_0000_0000 + i). */
const guestValue = (i: number): bigint => 0x6000_0000_0000_0000n + BigInt(i);
/** Distinct host sentinels for every GPR. */
const hostValue = (i: number): bigint => 0x5a5a_0000_0000_0000n + BigInt(i);

function hostRegs(): RegisterFile {
  const r = new RegisterFile();
  for (let i = 0; i < GPR_COUNT; i++) r.gpr[i] = hostValue(i);
  for (let i = 0; i < 2 * XMM_COUNT; i++) r.xmm[i] = 0x7700_0000_0000_0000n + BigInt(i);
  return r;
}

/** Load the guest's registers with guestValue and its XMMs with distinct values. */
function fillGuest(cpu: GuestCpu): void {
  for (let i = 0; i < GPR_COUNT; i++) cpu.regs.gpr[i] = guestValue(i);
  for (let i = 0; i < 2 * XMM_COUNT; i++) cpu.regs.xmm[i] = 0x3300_0000_0000_0000n + BigInt(i);
}

const RBP = Gpr.RBP;
const RSP = Gpr.RSP;

/** Every GPR from RDX up, except RSP and `except`, is 0. */
function assertZeroFromRdx(regs: RegisterFile, except: number[]): void {
  for (let i = Gpr.RDX as number; i < GPR_COUNT; i++) {
    if (i === RSP || except.includes(i)) continue;
    assert.equal(regs.gpr[i], 0n, `GPR ${i} must be 0`);
  }
}

function assertXmmZeroExcept(regs: RegisterFile, except: number[]): void {
  for (let i = 0; i < XMM_COUNT; i++) {
    if (except.includes(i)) continue;
    assert.equal(regs.xmm[2 * i], 0n, `XMM${i} low`);
    assert.equal(regs.xmm[2 * i + 1], 0n, `XMM${i} high`);
  }
}

function runnable(env: ModuleEnv, program: GuestProgram, extra: Partial<RunnableTdOptions> = {}): { rt: RunnableTd; host: HostLoop } {
  const rt = buildRunnableTd(env, { ...extra, program });
  return { rt, host: new HostLoop(env, rt.vcpus[0]!.tdvpr) };
}

describe('TDH.VP.ENTER: TDVMCALL exit image', () => {
  // gpr_select: RDX, RSI, R9, R12; xmm_select: XMM1, XMM5.
  const CONTROL = (1n << 2n) | (1n << 6n) | (1n << 9n) | (1n << 12n) | (((1n << 1n) | (1n << 5n)) << 16n);

  it('copies the selected GPRs and XMMs, zeroes the rest, keeps RSP and (NO_RBP_MOD) RBP', () => {
    const env = bringUp();
    const { rt, host } = runnable(env, function* (cpu) {
      fillGuest(cpu);
      cpu.regs.set('RAX', 0n).set('RCX', CONTROL);
      yield* cpu.tdcall();
    });
    const exit = host.enter(hostRegs());
    const g = exit.regs.gpr;
    assert.equal(exit.rax, RAX_TDVMCALL);
    assert.equal(g[Gpr.RCX], CONTROL, 'RCX = control word, VM 0');
    for (const i of [Gpr.RDX, Gpr.RSI, Gpr.R9, Gpr.R12]) assert.equal(g[i], guestValue(i));
    assertZeroFromRdx(exit.regs, [Gpr.RDX, Gpr.RSI, Gpr.R9, Gpr.R12, RBP]);
    assert.equal(g[RBP], hostValue(RBP), 'RBP untouched under NO_RBP_MOD');
    assert.equal(g[RSP], hostValue(RSP), 'RSP never written');
    const guestXmm = rt.vcpus[0]!.vcpu.cpu.regs.xmm;
    for (const x of [1, 5]) {
      assert.equal(exit.regs.xmm[2 * x], guestXmm[2 * x]);
      assert.equal(exit.regs.xmm[2 * x + 1], guestXmm[2 * x + 1]);
    }
    assertXmmZeroExcept(exit.regs, [1, 5]);
    const v = rt.vcpus[0]!.vcpu;
    assert.equal(v.state, VcpuState.VCPU_READY);
    assert.equal(v.lastTdExit, LastTdExit.TDVMCALL);
    assert.ok(env.module.locks.idle(), 'TDVPR, TDR and epoch locks released at the exit');
    assert.deepEqual(rt.td.epochRefcount, [0, 0]);
  });

  it('without NO_RBP_MOD zeroes an unselected RBP and copies a selected one', () => {
    const env = bringUp();
    const configFlags = TD_CONFIG_FLAGS.encode({ gpaw: 0, no_rbp_mod: 0 });
    const { host } = runnable(
      env,
      function* (cpu) {
        fillGuest(cpu);
        cpu.regs.set('RAX', 0n).set('RCX', 1n << 2n);
        yield* cpu.tdcall();
        fillGuest(cpu);
        cpu.regs.set('RAX', 0n).set('RCX', (1n << 2n) | (1n << 5n));
        yield* cpu.tdcall();
      },
      { configFlags },
    );
    const first = host.enter(hostRegs());
    assert.equal(first.rax, RAX_TDVMCALL);
    assert.equal(first.regs.gpr[RBP], 0n);
    assert.equal(first.regs.gpr[RSP], hostValue(RSP));
    const second = host.enter(hostRegs());
    assert.equal(second.regs.gpr[Gpr.RCX], 0x24n);
    assert.equal(second.regs.gpr[RBP], guestValue(RBP));
    assertZeroFromRdx(second.regs, [Gpr.RDX, RBP]);
  });
});

describe('TDH.VP.ENTER: resume after a TDVMCALL exit', () => {
  it('loads the selected GPRs/XMMs from the host, RAX = 0, RCX and the rest unchanged', () => {
    const env = bringUp();
    const control = (1n << 3n) | (1n << 10n) | (1n << 11n) | ((1n << 7n) << 16n); // RBX, R10, R11; XMM7
    let snapshot: RegisterFile | undefined;
    let guestXmmBefore: BigUint64Array | undefined;
    const { host } = runnable(env, function* (cpu) {
      fillGuest(cpu);
      guestXmmBefore = cpu.regs.xmm.slice();
      cpu.regs.set('RAX', 0n).set('RCX', control);
      yield* cpu.tdcall();
      snapshot = cpu.regs.clone();
      yield* guestDone(cpu);
    });
    host.enter();
    const reply = hostRegs();
    const done = host.enter(reply);
    assert.ok(isDone(done));
    const s = snapshot!;
    assert.equal(s.gpr[Gpr.RAX], 0n, 'TDCALL status');
    assert.equal(s.gpr[Gpr.RCX], control, 'RCX keeps the control word');
    for (let i = Gpr.RDX as number; i < GPR_COUNT; i++) {
      const expected = [Gpr.RBX, Gpr.R10, Gpr.R11].includes(i as never) ? hostValue(i) : guestValue(i);
      assert.equal(s.gpr[i], expected, `guest GPR ${i}`);
    }
    for (let x = 0; x < XMM_COUNT; x++) {
      const src = x === 7 ? reply.xmm : guestXmmBefore!;
      assert.equal(s.xmm[2 * x], src[2 * x], `XMM${x} low`);
      assert.equal(s.xmm[2 * x + 1], src[2 * x + 1], `XMM${x} high`);
    }
  });

  it('property: no host reply changes a guest register the guest did not expose', () => {
    const env = bringUp();
    let plan = { gpr: 0n, xmm: 0n };
    let snapshot: RegisterFile | undefined;
    const { host } = runnable(env, function* (cpu) {
      for (;;) {
        fillGuest(cpu);
        cpu.regs.set('RAX', 0n).set('RCX', plan.gpr | (plan.xmm << 16n));
        yield* cpu.tdcall();
        snapshot = cpu.regs.clone();
      }
    });
    host.enter();
    // Selectable GPRs: 2..15 except RSP (4) and, under NO_RBP_MOD, RBP (5).
    const selectable = [2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    fc.assert(
      fc.property(
        fc.subarray(selectable),
        fc.bigInt({ min: 0n, max: 0xffffn }),
        fc.array(u64, { minLength: GPR_COUNT, maxLength: GPR_COUNT }),
        fc.array(u64, { minLength: 2 * XMM_COUNT, maxLength: 2 * XMM_COUNT }),
        (gprs, xmm, hostGprs, hostXmms) => {
          plan = { gpr: gprs.reduce((m, i) => m | (1n << BigInt(i)), 0n), xmm };
          // The guest resumes from its previous exit and makes a TDVMCALL with this plan.
          const exit = host.enter();
          assert.equal(exit.rax, RAX_TDVMCALL);
          const reply = new RegisterFile();
          hostGprs.forEach((v, i) => (reply.gpr[i] = v));
          hostXmms.forEach((v, i) => (reply.xmm[i] = v));
          assert.equal(host.enter(reply).rax, RAX_TDVMCALL);
          const s = snapshot!;
          const guestXmm = (i: number) => 0x3300_0000_0000_0000n + BigInt(i);
          for (let i = 2; i < GPR_COUNT; i++) {
            assert.equal(s.gpr[i], gprs.includes(i) ? hostGprs[i] : guestValue(i), `GPR ${i}`);
          }
          assert.equal(s.gpr[Gpr.RAX], 0n);
          assert.equal(s.gpr[Gpr.RCX], plan.gpr | (xmm << 16n));
          for (let x = 0; x < XMM_COUNT; x++) {
            const sel = ((xmm >> BigInt(x)) & 1n) === 1n;
            assert.equal(s.xmm[2 * x], sel ? hostXmms[2 * x] : guestXmm(2 * x));
            assert.equal(s.xmm[2 * x + 1], sel ? hostXmms[2 * x + 1] : guestXmm(2 * x + 1));
          }
        },
      ),
      { numRuns: 100, seed: 0x7d5 },
    );
  });
});

describe('TDH.VP.ENTER: asynchronous exits', () => {
  function assertAsyncZeroes(exit: TdExit): void {
    for (const r of [Gpr.RBX, Gpr.RBP, Gpr.RSI, Gpr.RDI, Gpr.R10, Gpr.R11, Gpr.R12, Gpr.R13, Gpr.R14, Gpr.R15]) {
      assert.equal(exit.regs.gpr[r], 0n, `GPR ${r} zeroed`);
    }
    assert.equal(exit.regs.gpr[RSP], hostValue(RSP), 'RSP untouched');
    assertXmmZeroExcept(exit.regs, []);
  }

  it('EPT violation on an unmapped private GPA: RCX = qualification (bits 12:7 clear), R8 = GPA page', () => {
    const env = bringUp();
    const gpa = 0x4000_0123n;
    const { rt, host } = runnable(env, function* (cpu) {
      yield* cpu.readValue(gpa, 8);
    });
    const exit = host.enter(hostRegs());
    assert.equal(exit.rax, RAX_EPT_VIOLATION);
    assert.equal(exit.regs.gpr[Gpr.RCX], 0x1n, 'data read only');
    assert.equal(exit.regs.gpr[Gpr.RDX], 0n, 'EEQ type NONE');
    assert.equal(exit.regs.gpr[Gpr.R8], 0x4000_0000n);
    assert.equal(exit.regs.gpr[Gpr.R9], 0n);
    assertAsyncZeroes(exit);
    const v = rt.vcpus[0]!.vcpu;
    assert.equal(v.state, VcpuState.VCPU_READY);
    assert.equal(v.lastTdExit, LastTdExit.ASYNC_FAULT);
    // The access is retried at the next entry: still not mapped, same exit.
    assert.equal(host.enter().rax, RAX_EPT_VIOLATION);
  });

  it('a store reports a write; the retried store completes once the host maps the shared page', () => {
    const env = bringUp();
    const gpa = SHARED_BIT_48 | 0x20_0010n;
    const { rt, host } = runnable(env, function* (cpu) {
      yield* cpu.writeValue(gpa, 8, 0x1122_3344_5566_7788n);
      yield* guestDone(cpu);
    });
    const table = attachSharedEpt(env, rt.vcpus[0]!);
    const exit = host.enter();
    assert.equal(exit.rax, RAX_EPT_VIOLATION);
    assert.equal(exit.regs.gpr[Gpr.RCX], 0x2n, 'data write');
    assert.equal(exit.regs.gpr[Gpr.R8], SHARED_BIT_48 | 0x20_0000n);
    const hostPage = env.shared.alloc4k();
    table.map(SHARED_BIT_48 | 0x20_0000n, hostPage);
    assert.ok(isDone(host.enter()));
    assert.equal(env.platform.memory.readU64(hostPage + 0x10n, 0), 0x1122_3344_5566_7788n, 'written with KeyID 0');
  });

  it('pending page with SEPT_VE_DISABLE: EPT violation exit with EEQ type PENDING_EPT_VIOLATION (6)', () => {
    const env = bringUp();
    const gpa = 0x4020_0000n;
    const { rt, host } = runnable(env, function* (cpu) {
      yield* cpu.readValue(gpa + 8n, 4);
    });
    addSeptPath(env, rt, gpa, 1);
    assert.equal(env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(gpa, 0), tdr: rt.tdr, page: env.alloc.alloc4k() }).status, ST.SUCCESS);
    const exit = host.enter(hostRegs());
    assert.equal(exit.rax, RAX_EPT_VIOLATION);
    assert.equal(exit.regs.gpr[Gpr.RCX], 0x1n);
    assert.equal(exit.regs.gpr[Gpr.RDX], 6n);
    assert.equal(exit.regs.gpr[Gpr.R8], gpa);
    assert.equal(exit.regs.gpr[Gpr.R9], 0n);
    assertAsyncZeroes(exit);
    assert.equal(rt.vcpus[0]!.vcpu.veInfo.valid, false, 'no #VE');
  });

  it('a spinning guest is preempted after the step budget (external interrupt, TDX_SUCCESS) and continues', () => {
    const env = bringUp();
    env.module.stepBudget = 50;
    let cpuids = 0;
    const { rt, host } = runnable(env, function* (cpu) {
      for (;;) {
        yield* cpu.cpuid(0);
        cpuids++;
      }
    });
    const exit = host.enter(hostRegs());
    assert.equal(exit.rax, RAX_EXTERNAL_INTERRUPT);
    assert.equal(exit.regs.gpr[Gpr.RCX], 0n);
    assert.equal(exit.regs.gpr[Gpr.RDX], 0n);
    assert.equal(exit.regs.gpr[Gpr.R8], 0n);
    assert.equal(exit.regs.gpr[Gpr.R9], 0x8000_00ecn, 'valid external interrupt, host timer vector');
    assertAsyncZeroes(exit);
    assert.equal(cpuids, 50, 'exactly the budget of 50 instructions ran; the 51st waits');
    assert.equal(rt.vcpus[0]!.vcpu.lastTdExit, LastTdExit.ASYNC_FAULT);
    assert.equal(host.enter().rax, RAX_EXTERNAL_INTERRUPT);
    assert.equal(cpuids, 100, 'the waiting CPUID ran first at the next entry');
  });

  it('triple fault: NON_RECOVERABLE_VCPU | 2, the vCPU is disabled and cannot be entered again', () => {
    const env = bringUp();
    const { rt, host } = runnable(env, function* (cpu) {
      yield* cpu.vmcall(); // #VE with no IDT → #DF → triple fault
    });
    const exit = host.enter(hostRegs());
    assert.equal(exit.rax, RAX_TRIPLE_FAULT);
    for (const r of [Gpr.RCX, Gpr.RDX, Gpr.R8, Gpr.R9]) assert.equal(exit.regs.gpr[r], 0n);
    assertAsyncZeroes(exit);
    const v = rt.vcpus[0]!.vcpu;
    assert.equal(v.state, VcpuState.VCPU_DISABLED);
    assert.equal(host.enter().rax, 0xc000_0700_0000_0000n, 'TDX_VCPU_STATE_INCORRECT');
    assert.ok(env.module.locks.idle());
  });

  it('a guest program that returns or throws triple-faults', () => {
    const env = bringUp();
    const returns = runnable(env, function* () {});
    assert.equal(returns.host.enter().rax, RAX_TRIPLE_FAULT);
    const throws = runnable(env, function* (cpu) {
      yield* cpu.cpuid(0);
      throw new Error('guest bug');
    });
    assert.equal(throws.host.enter().rax, RAX_TRIPLE_FAULT);
    assert.match(String(throws.rt.vcpus[0]!.vcpu.guestError), /guest bug/);
  });
});

describe('TDH.VP.ENTER: boot', () => {
  const noop = function* (cpu: GuestCpu) {
    yield* guestDone(cpu);
  };

  it('boots the program the boot page names', () => {
    const env = bringUp();
    const { host } = runnable(env, noop);
    assert.ok(isDone(host.enter()));
  });

  it('no boot page: EPT violation on the instruction fetch at the reset-vector page', () => {
    const env = bringUp();
    const { host } = runnable(env, noop, { noBootPage: true, pages: [{ gpa: 0n }] });
    const exit = host.enter();
    assert.equal(exit.rax, RAX_EPT_VIOLATION);
    assert.equal(exit.regs.gpr[Gpr.RCX], 0x4n, 'instruction fetch');
    assert.equal(exit.regs.gpr[Gpr.R8], BOOT_PAGE_GPA);
  });

  it('a garbage boot page or an unknown program is a triple fault', () => {
    const env = bringUp();
    const garbage = runnable(env, noop, { bootPage: new Uint8Array(4096).fill(0xcc) });
    assert.equal(garbage.host.enter().rax, RAX_TRIPLE_FAULT);
    const unknown = runnable(env, noop, { bootPage: encodeBootPage({ program: 'no-such-program', args: null }) });
    assert.equal(unknown.host.enter().rax, RAX_TRIPLE_FAULT);
    assert.equal(unknown.rt.vcpus[0]!.vcpu.state, VcpuState.VCPU_DISABLED);
  });
});

describe('TDH.VP.ENTER: host extended state', () => {
  it('resets every XSAVE component the TD XFAM covers on the host LP; others survive', () => {
    const env = bringUp();
    const { host } = runnable(env, function* (cpu) {
      yield* guestVmcall(cpu, {}, 0n);
    });
    const lp = env.lps[0]!;
    const x87 = new Uint8Array([1, 2, 3]);
    const ymmHi = new Uint8Array(256).fill(0xab);
    const opmask = new Uint8Array(64).fill(0xcd);
    lp.xstate.set(0, x87);
    lp.xstate.set(2, ymmHi);
    lp.xstate.set(5, opmask);
    const exit = host.enter(hostRegs()); // XFAM = x87 | SSE | AVX
    assert.equal(exit.rax, RAX_TDVMCALL);
    assert.equal(lp.xstate.has(0), false, 'x87 reset');
    assert.equal(lp.xstate.has(2), false, 'upper YMM halves reset: an unsaved host AVX state is lost');
    assert.equal(lp.xstate.get(5), opmask, 'AVX-512 opmask not in XFAM: untouched');
    assertXmmZeroExcept(exit.regs, []);
  });
});

describe('TDH.VP.ENTER: entry checks', () => {
  function ready(): { env: ModuleEnv; rt: RunnableTd; host: HostLoop; tdvpr: bigint; statuses: bigint[] } {
    const env = bringUp();
    const statuses: bigint[] = [];
    const rt = buildRunnableTd(env, {
      *program(cpu) {
        for (;;) statuses.push(yield* guestVmcall(cpu));
      },
    });
    return { env, rt, host: new HostLoop(env, rt.vcpus[0]!.tdvpr), tdvpr: rt.vcpus[0]!.tdvpr, statuses };
  }

  /** A failed entry: RAX = status, every other register as the host passed it, nothing changed. */
  function assertRefused(env: ModuleEnv, rt: RunnableTd, exit: TdExit, rax: bigint, rcx: bigint): void {
    assert.equal(exit.rax, rax);
    assert.equal(exit.regs.gpr[Gpr.RCX], rcx);
    for (let i = Gpr.RDX as number; i < GPR_COUNT; i++) assert.equal(exit.regs.gpr[i], hostValue(i));
    for (let i = 0; i < 2 * XMM_COUNT; i++) assert.equal(exit.regs.xmm[i], 0x7700_0000_0000_0000n + BigInt(i));
    assert.notEqual(rt.vcpus[0]!.vcpu.state, VcpuState.VCPU_ACTIVE);
    assert.deepEqual(rt.td.epochRefcount, [0, 0]);
  }

  it('RCX reserved bits → OPERAND_INVALID | RCX', () => {
    const { env, rt, host, tdvpr } = ready();
    for (const rcx of [tdvpr | 1n, tdvpr | (1n << 54n), tdvpr | (1n << 63n)]) {
      assertRefused(env, rt, host.enter(hostRegs(), rcx), OPERAND_INVALID_RCX, rcx);
    }
  });

  it('a page that is not a TDVPR → PAGE_METADATA_INCORRECT | RCX; a busy TDVPR → OPERAND_BUSY | RCX', () => {
    const { env, rt, host, tdvpr } = ready();
    assertRefused(env, rt, host.enter(hostRegs(), rt.tdr), 0xc000_0300_0000_0001n, rt.tdr);
    const release = env.module.locks.hold(LockKey.pamt(tdvpr >> 12n), 'exclusive');
    assertRefused(env, rt, host.enter(hostRegs(), tdvpr), 0x8000_0200_0000_0001n, tdvpr);
    release();
  });

  it('a busy TDR → OPERAND_BUSY | TDR', () => {
    const { env, rt, host, tdvpr } = ready();
    const release = env.module.locks.hold(LockKey.pamt(rt.tdr >> 12n), 'exclusive');
    assertRefused(env, rt, host.enter(hostRegs(), tdvpr), 0x8000_0200_0000_0080n, tdvpr);
    release();
    assert.ok(env.module.locks.idle());
  });

  it('a fatal TD → TDX_TD_FATAL', () => {
    const { env, rt, host, tdvpr } = ready();
    rt.td.fatal = true;
    assertRefused(env, rt, host.enter(hostRegs(), tdvpr), ST.TD_FATAL, tdvpr);
  });

  it('OP_STATE not RUNNABLE → TDX_OP_STATE_INCORRECT; OP_STATE lock busy → OPERAND_BUSY | OP_STATE', () => {
    const env = bringUp();
    const t = createTd(env);
    const v = createVcpu(env, t.tdr);
    const r = new HostLoop(env, v.tdvpr).enter(hostRegs());
    assert.equal(r.rax, ST.OP_STATE_INCORRECT);
    assert.equal(v.vcpu.state, VcpuState.VCPU_READY);
    const { rt, host, tdvpr, env: env2 } = ready();
    const release = env2.module.locks.hold(LockKey.opState(rt.td.tdrPfn), 'exclusive');
    assertRefused(env2, rt, host.enter(hostRegs(), tdvpr), 0x8000_0200_0000_00acn, tdvpr);
    release();
  });

  it('a TDVPS missing pages → TDX_TDCX_NUM_INCORRECT', () => {
    const { env, rt, host, tdvpr } = ready();
    rt.vcpus[0]!.vcpu.tdcx.pop(); // no SEAMCALL can remove a TDCX page from an initialised vCPU
    assertRefused(env, rt, host.enter(hostRegs(), tdvpr), 0xc000_0610_0000_0000n, tdvpr);
  });

  it('a vCPU associated with another LP → TDX_VCPU_ASSOCIATED; an unassociated one is associated', () => {
    const { env, rt, tdvpr } = ready();
    const other = new HostLoop(env, tdvpr, 1);
    assertRefused(env, rt, other.enter(hostRegs()), 0x8000_0701_0000_0000n, tdvpr);
    assert.equal(env.tdh.VP_FLUSH({ tdvpr }).status, ST.SUCCESS);
    assert.equal(rt.td.numAssocVcpus, 0);
    assert.equal(other.enter().rax, RAX_TDVMCALL);
    assert.equal(rt.vcpus[0]!.vcpu.assocLp, 1);
    assert.equal(rt.td.numAssocVcpus, 1);
    assert.equal(env.module.lpState[1]!.lastVcpu, rt.vcpus[0]!.vcpu);
  });

  it('HOST_RECOVERABILITY_HINT is refused unless the last exit was an ASYNC_TRAP, and then reaches guest RAX bit 60', () => {
    const { env, rt, host, tdvpr, statuses } = ready();
    const hint = tdvpr | (1n << 52n);
    assertRefused(env, rt, host.enter(hostRegs(), hint), OPERAND_INVALID_RCX, hint);
    assert.equal(host.enter().rax, RAX_TDVMCALL);
    // Stand-in for a trap-like exit (HOST_PRIORITY_BUSY_TIMEOUT, which the simulator cannot time):
    // the guest's TDCALL completed with OPERAND_BUSY | RTMR before the exit.
    const v = rt.vcpus[0]!.vcpu;
    v.lastTdExit = LastTdExit.ASYNC_TRAP;
    v.cpu.regs.gpr[Gpr.RAX] = 0x8000_0200_0000_00a8n;
    assert.equal(host.enter(new RegisterFile(), hint).rax, RAX_TDVMCALL);
    assert.deepEqual(statuses, [0x9000_0200_0000_00a8n], 'the guest sees its status with bit 60 set');
  });

  it('RESUME_L1 → OPERAND_INVALID | RCX (no L2 VM to resume from)', () => {
    const { env, rt, host, tdvpr } = ready();
    const rcx = tdvpr | (1n << 53n);
    assertRefused(env, rt, host.enter(hostRegs(), rcx), OPERAND_INVALID_RCX, rcx);
  });

  it('TD epoch lock held by TDH.MEM.TRACK → OPERAND_BUSY | TD_EPOCH', () => {
    const { env, rt, host, tdvpr } = ready();
    const release = env.module.locks.hold(LockKey.tdEpoch(rt.td.tdrPfn), 'exclusive');
    assertRefused(env, rt, host.enter(hostRegs(), tdvpr), 0x8000_0200_0000_00a9n, tdvpr);
    release();
    assert.equal(host.enter().rax, RAX_TDVMCALL);
  });
});
