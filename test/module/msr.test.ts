import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Gpr } from '../../src/abi/registers.ts';
import type { GuestCpu, GuestGen } from '../../src/platform/guest-cpu.ts';
import { bringUp } from '../helpers/module-harness.ts';
import { buildRunnableTd, guestDone, guestTdcall, HostLoop, isDone, plainHandler } from '../helpers/td-runner.ts';

// Literal values: MSR numbers (Intel SDM Vol. 4), exit reasons, vectors, initial PAT/EFER
// (tdx-module.md §6.5).
const IA32_PAT = 0x277;
const IA32_EFER = 0xc000_0080;
const IA32_LSTAR = 0xc000_0082;
const IA32_FS_BASE = 0xc000_0100;
const IA32_APIC_BASE = 0x1b;
const X2APIC_ID = 0x802;
const VE = 20;
const GP = 13;
const TDG_VP_VEINFO_GET = 3;

type Event = string;

/** Catch #VE (recording exit reason and length) and #GP, skipping the 2-byte RDMSR/WRMSR. */
function installHandlers(cpu: GuestCpu, events: Event[]): void {
  cpu.idt.set(VE, function* (c) {
    yield* guestTdcall(c, TDG_VP_VEINFO_GET);
    events.push(`ve ${c.regs.get('RCX')} q${c.regs.get('RDX')} len ${c.regs.get('R10')}`);
    c.rip += 2n;
  });
  cpu.idt.set(
    GP,
    plainHandler((c, _v, e) => {
      events.push(`gp ${e}`);
      c.rip += 2n;
    }),
  );
}

function runGuest(body: (cpu: GuestCpu, events: Event[]) => GuestGen<void>, vcpus = 1): Event[] {
  const env = bringUp();
  const events: Event[] = [];
  const rt = buildRunnableTd(env, {
    vcpus,
    *program(cpu) {
      installHandlers(cpu, events);
      yield* body(cpu, events);
      yield* guestDone(cpu);
    },
  });
  for (const v of rt.vcpus) assert.ok(isDone(new HostLoop(env, v.tdvpr).enter()));
  return events;
}

describe('RDMSR / WRMSR in a TD', () => {
  it('virtualised MSRs read their TDH.VP.INIT values into EDX:EAX with the upper halves clear', () => {
    const events = runGuest(function* (cpu, ev) {
      cpu.regs.set('RAX', 0xffff_ffff_0000_0000n).set('RDX', 0xffff_ffff_0000_0000n);
      const pat = yield* cpu.rdmsr(IA32_PAT);
      ev.push(`pat ${pat.toString(16)} rax ${cpu.regs.get('RAX').toString(16)} rdx ${cpu.regs.get('RDX').toString(16)}`);
      ev.push(`efer ${(yield* cpu.rdmsr(IA32_EFER)).toString(16)}`);
    });
    assert.deepEqual(events, ['pat 7040600070406 rax 70406 rdx 70406', 'efer 901']);
  });

  it('writes are kept per vCPU; a non-canonical base or entry point is #GP(0)', () => {
    const seen: bigint[] = [];
    const events = runGuest(function* (cpu, ev) {
      if (cpu.regs.gpr[Gpr.RSI] === 0n) {
        // vCPU 0 (RSI = VCPU_INDEX after TDH.VP.INIT)
        yield* cpu.wrmsr(IA32_FS_BASE, 0xffff_8000_1234_0000n);
        yield* cpu.wrmsr(IA32_LSTAR, 0x0000_8000_0000_0000n); // bit 47 set, 63:48 clear
        ev.push('after');
      }
      seen.push(yield* cpu.rdmsr(IA32_FS_BASE), yield* cpu.rdmsr(IA32_LSTAR));
    }, 2);
    assert.deepEqual(events, ['gp 0', 'after']);
    assert.deepEqual(seen, [0xffff_8000_1234_0000n, 0n, 0n, 0n]);
  });

  it('EFER: only SCE may change; any other change is #VE (WRMSR, exit reason 32)', () => {
    const events = runGuest(function* (cpu, ev) {
      yield* cpu.wrmsr(IA32_EFER, 0x900n); // clear SCE
      ev.push(`efer ${(yield* cpu.rdmsr(IA32_EFER)).toString(16)}`);
      yield* cpu.wrmsr(IA32_EFER, 0x100n); // clear NXE
      ev.push(`efer ${(yield* cpu.rdmsr(IA32_EFER)).toString(16)}`);
    });
    assert.deepEqual(events, ['efer 900', 've 32 q0 len 2', 'efer 900']);
  });

  it('MSRs the module does not virtualise raise #VE (RDMSR 31 / WRMSR 32, qualification 0, length 2)', () => {
    const events = runGuest(function* (cpu) {
      yield* cpu.rdmsr(IA32_APIC_BASE);
      yield* cpu.rdmsr(X2APIC_ID);
      yield* cpu.wrmsr(X2APIC_ID, 5n);
    });
    assert.deepEqual(events, ['ve 31 q0 len 2', 've 31 q0 len 2', 've 32 q0 len 2']);
  });
});
