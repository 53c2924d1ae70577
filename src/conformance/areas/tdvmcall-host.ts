/**
 * TDVMCALL handling by the host under test. The guest part is the suite's own: raw TDG.VP.VMCALLs
 * with exactly the registers each case names (Linux's exposure mask 0xFFCC, R10 = 0, R11 = the
 * sub-function), so every host sees the same requests. The check is what the guest gets back —
 * RAX (the module's status; always 0 here), R10 (the VMM's status) and the sub-function's
 * outputs — and what the host handed its userspace. The reference behaviour is KVM's
 * (arch/x86/kvm/vmx/tdx.c; facts linux-tdx.md §4.2–4.6), which is what the KVM TDX selftests
 * check too: IO, MMIO, MSR, CPUID, HLT emulation, GetQuote, event notification, fatal errors.
 * Where the GHCI leaves a choice to the VMM (a CPUID leaf's value, which MSRs exist), the case
 * says it checks KVM's choice.
 */
import { TdvmcallSubfunction as Sub, TdvmcallDirection } from '../../abi/tdvmcall.ts';
import { TdvmcallStatus as V } from '../../abi/tdvmcall-status.ts';
import { KvmExitReason, KVM_ENOSYS, KvmHypercall, KVM_EXIT_HYPERCALL_LONG_MODE, KVM_MAP_GPA_RANGE_DECRYPTED, KVM_SYSTEM_EVENT_TDX_FATAL, KVM_SYSTEM_EVENT_TDX_FATAL_NDATA } from '../../abi/kvm.ts';
import { KvmMsr, APIC_BASE_BSP, APIC_BASE_ENABLE, APIC_BASE_X2APIC_ENABLE, APIC_DEFAULT_PHYS_BASE } from '../../abi/kvm-msrs.ts';
import { CPUID_HYPERVISOR_FIRST } from '../../abi/cpuid.ts';
import { FATAL_ERROR_CODE } from '../../abi/operands.ts';
import { VmxExitReason } from '../../abi/vmx.ts';
import { U64_MASK } from '../../abi/bitfield.ts';
import { MAP_GPA_MAX_CHUNK } from '../../abi/tdvmcall.ts';
import { PAGE_SIZE } from '../../abi/pamt.ts';
import type { GprName } from '../../abi/registers.ts';
import { packFatalErrorMessage } from '../../guest/panic.ts';
import type { ExitRecord } from '../../host/exit-records.ts';
import { fails, ok, tdCases } from '../case.ts';
import { asTdvmcallStatus, expectFields, expectRegs, expectValue } from '../expect.ts';
import { rawGhci, rawTdvmcall, type RegSnapshot } from '../guest-ops.ts';
import { recorded, type TdOutcome, type GuestPart } from '../td-run.ts';
import { asciiWords, le } from './data.ts';

/** An interrupt vector userspace posts (any external vector). */
const VECTOR = 0x40;

/** A shared GPA above guest RAM, where nothing but (userspace) MMIO lives. */
const MMIO = (3n << 30n) + (5n << 20n);
/** A private GPA in guest RAM. */
const PRIVATE = 8n << 20n;
const PORT = 0x71;
/** A GPA argument that gets the TD's shared bit (known only inside the guest). */
interface SharedGpa {
  readonly shared: bigint;
}
const shared = (gpa: bigint): SharedGpa => ({ shared: gpa });

/** The guest part of a call with shared-GPA arguments: one GHCI call, recorded as `after`. */
function* withShared(cpu: Parameters<GuestPart>[0], env: Parameters<GuestPart>[1], sub: { number: number }, args: Partial<Record<GprName, bigint | SharedGpa>>) {
  const resolved: Partial<Record<GprName, bigint>> = {};
  for (const [k, v] of Object.entries(args)) resolved[k as GprName] = typeof v === 'bigint' ? v : v!.shared | env.sharedBit;
  env.record('after', yield* rawGhci(cpu, sub.number, resolved));
}

/** Guest registers after the call. */
const after = (o: TdOutcome) => recorded<RegSnapshot>(o, 'after');

/** Expect the guest's registers after the TDVMCALL: RAX = 0 and the named ones. */
function expectGuest(o: TdOutcome, regs: Partial<Record<Lowercase<GprName>, bigint>>): void {
  expectRegs(after(o), { rax: 0n, ...regs }, { what: 'guest registers after TDG.VP.VMCALL', tdvmcall: true });
}

/** Expect the host to have returned exactly these userspace records (by kind and fields). */
function expectRecords(o: TdOutcome, want: readonly Record<string, unknown>[]): void {
  expectValue(o.records.length, want.length, `exit records returned to userspace (${o.records.map((r) => r.kind).join(', ') || 'none'})`);
  want.forEach((w, i) => expectFields(o.records[i] as unknown as Record<string, unknown>, w, `exit record ${i}`, { ret: asTdvmcallStatus }));
}

export const TDVMCALL_HOST_CASES = tdCases('tdvmcall-host', 'host', [
  // ---- Instruction.IO ------------------------------------------------------------------
  {
    name: 'io-in',
    behaviour: 'TDVMCALL<Instruction.IO> IN of 1 byte from port 0x71 reaches userspace as KVM_EXIT_IO (in, size 1, count 1) and the value userspace supplies comes back in R11 with R10 = SUCCESS.',
    spec: 'GHCI Instruction.IO; KVM tdx_emulate_io; facts linux-tdx.md §2.5, §4.3 (IO)',
    covers: [ok(Sub.IO)],
    host: { userspace: (r) => (r.kind === 'io' ? { kind: 'io', data: 0xa5n } : 'stop') },
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.IO.number, { R12: 1n, R13: TdvmcallDirection.READ, R14: BigInt(PORT) }));
    },
    check(o) {
      expectRecords(o, [{ kind: 'io', exitReason: KvmExitReason.IO, direction: 'in', size: 1, port: PORT, count: 1, data: 0n }]);
      expectGuest(o, { r10: V.SUCCESS, r11: 0xa5n });
    },
  },
  {
    name: 'io-out',
    behaviour: 'TDVMCALL<Instruction.IO> OUT of 2 bytes reaches userspace as KVM_EXIT_IO (out) with only the low 2 bytes of R15, and the guest gets R10 = SUCCESS.',
    spec: 'GHCI Instruction.IO; KVM tdx_emulate_io; facts linux-tdx.md §4.3 (IO)',
    covers: [ok(Sub.IO)],
    host: { userspace: (r) => (r.kind === 'io' ? { kind: 'io' } : 'stop') },
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.IO.number, { R12: 2n, R13: TdvmcallDirection.WRITE, R14: BigInt(PORT), R15: le(0x34, 0x12, 0, 0, 0xef, 0xbe) }));
    },
    check(o) {
      expectRecords(o, [{ kind: 'io', direction: 'out', size: 2, port: PORT, count: 1, data: le(0x34, 0x12) }]);
      expectGuest(o, { r10: V.SUCCESS });
    },
  },
  {
    name: 'io-bad-size',
    behaviour: 'TDVMCALL<Instruction.IO> with size 3 is refused with R10 = INVALID_OPERAND and never reaches userspace.',
    spec: 'KVM tdx_emulate_io (size ∈ {1, 2, 4}); facts linux-tdx.md §4.3 (IO)',
    covers: [fails(Sub.IO)],
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.IO.number, { R12: 3n, R13: TdvmcallDirection.READ, R14: BigInt(PORT) }));
    },
    check(o) {
      expectRecords(o, []);
      expectGuest(o, { r10: V.INVALID_OPERAND });
    },
  },
  {
    name: 'io-bad-direction',
    behaviour: 'TDVMCALL<Instruction.IO> with direction 2 is refused with R10 = INVALID_OPERAND and never reaches userspace.',
    spec: 'KVM tdx_emulate_io (direction ∈ {0, 1}); facts linux-tdx.md §4.3 (IO)',
    covers: [fails(Sub.IO)],
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.IO.number, { R12: 1n, R13: 2n, R14: BigInt(PORT) }));
    },
    check(o) {
      expectRecords(o, []);
      expectGuest(o, { r10: V.INVALID_OPERAND });
    },
  },
  // ---- #VE.RequestMMIO -----------------------------------------------------------------
  {
    name: 'mmio-read',
    behaviour: 'TDVMCALL<#VE.RequestMMIO> read of 4 bytes at a shared GPA reaches userspace as KVM_EXIT_MMIO with the shared bit stripped, and the value comes back in R11.',
    spec: 'GHCI #VE.RequestMMIO; KVM tdx_emulate_mmio; facts linux-tdx.md §4.3 (MMIO)',
    covers: [ok(Sub.MMIO)],
    host: { userspace: (r) => (r.kind === 'mmio' ? { kind: 'mmio', data: le(0x0d, 0xf0, 0xfe, 0xca) } : 'stop') },
    *guest(cpu, env) {
      yield* withShared(cpu, env, Sub.MMIO, { R12: 4n, R13: TdvmcallDirection.READ, R14: shared(MMIO) });
    },
    check(o) {
      expectRecords(o, [{ kind: 'mmio', exitReason: KvmExitReason.MMIO, physAddr: MMIO, len: 4, isWrite: false }]);
      expectGuest(o, { r10: V.SUCCESS, r11: le(0x0d, 0xf0, 0xfe, 0xca) });
    },
  },
  {
    name: 'mmio-write',
    behaviour: 'TDVMCALL<#VE.RequestMMIO> write of 8 bytes at a shared GPA reaches userspace as KVM_EXIT_MMIO (write, the R15 value) and the guest gets R10 = SUCCESS.',
    spec: 'GHCI #VE.RequestMMIO; KVM tdx_emulate_mmio; facts linux-tdx.md §4.3 (MMIO)',
    covers: [ok(Sub.MMIO)],
    host: { userspace: (r) => (r.kind === 'mmio' ? { kind: 'mmio' } : 'stop') },
    *guest(cpu, env) {
      yield* withShared(cpu, env, Sub.MMIO, { R12: 8n, R13: TdvmcallDirection.WRITE, R14: shared(MMIO), R15: le(0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11) });
    },
    check(o) {
      expectRecords(o, [{ kind: 'mmio', physAddr: MMIO, len: 8, isWrite: true, data: le(0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11) }]);
      expectGuest(o, { r10: V.SUCCESS });
    },
  },
  {
    name: 'mmio-write-private',
    behaviour: 'TDVMCALL<#VE.RequestMMIO> write to a private GPA is refused with R10 = INVALID_OPERAND and never reaches userspace: the host must not emulate accesses to memory only the TD may see.',
    spec: 'KVM tdx_emulate_mmio (private GPA → INVALID_OPERAND); facts linux-tdx.md §4.3 (MMIO)',
    covers: [fails(Sub.MMIO)],
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.MMIO.number, { R12: 8n, R13: TdvmcallDirection.WRITE, R14: PRIVATE, R15: 1n }));
    },
    check(o) {
      expectRecords(o, []);
      expectGuest(o, { r10: V.INVALID_OPERAND });
    },
  },
  {
    name: 'mmio-read-private',
    behaviour: 'TDVMCALL<#VE.RequestMMIO> read of a private GPA is refused with R10 = INVALID_OPERAND and never reaches userspace.',
    spec: 'KVM tdx_emulate_mmio (private GPA → INVALID_OPERAND); facts linux-tdx.md §4.3 (MMIO)',
    covers: [fails(Sub.MMIO)],
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.MMIO.number, { R12: 4n, R13: TdvmcallDirection.READ, R14: PRIVATE }));
    },
    check(o) {
      expectRecords(o, []);
      expectGuest(o, { r10: V.INVALID_OPERAND });
    },
  },
  {
    name: 'mmio-bad-size',
    behaviour: 'TDVMCALL<#VE.RequestMMIO> of 3 bytes is refused with R10 = INVALID_OPERAND.',
    spec: 'KVM tdx_emulate_mmio (size ∈ {1, 2, 4, 8}); facts linux-tdx.md §4.3 (MMIO)',
    covers: [fails(Sub.MMIO)],
    *guest(cpu, env) {
      yield* withShared(cpu, env, Sub.MMIO, { R12: 3n, R13: TdvmcallDirection.READ, R14: shared(MMIO) });
    },
    check(o) {
      expectRecords(o, []);
      expectGuest(o, { r10: V.INVALID_OPERAND });
    },
  },
  // ---- Instruction.RDMSR / WRMSR -------------------------------------------------------
  {
    name: 'rdmsr',
    behaviour: "TDVMCALL<Instruction.RDMSR> of IA32_APIC_BASE returns KVM's value for vCPU 0 (base 0xFEE00000, enabled, x2APIC, BSP) in R11 with R10 = SUCCESS.",
    spec: 'GHCI Instruction.RDMSR; KVM tdx_emulate_rdmsr, tdx_has_emulated_msr (KVM value); facts linux-tdx.md §4.3 (RDMSR)',
    covers: [ok(Sub.RDMSR)],
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.RDMSR.number, { R12: BigInt(KvmMsr.IA32_APICBASE) }));
    },
    check(o) {
      expectGuest(o, { r10: V.SUCCESS, r11: APIC_DEFAULT_PHYS_BASE | APIC_BASE_ENABLE | APIC_BASE_X2APIC_ENABLE | APIC_BASE_BSP });
    },
  },
  {
    name: 'rdmsr-refused',
    behaviour: 'TDVMCALL<Instruction.RDMSR> of an MSR the CPU virtualises for TDs (x2APIC TPR) is refused with R10 = INVALID_OPERAND.',
    spec: 'KVM tdx_has_emulated_msr; facts linux-tdx.md §4.3 (RDMSR)',
    covers: [fails(Sub.RDMSR)],
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.RDMSR.number, { R12: BigInt(KvmMsr.X2APIC_TPR) }));
    },
    check(o) {
      expectGuest(o, { r10: V.INVALID_OPERAND });
    },
  },
  {
    name: 'wrmsr',
    behaviour: 'TDVMCALL<Instruction.WRMSR> of IA32_TSC_DEADLINE succeeds (R10 = SUCCESS) and a following RDMSR returns the value written.',
    spec: 'GHCI Instruction.WRMSR; KVM tdx_emulate_wrmsr; facts linux-tdx.md §4.3 (WRMSR)',
    covers: [ok(Sub.WRMSR), ok(Sub.RDMSR)],
    *guest(cpu, env) {
      env.record('wr', yield* rawGhci(cpu, Sub.WRMSR.number, { R12: BigInt(KvmMsr.IA32_TSC_DEADLINE), R13: 123_456_789n }));
      env.record('after', yield* rawGhci(cpu, Sub.RDMSR.number, { R12: BigInt(KvmMsr.IA32_TSC_DEADLINE) }));
    },
    check(o) {
      expectRegs(recorded<RegSnapshot>(o, 'wr'), { rax: 0n, r10: V.SUCCESS }, { what: 'after WRMSR', tdvmcall: true });
      expectGuest(o, { r10: V.SUCCESS, r11: 123_456_789n });
    },
  },
  {
    name: 'wrmsr-refused',
    behaviour: 'TDVMCALL<Instruction.WRMSR> of IA32_APIC_BASE (read-only for a TD) is refused with R10 = INVALID_OPERAND.',
    spec: 'KVM tdx_has_emulated_msr (APICBASE read-only); facts linux-tdx.md §4.3 (WRMSR)',
    covers: [fails(Sub.WRMSR)],
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.WRMSR.number, { R12: BigInt(KvmMsr.IA32_APICBASE), R13: 0n }));
    },
    check(o) {
      expectGuest(o, { r10: V.INVALID_OPERAND });
    },
  },
  // ---- Instruction.CPUID ---------------------------------------------------------------
  {
    name: 'cpuid-hypervisor',
    behaviour: "TDVMCALL<Instruction.CPUID> of leaf 0x40000000 returns KVM's signature: R12 = 0x40000001 (highest leaf), R13–R15 = \"KVMKVMKVM\\0\\0\\0\", each zero-extended, with R10 = SUCCESS.",
    spec: 'GHCI Instruction.CPUID; KVM tdx_emulate_cpuid, KVM_CPUID_SIGNATURE (KVM value); facts linux-tdx.md §4.3 (CPUID)',
    covers: [ok(Sub.CPUID)],
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.CPUID.number, { R12: BigInt(CPUID_HYPERVISOR_FIRST), R13: 0n }));
    },
    check(o) {
      const [ebx, ecx, edx] = asciiWords('KVMKVMKVM', 3);
      expectGuest(o, { r10: V.SUCCESS, r12: BigInt(CPUID_HYPERVISOR_FIRST + 1), r13: ebx, r14: ecx, r15: edx });
    },
  },
  {
    name: 'cpuid-upper-bits',
    behaviour: 'TDVMCALL<Instruction.CPUID> with garbage in bits 63:32 of R12 and R13 is answered as for their low 32 bits (EAX and ECX are 32-bit), not refused or misread.',
    spec: 'KVM tdx_emulate_cpuid (u32 eax/ecx); facts linux-tdx.md §4.3 (CPUID)',
    covers: [fails(Sub.CPUID)],
    *guest(cpu, env) {
      env.record('clean', yield* rawGhci(cpu, Sub.CPUID.number, { R12: BigInt(CPUID_HYPERVISOR_FIRST), R13: 0n }));
      env.record('after', yield* rawGhci(cpu, Sub.CPUID.number, { R12: (7n << 40n) | BigInt(CPUID_HYPERVISOR_FIRST), R13: 9n << 40n }));
    },
    check(o) {
      const clean = recorded<RegSnapshot>(o, 'clean');
      expectGuest(o, { r10: V.SUCCESS, r12: clean.R12, r13: clean.R13, r14: clean.R14, r15: clean.R15 });
    },
  },
  // ---- Instruction.HLT -----------------------------------------------------------------
  {
    name: 'hlt',
    behaviour: 'TDVMCALL<Instruction.HLT> with R12 = 1 (interrupts blocked) halts the vCPU: the host does not resume it.',
    spec: 'GHCI Instruction.HLT; KVM tdx_emulate_hlt, tdx_interrupt_allowed; facts linux-tdx.md §4.3 (HLT)',
    covers: [ok(Sub.HLT)],
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.HLT.number, { R12: 1n }));
    },
    check(o) {
      expectValue(o.end, 'halted', 'how the run ended');
      expectValue(o.interruptsBlocked, true, 'halted with interrupts blocked');
    },
  },
  {
    name: 'hlt-pending-interrupt',
    behaviour: 'TDVMCALL<Instruction.HLT> with R12 = 0 while an interrupt is already posted does not halt: the guest resumes at once with R10 = SUCCESS.',
    spec: 'KVM tdx_protected_apic_has_interrupt (posted interrupts); facts linux-tdx.md §4.3 (HLT), §4.5',
    covers: [ok(Sub.HLT)],
    host: {
      userspace: (r, vcpu) => {
        if (r.kind !== 'io') return 'stop';
        vcpu.postInterrupt(VECTOR);
        return { kind: 'io' };
      },
    },
    *guest(cpu, env) {
      // An OUT lets userspace post the interrupt; the guest keeps interrupts disabled, so it stays pending.
      yield* rawGhci(cpu, Sub.IO.number, { R12: 1n, R13: TdvmcallDirection.WRITE, R14: BigInt(PORT) });
      env.record('after', yield* rawGhci(cpu, Sub.HLT.number, { R12: 0n }));
    },
    check(o) {
      expectValue(o.end, 'done', 'how the run ended');
      expectGuest(o, { r10: V.SUCCESS });
    },
  },
  {
    name: 'hlt-flag-nonzero',
    behaviour: 'TDVMCALL<Instruction.HLT> with garbage in R12 (any non-zero value) is taken as "interrupts blocked": the vCPU halts and is not woken by a posted interrupt.',
    spec: 'KVM tdx_interrupt_allowed (R12 ≠ 0); facts linux-tdx.md §4.3 (HLT)',
    covers: [fails(Sub.HLT)],
    host: {
      userspace: (r, vcpu) => {
        if (r.kind !== 'io') return 'stop';
        vcpu.postInterrupt(VECTOR);
        return { kind: 'io' };
      },
    },
    *guest(cpu, env) {
      yield* rawGhci(cpu, Sub.IO.number, { R12: 1n, R13: TdvmcallDirection.WRITE, R14: BigInt(PORT) });
      env.record('after', yield* rawGhci(cpu, Sub.HLT.number, { R12: 0xffn << 40n }));
    },
    check(o) {
      expectValue(o.end, 'halted', 'how the run ended');
      expectValue(o.interruptsBlocked, true, 'halted with interrupts blocked');
    },
  },
  // ---- GetTdVmCallInfo -----------------------------------------------------------------
  {
    name: 'tdvmcallinfo-leaf0',
    behaviour: 'TDVMCALL<GetTdVmCallInfo> leaf 0 succeeds in the kernel with R10 = SUCCESS and R11–R14 all 0 (no userspace exit).',
    spec: 'GHCI GetTdVmCallInfo; KVM tdx_get_td_vm_call_info (leaf 0); facts linux-tdx.md §4.3',
    covers: [ok(Sub.GET_TD_VM_CALL_INFO)],
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.GET_TD_VM_CALL_INFO.number, { R12: 0n, R13: 5n, R14: 6n }));
    },
    check(o) {
      expectRecords(o, []);
      expectGuest(o, { r10: V.SUCCESS, r11: 0n, r12: 0n, r13: 0n, r14: 0n });
    },
  },
  {
    name: 'tdvmcallinfo-leaf1',
    behaviour: "TDVMCALL<GetTdVmCallInfo> leaf 1 goes to userspace as KVM_EXIT_TDX (ret preset SUCCESS, r11–r14 preset 0) and userspace's R11 bitmap comes back with R12–R14 = 0.",
    spec: 'KVM tdx_get_td_vm_call_info (leaf 1), KVM_EXIT_TDX; facts linux-tdx.md §4.3, §4.6',
    covers: [ok(Sub.GET_TD_VM_CALL_INFO)],
    host: { userspace: (r) => (r.kind === 'tdx' ? { kind: 'tdx', ret: V.SUCCESS, r11: 2n } : 'stop') },
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.GET_TD_VM_CALL_INFO.number, { R12: 1n }));
    },
    check(o) {
      expectRecords(o, [{ kind: 'tdx', exitReason: KvmExitReason.TDX, nr: BigInt(Sub.GET_TD_VM_CALL_INFO.number), call: 'get_tdvmcall_info', getTdvmcallInfo: { ret: V.SUCCESS, leaf: 1n, r11: 0n, r12: 0n, r13: 0n, r14: 0n } }]);
      expectGuest(o, { r10: V.SUCCESS, r11: 2n, r12: 0n, r13: 0n, r14: 0n });
    },
  },
  {
    name: 'tdvmcallinfo-bad-leaf',
    behaviour: 'TDVMCALL<GetTdVmCallInfo> with a leaf other than 0 or 1 is refused with R10 = INVALID_OPERAND.',
    spec: 'KVM tdx_get_td_vm_call_info; facts linux-tdx.md §4.3',
    covers: [fails(Sub.GET_TD_VM_CALL_INFO)],
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.GET_TD_VM_CALL_INFO.number, { R12: 2n }));
    },
    check(o) {
      expectRecords(o, []);
      expectGuest(o, { r10: V.INVALID_OPERAND });
    },
  },
  // ---- MapGPA --------------------------------------------------------------------------
  {
    name: 'mapgpa-to-shared',
    behaviour: 'TDVMCALL<MapGPA> of two pages with the shared bit reaches userspace as KVM_EXIT_HYPERCALL(MAP_GPA_RANGE) with args [GPA without the shared bit, 2 pages, DECRYPTED], and succeeds when userspace returns 0.',
    spec: 'GHCI MapGPA; KVM tdx_map_gpa, KVM_HC_MAP_GPA_RANGE; facts linux-tdx.md §4.3 (MapGPA), §4.6',
    covers: [ok(Sub.MAP_GPA)],
    host: { userspace: (r) => (r.kind === 'hypercall' ? { kind: 'hypercall', ret: 0n } : 'stop') },
    *guest(cpu, env) {
      yield* withShared(cpu, env, Sub.MAP_GPA, { R12: shared(PRIVATE), R13: 2n * PAGE_SIZE });
    },
    check(o) {
      expectRecords(o, [{ kind: 'hypercall', exitReason: KvmExitReason.HYPERCALL, nr: BigInt(KvmHypercall.MAP_GPA_RANGE), args: [PRIVATE, 2n, KVM_MAP_GPA_RANGE_DECRYPTED, 0n, 0n, 0n], flags: KVM_EXIT_HYPERCALL_LONG_MODE }]);
      expectGuest(o, { r10: V.SUCCESS });
    },
  },
  {
    name: 'mapgpa-chunks',
    behaviour: 'TDVMCALL<MapGPA> of 4 MiB + 4 KiB reaches userspace in chunks of at most 2 MiB (512, 512, 1 pages).',
    spec: 'KVM __tdx_map_gpa (TDX_MAP_GPA_MAX_LEN = 2 MiB); facts linux-tdx.md §4.3 (MapGPA)',
    covers: [ok(Sub.MAP_GPA)],
    host: { userspace: (r) => (r.kind === 'hypercall' ? { kind: 'hypercall', ret: 0n } : 'stop') },
    *guest(cpu, env) {
      yield* withShared(cpu, env, Sub.MAP_GPA, { R12: shared(PRIVATE), R13: 2n * MAP_GPA_MAX_CHUNK + PAGE_SIZE });
    },
    check(o) {
      const pages = (n: bigint) => n / PAGE_SIZE;
      expectRecords(o, [
        { kind: 'hypercall', args: [PRIVATE, pages(MAP_GPA_MAX_CHUNK), KVM_MAP_GPA_RANGE_DECRYPTED, 0n, 0n, 0n] },
        { kind: 'hypercall', args: [PRIVATE + MAP_GPA_MAX_CHUNK, pages(MAP_GPA_MAX_CHUNK), KVM_MAP_GPA_RANGE_DECRYPTED, 0n, 0n, 0n] },
        { kind: 'hypercall', args: [PRIVATE + 2n * MAP_GPA_MAX_CHUNK, 1n, KVM_MAP_GPA_RANGE_DECRYPTED, 0n, 0n, 0n] },
      ]);
      expectGuest(o, { r10: V.SUCCESS });
    },
  },
  {
    name: 'mapgpa-unaligned',
    behaviour: 'TDVMCALL<MapGPA> with a GPA that is not 4K-aligned is refused with R10 = ALIGN_ERROR and R11 = the GPA, without a userspace exit.',
    spec: 'KVM tdx_map_gpa (alignment check; R11 = GPA on error); facts linux-tdx.md §4.3 (MapGPA)',
    covers: [fails(Sub.MAP_GPA)],
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.MAP_GPA.number, { R12: PRIVATE + 8n, R13: PAGE_SIZE }));
    },
    check(o) {
      expectRecords(o, []);
      expectGuest(o, { r10: V.ALIGN_ERROR, r11: PRIVATE + 8n });
    },
  },
  {
    name: 'mapgpa-crosses-shared-bit',
    behaviour: 'TDVMCALL<MapGPA> of a range that crosses the shared bit is refused with R10 = INVALID_OPERAND and R11 = the GPA.',
    spec: 'KVM tdx_map_gpa (range crosses the shared boundary); facts linux-tdx.md §4.3 (MapGPA)',
    covers: [fails(Sub.MAP_GPA)],
    *guest(cpu, env) {
      const start = env.sharedBit - PAGE_SIZE;
      env.record('start', start);
      env.record('after', yield* rawGhci(cpu, Sub.MAP_GPA.number, { R12: start, R13: 2n * PAGE_SIZE }));
    },
    check(o) {
      expectRecords(o, []);
      expectGuest(o, { r10: V.INVALID_OPERAND, r11: recorded<bigint>(o, 'start') });
    },
  },
  {
    name: 'mapgpa-userspace-fails',
    behaviour: "When userspace fails a MapGPA chunk (hypercall.ret ≠ 0) the guest gets R10 = INVALID_OPERAND and R11 = that chunk's GPA.",
    spec: 'KVM tdx_complete_vmcall_map_gpa; facts linux-tdx.md §4.3 (MapGPA step 5)',
    covers: [fails(Sub.MAP_GPA)],
    host: { userspace: (r) => (r.kind === 'hypercall' ? { kind: 'hypercall', ret: 1n } : 'stop') },
    *guest(cpu, env) {
      yield* withShared(cpu, env, Sub.MAP_GPA, { R12: shared(PRIVATE), R13: PAGE_SIZE });
    },
    check(o) {
      expectValue(o.records.length, 1, 'hypercall exits');
      const gpa = (o.records[0] as Extract<ExitRecord, { kind: 'hypercall' }>).args[0]!;
      expectValue(gpa, PRIVATE, 'args[0] of the hypercall exit');
      expectGuest(o, { r10: V.INVALID_OPERAND, r11: PRIVATE | o.vm.addressing.sharedBit });
    },
  },
  {
    name: 'mapgpa-retry',
    behaviour: 'When an interrupt becomes pending between MapGPA chunks the host stops early with R10 = RETRY and R11 = the GPA to resume from.',
    spec: 'KVM tdx_complete_vmcall_map_gpa (kvm_vcpu_has_events → RETRY); facts linux-tdx.md §4.3 (MapGPA step 5)',
    covers: [ok(Sub.MAP_GPA)],
    host: {
      userspace: (r, vcpu) => {
        if (r.kind !== 'hypercall') return 'stop';
        vcpu.postInterrupt(VECTOR);
        return { kind: 'hypercall', ret: 0n };
      },
    },
    *guest(cpu, env) {
      yield* withShared(cpu, env, Sub.MAP_GPA, { R12: shared(PRIVATE), R13: 2n * MAP_GPA_MAX_CHUNK });
    },
    check(o) {
      expectValue(o.records.length, 1, 'hypercall exits before the RETRY');
      expectGuest(o, { r10: V.RETRY, r11: (PRIVATE + MAP_GPA_MAX_CHUNK) | o.vm.addressing.sharedBit });
    },
  },
  // ---- GetQuote ------------------------------------------------------------------------
  {
    name: 'getquote',
    behaviour: 'TDVMCALL<GetQuote> with a shared buffer reaches userspace as KVM_EXIT_TDX(get_quote) with the GPA stripped of the shared bit and the size, and R10 carries the ret userspace sets.',
    spec: 'GHCI GetQuote; KVM tdx_get_quote, KVM_EXIT_TDX; facts linux-tdx.md §4.3 (GetQuote), §4.6',
    covers: [ok(Sub.GET_QUOTE)],
    host: { userspace: (r) => (r.kind === 'tdx' ? { kind: 'tdx', ret: V.SUCCESS } : 'stop') },
    *guest(cpu, env) {
      yield* withShared(cpu, env, Sub.GET_QUOTE, { R12: shared(PRIVATE), R13: 2n * PAGE_SIZE });
    },
    check(o) {
      expectRecords(o, [{ kind: 'tdx', nr: BigInt(Sub.GET_QUOTE.number), call: 'get_quote', getQuote: { ret: V.SUBFUNC_UNSUPPORTED, gpa: PRIVATE, size: 2n * PAGE_SIZE } }]);
      expectGuest(o, { r10: V.SUCCESS });
    },
  },
  {
    name: 'getquote-unanswered',
    behaviour: "A GetQuote userspace does not answer leaves KVM's preset: the guest gets R10 = SUBFUNC_UNSUPPORTED.",
    spec: 'KVM tdx_get_quote (ret preset TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED); facts linux-tdx.md §4.3 (GetQuote)',
    covers: [fails(Sub.GET_QUOTE)],
    host: { userspace: () => undefined },
    *guest(cpu, env) {
      yield* withShared(cpu, env, Sub.GET_QUOTE, { R12: shared(PRIVATE), R13: PAGE_SIZE });
    },
    check(o) {
      expectGuest(o, { r10: V.SUBFUNC_UNSUPPORTED });
    },
  },
  {
    name: 'getquote-private',
    behaviour: 'TDVMCALL<GetQuote> with a private buffer GPA is refused with R10 = INVALID_OPERAND and never reaches userspace: the quote service writes into that buffer.',
    spec: 'KVM tdx_get_quote (shared GPA required); facts linux-tdx.md §4.3 (GetQuote)',
    covers: [fails(Sub.GET_QUOTE)],
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.GET_QUOTE.number, { R12: PRIVATE, R13: PAGE_SIZE }));
    },
    check(o) {
      expectRecords(o, []);
      expectGuest(o, { r10: V.INVALID_OPERAND });
    },
  },
  // ---- ReportFatalError ----------------------------------------------------------------
  {
    name: 'report-fatal-error',
    behaviour: 'TDVMCALL<ReportFatalError> becomes KVM_EXIT_SYSTEM_EVENT(TDX_FATAL) with the 16 GPRs: data[0] the raw TDH.VP.ENTER status, RSP and RBP 0, data[12] the error code, and the message decoded from R14, R15, RBX, RDI, RSI, R8, R9, RDX.',
    spec: 'GHCI ReportFatalError; KVM tdx_report_fatal_error, KVM_SYSTEM_EVENT_TDX_FATAL; facts linux-tdx.md §2.5, §4.3',
    covers: [ok(Sub.REPORT_FATAL_ERROR)],
    *guest(cpu, env) {
      const code = FATAL_ERROR_CODE.encode({ td_specific: 0x5a });
      env.record('code', code);
      env.record('after', yield* rawGhci(cpu, Sub.REPORT_FATAL_ERROR.number, { R12: code, R13: 0n, ...packFatalErrorMessage('conformance: fatal') }));
    },
    check(o) {
      expectValue(o.end, 'stopped', 'how the run ended');
      expectRecords(o, [{ kind: 'system_event', exitReason: KvmExitReason.SYSTEM_EVENT, type: KVM_SYSTEM_EVENT_TDX_FATAL, ndata: KVM_SYSTEM_EVENT_TDX_FATAL_NDATA, message: 'conformance: fatal' }]);
      const data = (o.records[0] as Extract<ExitRecord, { kind: 'system_event' }>).data;
      expectValue(data[0], BigInt(VmxExitReason.TDCALL), 'data[0] (raw TDH.VP.ENTER RAX)');
      expectValue(data[4], 0n, 'data[4] (RSP)');
      expectValue(data[5], 0n, 'data[5] (RBP)');
      expectValue(data[12], recorded<bigint>(o, 'code'), 'data[12] (R12, the error code)');
    },
  },
  {
    name: 'report-fatal-error-resumed',
    behaviour: 'If userspace runs the vCPU again after ReportFatalError, the guest resumes with its registers unchanged (R10 still 0, R11 still the sub-function): there is no completion.',
    spec: 'KVM tdx_report_fatal_error (no completion callback); facts linux-tdx.md §4.3 (ReportFatalError)',
    covers: [fails(Sub.REPORT_FATAL_ERROR)],
    host: { userspace: () => undefined },
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.REPORT_FATAL_ERROR.number, { R12: 0n, ...packFatalErrorMessage('again') }));
    },
    check(o) {
      expectGuest(o, { r10: 0n, r11: BigInt(Sub.REPORT_FATAL_ERROR.number), r12: 0n });
    },
  },
  // ---- SetupEventNotifyInterrupt -------------------------------------------------------
  {
    name: 'setup-event-notify',
    behaviour: 'TDVMCALL<SetupEventNotifyInterrupt> with vector 0x40 reaches userspace as KVM_EXIT_TDX(setup_event_notify) and R10 carries the ret userspace sets.',
    spec: 'GHCI SetupEventNotifyInterrupt; KVM tdx_setup_event_notify_interrupt; facts linux-tdx.md §4.3',
    covers: [ok(Sub.SETUP_EVENT_NOTIFY_INTERRUPT)],
    host: { userspace: (r) => (r.kind === 'tdx' ? { kind: 'tdx', ret: V.SUCCESS } : 'stop') },
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.SETUP_EVENT_NOTIFY_INTERRUPT.number, { R12: 0x40n }));
    },
    check(o) {
      expectRecords(o, [{ kind: 'tdx', nr: BigInt(Sub.SETUP_EVENT_NOTIFY_INTERRUPT.number), call: 'setup_event_notify', setupEventNotify: { ret: V.SUBFUNC_UNSUPPORTED, vector: 0x40n } }]);
      expectGuest(o, { r10: V.SUCCESS });
    },
  },
  {
    name: 'setup-event-notify-bad-vector',
    behaviour: 'TDVMCALL<SetupEventNotifyInterrupt> with vector 31 (an exception vector) is refused with R10 = INVALID_OPERAND and never reaches userspace.',
    spec: 'KVM tdx_setup_event_notify_interrupt (vector 32..255); facts linux-tdx.md §4.3',
    covers: [fails(Sub.SETUP_EVENT_NOTIFY_INTERRUPT)],
    *guest(cpu, env) {
      env.record('after', yield* rawGhci(cpu, Sub.SETUP_EVENT_NOTIFY_INTERRUPT.number, { R12: 31n }));
    },
    check(o) {
      expectRecords(o, []);
      expectGuest(o, { r10: V.INVALID_OPERAND });
    },
  },
  // ---- Unknown calls -------------------------------------------------------------------
  {
    name: 'unknown-subfunction',
    behaviour: 'A GHCI sub-function the host does not implement (0x10005 Service, and 0x1000005) gets R10 = SUBFUNC_UNSUPPORTED without a userspace exit.',
    spec: 'KVM handle_tdvmcall default case; facts linux-tdx.md §4.3 (unknown sub-function), tdx-module.md §6.6',
    covers: [],
    *guest(cpu, env) {
      env.record('service', yield* rawGhci(cpu, Sub.SETUP_EVENT_NOTIFY_INTERRUPT.number + 1, {}));
      env.record('after', yield* rawGhci(cpu, (1 << 24) | 5, {}));
    },
    check(o) {
      expectRecords(o, []);
      expectRegs(recorded<RegSnapshot>(o, 'service'), { rax: 0n, r10: V.SUBFUNC_UNSUPPORTED }, { what: 'after sub-function 0x10005', tdvmcall: true });
      expectGuest(o, { r10: V.SUBFUNC_UNSUPPORTED });
    },
  },
  {
    name: 'kvm-hypercall-unknown',
    behaviour: 'A vendor (KVM) hypercall — R10 ≠ 0 — with an unknown number returns -KVM_ENOSYS in R10.',
    spec: 'KVM tdx_emulate_vmcall, __kvm_emulate_hypercall; facts linux-tdx.md §2.2, §4.3 (KVM hypercall)',
    covers: [],
    *guest(cpu, env) {
      env.record('after', yield* rawTdvmcall(cpu, { R10: 4242n }));
    },
    check(o) {
      expectGuest(o, { r10: -BigInt(KVM_ENOSYS) & U64_MASK });
    },
  },
]);

