import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Gpr } from '../../src/abi/registers.ts';
import type { GuestCpu, GuestGen } from '../../src/platform/guest-cpu.ts';
import { bringUp } from '../helpers/module-harness.ts';
import { buildRunnableTd, guestDone, guestTdcall, HostLoop, isDone, type RunnableTdOptions } from '../helpers/td-runner.ts';

// Literal values (tdx-module.md §6.4, linux-tdx.md §6.1, src/abi/cpuid.ts's simulated CPU).
const VE = 20;
const TDG_VP_VEINFO_GET = 3;
const TDG_VP_CPUIDVE_SET = 5;

type Probe = { eax: number; ebx: number; ecx: number; edx: number; clean: boolean } | { ve: bigint; qual: bigint; len: bigint };

/** Execute CPUID(leaf, subleaf) in the guest; a #VE is caught, read and the CPUID skipped. */
function* probe(cpu: GuestCpu, leaf: number, subleaf = 0) {
  let ve: Probe | undefined;
  cpu.idt.set(VE, function* (c) {
    const cpl = c.cpl;
    c.cpl = 0; // the #VE gate enters the kernel
    yield* guestTdcall(c, TDG_VP_VEINFO_GET);
    c.cpl = cpl;
    const g = c.regs.gpr;
    ve = { ve: g[Gpr.RCX]!, qual: g[Gpr.RDX]!, len: g[Gpr.R10]! };
    c.rip += 2n;
  });
  // Junk in the upper halves: CPUID must clear them.
  cpu.regs.set('RBX', 0xdead_beef_0000_0000n).set('RDX', 0xdead_beef_0000_0000n);
  const r = yield* cpu.cpuid(leaf, subleaf);
  if (ve) return ve;
  const g = cpu.regs.gpr;
  const clean = [Gpr.RAX, Gpr.RBX, Gpr.RCX, Gpr.RDX].every((i) => g[i]! >> 32n === 0n);
  return { ...r, clean } as Probe;
}

function runProbes(probes: [number, number][], extra: Partial<RunnableTdOptions> = {}, setup?: (cpu: GuestCpu) => GuestGen<void>, vcpu = 0): Probe[] {
  const env = bringUp();
  const out: Probe[] = [];
  const rt = buildRunnableTd(env, {
    vcpus: vcpu + 1,
    ...extra,
    *program(cpu) {
      if (setup) yield* setup(cpu);
      for (const [leaf, sub] of probes) out.push(yield* probe(cpu, leaf, sub));
      cpu.cpl = 0;
      yield* guestDone(cpu);
    },
  });
  const exit = new HostLoop(env, rt.vcpus[vcpu]!.tdvpr).enter();
  assert.ok(isDone(exit), `exit ${exit.rax.toString(16)} ${String(rt.vcpus[vcpu]!.vcpu.guestError)}`);
  return out;
}

const values = (eax: number, ebx: number, ecx: number, edx: number): Probe => ({ eax, ebx, ecx, edx, clean: true });
const veCpuid: Probe = { ve: 10n, qual: 0n, len: 2n };

describe('CPUID virtualisation', () => {
  it('CPUID(0x21) is "IntelTDX    "; CPUID(0) is GenuineIntel with maximum leaf 0x23', () => {
    const [tdx, zero] = runProbes([
      [0x21, 0],
      [0, 0],
    ]);
    assert.deepEqual(tdx, values(0, 0x6574_6e49, 0x2020_2020, 0x5844_546c));
    const t = tdx as { ebx: number; ecx: number; edx: number };
    const text = Buffer.alloc(12);
    text.writeUInt32LE(t.ebx, 0);
    text.writeUInt32LE(t.edx, 4);
    text.writeUInt32LE(t.ecx, 8);
    assert.equal(text.toString('latin1'), 'IntelTDX    ');
    assert.deepEqual(zero, values(0x23, 0x756e_6547, 0x6c65_746e, 0x4965_6e69));
  });

  it('CPUID(1): host-configured bits from CPUID_CONFIG, allowed features only where the CPU has them, APIC ID = VCPU_INDEX', () => {
    // CPUID_CONFIG entry 0 is leaf 1: EAX configDirect 0x0FFF3FFF, ECX allowDirect 0x31044D88.
    // EDX allowDirect 0xB8440000.
    const [hidden] = runProbes([[1, 0]], { cpuid: { 0: { eax: 0, ecx: 0, edx: 0 } } }, undefined, 1);
    // EAX: a configured 0 is the CPU's own F/M/S (a non-migratable TD may not claim another
    // model); EBX: CLFLUSH 8, APIC ID 1; ECX, EDX: the allowed features the CPU has (ECX bits 28,
    // 29; EDX bits 18, 27, 28) hidden by the host.
    assert.deepEqual(hidden, values(0x0008_06f8, 0x0100_0800, 0xc6f8_3203, 0x078b_fbff));
    const [offered] = runProbes([[1, 0]], { cpuid: { 0: { eax: 0x0008_06f8, ecx: 0x3104_4d88, edx: 0xb844_0000 } } });
    // Offering every allowed feature adds none the CPU lacks.
    assert.deepEqual(offered, values(0x0008_06f8, 0x0000_0800, 0xf6f8_3203, 0x1f8b_fbff));
  });

  it('CPUID(0x80000008).EAX[7:0] is the TD GPAW', () => {
    assert.equal((runProbes([[0x8000_0008, 0]])[0] as { eax: number }).eax, 0x3030);
    assert.equal((runProbes([[0x8000_0008, 0]], { gpaw52: true })[0] as { eax: number }).eax, 0x3034);
  });

  it('hypervisor leaves, leaves and sub-leaves the module does not virtualise: #VE (reason 10, length 2)', () => {
    const probes = runProbes([
      [0x4000_0000, 0],
      [0x4fff_ffff, 0],
      [0x2, 0],
      [0xb, 0],
      [0x7, 3],
      [0x23, 1],
    ]);
    assert.deepEqual(probes, Array(6).fill(veCpuid));
  });

  it('a leaf above the maximum of its range reads as the maximum basic leaf (0x23)', () => {
    const [aboveBasic, aboveBasicSub1, aboveExtended] = runProbes([
      [0x24, 0],
      [0x30, 1],
      [0x8000_0009, 0],
    ]);
    assert.deepEqual(aboveBasic, values(0, 0, 0, 0));
    assert.deepEqual(aboveBasicSub1, veCpuid, '0x23 has only sub-leaf 0');
    assert.deepEqual(aboveExtended, values(0, 0, 0, 0));
  });

  it('TDG.VP.CPUIDVE.SET forces #VE on every CPUID at the chosen privilege levels', () => {
    const supervisor = runProbes([[0x21, 0]], {}, function* (cpu) {
      assert.equal(yield* guestTdcall(cpu, TDG_VP_CPUIDVE_SET, { RCX: 1n }), 0n);
    });
    assert.deepEqual(supervisor, [veCpuid]);
    const supervisorOnlyAtCpl3 = runProbes([[0x21, 0]], {}, function* (cpu) {
      yield* guestTdcall(cpu, TDG_VP_CPUIDVE_SET, { RCX: 1n });
      cpu.cpl = 3;
    });
    assert.deepEqual(supervisorOnlyAtCpl3, [values(0, 0x6574_6e49, 0x2020_2020, 0x5844_546c)]);
    const user = runProbes([[0x21, 0]], {}, function* (cpu) {
      yield* guestTdcall(cpu, TDG_VP_CPUIDVE_SET, { RCX: 2n });
      cpu.cpl = 3;
    });
    assert.deepEqual(user, [veCpuid]);
  });
});
