/**
 * Guest panic: TDG.VP.VMCALL<ReportFatalError>, as Linux's `tdx_panic()`.
 *
 * The message travels in registers, not memory, so a VMM can show it even when the guest's memory
 * is unusable: up to 64 bytes of text, NUL-padded, little-endian 8 bytes per register in the GHCI
 * order FATAL_ERROR_MESSAGE_REGS (R14, R15, RBX, RDI, RSI, R8, R9, RDX). R12 is the error code
 * (FATAL_ERROR_CODE: bits 31:0 zero, a TD-specific code in bits 62:32; 0 = plain panic), R13 = 0
 * (no extra data in shared memory). The call does not return; if the VMM resumes the guest
 * anyway, it reports again, forever.
 */
import { FATAL_ERROR_CODE } from '../abi/operands.ts';
import type { GprName, RegisterFile } from '../abi/registers.ts';
import { FATAL_ERROR_MESSAGE_REGS, TDVMCALL_REGS, TDX_HYPERCALL_STANDARD, TdvmcallSubfunction } from '../abi/tdvmcall.ts';
import type { GuestCpu, GuestGen } from '../platform/guest-cpu.ts';
import { fromLeBytes, leBytes } from '../platform/guest-cpu.ts';
import { ghciPayload, issueTdvmcall, subfunctionPayload, type HypercallPayload } from './hypercall.ts';

/** Bytes of message ReportFatalError carries: 8 registers of 8 bytes. */
export const FATAL_ERROR_MESSAGE_BYTES = FATAL_ERROR_MESSAGE_REGS.length * 8;

/** What a guest panic reports, decoded from the ReportFatalError registers. */
export interface GuestPanic {
  /** R12 as issued. */
  readonly errorCode: bigint;
  /** The TD-specific code in R12 bits 62:32. */
  readonly tdSpecificCode: bigint;
  /** The message up to its first NUL. */
  readonly message: string;
}

/** The message bytes: UTF-8, cut at 64 bytes, NUL-padded. */
export function fatalErrorMessageBytes(message: string): Uint8Array {
  const out = new Uint8Array(FATAL_ERROR_MESSAGE_BYTES);
  out.set(new TextEncoder().encode(message).subarray(0, FATAL_ERROR_MESSAGE_BYTES));
  return out;
}

/** The message registers of a ReportFatalError for `message`. */
export function packFatalErrorMessage(message: string): HypercallPayload {
  const bytes = fatalErrorMessageBytes(message);
  const payload: HypercallPayload = {};
  FATAL_ERROR_MESSAGE_REGS.forEach((reg, i) => (payload[reg] = fromLeBytes(bytes.subarray(8 * i, 8 * i + 8))));
  return payload;
}

/**
 * The ReportFatalError operands (without R10/R11): R12 = the error code with `errorCode` as its
 * TD-specific part (0..2^31-1), R13 = 0 (no extra data), the message registers.
 */
export function fatalErrorPayload(message: string, errorCode = 0n): HypercallPayload {
  const sub = TdvmcallSubfunction.REPORT_FATAL_ERROR;
  return {
    ...subfunctionPayload(sub, { errorCode: FATAL_ERROR_CODE.encode({ td_specific: errorCode }), dataGpa: 0n }),
    ...packFatalErrorMessage(message),
  };
}

/** Decode a ReportFatalError from the registers that carry it (guest's or VMM's copy). */
export function decodeFatalError(regs: RegisterFile): GuestPanic {
  const sub = TdvmcallSubfunction.REPORT_FATAL_ERROR;
  const codeReg = sub.inputs.find((o) => o.name === 'errorCode')!.reg;
  const errorCode = regs.get(codeReg);
  const bytes = new Uint8Array(FATAL_ERROR_MESSAGE_BYTES);
  FATAL_ERROR_MESSAGE_REGS.forEach((reg: GprName, i) => bytes.set(leBytes(regs.get(reg), 8), 8 * i));
  const end = bytes.indexOf(0);
  const message = new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
  return { errorCode, tdSpecificCode: FATAL_ERROR_CODE.get(errorCode, 'td_specific'), message };
}

/** True if the registers hold a GHCI ReportFatalError call. */
export function isFatalErrorCall(regs: RegisterFile): boolean {
  return (
    regs.get(TDVMCALL_REGS.callType) === TDX_HYPERCALL_STANDARD &&
    regs.get(TDVMCALL_REGS.subfunction) === BigInt(TdvmcallSubfunction.REPORT_FATAL_ERROR.number)
  );
}

/**
 * Report a fatal error and never return. `errorCode` is the TD-specific code (0..2^31-1) placed
 * in R12 bits 62:32; the default 0 is Linux's plain panic.
 */
export function* panic(cpu: GuestCpu, message: string, errorCode = 0n): GuestGen<never> {
  const payload = ghciPayload(TdvmcallSubfunction.REPORT_FATAL_ERROR.number, fatalErrorPayload(message, errorCode));
  for (;;) {
    // The VMM's reply overwrote the exposed registers: load the whole payload again each time.
    // A module failure here cannot be reported any other way, so it is not checked either.
    yield* issueTdvmcall(cpu, payload);
  }
}
