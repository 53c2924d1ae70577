/**
 * A TD vCPU as the module keeps it: the TDVPS (TDVPR page plus its TDCX pages) with the vCPU's
 * state machine, LP association, VE_INFO, and the guest CPU whose registers are the TD's own.
 *
 * The guest's architectural state (GPRs, RIP, interrupt flag) lives in `cpu`; the program it runs
 * is `program`, a suspended generator that TDH.VP.ENTER resumes and a TD exit suspends. Source:
 * TDX module 1.5 `tdx_tdvps.h`; facts tdx-module.md §4.5, §6.
 */
import { LastTdExit, VcpuState, type LastTdExitValue, type VcpuStateValue } from '../abi/lifecycle.ts';
import { GuestCpu, type GuestGen, type GuestOp, type OpResult } from '../platform/guest-cpu.ts';
import { NULL_PA, POSTED_INTR_NV_INIT } from '../abi/vmx.ts';
import type { Td } from './td.ts';

/** The #VE information the module fills when it injects a #VE (TDVPS page 0). */
export interface VeInfo {
  valid: boolean;
  exitReason: number;
  exitQualification: bigint;
  gla: bigint;
  gpa: bigint;
  eptpIndex: number;
  instructionLength: number;
  instructionInfo: number;
}

export function emptyVeInfo(): VeInfo {
  return { valid: false, exitReason: 0, exitQualification: 0n, gla: 0n, gpa: 0n, eptpIndex: 0, instructionLength: 0, instructionInfo: 0 };
}

export class Vcpu {
  state: VcpuStateValue = VcpuState.VCPU_UNINITIALIZED;
  /** TDCX pages added by TDH.VP.ADDCX (the TDVPR itself is page 0 of the TDVPS). */
  readonly tdcx: bigint[] = [];
  /** VCPU_INDEX, assigned by TDH.VP.INIT; -1 before. */
  index = -1;
  /** Logical processor the vCPU is associated with, or -1. */
  assocLp = -1;
  lastTdExit: LastTdExitValue = LastTdExit.ASYNC_FAULT;
  /** TD epoch sampled at the last TDH.VP.ENTER (VCPU_EPOCH). */
  epoch = 0n;
  /** x2APIC ID given to TDH.VP.INIT version 1. */
  x2apicId = 0n;
  /** The guest CPU: its registers are the TDVPS guest GPR state. */
  readonly cpu = new GuestCpu();
  /** The guest program, suspended at its last trapping instruction; undefined before boot. */
  program: GuestGen<void> | undefined;
  /** The result to resume the program with at the next entry. */
  resumeWith: OpResult | undefined;
  /**
   * The instruction the vCPU was executing when a fault-like TD exit (or a preemption before it
   * ran) took it out of the TD: the guest RIP still points at it, so the next TDH.VP.ENTER
   * executes it again instead of resuming the program.
   */
  pendingOp: GuestOp | undefined;
  /** Values of the MSRs the module virtualises (src/abi/msr.ts), once the guest wrote them. */
  readonly msrs = new Map<number, bigint>();
  /**
   * What ended the guest program if it threw instead of yielding (a bug in the guest code): the
   * vCPU then triple-faults, and this keeps the error for whoever debugs the guest.
   */
  guestError: unknown;
  /**
   * The GPR/XMM select masks (16-bit fields of the control word) of the TDVMCALL the vCPU exited
   * with, kept as numbers: the exit image and the resume both test them bit by bit.
   */
  tdvmcallGprMask = 0;
  tdvmcallXmmMask = 0;
  veInfo: VeInfo = emptyVeInfo();
  /** TDG.VP.CPUIDVE.SET flags: #VE on every CPUID at CPL 0 / CPL > 0. */
  cpuidVeSupervisor = false;
  cpuidVeUser = false;
  /** Guest asked to halt (HLT TDVMCALL) and has not been woken. */
  halted = false;
  /** NMI requested by the host through TDVPS PEND_NMI. */
  pendingNmi = false;
  /** Virtual interrupts posted by the host and not yet delivered. */
  readonly pendingInterrupts: number[] = [];
  /**
   * TD VMCS SHARED_EPTP: the root of the host's shared EPT, which the host registers with
   * TDH.VP.WR (bits 51:12 only). NULL_PA (all ones) until it does.
   */
  sharedEptp = NULL_PA;
  /** TD VMCS POSTED_INTR_NV (TDH.VP.WR); POSTED_INTR_NV_INIT (an illegal vector) until written. */
  postedIntrNv = POSTED_INTR_NV_INIT;
  /** TD VMCS POSTED_INTR_DESC_ADDR: the host's 64-byte posted-interrupt descriptor; NULL_PA until written. */
  postedIntrDescAddr = NULL_PA;
  /** TD VMCS pin-based control "process posted interrupts" (bit 7), set by the host with TDH.VP.WR. */
  postedInterrupts = false;

  constructor(
    /** TDVPR physical address: the vCPU's identity in every SEAMCALL. */
    readonly tdvpr: bigint,
    readonly td: Td,
  ) {}

  /** The select masks as bigints (the control word's fields). */
  get tdvmcallGprSelect(): bigint {
    return BigInt(this.tdvmcallGprMask);
  }
  set tdvmcallGprSelect(v: bigint) {
    this.tdvmcallGprMask = Number(v);
  }
  get tdvmcallXmmSelect(): bigint {
    return BigInt(this.tdvmcallXmmMask);
  }
  set tdvmcallXmmSelect(v: bigint) {
    this.tdvmcallXmmMask = Number(v);
  }

  get tdvprPfn(): bigint {
    return this.tdvpr >> 12n;
  }
}
