/**
 * The guest side of the `guest` target: a TD program that boots the guest kernel library
 * (earlyInit, with a private heap) and then performs the operations the fuzzer posts in its
 * mailbox, recording what the library returned.
 *
 * Each operation goes through the library's public entry points, exactly as kernel code would
 * call them: memory.ts for conversion and accept, attestation.ts for TDREPORT and GetQuote, the
 * CPU's trapping instructions (so the library's #VE handler emulates them) for CPUID, MSRs, port
 * I/O and MMIO, ghci.ts for HLT, GetTdVmCallInfo and SetupEventNotifyInterrupt. With nothing to
 * do the driver makes an idle TDVMCALL, which tells the fuzzer's VMM the operation is over.
 *
 * Before an IN the driver loads RAX with a canary: the #VE handler must merge the VMM's value
 * into the low bytes only, and the outcome carries the whole register so the oracle can check.
 */
import { Gpr } from '../../abi/registers.ts';
import { TDVMCALL_EXPOSE_REGS_MASK, TdvmcallSubfunction } from '../../abi/tdvmcall.ts';
import { LEAF_WORD, TDVMCALL_CONTROL } from '../../abi/operands.ts';
import { TdcallLeaf } from '../../abi/tdcall-leaves.ts';
import type { GuestCpu, GuestGen, GuestProgram } from '../../platform/guest-cpu.ts';
import { earlyInit, type GuestKernel } from '../../guest/kernel.ts';
import { acceptMemory, setMemoryPrivate, setMemoryShared, type MemoryResult } from '../../guest/memory.ts';
import { getQuote, getReport, type AttestationResult } from '../../guest/attestation.ts';
import * as ghci from '../../guest/ghci.ts';
import type { GuestAction } from './guest-ops.ts';

/** What one operation returned, as the oracle needs it. */
export type GuestOutcome =
  | { readonly op: 'memory'; readonly result: MemoryResult }
  | { readonly op: 'quote'; readonly result: AttestationResult<{ quote: Uint8Array }> }
  | { readonly op: 'value'; readonly value: bigint; readonly rax: bigint }
  | { readonly op: 'cpuid'; readonly values: readonly bigint[] }
  | { readonly op: 'done' };

export interface DriverMailbox {
  readonly queue: GuestAction[];
  /** The guest finished its operations and is making its idle call. */
  waiting: boolean;
  /** Outcome of the last operation. */
  outcome: GuestOutcome | undefined;
}

/** The value an IN leaves above the bytes it reads: what RAX held before. */
export const IN_CANARY = (1n << 64n) - 1n - (1n << 40n);

const IDLE_CONTROL = TDVMCALL_CONTROL.encode({ gpr_select: TDVMCALL_EXPOSE_REGS_MASK, xmm_select: 0n });
const VMCALL = LEAF_WORD.encode({ leaf: TdcallLeaf.TDG_VP_VMCALL.number, version: 0 });

export function guestDriver(mailbox: DriverMailbox, heap: { gpa: bigint; size: bigint }): GuestProgram {
  return function* driver(cpu: GuestCpu): GuestGen<void> {
    const kernel = yield* earlyInit(cpu, { heap });
    for (;;) {
      const a = mailbox.queue.shift();
      if (a === undefined) {
        mailbox.waiting = true;
        yield* idle(cpu);
        mailbox.waiting = false;
        continue;
      }
      mailbox.outcome = yield* perform(kernel, a);
    }
  };
}

/** GetTdVmCallInfo(0) as a raw TDVMCALL: answered by any VMM, and its answer is not used. */
function* idle(cpu: GuestCpu): GuestGen<void> {
  const g = cpu.regs.gpr;
  g[Gpr.R10] = 0n;
  g[Gpr.R11] = BigInt(TdvmcallSubfunction.GET_TD_VM_CALL_INFO.number);
  g[Gpr.R12] = 0n;
  g[Gpr.RAX] = VMCALL;
  g[Gpr.RCX] = IDLE_CONTROL;
  yield* cpu.tdcall();
}

function* perform(kernel: GuestKernel, a: GuestAction): GuestGen<GuestOutcome> {
  const cpu = kernel.cpu;
  const size = Number(a.b & 255n);
  const data = a.b >> 8n;
  switch (a.op) {
    case 'convert-shared':
      return { op: 'memory', result: yield* setMemoryShared(kernel, a.a, a.b) };
    case 'convert-private':
      return { op: 'memory', result: yield* setMemoryPrivate(kernel, a.a, a.b) };
    case 'accept':
      return { op: 'memory', result: yield* acceptMemory(kernel, a.a, a.b) };
    case 'get-quote': {
      const report = yield* getReport(kernel, new Uint8Array(64));
      if (!report.ok) return { op: 'quote', result: report };
      return { op: 'quote', result: yield* getQuote(kernel, report.report) };
    }
    case 'cpuid': {
      const v = yield* cpu.cpuid(Number(a.a), Number(a.b));
      return { op: 'cpuid', values: [BigInt(v.eax), BigInt(v.ebx), BigInt(v.ecx), BigInt(v.edx)] };
    }
    case 'rdmsr': {
      const value = yield* cpu.rdmsr(Number(a.a));
      return { op: 'value', value, rax: cpu.regs.gpr[Gpr.RAX]! };
    }
    case 'wrmsr':
      yield* cpu.wrmsr(Number(a.a), a.b);
      return { op: 'done' };
    case 'io-in': {
      cpu.regs.gpr[Gpr.RAX] = IN_CANARY;
      const value = yield* cpu.in(Number(a.a), size as 1 | 2 | 4);
      return { op: 'value', value, rax: cpu.regs.gpr[Gpr.RAX]! };
    }
    case 'io-out':
      yield* cpu.out(Number(a.a), size as 1 | 2 | 4, data);
      return { op: 'done' };
    case 'mmio-read': {
      const value = yield* cpu.readValue(a.a, size as 1 | 2 | 4 | 8);
      return { op: 'value', value, rax: cpu.regs.gpr[Gpr.RAX]! };
    }
    case 'mmio-write':
      yield* cpu.writeValue(a.a, size as 1 | 2 | 4 | 8, data);
      return { op: 'done' };
    case 'hlt':
      yield* ghci.hlt(cpu, false);
      return { op: 'done' };
    case 'tdvmcall-info':
      yield* ghci.getTdVmCallInfo(cpu, a.a);
      return { op: 'done' };
    case 'setup-notify':
      yield* ghci.setupEventNotifyInterrupt(cpu, Number(a.a));
      return { op: 'done' };
  }
}
