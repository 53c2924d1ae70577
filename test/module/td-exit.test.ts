import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegisterFile, Gpr, GPR_COUNT } from '../../src/abi/registers.ts';
import { LastTdExit, VcpuState } from '../../src/abi/lifecycle.ts';
import { completeTdExit } from '../../src/module/td-exit.ts';
import type { TdExitRequest } from '../../src/module/context.ts';
import { bringUp } from '../helpers/module-harness.ts';
import { buildRunnableTd } from '../helpers/td-runner.ts';

/**
 * The exit image for status kinds the vCPU runner does not produce by itself (trap-like and
 * fatal exits), built directly: RAX composition, vCPU state and LAST_TD_EXIT, TDR.FATAL.
 */
function site() {
  const env = bringUp();
  const rt = buildRunnableTd(env, { *program() {} });
  const v = rt.vcpus[0]!.vcpu;
  v.state = VcpuState.VCPU_ACTIVE; // as TDH.VP.ENTER leaves it while the guest runs
  const regs = new RegisterFile();
  for (let i = 0; i < GPR_COUNT; i++) regs.gpr[i] = 0x1111_0000n + BigInt(i);
  return { env, rt, v, regs, lp: env.lps[0]! };
}

function asyncExit(status: bigint, exitReason: number, over: Partial<TdExitRequest & { kind: 'async' }> = {}): TdExitRequest {
  return {
    kind: 'async',
    status,
    exitReason,
    exitQualification: 0x1234n,
    extExitQualification: 0x5n,
    gpa: 0x4000_0000n,
    interruptionInfo: 0x8000_0020n,
    retryInstruction: false,
    ...over,
  };
}

describe('TD exit images and state', () => {
  it('TDX_SUCCESS: RAX = reason, RCX..R9 carry the exit information, ASYNC_FAULT, READY', () => {
    const { rt, v, regs, lp } = site();
    const rax = completeTdExit({ lp, regs, vcpu: v, td: rt.td }, asyncExit(0n, 48));
    assert.equal(rax, 48n);
    assert.equal(regs.gpr[Gpr.RCX], 0x1234n, 'VM index 0 in bits 33:32');
    assert.equal(regs.gpr[Gpr.RDX], 0x5n);
    assert.equal(regs.gpr[Gpr.R8], 0x4000_0000n);
    assert.equal(regs.gpr[Gpr.R9], 0x8000_0020n);
    assert.equal(regs.gpr[Gpr.RSP], 0x1111_0004n);
    assert.equal(v.state, VcpuState.VCPU_READY);
    assert.equal(v.lastTdExit, LastTdExit.ASYNC_FAULT);
    assert.equal(rt.td.fatal, false);
  });

  it('HOST_PRIORITY_BUSY_TIMEOUT and CROSS_TD_TRAP are trap-like: ASYNC_TRAP', () => {
    for (const status of [0x9000_0205_0000_0000n, 0x9000_0009_0000_0000n]) {
      const { rt, v, regs, lp } = site();
      assert.equal(completeTdExit({ lp, regs, vcpu: v, td: rt.td }, asyncExit(status, 0)), status);
      assert.equal(v.state, VcpuState.VCPU_READY);
      assert.equal(v.lastTdExit, LastTdExit.ASYNC_TRAP);
    }
  });

  it('CROSS_TD_FAULT is fault-like: ASYNC_FAULT', () => {
    const { rt, v, regs, lp } = site();
    v.lastTdExit = LastTdExit.TDVMCALL;
    assert.equal(completeTdExit({ lp, regs, vcpu: v, td: rt.td }, asyncExit(0x8000_0008_0000_0000n, 0)), 0x8000_0008_0000_0000n);
    assert.equal(v.lastTdExit, LastTdExit.ASYNC_FAULT);
  });

  it('NON_RECOVERABLE_VCPU disables the vCPU and keeps LAST_TD_EXIT', () => {
    const { rt, v, regs, lp } = site();
    v.lastTdExit = LastTdExit.TDVMCALL;
    assert.equal(completeTdExit({ lp, regs, vcpu: v, td: rt.td }, asyncExit(0x4000_0001_0000_0000n, 2)), 0x4000_0001_0000_0002n);
    assert.equal(v.state, VcpuState.VCPU_DISABLED);
    assert.equal(v.lastTdExit, LastTdExit.TDVMCALL);
    assert.equal(rt.td.fatal, false);
  });

  it('NON_RECOVERABLE_TD* marks the TD fatal, forces the fatal bit, leaves the vCPU state alone', () => {
    // NON_RECOVERABLE_TD, _NON_ACCESSIBLE, _CORRUPTED_MD (fatal already set) and a code without it.
    for (const status of [0x6000_0002_0000_0000n, 0x6000_0005_0000_0000n, 0x6000_000a_0000_0000n, 0x4000_0002_0000_0000n]) {
      const { env, rt, v, regs, lp } = site();
      const rax = completeTdExit({ lp, regs, vcpu: v, td: rt.td }, asyncExit(status, 28));
      assert.equal(rax, status | (1n << 61n) | 28n);
      assert.equal(rt.td.fatal, true);
      assert.equal(v.state, VcpuState.VCPU_ACTIVE, 'the dead TD is never entered again');
      // Any later TD leaf sees TDX_TD_FATAL.
      assert.equal(env.tdh.VP_ENTER({ vcpu: rt.vcpus[0]!.tdvpr }).status, 0xe000_0604_0000_0000n);
    }
  });

  it('takes the vCPU out of its TLB epoch', () => {
    const { rt, v, regs, lp } = site();
    rt.td.epochRefcount[Number(v.epoch & 1n)] = 1;
    completeTdExit({ lp, regs, vcpu: v, td: rt.td }, asyncExit(0n, 1));
    assert.deepEqual(rt.td.epochRefcount, [0, 0]);
  });
});
