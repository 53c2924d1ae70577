import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { GuestCpu, GuestGen, GuestOp } from '../../src/platform/guest-cpu.ts';
import { bringUp } from '../helpers/module-harness.ts';
import { buildRunnableTd, guestDone, guestTdcall, guestVmcall, HostLoop, isDone, plainHandler, type RunnableTd } from '../helpers/td-runner.ts';

// Literal vectors (Intel SDM Vol. 3A §6.3).
const NMI = 2;
const UD = 6;
const VE = 20;
const TDG_VP_VEINFO_GET = 3;

function build(body: (cpu: GuestCpu, log: string[]) => GuestGen<void>): { rt: RunnableTd; host: HostLoop; log: string[] } {
  const env = bringUp();
  const log: string[] = [];
  const rt = buildRunnableTd(env, {
    *program(cpu) {
      yield* body(cpu, log);
      yield* guestDone(cpu);
    },
  });
  return { rt, host: new HostLoop(env, rt.vcpus[0]!.tdvpr), log };
}

describe('vCPU runner: events between instructions', () => {
  it('posted interrupts are delivered, in order, only while the guest has interrupts enabled', () => {
    const { rt, host, log } = build(function* (cpu, log) {
      for (const v of [0x30, 0x31]) {
        cpu.idt.set(
          v,
          plainHandler(() => log.push(`irq ${v.toString(16)}`)),
        );
      }
      yield* guestVmcall(cpu); // the host posts interrupts while the guest is out
      log.push('if=0');
      yield* cpu.cpuid(0);
      cpu.interruptsEnabled = true;
      log.push('if=1');
      yield* cpu.cpuid(0);
      log.push('end');
    });
    assert.ok(host.enter().tdvmcall);
    rt.vcpus[0]!.vcpu.pendingInterrupts.push(0x30, 0x31);
    assert.ok(isDone(host.enter()));
    assert.deepEqual(log, ['if=0', 'if=1', 'irq 30', 'irq 31', 'end']);
    assert.deepEqual(rt.vcpus[0]!.vcpu.pendingInterrupts, []);
  });

  it('a pending NMI (TDVPS PEND_NMI) is delivered even with interrupts disabled', () => {
    const { rt, host, log } = build(function* (cpu, log) {
      cpu.idt.set(
        NMI,
        plainHandler(() => log.push('nmi')),
      );
      yield* guestVmcall(cpu);
      log.push('resumed');
      yield* cpu.cpuid(0);
      log.push('end');
    });
    assert.ok(host.enter().tdvmcall);
    const v = rt.vcpus[0]!.vcpu;
    assert.equal(v.cpu.interruptsEnabled, false);
    v.pendingNmi = true;
    assert.ok(isDone(host.enter()));
    assert.deepEqual(log, ['resumed', 'nmi', 'end']);
    assert.equal(v.pendingNmi, false);
  });

  it('NMI blocked by an unread #VE is delivered once VEINFO.GET frees VE_INFO', () => {
    const { rt, host, log } = build(function* (cpu, log) {
      cpu.idt.set(
        NMI,
        plainHandler(() => log.push('nmi')),
      );
      cpu.idt.set(VE, function* (c) {
        log.push('ve');
        rt.vcpus[0]!.vcpu.pendingNmi = true; // the host requested an NMI meanwhile
        yield* c.cpuid(0);
        log.push('get');
        yield* guestTdcall(c, TDG_VP_VEINFO_GET);
        yield* c.cpuid(0);
        c.rip += 1n;
      });
      yield* cpu.hlt();
    });
    assert.ok(isDone(host.enter()));
    assert.deepEqual(log, ['ve', 'get', 'nmi']);
  });

  it('an instruction the CPU cannot encode (malformed GuestOp) is #UD', () => {
    const { host, log } = build(function* (cpu, log) {
      cpu.idt.set(
        UD,
        plainHandler((c) => {
          log.push(`ud ${(c.currentOp as GuestOp).kind}`);
          c.rip += 1n;
        }),
      );
      yield* cpu.exec({ kind: 'io', port: 0x1_0000, size: 1, write: false }, 1);
      yield* cpu.exec({ kind: 'io', port: 0x80, size: 3 as 1, write: true }, 1);
      yield* cpu.exec({ kind: 'load', gpa: 0x1000n, size: 0 }, 3);
      yield* cpu.exec({ kind: 'load', gpa: -1n, size: 8 }, 3);
      yield* cpu.exec({ kind: 'store', gpa: 0x1000n, data: new Uint8Array(0) }, 3);
    });
    assert.ok(isDone(host.enter()));
    assert.deepEqual(log, ['ud io', 'ud io', 'ud load', 'ud load', 'ud store']);
  });
});
