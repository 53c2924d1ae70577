/**
 * Virtualization exceptions (#VE) and the module's handling of EPT violations.
 *
 * #VE is how the TDX module hands the guest an event the guest must deal with itself (an
 * instruction the host has to emulate, an access to a page it has not accepted): the module
 * records what happened in VE_INFO (TDVPS page 0) and injects vector 20; the guest reads VE_INFO
 * with TDG.VP.VEINFO.GET, which also frees it. A second #VE before that read becomes #DF, so a
 * guest cannot lose the information of the first (`tdx_inject_ve`).
 *
 * An EPT violation is classified in the module's order (facts tdx-module.md §6.4,
 * `td_ept_violation.c`, `check_walk_and_map_guest_side_gpa`):
 *   1. a GPA with bits set above the TD's address width, reached through a linear address, is a
 *      reserved-bit #PF (what the guest's own paging would raise on a CPU as wide as the TD);
 *   2. a private GPA whose page is PENDING: #VE (exit reason 48), or — with TD_CTLS.
 *      PENDING_VE_DISABLE — a TD exit with extended exit qualification PENDING_EPT_VIOLATION, so
 *      a guest that touches memory it never accepted cannot be tricked into using host-chosen
 *      content;
 *   3. a shared GPA whose shared-EPT entry has suppress-#VE clear (host MMIO): the CPU delivers
 *      #VE directly (a convertible violation) unless VE_INFO is still in use, in which case it
 *      exits like any other violation;
 *   4. anything else (private not present or blocked, shared not mapped): an asynchronous TD exit
 *      TDX_SUCCESS | 48 so the host can map the page and resume; the guest retries the access.
 */
import { EPT_VIOLATION_EXIT_QUAL, EXT_EXIT_QUAL } from '../abi/operands.ts';
import { ExtExitQualType, Vector, VmxExitReason } from '../abi/vmx.ts';
import { PFEC } from '../abi/vmx-events.ts';
import { PAGE_MASK } from '../abi/pamt.ts';
import { TdCtlsBit } from '../abi/td-config.ts';
import { TdxStatus } from '../abi/status.ts';
import type { TdExitRequest } from './context.ts';
import type { Td } from './td.ts';
import type { Vcpu } from './vcpu.ts';

/** An exception the module makes the guest take instead of completing its instruction. */
export interface GuestException {
  readonly vector: number;
  readonly errorCode?: bigint;
}

/** What the module records in VE_INFO for one #VE. */
export interface VeInfoInput {
  readonly exitReason: number;
  readonly exitQualification: bigint;
  readonly gla?: bigint;
  readonly gpa?: bigint;
  readonly instructionLength?: number;
  readonly instructionInfo?: number;
}

/**
 * `tdx_inject_ve`: fill VE_INFO and raise #VE, or raise #DF(0) if the guest has not yet consumed
 * the previous #VE's information.
 */
export function injectVe(vcpu: Vcpu, info: VeInfoInput): GuestException {
  const ve = vcpu.veInfo;
  if (ve.valid) return { vector: Vector.DF, errorCode: 0n };
  ve.valid = true;
  ve.exitReason = info.exitReason;
  ve.exitQualification = info.exitQualification;
  ve.gla = info.gla ?? 0n;
  ve.gpa = info.gpa ?? 0n;
  ve.eptpIndex = 0;
  ve.instructionLength = info.instructionLength ?? 0;
  ve.instructionInfo = info.instructionInfo ?? 0;
  return { vector: Vector.VE };
}

/** Why an access to a GPA could not complete. */
export type EptViolationCause =
  /** The GPA has bits set above the TD's guest physical address width. */
  | 'reserved_gpa_bits'
  /** Private GPA, page PENDING (added by TDH.MEM.PAGE.AUG, not yet accepted). */
  | 'private_pending'
  /** Private GPA, no page mapped, or the mapping is blocked by the host. */
  | 'private_not_present'
  /** Shared GPA, the host's shared EPT marks the page as emulated MMIO (suppress-#VE clear). */
  | 'shared_mmio'
  /** Shared GPA, not mapped in the host's shared EPT (or no shared EPT at all). */
  | 'shared_not_mapped';

export interface EptViolation {
  readonly cause: EptViolationCause;
  readonly gpa: bigint;
  /** The access wanted to read / write the page, or fetch an instruction from it. */
  readonly read: boolean;
  readonly write: boolean;
  readonly fetch?: boolean;
  /**
   * The guest-linear address of the access, for accesses made by a guest instruction; undefined
   * for accesses the module makes on the guest's behalf (TDCALL operands), which have none.
   */
  readonly gla: bigint | undefined;
}

export type EptViolationOutcome =
  | { readonly kind: 'exception'; readonly exception: GuestException }
  | { readonly kind: 'exit'; readonly exit: TdExitRequest };

/**
 * The exit qualification of an EPT violation (Intel SDM Table 28-7): which access failed, and
 * the permissions of the translation — none here, as every violation the simulator raises is on
 * a non-present entry.
 */
export function eptViolationQualification(v: Pick<EptViolation, 'read' | 'write' | 'fetch' | 'gla'>): bigint {
  const viaGla = v.gla !== undefined ? 1 : 0;
  return EPT_VIOLATION_EXIT_QUAL.encode({
    data_read: v.read ? 1 : 0,
    data_write: v.write ? 1 : 0,
    insn_fetch: v.fetch ? 1 : 0,
    gla_valid: viaGla,
    gla_translation: viaGla,
  });
}

/** Exit-qualification bits 12:7 (GLA and NMI-unblocking details), hidden from the host. */
const QUAL_BITS_HIDDEN_FROM_HOST =
  EPT_VIOLATION_EXIT_QUAL.field('gla_valid').mask |
  EPT_VIOLATION_EXIT_QUAL.field('gla_translation').mask |
  EPT_VIOLATION_EXIT_QUAL.field('reserved0').mask |
  EPT_VIOLATION_EXIT_QUAL.field('nmi_unblocking').mask;

/**
 * `tdx_ept_violation_exit_to_vmm`: the asynchronous TD exit of an EPT violation. The host sees
 * the exit qualification without bits 12:7 and the GPA without its page offset — enough to map
 * the page, nothing about the guest's linear addresses. The access is retried at the next entry.
 */
export function eptViolationExit(gpa: bigint, qualification: bigint, eeqType: number): TdExitRequest {
  return {
    kind: 'async',
    status: TdxStatus.TDX_SUCCESS,
    exitReason: VmxExitReason.EPT_VIOLATION,
    exitQualification: qualification & ~QUAL_BITS_HIDDEN_FROM_HOST,
    extExitQualification: EXT_EXIT_QUAL.encode({ type: eeqType }),
    gpa: gpa & PAGE_MASK,
    interruptionInfo: 0n,
    retryInstruction: true,
  };
}

/** Classify an EPT violation (see the module comment) into a guest exception or a TD exit. */
export function handleEptViolation(td: Td, vcpu: Vcpu, v: EptViolation): EptViolationOutcome {
  const qualification = eptViolationQualification(v);
  const ve = (): EptViolationOutcome => ({
    kind: 'exception',
    exception: injectVe(vcpu, {
      exitReason: VmxExitReason.EPT_VIOLATION,
      exitQualification: qualification,
      gla: v.gla ?? 0n,
      gpa: v.gpa,
    }),
  });
  switch (v.cause) {
    case 'reserved_gpa_bits':
      return { kind: 'exception', exception: reservedBitPageFault(vcpu, v) };
    case 'private_pending':
      if (td.tdCtls & (1n << BigInt(TdCtlsBit.PENDING_VE_DISABLE))) {
        return { kind: 'exit', exit: eptViolationExit(v.gpa, qualification, ExtExitQualType.PENDING_EPT_VIOLATION) };
      }
      return ve();
    case 'shared_mmio':
      // A convertible violation is delivered as #VE only while VE_INFO is free; otherwise the CPU
      // exits and the module treats it as an ordinary shared-GPA violation (SDM Vol. 3C §26.5.7).
      if (!vcpu.veInfo.valid) return ve();
      return { kind: 'exit', exit: eptViolationExit(v.gpa, qualification, ExtExitQualType.NONE) };
    case 'private_not_present':
    case 'shared_not_mapped':
      return { kind: 'exit', exit: eptViolationExit(v.gpa, qualification, ExtExitQualType.NONE) };
  }
}

/**
 * The #PF(PFEC.RSVD) the module injects for a GPA beyond the TD's width: present, reserved bit,
 * write / user / instruction-fetch as the access was.
 */
function reservedBitPageFault(vcpu: Vcpu, v: EptViolation): GuestException {
  const userMode = vcpu.cpu.cpl === 3 ? 1 : 0;
  return {
    vector: Vector.PF,
    errorCode: PFEC.encode({ p: 1, wr: v.write ? 1 : 0, us: userMode, rsvd: 1, id: v.fetch ? 1 : 0 }),
  };
}
