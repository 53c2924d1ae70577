/**
 * Exits for the instructions a TD guest asks the VMM to emulate through TDG.VP.VMCALL:
 * Instruction.CPUID, HLT, IO, RDMSR, WRMSR, #VE.RequestMMIO, and KVM hypercalls (R10 ≠ 0).
 * KVM's handling (arch/x86/kvm/vmx/tdx.c; facts linux-tdx.md §4.3): arguments are validated
 * first (tdvmcall-args.ts) and a refusal is a TDVMCALL status in R10; an access an in-kernel
 * device claims is answered without leaving the kernel; anything else goes to userspace as
 * KVM_EXIT_IO / KVM_EXIT_MMIO, and a read's value comes back in R11 when userspace completes it.
 * R10 is written only on refusal: on success it keeps the guest's input, which is 0 (SUCCESS).
 */
import { Gpr } from '../abi/registers.ts';
import { TdvmcallSubfunction, TDVMCALL_REGS } from '../abi/tdvmcall.ts';
import { TdvmcallStatus } from '../abi/tdvmcall-status.ts';
import { KVM_ENOSYS, KVM_EXIT_HYPERCALL_LONG_MODE, KvmExitReason, KvmHypercall, Errno } from '../abi/kvm.ts';
import { U64_MASK } from '../abi/bitfield.ts';
import { PAGE_SHIFT } from '../abi/pamt.ts';
import { decodeCpuid, decodeHlt, decodeIo, decodeMmio, decodeRdmsr, decodeWrmsr, type Decoded } from './tdvmcall-args.ts';
import { msrAllowed } from './msr-emulation.ts';
import { RESUME, setTdvmcallReturn, setTdvmcallStatus, type ExitAction, type ExitContext } from './exit-action.ts';
import type { ExitReply } from './exit-records.ts';
import type { CpuidRegs } from '../abi/cpuid-config.ts';

/** Apply a refusal (R10, and R11 where KVM sets it) and warn, rate-limited, blaming the guest. */
export function refuse(ctx: ExitContext, d: Extract<Decoded<unknown>, { ok: false }>, kind: string): ExitAction {
  setTdvmcallStatus(ctx.regs, d.status);
  if (d.r11 !== undefined) setTdvmcallReturn(ctx.regs, d.r11);
  ctx.vcpu.vm.host.warnings.warn(ctx.vcpu.index, kind, 'guest', d.why);
  return RESUME;
}

/** Where the CPUID sub-function's outputs go (R12–R15 for EAX–EDX), looked up once. */
const cpuidOutput = (name: keyof CpuidRegs): number => Gpr[TdvmcallSubfunction.CPUID.outputs.find((o) => o.name === name)!.reg];
const CPUID_EAX = cpuidOutput('eax');
const CPUID_EBX = cpuidOutput('ebx');
const CPUID_ECX = cpuidOutput('ecx');
const CPUID_EDX = cpuidOutput('edx');

export function emulateCpuid(ctx: ExitContext): ExitAction {
  const { leaf, subleaf } = decodeCpuid(ctx.regs);
  const v = ctx.vcpu.cpuid.lookup(leaf, subleaf);
  const g = ctx.regs.gpr;
  g[CPUID_EAX] = BigInt(v.eax >>> 0);
  g[CPUID_EBX] = BigInt(v.ebx >>> 0);
  g[CPUID_ECX] = BigInt(v.ecx >>> 0);
  g[CPUID_EDX] = BigInt(v.edx >>> 0);
  return RESUME;
}

export function emulateHlt(ctx: ExitContext): ExitAction {
  return { kind: 'halt', interruptsBlocked: decodeHlt(ctx.regs).interruptsBlocked };
}

/** The reply data of a read, or 0 when userspace did not supply one. */
function readValue(reply: ExitReply | undefined): bigint {
  return reply && 'data' in reply && reply.data !== undefined ? reply.data : 0n;
}

export function emulateIo(ctx: ExitContext): ExitAction {
  const d = decodeIo(ctx.regs);
  if (!d.ok) return refuse(ctx, d, 'io-invalid');
  const { size, write, port, data } = d.value;
  const bus = ctx.vcpu.vm.kernelBus;
  if (write) {
    if (bus.writePort(port, size, data)) return RESUME;
    return { kind: 'user', record: { kind: 'io', exitReason: KvmExitReason.IO, direction: 'out', size, port, count: 1, data } };
  }
  const v = bus.readPort(port, size);
  if (v !== undefined) {
    setTdvmcallReturn(ctx.regs, v);
    return RESUME;
  }
  return {
    kind: 'user',
    record: { kind: 'io', exitReason: KvmExitReason.IO, direction: 'in', size, port, count: 1, data: 0n },
    complete: (reply) => {
      setTdvmcallReturn(ctx.regs, readValue(reply));
      return RESUME;
    },
  };
}

export function emulateMmio(ctx: ExitContext): ExitAction {
  const d = decodeMmio(ctx.regs, ctx.vcpu.vm.addressing);
  if (!d.ok) return refuse(ctx, d, 'mmio-invalid');
  const { size, write, gpa, data } = d.value;
  const bus = ctx.vcpu.vm.kernelBus;
  if (write) {
    if (bus.writeMmio(gpa, size, data)) return RESUME;
    return { kind: 'user', record: { kind: 'mmio', exitReason: KvmExitReason.MMIO, physAddr: gpa, len: size, isWrite: true, data } };
  }
  const v = bus.readMmio(gpa, size);
  if (v !== undefined) {
    setTdvmcallReturn(ctx.regs, v);
    return RESUME;
  }
  return {
    kind: 'user',
    record: { kind: 'mmio', exitReason: KvmExitReason.MMIO, physAddr: gpa, len: size, isWrite: false, data: 0n },
    complete: (reply) => {
      setTdvmcallReturn(ctx.regs, readValue(reply));
      return RESUME;
    },
  };
}

export function emulateRdmsr(ctx: ExitContext): ExitAction {
  const { index } = decodeRdmsr(ctx.regs);
  const vcpu = ctx.vcpu;
  if (!msrAllowed(vcpu.vm.config.msrFilter, index, 'read')) {
    return refuse(ctx, { ok: false, status: TdvmcallStatus.INVALID_OPERAND, why: `RDMSR 0x${index.toString(16)} denied by the MSR filter` }, 'msr-filtered');
  }
  const r = vcpu.msrs.read(index);
  if (!r.ok) return refuse(ctx, { ok: false, status: TdvmcallStatus.INVALID_OPERAND, why: `RDMSR 0x${index.toString(16)}: not an MSR KVM emulates for TDs` }, 'msr-unknown');
  setTdvmcallReturn(ctx.regs, r.value);
  return RESUME;
}

export function emulateWrmsr(ctx: ExitContext): ExitAction {
  const { index, value } = decodeWrmsr(ctx.regs);
  const vcpu = ctx.vcpu;
  if (!msrAllowed(vcpu.vm.config.msrFilter, index, 'write')) {
    return refuse(ctx, { ok: false, status: TdvmcallStatus.INVALID_OPERAND, why: `WRMSR 0x${index.toString(16)} denied by the MSR filter` }, 'msr-filtered');
  }
  if (!vcpu.msrs.write(index, value)) {
    return refuse(ctx, { ok: false, status: TdvmcallStatus.INVALID_OPERAND, why: `WRMSR 0x${index.toString(16)} = 0x${value.toString(16)} refused (unknown, read-only or invalid value)` }, 'msr-refused');
  }
  return RESUME;
}

/** A KVM hypercall result as the guest sees it in R10 (negative errors are two's complement). */
function hcResult(v: bigint): bigint {
  return v & U64_MASK;
}

/**
 * KVM hypercall (R10 = number ≠ 0, arguments in R11–R14): `__kvm_emulate_hypercall`. The result
 * goes to R10. Handled: VAPIC_POLL_IRQ (nothing to do), KICK_CPU (wake the vCPU with that APIC
 * ID), SCHED_YIELD, and MAP_GPA_RANGE (forwarded to userspace as KVM_EXIT_HYPERCALL when userspace
 * asked for it). Anything else is -KVM_ENOSYS.
 */
export function emulateKvmHypercall(ctx: ExitContext): ExitAction {
  const g = ctx.regs.gpr;
  const nr = g[Gpr[TDVMCALL_REGS.callType]]!;
  const [a0, a1, a2, a3] = TDVMCALL_REGS.kvmArgs.map((r) => g[Gpr[r]]!) as [bigint, bigint, bigint, bigint];
  const vm = ctx.vcpu.vm;
  const result = (v: bigint): ExitAction => {
    setTdvmcallStatus(ctx.regs, hcResult(v));
    return RESUME;
  };
  switch (nr) {
    case BigInt(KvmHypercall.VAPIC_POLL_IRQ):
    case BigInt(KvmHypercall.SCHED_YIELD):
      return result(0n);
    case BigInt(KvmHypercall.KICK_CPU): {
      const target = vm.vcpus[Number(a1)];
      if (a1 < BigInt(vm.vcpus.length) && target) target.halted = undefined;
      return result(0n);
    }
    case BigInt(KvmHypercall.MAP_GPA_RANGE): {
      if (!(vm.config.exitOnMapGpa ?? true)) break;
      const pageMask = (1n << PAGE_SHIFT) - 1n;
      // -KVM_EINVAL for an unaligned GPA, no pages, or a range that wraps.
      if ((a0 & pageMask) !== 0n || a1 === 0n || (a0 >> PAGE_SHIFT) + a1 <= a0 >> PAGE_SHIFT) return result(-BigInt(Errno.EINVAL));
      return {
        kind: 'user',
        record: { kind: 'hypercall', exitReason: KvmExitReason.HYPERCALL, nr, args: [a0, a1, a2, a3, 0n, 0n], ret: 0n, flags: KVM_EXIT_HYPERCALL_LONG_MODE },
        complete: (reply) => result(reply && reply.kind === 'hypercall' ? reply.ret : 0n),
      };
    }
  }
  ctx.vcpu.vm.host.warnings.warn(ctx.vcpu.index, 'kvm-hypercall', 'guest', `unknown KVM hypercall ${nr}`);
  return result(-BigInt(KVM_ENOSYS));
}
