/**
 * Measurement TDCALLs: TDG.MR.RTMR.EXTEND (extend a run-time measurement register) and
 * TDG.MR.REPORT (produce a TDREPORT_STRUCT the TD can have quoted).
 *
 * Sources: TDX module 1.5 `tdg_mr_rtmr_extend.c`, `tdg_mr_report.c`; facts tdx-module.md
 * §7.2–7.3, §9.2. Checks run in the module's order; a memory operand is translated through the
 * TD's own view (guest-memory.ts), so a bad GPA fails as OPERAND_INVALID with its register and a
 * page the host has not mapped makes the TDCALL exit to the host (or #VE for a pending page) and
 * run again afterwards.
 */
import { readOperands } from '../abi/leaf.ts';
import { TdcallLeaf } from '../abi/tdcall-leaves.ts';
import { OperandId, TdxStatus, withOperand } from '../abi/status.ts';
import { MEASUREMENT_DIGEST_BYTES } from '../abi/measurement.ts';
import { REPORTDATA_ALIGNMENT, REPORTDATA_SIZE, REPORT_SUBTYPE_TD, TDREPORT_ALIGNMENT, TDREPORT_STRUCT_SIZE } from '../abi/tdreport.ts';
import type { TdcallContext, TdcallHandlerTable, TdcallOutcome } from './context.ts';
import { readPieces, translateOperand, writePieces } from './guest-memory.ts';
import { withLocks } from './lock-scope.ts';
import { LockKey, type AcquireResult } from './locks.ts';
import { extendRtmr } from './measurement.ts';
import { traceRtmr } from './trace-points.ts';
import { NUM_RTMRS } from './td.ts';
import { buildTdReport } from './tdreport.ts';

/** TDG.MR.RTMR.EXTEND: the extend data must be 64-byte aligned (it is one SHA-384 digest). */
const RTMR_EXTEND_DATA_ALIGNMENT = 64n;

const status = (s: bigint): TdcallOutcome => ({ kind: 'status', status: s });
const invalid = (operand: number): TdcallOutcome => status(withOperand(TdxStatus.TDX_OPERAND_INVALID, operand));

/**
 * The RTMR lock is a guest-side host-priority lock: busy → OPERAND_BUSY | RTMR, and while a host
 * leaf waits for it → OPERAND_BUSY_HOST_PRIORITY | RTMR (which the dispatcher reports as
 * OPERAND_BUSY). It keeps two vCPUs from extending an RTMR at once and a report from seeing a
 * half-updated RTMR.
 */
function rtmrBusy(r: AcquireResult): TdcallOutcome {
  const code = r === 'busy_host_priority' ? TdxStatus.TDX_OPERAND_BUSY_HOST_PRIORITY : TdxStatus.TDX_OPERAND_BUSY;
  return status(withOperand(code, OperandId.RTMR));
}

/**
 * TDG.MR.RTMR.EXTEND: RTMR[RDX] = SHA-384(RTMR[RDX] || the 48 bytes at private GPA RCX).
 *   RCX not 64-byte aligned, shared, or beyond the TD's width → OPERAND_INVALID | RCX
 *   RDX ≥ 4                                                    → OPERAND_INVALID | RDX
 *   RTMR lock (exclusive) busy                                 → OPERAND_BUSY | RTMR
 * The extend invalidates the cached TEE_INFO_HASH, so the next report shows the new value.
 */
function tdgMrRtmrExtend(ctx: TdcallContext): TdcallOutcome {
  const { module, vcpu, regs } = ctx;
  const td = vcpu.td;
  const { gpa, index } = readOperands(TdcallLeaf.TDG_MR_RTMR_EXTEND.inputs, regs);
  if (gpa % RTMR_EXTEND_DATA_ALIGNMENT !== 0n) return invalid(OperandId.RCX);
  const data = translateOperand(module, vcpu, { gpa, length: MEASUREMENT_DIGEST_BYTES, write: false, privateOnly: true }, OperandId.RCX);
  if (data.kind === 'stop') return data.outcome;
  if (index >= BigInt(NUM_RTMRS)) return invalid(OperandId.RDX);
  return withLocks(module.locks, (scope) => {
    const lock = scope.acquire(LockKey.rtmr(td.tdrPfn), 'exclusive', 'guest');
    if (lock !== 'ok') return rtmrBusy(lock);
    const i = Number(index);
    const input = readPieces(module, data.pieces);
    td.rtmr[i] = extendRtmr(td.rtmr[i]!, input);
    td.teeInfoHash = undefined;
    if (module.platform.tracer.enabled) traceRtmr(module.platform.tracer, td, i, gpa, input);
    return status(TdxStatus.TDX_SUCCESS);
  });
}

/**
 * TDG.MR.REPORT: write the TD's TDREPORT_STRUCT, with the 64 bytes of REPORTDATA at RDX, to the
 * 1024 bytes at RCX. Both GPAs may be private or shared.
 *   RCX not 1024-byte aligned                 → OPERAND_INVALID | RCX
 *   RDX not 64-byte aligned, or invalid        → OPERAND_INVALID | RDX
 *   R8 (subtype) ≠ 0                          → OPERAND_INVALID | R8
 *   RTMR lock (shared) busy                   → OPERAND_BUSY | RTMR
 *   RCX beyond the TD's width                 → OPERAND_INVALID | RCX (checked last, after the
 *                                               report is built, as in the module)
 */
function tdgMrReport(ctx: TdcallContext): TdcallOutcome {
  const { module, vcpu, regs } = ctx;
  const td = vcpu.td;
  const { report, reportData, subtype } = readOperands(TdcallLeaf.TDG_MR_REPORT.inputs, regs);
  if (report % BigInt(TDREPORT_ALIGNMENT) !== 0n) return invalid(OperandId.RCX);
  if (reportData % BigInt(REPORTDATA_ALIGNMENT) !== 0n) return invalid(OperandId.RDX);
  const input = translateOperand(module, vcpu, { gpa: reportData, length: REPORTDATA_SIZE, write: false }, OperandId.RDX);
  if (input.kind === 'stop') return input.outcome;
  if (subtype !== BigInt(REPORT_SUBTYPE_TD)) return invalid(OperandId.R8);
  const built = withLocks(module.locks, (scope) => {
    const lock = scope.acquire(LockKey.rtmr(td.tdrPfn), 'shared', 'guest');
    if (lock !== 'ok') return rtmrBusy(lock);
    return buildTdReport(module.platform, module.identity, td, readPieces(module, input.pieces));
  });
  if (!(built instanceof Uint8Array)) return built;
  const output = translateOperand(module, vcpu, { gpa: report, length: TDREPORT_STRUCT_SIZE, write: true }, OperandId.RCX);
  if (output.kind === 'stop') return output.outcome;
  writePieces(module, output.pieces, built);
  return status(TdxStatus.TDX_SUCCESS);
}

export const TDG_MR_HANDLERS: TdcallHandlerTable = Object.freeze({
  [TdcallLeaf.TDG_MR_RTMR_EXTEND.number]: tdgMrRtmrExtend,
  [TdcallLeaf.TDG_MR_REPORT.number]: tdgMrReport,
});
