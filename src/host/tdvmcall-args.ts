/**
 * Typed, validating accessors over the registers of a TDG.VP.VMCALL exit.
 *
 * Everything a guest puts in its exposed registers is untrusted ("could be rubbish, or even
 * malicious rubbish"). Each decoder reads the sub-function's operands by name from the GHCI table
 * (src/abi/tdvmcall.ts) and checks them exactly as KVM does before anything uses them
 * (arch/x86/kvm/vmx/tdx.c; facts linux-tdx.md §4.3). A refusal carries the TDVMCALL status KVM
 * returns in R10 and, where KVM sets it, the value it puts in R11. No decoder throws for any
 * register value.
 */
import { LO32 } from '../abi/u64.ts';
import { Gpr, type RegisterFile } from '../abi/registers.ts';
import { FATAL_ERROR_MESSAGE_REGS, MAP_GPA_MAX_CHUNK, TdvmcallSubfunction, type TdvmcallSubfunction as Sub } from '../abi/tdvmcall.ts';
import { TdvmcallStatus } from '../abi/tdvmcall-status.ts';
import { FIRST_EXTERNAL_VECTOR, LAST_VECTOR } from '../abi/posted-interrupt.ts';
import { PAGE_SIZE } from '../abi/pamt.ts';
import { U32_MASK, U64_MASK } from '../abi/bitfield.ts';
import { leBytes } from '../platform/guest-cpu.ts';

/** What the host knows of the TD's address space (from TD_PARAMS). */
export interface TdAddressing {
  /** The shared-bit mask: GPA bit 47 (GPAW 48) or 51 (GPAW 52). */
  readonly sharedBit: bigint;
  /** Guest physical address width: a GPA is legal below 2^gpaw (kvm_vcpu_is_legal_gpa). */
  readonly gpaw: number;
}

export type Decoded<T> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      /** TDVMCALL status for R10. */
      readonly status: bigint;
      /** Value KVM writes to R11 with the refusal, if any. */
      readonly r11?: bigint;
      /** Which check failed, for the rate-limited warning. */
      readonly why: string;
    };

const ok = <T>(value: T): Decoded<T> => ({ ok: true, value });
const refuse = (status: bigint, why: string, r11?: bigint): Decoded<never> =>
  r11 === undefined ? { ok: false, status, why } : { ok: false, status, why, r11 };

/** Read a named input operand of a sub-function from the exit registers. */
export function subArg(sub: Sub, name: string, regs: RegisterFile): bigint {
  const op = sub.inputs.find((o) => o.name === name);
  if (!op) throw new Error(`${sub.name} has no input ${name}`);
  return regs.gpr[Gpr[op.reg]]!;
}

/** A GPA is private when the shared bit is clear (vt_is_tdx_private_gpa). */
export function isPrivateGpa(gpa: bigint, a: TdAddressing): boolean {
  return (gpa & a.sharedBit) === 0n;
}

/** The GPA with the shared bit cleared (`gpa & ~gfn_to_gpa(kvm_gfn_direct_bits)`). */
export function stripShared(gpa: bigint, a: TdAddressing): bigint {
  return gpa & ~a.sharedBit & U64_MASK;
}

/** 64-bit wrapping add, as the C code computes `gpa + size - 1`. */
function wrap(v: bigint): bigint {
  return v & U64_MASK;
}

// ---- Instruction.IO (30) ------------------------------------------------------------------

export interface IoArgs {
  readonly size: 1 | 2 | 4;
  readonly write: boolean;
  /** Port: KVM passes R14 to pio emulation as an unsigned short, so only bits 15:0 count. */
  readonly port: number;
  /** OUT: the low `size` bytes of R15. */
  readonly data: bigint;
}

export function decodeIo(regs: RegisterFile): Decoded<IoArgs> {
  const s = TdvmcallSubfunction.IO;
  const size = subArg(s, 'size', regs);
  const dir = subArg(s, 'direction', regs);
  // Protects the host's device model from an access width it cannot express.
  if (size !== 1n && size !== 2n && size !== 4n) return refuse(TdvmcallStatus.INVALID_OPERAND, `IO size ${size} is not 1, 2 or 4`);
  if (dir !== 0n && dir !== 1n) return refuse(TdvmcallStatus.INVALID_OPERAND, `IO direction ${dir} is not 0 or 1`);
  const n = Number(size) as 1 | 2 | 4;
  const write = dir === 1n;
  return ok({ size: n, write, port: Number(subArg(s, 'port', regs) & IO_PORT_MASK), data: write ? subArg(s, 'data', regs) & sizeMask(n) : 0n });
}

// ---- #VE.RequestMMIO (48) -----------------------------------------------------------------

export interface MmioArgs {
  readonly size: 1 | 2 | 4 | 8;
  readonly write: boolean;
  /** GPA with the shared bit stripped. */
  readonly gpa: bigint;
  /** Write: the low `size` bytes of R15. */
  readonly data: bigint;
}

export function decodeMmio(regs: RegisterFile, a: TdAddressing): Decoded<MmioArgs> {
  const s = TdvmcallSubfunction.MMIO;
  const size = subArg(s, 'size', regs);
  const dir = subArg(s, 'direction', regs);
  const gpa = subArg(s, 'gpa', regs);
  if (size !== 1n && size !== 2n && size !== 4n && size !== 8n) return refuse(TdvmcallStatus.INVALID_OPERAND, `MMIO size ${size} is not 1, 2, 4 or 8`);
  if (dir !== 0n && dir !== 1n) return refuse(TdvmcallStatus.INVALID_OPERAND, `MMIO direction ${dir} is not 0 or 1`);
  // Protects private memory: MMIO emulation of a private GPA would let the host "answer" reads
  // of memory only the TD may see. Both ends are checked, so an access cannot straddle into it.
  if (isPrivateGpa(gpa, a) || isPrivateGpa(wrap(gpa + size - 1n), a)) {
    return refuse(TdvmcallStatus.INVALID_OPERAND, `MMIO GPA ${hex(gpa)}+${size} is not entirely shared`);
  }
  const n = Number(size) as 1 | 2 | 4 | 8;
  const write = dir === 1n;
  return ok({ size: n, write, gpa: stripShared(gpa, a), data: write ? subArg(s, 'data', regs) & sizeMask(n) : 0n });
}

// ---- MapGPA (0x10001) ---------------------------------------------------------------------

export interface MapGpaArgs {
  /** The GPA as the guest gave it (shared bit set = convert to shared). */
  readonly gpa: bigint;
  readonly size: bigint;
  /** Convert to private (shared bit clear) or to shared. */
  readonly toPrivate: boolean;
}

/**
 * KVM's checks, in KVM's order; on any refusal R11 = the guest's GPA. `exitEnabled` is whether
 * userspace enabled KVM_CAP_EXIT_HYPERCALL for KVM_HC_MAP_GPA_RANGE.
 */
export function decodeMapGpa(regs: RegisterFile, a: TdAddressing, exitEnabled: boolean): Decoded<MapGpaArgs> {
  const s = TdvmcallSubfunction.MAP_GPA;
  const gpa = subArg(s, 'gpa', regs);
  const size = subArg(s, 'size', regs);
  if (!exitEnabled) return refuse(TdvmcallStatus.SUBFUNC_UNSUPPORTED, 'userspace did not enable MapGPA exits', gpa);
  const end = wrap(gpa + size);
  const last = wrap(gpa + size - 1n);
  // Protects the host's range arithmetic: an empty or wrapping range, or one outside the TD's
  // address width, has no meaning; a range that crosses the shared bit would convert pages in
  // both directions at once.
  if (end <= gpa) return refuse(TdvmcallStatus.INVALID_OPERAND, `MapGPA range ${hex(gpa)}+${hex(size)} is empty or wraps`, gpa);
  if (!isLegalGpa(gpa, a) || !isLegalGpa(last, a)) return refuse(TdvmcallStatus.INVALID_OPERAND, `MapGPA range ${hex(gpa)}+${hex(size)} exceeds GPAW ${a.gpaw}`, gpa);
  if (isPrivateGpa(gpa, a) !== isPrivateGpa(last, a)) return refuse(TdvmcallStatus.INVALID_OPERAND, `MapGPA range ${hex(gpa)}+${hex(size)} crosses the shared bit`, gpa);
  if (gpa % PAGE_SIZE !== 0n || size % PAGE_SIZE !== 0n) return refuse(TdvmcallStatus.ALIGN_ERROR, `MapGPA range ${hex(gpa)}+${hex(size)} is not 4K-aligned`, gpa);
  return ok({ gpa, size, toPrivate: isPrivateGpa(gpa, a) });
}

/** The next ≤ 2 MB chunk of a MapGPA range, as KVM_HC_MAP_GPA_RANGE arguments. */
export function mapGpaChunk(next: bigint, end: bigint): { gpa: bigint; size: bigint } {
  const size = end - next > MAP_GPA_MAX_CHUNK ? MAP_GPA_MAX_CHUNK : end - next;
  return { gpa: next, size };
}

function isLegalGpa(gpa: bigint, a: TdAddressing): boolean {
  return gpa >> BigInt(a.gpaw) === 0n;
}

// ---- GetQuote (0x10002) -------------------------------------------------------------------

export interface GetQuoteArgs {
  /** Buffer GPA, shared bit stripped. */
  readonly gpa: bigint;
  readonly size: bigint;
}

/**
 * KVM only requires a shared GPA (mainline does not check alignment or size: the userspace quote
 * service does, see userspace/quote-service.ts).
 */
export function decodeGetQuote(regs: RegisterFile, a: TdAddressing): Decoded<GetQuoteArgs> {
  const s = TdvmcallSubfunction.GET_QUOTE;
  const gpa = subArg(s, 'gpa', regs);
  // Protects private memory: the quote service writes into this buffer.
  if (isPrivateGpa(gpa, a)) return refuse(TdvmcallStatus.INVALID_OPERAND, `GetQuote buffer ${hex(gpa)} is a private GPA`);
  return ok({ gpa: stripShared(gpa, a), size: subArg(s, 'size', regs) });
}

// ---- SetupEventNotifyInterrupt (0x10004) --------------------------------------------------

export function decodeSetupEventNotify(regs: RegisterFile): Decoded<{ vector: bigint }> {
  const vector = subArg(TdvmcallSubfunction.SETUP_EVENT_NOTIFY_INTERRUPT, 'vector', regs);
  // Protects the guest's exception vectors (0–31) from being raised as notifications.
  if (vector < BigInt(FIRST_EXTERNAL_VECTOR) || vector > BigInt(LAST_VECTOR)) {
    return refuse(TdvmcallStatus.INVALID_OPERAND, `notify vector ${vector} is outside 32..255`);
  }
  return ok({ vector });
}

// ---- GetTdVmCallInfo (0x10000) ------------------------------------------------------------

export function decodeGetTdVmCallInfo(regs: RegisterFile): Decoded<{ leaf: 0 | 1 }> {
  const leaf = subArg(TdvmcallSubfunction.GET_TD_VM_CALL_INFO, 'leaf', regs);
  if (leaf !== 0n && leaf !== 1n) return refuse(TdvmcallStatus.INVALID_OPERAND, `GetTdVmCallInfo leaf ${leaf} is not 0 or 1`);
  return ok({ leaf: leaf === 0n ? 0 : 1 });
}

// ---- CPUID, RDMSR, WRMSR, HLT -------------------------------------------------------------

/** CPUID leaf and sub-leaf: KVM reads them into 32-bit EAX and ECX. */
export function decodeCpuid(regs: RegisterFile): { leaf: number; subleaf: number } {
  // KVM reads both as u32: the low halves of their registers (abi/u64.ts), no bigint involved.
  const words = regs.gpr32;
  return { leaf: words[2 * CPUID_LEAF_REG + LO32]!, subleaf: words[2 * CPUID_SUBLEAF_REG + LO32]! };
}

const cpuidInput = (name: string): number => Gpr[TdvmcallSubfunction.CPUID.inputs.find((o) => o.name === name)!.reg];
const CPUID_LEAF_REG = cpuidInput('leaf');
const CPUID_SUBLEAF_REG = cpuidInput('subleaf');

/** RDMSR index: KVM reads it as a u32. */
export function decodeRdmsr(regs: RegisterFile): { index: number } {
  return { index: Number(subArg(TdvmcallSubfunction.RDMSR, 'msr', regs) & U32_MASK) };
}

/** WRMSR index (u32) and the full 64-bit value (EDX:EAX). */
export function decodeWrmsr(regs: RegisterFile): { index: number; value: bigint } {
  const s = TdvmcallSubfunction.WRMSR;
  return { index: Number(subArg(s, 'msr', regs) & U32_MASK), value: subArg(s, 'value', regs) };
}

/** HLT: R12 ≠ 0 means the guest halted with interrupts blocked (only an NMI wakes it). */
export function decodeHlt(regs: RegisterFile): { interruptsBlocked: boolean } {
  return { interruptsBlocked: subArg(TdvmcallSubfunction.HLT, 'interruptBlocked', regs) !== 0n };
}

// ---- ReportFatalError (0x10003) -----------------------------------------------------------

/**
 * The 64-byte message of a ReportFatalError, 8 bytes per register in the GHCI order, cut at the
 * first NUL. Decoded leniently (invalid UTF-8 becomes U+FFFD): it is only ever displayed.
 */
export function fatalErrorMessage(regs: RegisterFile): string {
  const bytes = new Uint8Array(FATAL_ERROR_MESSAGE_REGS.length * 8);
  FATAL_ERROR_MESSAGE_REGS.forEach((r, i) => bytes.set(leBytes(regs.gpr[Gpr[r]]!, 8), i * 8));
  const nul = bytes.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

/** x86 I/O ports are 16 bits wide. */
const IO_PORT_MASK = (1n << 16n) - 1n;

function sizeMask(size: number): bigint {
  return (1n << BigInt(8 * size)) - 1n;
}

function hex(v: bigint): string {
  return '0x' + v.toString(16);
}
