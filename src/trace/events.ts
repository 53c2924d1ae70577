/**
 * Trace events: one record per crossing between the parties, with registers decoded.
 *
 * Every layer may emit these; exporters (JSON lines, Chrome Trace Event JSON for Perfetto) and the
 * web viewer read them. Registers are hex strings ("0x…", 16 digits) so the records are plain
 * JSON; `time` is simulated time in nanoseconds from the platform's virtual clock, so traces are
 * deterministic and replayable. The JSON-lines form is documented in docs/trace-format.md.
 */

/** Who acted: the four lanes of the viewer and of the Perfetto export. */
export type TraceParty = 'guest' | 'module' | 'host' | 'userspace';

export type TraceEventKind =
  /** A host SEAMCALL (TDH.*), from entry to the module's return. */
  | 'seamcall'
  /** A guest TDCALL (TDG.*) handled inside the module. */
  | 'tdcall'
  /** A TDG.VP.VMCALL seen by the host as a GHCI sub-function. */
  | 'tdvmcall'
  /** A virtualization exception injected into the guest. */
  | 've'
  /** TD exit: the module returns from TDH.VP.ENTER to the host. */
  | 'td_exit'
  /** TD entry: the module resumes the guest at TDH.VP.ENTER. */
  | 'td_entry'
  /**
   * The guest continues after a TDCALL that exited to the host (TDG.VP.VMCALL): the registers as
   * the guest sees them on return — RAX (the module's status) and R10 (the VMM's status) apart.
   */
  | 'resume'
  /** The host kernel returns an exit record to userspace (vcpu.run() returns). */
  | 'user_exit'
  /** Userspace supplies its answer (vcpu.complete()). */
  | 'user_complete'
  /** A private page changed state (added, pending, accepted, blocked, removed, shared). */
  | 'page'
  /** A measurement register was extended (MRTD block, RTMR extend, finalize). */
  | 'measure';

export interface TraceStatus {
  /** The 64-bit status as hex. */
  readonly value: string;
  /** Its name if known (TDX_OPERAND_INVALID, TDVMCALL_STATUS_RETRY …). */
  readonly name?: string;
  /** Operand or detail, decoded (e.g. "RCX", "level 2M"). */
  readonly detail?: string;
  readonly error: boolean;
  /**
   * Which code space the value belongs to: a TDX module completion status (RAX after SEAMCALL or
   * TDCALL, TDH.VP.ENTER's exit status) or a TDVMCALL status (R10: the VMM's answer). The two are
   * never mixed: a TDG.VP.VMCALL can fail in either independently.
   */
  readonly domain?: 'tdx' | 'tdvmcall';
  /** Not an error, but not plain success either (TDX_PAGE_ALREADY_ACCEPTED, TDVMCALL RETRY, …). */
  readonly warning?: boolean;
  /** What bits 31:0 carry when `detail` is set: operand, septLevel, msr, exitReason, … */
  readonly detailKind?: string;
  /** Flag bits that are set, by name: error, non-recoverable, fatal, host-recoverability-hint, software. */
  readonly flags?: readonly string[];
  /** One human line explaining the whole value (what `tdxsim decode` prints). */
  readonly text?: string;
}

export interface TraceEvent {
  /** Monotonic sequence number within a run. */
  readonly seq: number;
  /** Simulated time in nanoseconds at the start of the event. */
  readonly time: number;
  /** Simulated duration in nanoseconds (0 for instants). */
  readonly duration: number;
  readonly kind: TraceEventKind;
  readonly party: TraceParty;
  /** Leaf mnemonic, sub-function name, exit kind, … (e.g. "TDH.MEM.PAGE.AUG", "MapGPA"). */
  readonly name: string;
  /** Logical processor, TD (TDR PA as hex) and vCPU index, where they apply. */
  readonly lp?: number;
  readonly td?: string;
  readonly vcpu?: number;
  /** Input and output registers that the call defines, as hex strings by lower-case name. */
  readonly in?: Readonly<Record<string, string>>;
  readonly out?: Readonly<Record<string, string>>;
  /** Named operand fields, decoded from the registers through the ABI tables. */
  readonly fields?: Readonly<Record<string, string>>;
  readonly status?: TraceStatus;
  /**
   * The VMM's TDVMCALL status (R10) for TDG.VP.VMCALL: on the host's handling (`tdvmcall`) and on
   * the guest's `resume`. Kept apart from `status`, which is always a module status.
   */
  readonly vmmStatus?: TraceStatus;
  /**
   * Flow links: an event that starts a chain (a guest TDVMCALL, or an asynchronous TD exit) has
   * `flowOut` = the chain id (its own `seq`); each later event of the chain has `flowIn` = that id.
   * The chain's order is the order of `seq`.
   */
  readonly flowOut?: number;
  readonly flowIn?: number;
  /** Kind-specific extras (page: gpa, from, to; measure: register, digest). */
  readonly data?: Readonly<Record<string, string | number | boolean>>;
}

/** Every event kind, once each (the record makes the compiler check the list is complete). */
const KINDS: Readonly<Record<TraceEventKind, true>> = {
  seamcall: true,
  tdcall: true,
  tdvmcall: true,
  ve: true,
  td_exit: true,
  td_entry: true,
  resume: true,
  user_exit: true,
  user_complete: true,
  page: true,
  measure: true,
};
export const TRACE_EVENT_KINDS: readonly TraceEventKind[] = Object.freeze(Object.keys(KINDS) as TraceEventKind[]);

/** The four parties, in lane order (guest on the left, userspace on the right). */
export const TRACE_PARTIES: readonly TraceParty[] = Object.freeze(['guest', 'module', 'host', 'userspace'] as const);

/** Measurement registers a `measure` event names (data.register). */
export const TRACE_MEASURE_REGISTERS = Object.freeze(['MRTD', 'RTMR0', 'RTMR1', 'RTMR2', 'RTMR3'] as const);
export type TraceMeasureRegister = (typeof TRACE_MEASURE_REGISTERS)[number];

/**
 * What extended the register (data.op): an MRTD block of TDH.MEM.PAGE.ADD or TDH.MR.EXTEND, the
 * final MRTD at TDH.MR.FINALIZE, or a TDG.MR.RTMR.EXTEND (tdx-module.md §7).
 */
export const TRACE_MEASURE_OPS = Object.freeze(['MEM.PAGE.ADD', 'MR.EXTEND', 'MR.FINALIZE', 'RTMR.EXTEND'] as const);
export type TraceMeasureOp = (typeof TRACE_MEASURE_OPS)[number];
