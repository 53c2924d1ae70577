/**
 * Virtualization exceptions: instructions a TD may not execute natively trap to the guest's own
 * #VE handler (the TDX module injects #VE with VE_INFO), which turns them into TDVMCALLs. The
 * cases check the whole path with the guest library's handler: what reaches the VMM, what the
 * instruction returns (masked to its width: the VMM's answer is untrusted), that RIP moves past
 * it, and that a refused instruction does not silently "succeed" (facts tdx-module.md §6.4,
 * linux-tdx.md §6.3).
 */
import { TdvmcallSubfunction as Sub, TdvmcallDirection } from '../../abi/tdvmcall.ts';
import { TdvmcallStatus as V } from '../../abi/tdvmcall-status.ts';
import { CPUID_HYPERVISOR_FIRST } from '../../abi/cpuid.ts';
import { KvmMsr } from '../../abi/kvm-msrs.ts';
import { InstructionLength } from '../../abi/vmx.ts';
import { GPR_NAMES, type GprName } from '../../abi/registers.ts';
import type { GuestCpu, GuestGen } from '../../platform/guest-cpu.ts';
import { MOV_INSTRUCTION_LENGTH } from '../../platform/guest-cpu.ts';
import { fails, ok, tdCases } from '../case.ts';
import { expectRegs, expectValue } from '../expect.ts';
import { recorded, type GuestPartEnv, type TdOutcome, type VmmScript } from '../td-run.ts';
import { le } from './data.ts';

const PORT = 0x71;
/** A shared GPA outside every memslot: the host maps it as MMIO, so accesses raise #VE. */
const MMIO = (3n << 30n) + (5n << 20n);

/** A VMM that answers the first TDVMCALL with `reply` (R10 = SUCCESS unless given) and any later one with SUCCESS. */
function answer(reply: Partial<Record<GprName, bigint>>): VmmScript {
  return ({ regs, index }) => {
    regs.set('R10', V.SUCCESS);
    if (index === 0) for (const [k, v] of Object.entries(reply)) regs.set(k as GprName, v!);
    return 'resume';
  };
}

/** Install the library's #VE handler, run `body` with interrupts off, record RIP before and after. */
function* withVeHandler(cpu: GuestCpu, env: GuestPartEnv, body: () => GuestGen<unknown>): GuestGen<void> {
  env.lib.installVeHandler(cpu, { sharedBit: env.sharedBit });
  const rip = cpu.rip;
  env.record('value', yield* body());
  env.record('ripDelta', cpu.rip - rip);
}

/** The registers of the first TDVMCALL, R10/R11 and the given arguments exactly. */
function expectCall(o: TdOutcome, sub: { number: number; name: string }, args: Partial<Record<Lowercase<GprName>, bigint>>): void {
  const exit = o.tdvmcalls[0]?.exit;
  expectValue(exit !== undefined, true, `a TDVMCALL<${sub.name}> reached the VMM`);
  expectRegs(exit!, { r10: 0n, r11: BigInt(sub.number), ...args }, { what: `TDVMCALL<${sub.name}> from the #VE handler`, tdvmcall: true });
}

export const VE_CASES = tdCases('ve', 'guest', [
  {
    name: 've-in',
    behaviour: 'IN AL from a port raises #VE; the handler issues TDVMCALL<IO> (size 1, read, the port), loads only the low byte of the VMM\'s R11 into AL, and moves RIP past the IN.',
    spec: 'TDX module 1.5 (IO → #VE); Linux handle_io; facts tdx-module.md §6.4, linux-tdx.md §6.3 (IO_INSTRUCTION)',
    covers: [ok(Sub.IO)],
    host: { vmm: answer({ R11: le(0xad, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12) }) },
    *guest(cpu, env) {
      yield* withVeHandler(cpu, env, () => cpu.in(PORT, 1));
    },
    check(o) {
      expectCall(o, Sub.IO, { r12: 1n, r13: TdvmcallDirection.READ, r14: BigInt(PORT) });
      expectValue(recorded<bigint>(o, 'value'), 0xadn, 'AL after IN');
      expectValue(recorded<bigint>(o, 'ripDelta'), BigInt(InstructionLength.IO_DX), 'RIP advance');
    },
  },
  {
    name: 've-out',
    behaviour: 'OUT DX, AX raises #VE; the handler issues TDVMCALL<IO> (size 2, write, the port, AX in R15) and moves RIP past the OUT.',
    spec: 'Linux handle_io; facts linux-tdx.md §6.3 (IO_INSTRUCTION)',
    covers: [ok(Sub.IO)],
    host: { vmm: answer({}) },
    *guest(cpu, env) {
      yield* withVeHandler(cpu, env, () => cpu.out(PORT, 2, le(0xcd, 0xab)));
    },
    check(o) {
      expectCall(o, Sub.IO, { r12: 2n, r13: TdvmcallDirection.WRITE, r14: BigInt(PORT), r15: le(0xcd, 0xab) });
      expectValue(recorded<bigint>(o, 'ripDelta'), BigInt(InstructionLength.IO_DX + 1), 'RIP advance');
    },
  },
  {
    name: 've-io-refused',
    behaviour: 'When the VMM refuses the IN (R10 = INVALID_OPERAND) the #VE handler does not complete the instruction: the guest reports a fatal error instead of using an unanswered value.',
    spec: 'Linux tdx_handle_virt_exception → ve_raise_fault; facts linux-tdx.md §6.3, §6.4',
    covers: [fails(Sub.IO)],
    host: {
      vmm: ({ regs, index }) => {
        if (index === 0) {
          regs.set('R10', V.INVALID_OPERAND);
          return 'resume';
        }
        return 'stop';
      },
    },
    *guest(cpu, env) {
      yield* withVeHandler(cpu, env, () => cpu.in(PORT, 4));
    },
    check(o) {
      expectValue(o.values.has('value'), false, 'the IN completed');
      const next = o.tdvmcalls[1]?.exit;
      expectValue(next?.R11, BigInt(Sub.REPORT_FATAL_ERROR.number), 'the next TDVMCALL sub-function (ReportFatalError)');
    },
  },
  {
    name: 've-cpuid-hypervisor',
    behaviour: 'CPUID of a hypervisor leaf (0x40000000) raises #VE; the handler forwards it as TDVMCALL<CPUID> and returns the VMM\'s EAX–EDX truncated to 32 bits.',
    spec: 'TDX module 1.5 CPUID virtualisation (#VE for unknown leaves); Linux handle_cpuid; facts tdx-module.md §6.4, linux-tdx.md §6.3 (CPUID)',
    covers: [ok(Sub.CPUID)],
    host: { vmm: answer({ R12: (9n << 32n) | 1n, R13: 2n, R14: 3n, R15: (7n << 40n) | 4n }) },
    *guest(cpu, env) {
      yield* withVeHandler(cpu, env, () => cpu.cpuid(CPUID_HYPERVISOR_FIRST));
    },
    check(o) {
      expectCall(o, Sub.CPUID, { r12: BigInt(CPUID_HYPERVISOR_FIRST), r13: 0n });
      expectValue(recorded<object>(o, 'value'), { eax: 1, ebx: 2, ecx: 3, edx: 4 }, 'CPUID result');
      expectValue(recorded<bigint>(o, 'ripDelta'), BigInt(InstructionLength.CPUID), 'RIP advance');
    },
  },
  {
    name: 've-cpuid-not-forwarded',
    behaviour: 'CPUID of a leaf outside the hypervisor range that the module does not virtualise is not forwarded to the VMM: the handler returns all zeros without a TDVMCALL.',
    spec: 'Linux handle_cpuid (only 0x40000000–0x4FFFFFFF go to the VMM); facts linux-tdx.md §6.3 (CPUID), ecosystem.md §7 item 11',
    covers: [fails(Sub.CPUID)],
    host: { vmm: answer({ R12: 1n, R13: 1n, R14: 1n, R15: 1n }) },
    *guest(cpu, env) {
      yield* withVeHandler(cpu, env, () => cpu.cpuid(CPUID_HYPERVISOR_FIRST - 1));
    },
    check(o) {
      expectValue(o.tdvmcalls.length, 0, 'TDVMCALLs made');
      expectValue(recorded<object>(o, 'value'), { eax: 0, ebx: 0, ecx: 0, edx: 0 }, 'CPUID result');
    },
  },
  {
    name: 've-rdmsr',
    behaviour: 'RDMSR of an MSR the module does not virtualise raises #VE; the handler issues TDVMCALL<RDMSR> and splits the VMM\'s R11 into EDX:EAX.',
    spec: 'Linux read_msr; facts tdx-module.md §6.4, linux-tdx.md §6.3 (MSR_READ)',
    covers: [ok(Sub.RDMSR)],
    host: { vmm: answer({ R11: (5n << 32n) | 6n }) },
    *guest(cpu, env) {
      yield* withVeHandler(cpu, env, () => cpu.rdmsr(KvmMsr.IA32_TSC_DEADLINE));
    },
    check(o) {
      expectCall(o, Sub.RDMSR, { r12: BigInt(KvmMsr.IA32_TSC_DEADLINE) });
      expectValue(recorded<bigint>(o, 'value'), (5n << 32n) | 6n, 'EDX:EAX after RDMSR');
      expectValue(recorded<bigint>(o, 'ripDelta'), BigInt(InstructionLength.RDMSR), 'RIP advance');
    },
  },
  {
    name: 've-wrmsr',
    behaviour: 'WRMSR of an MSR the module does not virtualise raises #VE; the handler issues TDVMCALL<WRMSR> with EDX:EAX in R13.',
    spec: 'Linux write_msr; facts linux-tdx.md §6.3 (MSR_WRITE)',
    covers: [ok(Sub.WRMSR)],
    host: { vmm: answer({}) },
    *guest(cpu, env) {
      yield* withVeHandler(cpu, env, () => cpu.wrmsr(KvmMsr.IA32_TSC_DEADLINE, (7n << 32n) | 8n));
    },
    check(o) {
      expectCall(o, Sub.WRMSR, { r12: BigInt(KvmMsr.IA32_TSC_DEADLINE), r13: (7n << 32n) | 8n });
      expectValue(recorded<bigint>(o, 'ripDelta'), BigInt(InstructionLength.WRMSR), 'RIP advance');
    },
  },
  {
    name: 've-hlt',
    behaviour: 'HLT with interrupts disabled raises #VE; the handler issues TDVMCALL<HLT> with R12 = 1 (interrupts blocked) and moves RIP past the HLT.',
    spec: 'Linux handle_halt (R12 = irqs_disabled()); facts linux-tdx.md §6.3 (HLT)',
    covers: [ok(Sub.HLT)],
    host: { vmm: answer({}) },
    *guest(cpu, env) {
      yield* withVeHandler(cpu, env, () => cpu.hlt());
    },
    check(o) {
      expectCall(o, Sub.HLT, { r12: 1n });
      expectValue(recorded<bigint>(o, 'ripDelta'), BigInt(InstructionLength.HLT), 'RIP advance');
    },
  },
  {
    name: 've-mmio-read',
    behaviour: 'A 4-byte load from shared MMIO raises #VE; the handler issues TDVMCALL<#VE.RequestMMIO> (size 4, read, the shared GPA) and loads the VMM\'s value, zero-extended from 32 bits.',
    spec: 'Linux handle_mmio; KVM TDX MMIO SPTE (#VE on shared MMIO); facts linux-tdx.md §4.4, §6.3 (EPT_VIOLATION)',
    covers: [ok(Sub.MMIO)],
    host: { vmm: answer({ R11: (0xffn << 32n) | le(0x44, 0x33, 0x22, 0x11) }) },
    *guest(cpu, env) {
      yield* withVeHandler(cpu, env, () => cpu.readValue(MMIO | env.sharedBit, 4));
    },
    check(o) {
      expectCall(o, Sub.MMIO, { r12: 4n, r13: TdvmcallDirection.READ, r14: MMIO | o.vm.addressing.sharedBit });
      expectValue(recorded<bigint>(o, 'value'), le(0x44, 0x33, 0x22, 0x11), 'the loaded value');
      expectValue(recorded<bigint>(o, 'ripDelta'), BigInt(MOV_INSTRUCTION_LENGTH), 'RIP advance (the decoded MOV)');
    },
  },
  {
    name: 've-mmio-write',
    behaviour: 'A 2-byte store to shared MMIO raises #VE; the handler issues TDVMCALL<#VE.RequestMMIO> (size 2, write, the shared GPA, the value).',
    spec: 'Linux handle_mmio; facts linux-tdx.md §6.3 (EPT_VIOLATION)',
    covers: [ok(Sub.MMIO)],
    host: { vmm: answer({}) },
    *guest(cpu, env) {
      yield* withVeHandler(cpu, env, () => cpu.writeValue(MMIO | env.sharedBit, 2, le(0x5a, 0x5a)));
    },
    check(o) {
      expectCall(o, Sub.MMIO, { r12: 2n, r13: TdvmcallDirection.WRITE, r14: MMIO | o.vm.addressing.sharedBit, r15: le(0x5a, 0x5a) });
    },
  },
  {
    name: 've-registers-preserved',
    behaviour: 'Emulating an instruction through #VE leaves every register the instruction does not define as it was (the handler restores the interrupted context).',
    spec: 'Linux exc_virtualization_exception (pt_regs); facts linux-tdx.md §6.3',
    covers: [],
    host: { vmm: answer({ R11: 0x42n }) },
    *guest(cpu, env) {
      for (const n of GPR_NAMES) if (n !== 'RSP') cpu.regs.set(n, 1000n + BigInt(GPR_NAMES.indexOf(n)));
      yield* withVeHandler(cpu, env, () => cpu.in(PORT, 1));
      env.record('regs', cpu.regs.toRecord());
    },
    check(o) {
      const r = recorded<Record<string, bigint>>(o, 'regs');
      const want: Record<string, bigint> = {};
      // IN AL writes only RAX (and RDX holds the port); everything else must be untouched.
      for (const n of GPR_NAMES) if (!['RAX', 'RDX', 'RSP'].includes(n)) want[n.toLowerCase()] = 1000n + BigInt(GPR_NAMES.indexOf(n));
      expectRegs(r, want, { what: 'guest registers after the emulated IN' });
    },
  },
]);
