/**
 * The two pluggable parties of the conformance suite, and how a user module supplies one.
 *
 * HOST — the exit handlers a VMM runs when a TD exits with TDG.VP.VMCALL. The interface is the
 * one the built-in KVM-shaped host implements (src/host/exits.ts, exit-action.ts): a handler
 * gets an `ExitContext` — the exit registers (TDH.VP.ENTER's outputs; whatever the handler leaves
 * in them is what the next TDH.VP.ENTER passes back, and the module copies the guest-selected
 * GPRs into the guest), the raw TDH.VP.ENTER status, and the built-in vCPU the TD runs on — and
 * returns an `ExitAction`: resume the guest, halt it, hand an exit record to VMM userspace (with
 * a `complete` callback that applies userspace's reply), or kill the VM. Everything else a
 * host does (building the TD, EPT violations, interrupts) stays with the built-in host, so the
 * host cases judge exactly the TDVMCALL handling.
 *
 * GUEST — the guest-kernel library a TD runs: one wrapper per GHCI sub-function, the #VE
 * handler, memory accept and private↔shared conversion, and the attestation calls. The shapes
 * are those of the built-in library (src/guest/ghci.ts, ve.ts, memory.ts, attestation.ts), with
 * one difference: attestation takes an `AttestationEnv` (the vCPU, the shared bit, and a range
 * of accepted private memory to use for buffers) rather than the built-in `GuestKernel`, so a
 * library does not need the built-in kernel object.
 *
 * A user module (`tdxsim conformance --host ./my-handlers.js`) exports, as `default` or under the
 * name `host` (or `guest`), either the party object itself or a factory that receives the
 * built-in party and returns one — so a handler can override one sub-function and delegate the
 * rest (examples/conformance/broken-handlers.js).
 */
import type { ExitAction, ExitContext } from '../host/exit-action.ts';
import type { GuestCpu, GuestGen } from '../platform/guest-cpu.ts';
import type { GhciResult } from '../guest/ghci.ts';
import type { VeEnv } from '../guest/ve.ts';
import type { MemoryEnv, MemoryResult } from '../guest/memory.ts';
import type { AttestationResult } from '../guest/attestation.ts';

export type { ExitAction, ExitContext } from '../host/exit-action.ts';

/** The host party: what a VMM does with a TDG.VP.VMCALL exit. */
export interface ConformanceHost {
  /** Shown in reports. */
  readonly name: string;
  /**
   * Handle one TDVMCALL exit (RAX = TDX_SUCCESS | exit reason TDCALL). Must not throw: anything
   * the guest put in the registers is untrusted input and gets a TDVMCALL status.
   */
  handleTdvmcall(ctx: ExitContext): ExitAction;
}

type Regs4 = Record<'eax' | 'ebx' | 'ecx' | 'edx', bigint>;
type Empty = Record<never, bigint>;

/** One wrapper per GHCI sub-function (the signatures of src/guest/ghci.ts). */
export interface GhciLibrary {
  cpuid(cpu: GuestCpu, leaf: number, subleaf: number): GuestGen<GhciResult<Regs4>>;
  hlt(cpu: GuestCpu, interruptBlocked: boolean): GuestGen<GhciResult<Empty>>;
  ioRead(cpu: GuestCpu, port: number, size: 1 | 2 | 4): GuestGen<GhciResult<Record<'data', bigint>>>;
  ioWrite(cpu: GuestCpu, port: number, size: 1 | 2 | 4, data: bigint): GuestGen<GhciResult<Empty>>;
  rdmsr(cpu: GuestCpu, msr: number): GuestGen<GhciResult<Record<'value', bigint>>>;
  wrmsr(cpu: GuestCpu, msr: number, value: bigint): GuestGen<GhciResult<Empty>>;
  mmioRead(cpu: GuestCpu, gpa: bigint, size: 1 | 2 | 4 | 8): GuestGen<GhciResult<Record<'data', bigint>>>;
  mmioWrite(cpu: GuestCpu, gpa: bigint, size: 1 | 2 | 4 | 8, data: bigint): GuestGen<GhciResult<Empty>>;
  getTdVmCallInfo(cpu: GuestCpu, leaf: bigint): GuestGen<GhciResult<Record<'r11' | 'r12' | 'r13' | 'r14', bigint>>>;
  mapGpa(cpu: GuestCpu, gpa: bigint, size: bigint): GuestGen<GhciResult<Empty>>;
  getQuote(cpu: GuestCpu, sharedGpa: bigint, size: bigint): GuestGen<GhciResult<Empty>>;
  reportFatalError(cpu: GuestCpu, message: string, errorCode?: bigint): GuestGen<GhciResult<Empty>>;
  setupEventNotifyInterrupt(cpu: GuestCpu, vector: number): GuestGen<GhciResult<Empty>>;
}

/** What attestation calls need: the vCPU, the shared bit, and accepted private scratch memory. */
export interface AttestationEnv {
  readonly cpu: GuestCpu;
  readonly sharedBit: bigint;
  /** Accepted private memory (4K-aligned) the library may use for its buffers. */
  readonly scratch: { readonly gpa: bigint; readonly size: bigint };
}

/** The guest party: the TD guest-kernel library. */
export interface ConformanceGuest {
  readonly name: string;
  readonly ghci: GhciLibrary;
  /** Put the #VE handler into the vCPU's IDT. */
  installVeHandler(cpu: GuestCpu, env: VeEnv): void;
  acceptMemory(env: MemoryEnv, gpa: bigint, size: bigint): GuestGen<MemoryResult>;
  setMemoryShared(env: MemoryEnv, gpa: bigint, size: bigint): GuestGen<MemoryResult>;
  setMemoryPrivate(env: MemoryEnv, gpa: bigint, size: bigint): GuestGen<MemoryResult>;
  /** TDREPORT_STRUCT for 64 bytes of REPORTDATA (TDG.MR.REPORT). */
  getReport(env: AttestationEnv, reportData: Uint8Array): GuestGen<AttestationResult<{ report: Uint8Array }>>;
  /** Extend RTMR `index` with 48 bytes (TDG.MR.RTMR.EXTEND). */
  extendRtmr(env: AttestationEnv, index: number, data48: Uint8Array): GuestGen<AttestationResult<Empty>>;
  /** A quote for a TDREPORT through the GetQuote protocol. */
  getQuote(env: AttestationEnv, report: Uint8Array): GuestGen<AttestationResult<{ quote: Uint8Array }>>;
}

/** What every case runs against. */
export interface CaseContext {
  readonly host: ConformanceHost;
  readonly guest: ConformanceGuest;
}
