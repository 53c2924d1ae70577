import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Gpr, GPR_COUNT, RegisterFile } from '../../src/abi/registers.ts';
import { LockKey } from '../../src/module/locks.ts';
import type { GuestCpu, GuestGen } from '../../src/platform/guest-cpu.ts';
import { bringUp, type ModuleEnv } from '../helpers/module-harness.ts';
import { addSeptPath, gpaLevel, ST } from '../helpers/td-memory.ts';
import { buildRunnableTd, guestDone, guestTdcall, HostLoop, isDone, plainHandler, type RunnableTd, type RunnableTdOptions } from '../helpers/td-runner.ts';

// Literal values (tdx-module.md §1, §2.2, §3).
const INVALID_RAX = 0xc000_0100_0000_0000n;
const BUSY_RTMR = 0x8000_0200_0000_00a8n;
const TDG_VP_INFO = 1;
const TDG_MR_RTMR_EXTEND = 2;
const TDG_VP_VEINFO_GET = 3;
const VE = 20;
const GP = 13;

function run(env: ModuleEnv, body: (cpu: GuestCpu) => GuestGen<void>, extra: Partial<RunnableTdOptions> = {}): { rt: RunnableTd; host: HostLoop } {
  const rt = buildRunnableTd(env, {
    ...extra,
    *program(cpu) {
      yield* body(cpu);
      yield* guestDone(cpu);
    },
  });
  return { rt, host: new HostLoop(env, rt.vcpus[0]!.tdvpr) };
}

describe('TDCALL dispatcher', () => {
  it('RAX reserved bits, unknown or unmodelled leaves and versions above the maximum → OPERAND_INVALID | RAX', () => {
    const env = bringUp();
    const results: bigint[] = [];
    const ripAdvanced: boolean[] = [];
    const words = [
      1n | (1n << 24n), // reserved bits 31:24
      1n | (1n << 32n), // reserved bits 63:32
      1n | (1n << 63n),
      13n, // no leaf 13
      99n,
      0xffffn,
      12n, // TDG.SYS.RDALL: not modelled
      22n, // TDG.MR.VERIFYREPORT: not modelled
      25n, // TDG.VP.ENTER (TD partitioning): not modelled
      1n | (1n << 16n), // TDG.VP.INFO version 1 (max 0)
      7n | (2n << 16n), // TDG.VM.RD version 2 (max 1)
    ];
    const { host } = run(env, function* (cpu) {
      for (const w of words) {
        for (let i = 1; i < GPR_COUNT; i++) cpu.regs.gpr[i] = 0x4400n + BigInt(i);
        cpu.regs.set('RAX', w);
        const rip = cpu.rip;
        yield* cpu.tdcall();
        results.push(cpu.regs.get('RAX'));
        ripAdvanced.push(cpu.rip === rip + 4n);
        for (let i = 1; i < GPR_COUNT; i++) assert.equal(cpu.regs.gpr[i], 0x4400n + BigInt(i), 'only RAX is written');
      }
    });
    assert.ok(isDone(host.enter()));
    assert.deepEqual(results, words.map(() => INVALID_RAX));
    assert.deepEqual(ripAdvanced, words.map(() => true));
  });

  it('TDCALL above CPL 0 is #GP(0), the leaf does not run', () => {
    const env = bringUp();
    const faults: [number, bigint | undefined][] = [];
    const { host } = run(env, function* (cpu) {
      cpu.idt.set(
        GP,
        plainHandler((c, v, e) => {
          faults.push([v, e]);
          c.cpl = 0;
          c.rip += 4n;
        }),
      );
      cpu.cpl = 3;
      cpu.regs.set('RCX', 0x77n);
      yield* guestTdcall(cpu, TDG_VP_INFO);
      assert.equal(cpu.regs.get('RCX'), 0x77n, 'TDG.VP.INFO did not run');
    });
    assert.ok(isDone(host.enter()));
    assert.deepEqual(faults, [[GP, 0n]]);
  });

  it('a host-priority lock failure is reported to the guest as OPERAND_BUSY with the same operand', () => {
    const env = bringUp();
    const data = 0x10_0000n;
    const statuses: bigint[] = [];
    const { rt, host } = run(
      env,
      function* (cpu) {
        statuses.push(yield* guestTdcall(cpu, TDG_MR_RTMR_EXTEND, { RCX: data, RDX: 0n }));
        statuses.push(yield* guestTdcall(cpu, TDG_MR_RTMR_EXTEND, { RCX: data, RDX: 0n }));
      },
      { pages: [{ gpa: data }] },
    );
    const key = LockKey.rtmr(rt.td.tdrPfn);
    const release = env.module.locks.hold(key, 'exclusive');
    // A host leaf that fails to take the lock raises its host-priority flag.
    assert.equal(env.module.locks.acquire(key, 'shared', 'host'), 'busy');
    host.enter();
    release();
    assert.deepEqual(statuses, [BUSY_RTMR, BUSY_RTMR]);
  });

  it('an injected #VE leaves RIP on the TDCALL; the guest handler decides', () => {
    const env = bringUp();
    const gpa = 0x4040_0000n;
    const seen: bigint[] = [];
    let ripAtVe = -1n;
    let tdcallRip = -2n;
    const { rt, host } = run(
      env,
      function* (cpu) {
        cpu.idt.set(VE, function* (c) {
          ripAtVe = c.rip;
          yield* guestTdcall(c, TDG_VP_VEINFO_GET);
          seen.push(c.regs.get('RCX'), c.regs.get('RDX'), c.regs.get('R8'), c.regs.get('R9'));
          c.rip += 4n;
        });
        tdcallRip = cpu.rip;
        yield* guestTdcall(cpu, TDG_MR_RTMR_EXTEND, { RCX: gpa, RDX: 1n });
      },
      { attributes: 0n },
    );
    addSeptPath(env, rt, gpa, 1);
    assert.equal(env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(gpa, 0), tdr: rt.tdr, page: env.alloc.alloc4k() }).status, ST.SUCCESS);
    assert.ok(isDone(host.enter()));
    assert.equal(ripAtVe, tdcallRip);
    // EPT violation by the module on the guest's behalf: data read, no GLA.
    assert.deepEqual(seen, [48n, 0x1n, 0n, gpa]);
    assert.deepEqual(rt.td.rtmr[1], new Uint8Array(48), 'RTMR1 not extended');
  });

  it('a TD exit out of a TDCALL re-executes the TDCALL at the next entry', () => {
    const env = bringUp();
    const gpa = 0x4080_0040n;
    let calls = 0;
    const { rt, host } = run(env, function* (cpu) {
      calls++;
      yield* guestTdcall(cpu, TDG_MR_RTMR_EXTEND, { RCX: gpa, RDX: 0n });
    });
    const first = host.enter(new RegisterFile());
    assert.equal(first.rax, 0x30n);
    assert.equal(first.regs.gpr[Gpr.RCX], 0x1n);
    assert.equal(first.regs.gpr[Gpr.R8], 0x4080_0000n);
    const rip = rt.vcpus[0]!.vcpu.cpu.rip;
    assert.equal(host.enter().rax, 0x30n, 'still unmapped: the same exit');
    assert.equal(rt.vcpus[0]!.vcpu.cpu.rip, rip);
    assert.equal(calls, 1, 'the guest did not see the TDCALL complete');
  });
});
