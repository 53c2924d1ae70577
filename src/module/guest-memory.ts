/**
 * The TD's view of memory: how a guest physical address becomes a host physical address and a
 * KeyID, for the guest's own loads and stores and for the operands the module reads or writes on
 * the guest's behalf (TDG.MR.REPORT, TDG.MR.RTMR.EXTEND, the boot page).
 *
 * A GPA with the shared bit clear is private: the Secure EPT translates it and the access uses
 * the TD's HKID, so the data is encrypted with the TD's key. A GPA with the shared bit set is
 * shared: the host's shared EPT (platform/shared-ept.ts, reached through the vCPU's SHARED_EPTP)
 * translates it and the access uses KeyID 0, so host and guest see the same bytes. Every failure
 * goes through the module's EPT-violation rules (ve.ts).
 *
 * Two kinds of access differ in their checks (facts tdx-module.md §6.4, §7.2–7.3):
 *   - `cpu`: a guest instruction. Its linear address is identity-mapped in the simulated guest
 *     (tdxsim guests address memory by GPA), so the access has a GLA equal to the GPA, and a GPA
 *     beyond the TD's width is the guest's own reserved-bit #PF;
 *   - `module`: an operand of a TDCALL leaf (`check_walk_and_map_guest_side_gpa`). A GPA beyond
 *     the TD's width — or a shared GPA where the leaf needs a private one — is an invalid operand
 *     (the caller returns OPERAND_INVALID with the register), and there is no GLA.
 */
import { KEYID_NONE, PAGE_BYTES } from '../platform/memory.ts';
import { SharedEpt } from '../platform/shared-ept.ts';
import { NULL_PA } from '../abi/vmx.ts';
import { TdxStatus, withOperand } from '../abi/status.ts';
import type { TdcallOutcome, TdExitRequest } from './context.ts';
import type { TdxModule } from './module.ts';
import type { Td } from './td.ts';
import type { Vcpu } from './vcpu.ts';
import { handleEptViolation, type EptViolationCause, type GuestException } from './ve.ts';

export type AccessOrigin = 'cpu' | 'module';

/** One physically contiguous part of an access (an access may span pages). */
export interface AccessPiece {
  readonly pa: bigint;
  readonly keyId: number;
  readonly length: number;
}

export type GuestAccess =
  | { readonly kind: 'ok'; readonly pieces: readonly AccessPiece[] }
  /** Module origin only: the GPA is not a valid operand (caller: OPERAND_INVALID | register). */
  | { readonly kind: 'invalid' }
  | { readonly kind: 'exception'; readonly exception: GuestException }
  | { readonly kind: 'exit'; readonly exit: TdExitRequest };

export interface AccessRequest {
  readonly gpa: bigint;
  readonly length: number;
  readonly write: boolean;
  /** A guest instruction fetch (the vCPU's first fetch of its boot page). */
  readonly fetch?: boolean;
  readonly origin: AccessOrigin;
  /** Module origin: the leaf accepts only a private GPA (e.g. TDG.MR.RTMR.EXTEND). */
  readonly privateOnly?: boolean;
}

type PageResult = { readonly ok: true; readonly pa: bigint; readonly keyId: number } | { readonly ok: false; readonly cause: EptViolationCause };

/**
 * Translate every page of an access, stopping at the first failure (a split access completes
 * only if both pages are reachable, as on the CPU). Nothing is read or written here.
 */
export function translateAccess(module: TdxModule, vcpu: Vcpu, req: AccessRequest): GuestAccess {
  const td = vcpu.td;
  const shared = td.sharedBit;
  const width = BigInt(Math.min(td.gpaw, module.platform.maxPa));
  const pieces: AccessPiece[] = [];
  let done = 0;
  while (done < req.length) {
    const gpa = req.gpa + BigInt(done);
    const inPage = Math.min(req.length - done, PAGE_BYTES - Number(gpa % BigInt(PAGE_BYTES)));
    let page: PageResult;
    if (gpa >> width !== 0n) {
      if (req.origin === 'module') return { kind: 'invalid' };
      page = { ok: false, cause: 'reserved_gpa_bits' };
    } else if ((gpa & shared) !== 0n) {
      if (req.privateOnly) return { kind: 'invalid' };
      page = translateShared(module, vcpu, gpa);
    } else {
      page = translatePrivate(td, gpa);
    }
    if (!page.ok) {
      const outcome = handleEptViolation(td, vcpu, {
        cause: page.cause,
        gpa,
        read: req.origin === 'module' || (!req.write && !req.fetch),
        write: req.write,
        fetch: req.fetch === true,
        gla: req.origin === 'cpu' ? gpa : undefined,
      });
      return outcome.kind === 'exit' ? outcome : { kind: 'exception', exception: outcome.exception };
    }
    pieces.push({ pa: page.pa, keyId: page.keyId, length: inPage });
    done += inPage;
  }
  return { kind: 'ok', pieces };
}

function translatePrivate(td: Td, gpa: bigint): PageResult {
  const t = td.sept?.translate(gpa);
  if (t?.kind === 'mapped') return { ok: true, pa: t.hpa, keyId: td.hkid };
  if (t?.kind === 'pending') return { ok: false, cause: 'private_pending' };
  return { ok: false, cause: 'private_not_present' };
}

function translateShared(module: TdxModule, vcpu: Vcpu, gpa: bigint): PageResult {
  const eptp = vcpu.sharedEptp;
  const table = eptp === NULL_PA ? undefined : module.platform.sharedEptAt(eptp);
  const entry = table?.lookup(gpa);
  if (!entry) return { ok: false, cause: 'shared_not_mapped' };
  if (entry.kind === 'mmio') return { ok: false, cause: 'shared_mmio' };
  return { ok: true, pa: SharedEpt.translate(entry, gpa), keyId: KEYID_NONE };
}

/**
 * Read the bytes of a translated access. Physical addresses with no memory behind them (a host
 * that mapped a shared GPA to a hole) read as all ones, as unbacked addresses do on real machines.
 */
export function readPieces(module: TdxModule, pieces: readonly AccessPiece[]): Uint8Array {
  const memory = module.platform.memory;
  const total = pieces.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of pieces) {
    if (memory.contains(p.pa, p.length)) out.set(memory.read(p.pa, p.length, p.keyId), at);
    else out.fill(0xff, at, at + p.length);
    at += p.length;
  }
  return out;
}

/** Write the bytes of a translated access; writes to unbacked addresses are dropped. */
export function writePieces(module: TdxModule, pieces: readonly AccessPiece[], data: Uint8Array): void {
  const memory = module.platform.memory;
  let at = 0;
  for (const p of pieces) {
    if (memory.contains(p.pa, p.length)) memory.write(p.pa, data.subarray(at, at + p.length), p.keyId);
    at += p.length;
  }
}

export type OperandAccess =
  | { readonly kind: 'ok'; readonly pieces: readonly AccessPiece[] }
  /** The TDCALL ends here with this outcome (a status, an injected exception or a TD exit). */
  | { readonly kind: 'stop'; readonly outcome: TdcallOutcome };

/**
 * Translate a TDCALL memory operand (`check_walk_and_map_guest_side_gpa`): an invalid GPA is
 * OPERAND_INVALID with the operand's register; an EPT violation becomes the leaf's outcome — a
 * #VE (or #DF) injected in place of completing the TDCALL, or a TD exit after which the TDCALL
 * runs again.
 */
export function translateOperand(
  module: TdxModule,
  vcpu: Vcpu,
  req: Omit<AccessRequest, 'origin'>,
  operand: number,
): OperandAccess {
  const access = translateAccess(module, vcpu, { ...req, origin: 'module' });
  switch (access.kind) {
    case 'ok':
      return access;
    case 'invalid':
      return { kind: 'stop', outcome: { kind: 'status', status: withOperand(TdxStatus.TDX_OPERAND_INVALID, operand) } };
    case 'exception':
      return { kind: 'stop', outcome: { kind: 'inject', vector: access.exception.vector, ...(access.exception.errorCode !== undefined && { errorCode: access.exception.errorCode }) } };
    case 'exit':
      return { kind: 'stop', outcome: { kind: 'exit', exit: access.exit } };
  }
}
