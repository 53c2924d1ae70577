import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Gpr } from '../../src/abi/registers.ts';
import type { GuestCpu, GuestProgram } from '../../src/platform/guest-cpu.ts';
import { bringUp, type ModuleEnv } from '../helpers/module-harness.ts';
import { addSeptPath, gpaLevel, ST } from '../helpers/td-memory.ts';
import {
  attachSharedEpt,
  buildRunnableTd,
  guestDone,
  guestTdcall,
  HostLoop,
  isDone,
  plainHandler,
  type RunnableTd,
  type RunnableTdOptions,
} from '../helpers/td-runner.ts';

// Literal ABI values (tdx-module.md §2.2, §6.4; Intel SDM), independent of src/abi.
const VE = 20;
const DF = 8;
const PF = 14;
const TDG_VP_VEINFO_GET = 3;
const RAX_EPT_VIOLATION = 0x30n;

interface VeRecord {
  readonly status: bigint;
  readonly rcx: bigint;
  readonly rdx: bigint;
  readonly r8: bigint;
  readonly r9: bigint;
  readonly r10: bigint;
}

/**
 * Install a #VE handler that reads VE_INFO with TDG.VP.VEINFO.GET, records it and skips the
 * faulting instruction (`skip` bytes, default the instruction length VE_INFO reports).
 */
function installVeHandler(cpu: GuestCpu, log: VeRecord[], skip?: number): void {
  cpu.idt.set(VE, function* (c) {
    const status = yield* guestTdcall(c, TDG_VP_VEINFO_GET);
    const g = c.regs.gpr;
    log.push({ status, rcx: g[Gpr.RCX]!, rdx: g[Gpr.RDX]!, r8: g[Gpr.R8]!, r9: g[Gpr.R9]!, r10: g[Gpr.R10]! });
    c.rip += BigInt(skip ?? Number(g[Gpr.R10]! & 0xffff_ffffn));
  });
}

function run(env: ModuleEnv, program: GuestProgram, extra: Partial<RunnableTdOptions> = {}): { rt: RunnableTd; host: HostLoop } {
  const rt = buildRunnableTd(env, { ...extra, program });
  return { rt, host: new HostLoop(env, rt.vcpus[0]!.tdvpr) };
}

describe('#VE for instructions the host must emulate', () => {
  it('fills VE_INFO with exit reason, qualification and instruction length, VALID until VEINFO.GET', () => {
    const env = bringUp();
    const log: VeRecord[] = [];
    const { host } = run(env, function* (cpu) {
      installVeHandler(cpu, log);
      yield* cpu.out(0x3f8, 1, 0x41n); // OUT DX, AL
      yield* cpu.in(0x71, 2); // IN AX, DX (66 ED)
      yield* cpu.hlt();
      yield* cpu.vmcall();
      yield* cpu.wbinvd();
      yield* guestDone(cpu);
    });
    assert.ok(isDone(host.enter()));
    assert.deepEqual(log, [
      // IO: size-1 in bits 2:0, IN = bit 3, port in bits 31:16; length 1 (2 with the 66 prefix).
      { status: 0n, rcx: 30n, rdx: 0x03f8_0000n, r8: 0n, r9: 0n, r10: 1n },
      { status: 0n, rcx: 30n, rdx: 0x0071_0009n, r8: 0n, r9: 0n, r10: 2n },
      { status: 0n, rcx: 12n, rdx: 0n, r8: 0n, r9: 0n, r10: 1n },
      { status: 0n, rcx: 18n, rdx: 0n, r8: 0n, r9: 0n, r10: 3n },
      { status: 0n, rcx: 54n, rdx: 0n, r8: 0n, r9: 0n, r10: 2n },
    ]);
  });

  it('a second #VE before VEINFO.GET is a #DF', () => {
    const env = bringUp();
    const events: string[] = [];
    const { rt, host } = run(env, function* (cpu) {
      cpu.idt.set(VE, function* (c) {
        events.push('ve');
        const vmcallRip = c.rip;
        yield* c.hlt(); // nested #VE: VE_INFO still valid
        events.push('after nested');
        c.rip = vmcallRip + 3n; // skip the VMCALL
      });
      cpu.idt.set(
        DF,
        plainHandler((c, _v, errorCode) => {
          events.push(`df ${errorCode}`);
          c.rip += 1n; // skip the HLT that raised it
        }),
      );
      yield* cpu.vmcall();
      yield* guestDone(cpu);
    });
    assert.ok(isDone(host.enter()));
    assert.deepEqual(events, ['ve', 'df 0', 'after nested']);
    const v = rt.vcpus[0]!.vcpu;
    assert.equal(v.veInfo.valid, true, 'the first #VE is still unread');
    assert.equal(v.veInfo.exitReason, 18, 'and its information was not overwritten');
    assert.equal(v.veInfo.instructionLength, 3);
  });
});

describe('EPT violations', () => {
  it('pending private page without SEPT_VE_DISABLE: #VE with reason 48, qualification, GLA = GPA', () => {
    const env = bringUp();
    const log: VeRecord[] = [];
    const gpa = 0x4020_0000n;
    const { rt, host } = run(
      env,
      function* (cpu) {
        installVeHandler(cpu, log, 3);
        yield* cpu.readValue(gpa + 0x18n, 8);
        yield* cpu.writeValue(gpa + 0x20n, 4, 1n);
        yield* guestDone(cpu);
      },
      { attributes: 0n },
    );
    addSeptPath(env, rt, gpa, 1);
    assert.equal(env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(gpa, 0), tdr: rt.tdr, page: env.alloc.alloc4k() }).status, ST.SUCCESS);
    assert.ok(isDone(host.enter()));
    // Qualification: read (bit 0) / write (bit 1), GLA valid (7), access to the translation (8).
    assert.deepEqual(log, [
      { status: 0n, rcx: 48n, rdx: 0x181n, r8: gpa + 0x18n, r9: gpa + 0x18n, r10: 0n },
      { status: 0n, rcx: 48n, rdx: 0x182n, r8: gpa + 0x20n, r9: gpa + 0x20n, r10: 0n },
    ]);
  });

  it('shared MMIO page: #VE (convertible violation); with VE_INFO busy the CPU exits instead', () => {
    const env = bringUp();
    const log: VeRecord[] = [];
    const mmio = (1n << 47n) | 0xfee0_0000n;
    const { rt, host } = run(env, function* (cpu) {
      installVeHandler(cpu, log, 3);
      yield* cpu.readValue(mmio + 4n, 4);
      cpu.idt.set(VE, function* (c) {
        yield* c.readValue(mmio, 4); // while VE_INFO is still valid
      });
      yield* cpu.hlt();
    });
    attachSharedEpt(env, rt.vcpus[0]!).mapMmio(mmio);
    const exit = host.enter();
    assert.deepEqual(log, [{ status: 0n, rcx: 48n, rdx: 0x181n, r8: mmio + 4n, r9: mmio + 4n, r10: 0n }]);
    assert.equal(exit.rax, RAX_EPT_VIOLATION);
    assert.equal(exit.regs.gpr[Gpr.RCX], 0x1n);
    assert.equal(exit.regs.gpr[Gpr.R8], mmio);
  });

  it('a GPA above the TD width is the guest paging #PF with PFEC.RSVD', () => {
    const env = bringUp();
    const faults: [number, bigint | undefined][] = [];
    const { host } = run(env, function* (cpu) {
      cpu.idt.set(
        PF,
        plainHandler((c, vector, errorCode) => {
          faults.push([vector, errorCode]);
          c.rip += 3n;
        }),
      );
      yield* cpu.readValue(1n << 48n, 8); // GPAW 48: bit 48 is beyond the TD's width
      yield* cpu.writeValue((1n << 50n) | 0x1000n, 8, 0n);
      cpu.cpl = 3;
      yield* cpu.readValue(1n << 51n, 1);
      cpu.cpl = 0;
      yield* guestDone(cpu);
    });
    assert.ok(isDone(host.enter()));
    // PFEC: P (0) | W (1) | U (2) | RSVD (3).
    assert.deepEqual(faults, [
      [PF, 0x9n],
      [PF, 0xbn],
      [PF, 0xdn],
    ]);
  });

  it('an access crossing into an unmapped page exits with the second page and writes nothing', () => {
    const env = bringUp();
    const first = 0x10_0000n;
    const { rt, host } = run(
      env,
      function* (cpu) {
        yield* cpu.write(first + 0xffcn, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
      },
      { pages: [{ gpa: first }] },
    );
    const exit = host.enter();
    assert.equal(exit.rax, RAX_EPT_VIOLATION);
    assert.equal(exit.regs.gpr[Gpr.RCX], 0x2n);
    assert.equal(exit.regs.gpr[Gpr.R8], first + 0x1000n);
    const hpa = rt.td.sept!.translate(first + 0xffcn);
    assert.equal(hpa.kind, 'mapped');
    if (hpa.kind === 'mapped') {
      assert.deepEqual([...env.platform.memory.read(hpa.hpa, 4, rt.hkid)], [0, 0, 0, 0]);
    }
  });
});
