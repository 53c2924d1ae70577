/**
 * TD exits: what the module leaves in the host's registers and state when TDH.VP.ENTER returns,
 * and what it records in the vCPU for the next entry. This file is the only place that knows the
 * register image of each exit kind.
 *
 * Two kinds (facts tdx-module.md §6.3; TDX module 1.5 `tdg_vp_vmcall.c`, `td_exit.c`):
 *
 *   TDG.VP.VMCALL (trap-like, synchronous): RAX = exit reason TDCALL (77) with status SUCCESS;
 *   RCX = the guest's control word with the VM index in bits 33:32; each of RDX..R15 the guest
 *   selected carries the guest's value and every other one is zeroed — except RBP, which the
 *   module does not touch when the TD has CONFIG_FLAGS.NO_RBP_MOD — and RSP is never written;
 *   XMM i is the guest's if selected, else 0. The vCPU becomes READY, LAST_TD_EXIT = TDVMCALL.
 *
 *   Asynchronous: RAX = status | 32-bit exit reason; RCX = exit qualification (VM index in bits
 *   33:32); RDX = extended exit qualification; R8 = GPA; R9 = interruption information; R10–R15,
 *   RBX, RSI, RDI and RBP are zeroed (RBP unconditionally in 1.5.01; later modules keep it under
 *   NO_RBP_MOD); XMMs are zeroed. Then, by status: SUCCESS / CROSS_TD_FAULT → READY, ASYNC_FAULT;
 *   HOST_PRIORITY_BUSY_TIMEOUT / CROSS_TD_TRAP → READY, ASYNC_TRAP; NON_RECOVERABLE_VCPU → the
 *   vCPU is DISABLED for good; NON_RECOVERABLE_TD* → the fatal bit is forced into RAX and the TD
 *   is marked FATAL, while the vCPU's state is left as it was (`async_tdexit_internal`: the TD is
 *   dead, nothing will enter it again).
 *
 * On every exit the host's extended state covered by the TD's XFAM (and SSE) is reset to its INIT
 * state (`initialize_extended_state`): the guest's AVX/AVX-512/AMX registers must not leak to the
 * host, and a host that keeps live vector state across TDH.VP.ENTER without saving it loses it.
 * The vCPU leaves its TLB epoch, and the locks TDH.VP.ENTER held are released by its caller.
 */
import { Gpr, GPR_COUNT, XMM_COUNT, type RegisterFile } from '../abi/registers.ts';
import { HI32, LO32 } from '../abi/u64.ts';
import { putHalfField } from '../abi/bitfield.ts';
import { TDVMCALL_EXIT_RCX, EPT_VIOLATION_EXIT_QUAL } from '../abi/operands.ts';
import { LastTdExit, VcpuState } from '../abi/lifecycle.ts';
import { STATUS_DETAILS_MASK, STATUS_LAYOUT, TdxStatus, statusCode } from '../abi/status.ts';
import { VmxExitReason } from '../abi/vmx.ts';
import { ConfigFlagsBit, XfamBit } from '../abi/td-config.ts';
import type { LogicalProcessor } from '../platform/processor.ts';
import type { TdExitRequest } from './context.ts';
import type { Td } from './td.ts';
import type { Vcpu } from './vcpu.ts';
import { exitEpoch } from './tlb.ts';

/** The L1 VM index: the only VM tdxsim runs (TD partitioning is not modelled). */
const VM_L1 = 0n;

/**
 * TDVMCALL exit RCX fields, looked up once: this image is built at every TDG.VP.VMCALL, as two
 * 32-bit halves (abi/u64.ts) from the masks the vCPU keeps as numbers.
 */
const EXIT_GPR_SELECT = TDVMCALL_EXIT_RCX.half('gpr_select');
const EXIT_XMM_SELECT = TDVMCALL_EXIT_RCX.half('xmm_select');
const EXIT_VM = TDVMCALL_EXIT_RCX.half('vm');
/** The exit status of a TDG.VP.VMCALL exit: TDX_SUCCESS with exit reason TDCALL. */
const TDVMCALL_EXIT_STATUS = TdxStatus.TDX_SUCCESS | BigInt(VmxExitReason.TDCALL);
const NO_RBP_MOD = 1n << BigInt(ConfigFlagsBit.NO_RBP_MOD);
/** The registers an asynchronous exit zeroes (R10–R15, RBX, RBP, RSI, RDI). */
const ASYNC_ZEROED: readonly number[] = [Gpr.R10, Gpr.R11, Gpr.R12, Gpr.R13, Gpr.R14, Gpr.R15, Gpr.RBX, Gpr.RBP, Gpr.RSI, Gpr.RDI];

/** Where a TD exit happens: the host's registers and LP, and the vCPU leaving. */
export interface TdExitSite {
  readonly lp: LogicalProcessor;
  /** The host's register file of the TDH.VP.ENTER SEAMCALL (GPRs and XMM0–15). */
  readonly regs: RegisterFile;
  readonly vcpu: Vcpu;
  readonly td: Td;
}

/**
 * Perform a TD exit: update the vCPU and TD, build the host register image and reset the host's
 * extended state. Returns the value for RAX.
 */
export function completeTdExit(site: TdExitSite, exit: TdExitRequest): bigint {
  const rax = exit.kind === 'tdvmcall' ? tdvmcallExit(site) : asyncExit(site, exit);
  exitEpoch(site.td, site.vcpu);
  return rax;
}

/** TDG.VP.VMCALL exit (`tdg_vp_vmcall`, `copy_gprs_data_from_td_to_vmm`). */
function tdvmcallExit(site: TdExitSite): bigint {
  const { regs, vcpu, td } = site;
  const guest = vcpu.cpu.regs;
  const keepRbp = hasNoRbpMod(td);
  const gprSelect = vcpu.tdvmcallGprMask;
  const xmmSelect = vcpu.tdvmcallXmmMask;
  // RCX: the control word's masks (checked against their 16-bit fields by TDG.VP.VMCALL) and the
  // VM index, written as halves; every field of TDVMCALL_EXIT_RCX is inside one half.
  const words = regs.gpr32;
  words[2 * Gpr.RCX + LO32] = 0;
  words[2 * Gpr.RCX + HI32] = 0;
  putHalfField(words, Gpr.RCX, EXIT_GPR_SELECT, gprSelect);
  putHalfField(words, Gpr.RCX, EXIT_XMM_SELECT, xmmSelect);
  putHalfField(words, Gpr.RCX, EXIT_VM, Number(VM_L1));
  for (let i: number = Gpr.RDX; i < GPR_COUNT; i++) {
    if (i === Gpr.RSP) continue; // RSP can never be selected and the host's is restored by the CPU
    if ((gprSelect >>> i) & 1) regs.gpr[i] = guest.gpr[i]!;
    else if (!(i === Gpr.RBP && keepRbp)) regs.gpr[i] = 0n;
  }
  resetHostExtendedState(site, xmmSelect);
  vcpu.state = VcpuState.VCPU_READY;
  vcpu.lastTdExit = LastTdExit.TDVMCALL;
  return TDVMCALL_EXIT_STATUS;
}

/** Asynchronous TD exit (`async_tdexit_internal`). */
function asyncExit(site: TdExitSite, exit: Extract<TdExitRequest, { kind: 'async' }>): bigint {
  const { regs, vcpu, td } = site;
  let status = statusCode(exit.status);
  const code = status;
  if (code === TdxStatus.TDX_SUCCESS || code === TdxStatus.TDX_CROSS_TD_FAULT) {
    vcpu.state = VcpuState.VCPU_READY;
    vcpu.lastTdExit = LastTdExit.ASYNC_FAULT;
  } else if (code === TdxStatus.TDX_HOST_PRIORITY_BUSY_TIMEOUT || code === TdxStatus.TDX_CROSS_TD_TRAP) {
    vcpu.state = VcpuState.VCPU_READY;
    vcpu.lastTdExit = LastTdExit.ASYNC_TRAP;
  } else if (code === TdxStatus.TDX_NON_RECOVERABLE_VCPU) {
    vcpu.state = VcpuState.VCPU_DISABLED;
  } else {
    // NON_RECOVERABLE_TD and its variants: the TD is dead; the vCPU state is left untouched.
    td.fatal = true;
    status = STATUS_LAYOUT.set(status, 'fatal', 1n);
  }
  const g = regs.gpr;
  g[Gpr.RCX] = EPT_VIOLATION_EXIT_QUAL.set(exit.exitQualification, 'vm', VM_L1);
  g[Gpr.RDX] = exit.extExitQualification;
  g[Gpr.R8] = exit.gpa;
  g[Gpr.R9] = exit.interruptionInfo;
  for (const r of ASYNC_ZEROED) g[r] = 0n;
  resetHostExtendedState(site, 0);
  return status | (BigInt(exit.exitReason) & STATUS_DETAILS_MASK);
}

/**
 * `initialize_extended_state(XFAM | SSE)` followed by loading the exposed XMMs: XMM i becomes
 * the guest's XMM i if bit i of `xmmSelect` is set, else 0; every other XSAVE component the TD's
 * XFAM covers (x87, upper YMM, AVX-512, AMX, …) returns to INIT on the host LP.
 */
function resetHostExtendedState(site: TdExitSite, select: number): void {
  const { regs, lp, vcpu, td } = site;
  if (select === 0) {
    regs.xmm.fill(0n);
  } else {
    for (let i = 0; i < XMM_COUNT; i++) {
      const expose = ((select >>> i) & 1) === 1;
      regs.xmm[2 * i] = expose ? vcpu.cpu.regs.xmm[2 * i]! : 0n;
      regs.xmm[2 * i + 1] = expose ? vcpu.cpu.regs.xmm[2 * i + 1]! : 0n;
    }
  }
  if (lp.xstate.size === 0) return; // every component already in its INIT state
  const scrub = td.xfam | (1n << BigInt(XfamBit.SSE));
  for (const component of [...lp.xstate.keys()]) {
    if ((scrub >> BigInt(component)) & 1n) lp.xstate.delete(component);
  }
}

/** CONFIG_FLAGS.NO_RBP_MOD: TDG.VP.VMCALL leaves RBP alone unless the guest exposes it. */
export function hasNoRbpMod(td: Td): boolean {
  return (td.configFlags & NO_RBP_MOD) !== 0n;
}
