/**
 * What a VMM's answer to a standard TDVMCALL must satisfy, whatever the guest asked
 * (GHCI; KVM's handling in facts linux-tdx.md §4.3; the Linux guest's expectations in §6.2):
 *
 *   - R10 is a GHCI status (status-defined). A CPUID answer writes no status, so R10 keeps the
 *     guest's 0 — which is SUCCESS.
 *   - RETRY is only ever an answer to MapGPA (the one sub-function that is resumable), and then
 *     R11 — where the guest is to continue — lies inside [gpa, gpa + size) of the request: a
 *     Linux guest refuses anything else, so a VMM that sends it is broken (vmm-reply-contract).
 *
 * KVM hypercalls (R10 ≠ 0 on the way in) return KVM's own values in R10 and are not checked.
 */
import { hex64 } from '../abi/bitfield.ts';
import { TdvmcallSubfunction, TDX_HYPERCALL_STANDARD } from '../abi/tdvmcall.ts';
import { TdvmcallStatus } from '../abi/tdvmcall-status.ts';
import { checkTdvmcallStatus, Invariant, violation, type Violation } from './invariants.ts';

/** The request as the guest made it (the exposed argument registers). */
export interface TdvmcallRequest {
  readonly callType: bigint;
  readonly subfunction: bigint;
  readonly r12: bigint;
  readonly r13: bigint;
}

const MAP_GPA = BigInt(TdvmcallSubfunction.MAP_GPA.number);

export function checkTdvmcallReply(req: TdvmcallRequest, r10: bigint, r11: bigint, where: string): Violation | undefined {
  if (req.callType !== TDX_HYPERCALL_STANDARD) return undefined;
  const sub = `sub-function ${hex64(req.subfunction)}`;
  const v = checkTdvmcallStatus(r10, `${where} (${sub})`);
  if (v) return v;
  if (r10 !== TdvmcallStatus.RETRY) return undefined;
  if (req.subfunction !== MAP_GPA) {
    return violation(Invariant.VMM_REPLY_CONTRACT, `${where}: VMM answered RETRY to ${sub}, which is not resumable`);
  }
  const start = req.r12;
  const end = req.r12 + req.r13;
  if (r11 < start || r11 >= end) {
    return violation(Invariant.VMM_REPLY_CONTRACT, `${where}: MapGPA [${hex64(start)}, ${hex64(end)}) answered RETRY with R11 ${hex64(r11)} outside the range`);
  }
  return undefined;
}
