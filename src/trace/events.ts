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
  /** Flow links: an event that starts a chain (a TDVMCALL) and those that continue it. */
  readonly flowOut?: number;
  readonly flowIn?: number;
  /** Kind-specific extras (page: gpa, from, to; measure: register, digest). */
  readonly data?: Readonly<Record<string, string | number | boolean>>;
}
