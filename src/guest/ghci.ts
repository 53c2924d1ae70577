/**
 * One typed wrapper per GHCI TDVMCALL sub-function (GHCI "TDG.VP.VMCALL<…>" sections; Linux
 * arch/x86/coco/tdx/tdx.c). Which register carries which operand comes from the
 * TdvmcallSubfunction table (src/abi/tdvmcall.ts) by operand name; nothing here names a register.
 *
 * Every wrapper returns the VMM failure domain: `{ ok: true, out }` with the sub-function's named
 * outputs, or the VmcallFailure the VMM answered with. A module failure (RAX ≠ 0) never reaches
 * the caller: tdxHypercall panics on it.
 */
import { TdvmcallDirection, TdvmcallSubfunction } from '../abi/tdvmcall.ts';
import type { GuestCpu, GuestGen } from '../platform/guest-cpu.ts';
import { subfunctionOutputs, subfunctionPayload, tdxHypercall, type VmcallFailure } from './hypercall.ts';
import { fatalErrorPayload } from './panic.ts';

/** Outcome of a GHCI sub-function: its outputs, or the VMM's refusal. */
export type GhciResult<T> = { readonly ok: true; readonly out: T } | VmcallFailure;

type Sub = (typeof TdvmcallSubfunction)[keyof typeof TdvmcallSubfunction];

/** Issue a sub-function with named inputs; return its named outputs. */
function* call(cpu: GuestCpu, sub: Sub, inputs: Readonly<Record<string, bigint>>): GuestGen<GhciResult<Record<string, bigint>>> {
  const res = yield* tdxHypercall(cpu, sub.number, subfunctionPayload(sub, inputs));
  if (!res.ok) return res;
  return { ok: true, out: subfunctionOutputs(sub, cpu) };
}

/** Project a result onto a typed output record (names checked against the table). */
function typed<const K extends string>(res: GhciResult<Record<string, bigint>>, names: readonly K[]): GhciResult<Record<K, bigint>> {
  if (!res.ok) return res;
  const out = {} as Record<K, bigint>;
  for (const n of names) {
    const v = res.out[n];
    if (v === undefined) throw new Error(`GHCI table has no output ${n}`);
    out[n] = v;
  }
  return { ok: true, out };
}

type Empty = Record<never, bigint>;

// ---- Instruction emulation (sub-function = the instruction's VMX exit reason) ---------------

/** TDG.VP.VMCALL<Instruction.CPUID>: the VMM's values for a CPUID leaf. */
export function* cpuid(cpu: GuestCpu, leaf: number, subleaf: number): GuestGen<GhciResult<Record<'eax' | 'ebx' | 'ecx' | 'edx', bigint>>> {
  const res = yield* call(cpu, TdvmcallSubfunction.CPUID, { leaf: BigInt(leaf >>> 0), subleaf: BigInt(subleaf >>> 0) });
  return typed(res, ['eax', 'ebx', 'ecx', 'edx']);
}

/**
 * TDG.VP.VMCALL<Instruction.HLT>. `interruptBlocked` tells the VMM not to wake the vCPU for
 * ordinary interrupts (RFLAGS.IF was clear): the clean way for a TD to stop.
 */
export function* hlt(cpu: GuestCpu, interruptBlocked: boolean): GuestGen<GhciResult<Empty>> {
  return typed(yield* call(cpu, TdvmcallSubfunction.HLT, { interruptBlocked: interruptBlocked ? 1n : 0n }), []);
}

/** TDG.VP.VMCALL<Instruction.IO> read (IN) of 1, 2 or 4 bytes. */
export function* ioRead(cpu: GuestCpu, port: number, size: 1 | 2 | 4): GuestGen<GhciResult<Record<'data', bigint>>> {
  const res = yield* call(cpu, TdvmcallSubfunction.IO, { size: BigInt(size), direction: TdvmcallDirection.READ, port: BigInt(port) });
  return typed(res, ['data']);
}

/** TDG.VP.VMCALL<Instruction.IO> write (OUT) of 1, 2 or 4 bytes. */
export function* ioWrite(cpu: GuestCpu, port: number, size: 1 | 2 | 4, data: bigint): GuestGen<GhciResult<Empty>> {
  const res = yield* call(cpu, TdvmcallSubfunction.IO, { size: BigInt(size), direction: TdvmcallDirection.WRITE, port: BigInt(port), data });
  return typed(res, []);
}

/** TDG.VP.VMCALL<Instruction.RDMSR>: the value is EDX:EAX in one register. */
export function* rdmsr(cpu: GuestCpu, msr: number): GuestGen<GhciResult<Record<'value', bigint>>> {
  return typed(yield* call(cpu, TdvmcallSubfunction.RDMSR, { msr: BigInt(msr >>> 0) }), ['value']);
}

/** TDG.VP.VMCALL<Instruction.WRMSR>. */
export function* wrmsr(cpu: GuestCpu, msr: number, value: bigint): GuestGen<GhciResult<Empty>> {
  return typed(yield* call(cpu, TdvmcallSubfunction.WRMSR, { msr: BigInt(msr >>> 0), value }), []);
}

/** TDG.VP.VMCALL<#VE.RequestMMIO> read of 1, 2, 4 or 8 bytes at a shared GPA. */
export function* mmioRead(cpu: GuestCpu, gpa: bigint, size: 1 | 2 | 4 | 8): GuestGen<GhciResult<Record<'data', bigint>>> {
  const res = yield* call(cpu, TdvmcallSubfunction.MMIO, { size: BigInt(size), direction: TdvmcallDirection.READ, gpa });
  return typed(res, ['data']);
}

/** TDG.VP.VMCALL<#VE.RequestMMIO> write of 1, 2, 4 or 8 bytes at a shared GPA. */
export function* mmioWrite(cpu: GuestCpu, gpa: bigint, size: 1 | 2 | 4 | 8, data: bigint): GuestGen<GhciResult<Empty>> {
  const res = yield* call(cpu, TdvmcallSubfunction.MMIO, { size: BigInt(size), direction: TdvmcallDirection.WRITE, gpa, data });
  return typed(res, []);
}

// ---- TDX-specific sub-functions ------------------------------------------------------------

/** TDG.VP.VMCALL<GetTdVmCallInfo>: leaf 0 = base ABI, leaf 1 = optional sub-functions (R11 bitmap). */
export function* getTdVmCallInfo(cpu: GuestCpu, leaf: bigint): GuestGen<GhciResult<Record<'r11' | 'r12' | 'r13' | 'r14', bigint>>> {
  return typed(yield* call(cpu, TdvmcallSubfunction.GET_TD_VM_CALL_INFO, { leaf }), ['r11', 'r12', 'r13', 'r14']);
}

/**
 * TDG.VP.VMCALL<MapGPA>: ask the VMM to map [gpa, gpa + size) shared (shared bit set in `gpa`)
 * or private. A RETRY failure carries in `r11` the GPA to resume from (see memory.ts).
 */
export function* mapGpa(cpu: GuestCpu, gpa: bigint, size: bigint): GuestGen<GhciResult<Empty>> {
  return typed(yield* call(cpu, TdvmcallSubfunction.MAP_GPA, { gpa, size }), []);
}

/** TDG.VP.VMCALL<GetQuote>: hand the VMM a shared GetQuote buffer (GPA with the shared bit). */
export function* getQuote(cpu: GuestCpu, sharedGpa: bigint, size: bigint): GuestGen<GhciResult<Empty>> {
  return typed(yield* call(cpu, TdvmcallSubfunction.GET_QUOTE, { gpa: sharedGpa, size }), []);
}

/**
 * One TDG.VP.VMCALL<ReportFatalError>. The VMM is not expected to resume the guest; if it does,
 * its answer is returned. panic.ts wraps this in the endless loop a real panic is.
 */
export function* reportFatalError(cpu: GuestCpu, message: string, errorCode = 0n): GuestGen<GhciResult<Empty>> {
  const res = yield* tdxHypercall(cpu, TdvmcallSubfunction.REPORT_FATAL_ERROR.number, fatalErrorPayload(message, errorCode));
  return res.ok ? { ok: true, out: {} } : res;
}

/** TDG.VP.VMCALL<SetupEventNotifyInterrupt>: the vector (32..255) to raise when a GetQuote completes. */
export function* setupEventNotifyInterrupt(cpu: GuestCpu, vector: number): GuestGen<GhciResult<Empty>> {
  return typed(yield* call(cpu, TdvmcallSubfunction.SETUP_EVENT_NOTIFY_INTERRUPT, { vector: BigInt(vector) }), []);
}
