/**
 * What a leaf handler receives, and what it returns.
 *
 * A SEAMCALL handler reads its operands from `regs` through the leaf table's accessors
 * (`readOperands(Leaf.inputs, regs)`), writes only the output registers the leaf defines, and
 * returns the completion status; the dispatcher puts it in RAX. Handlers perform their checks in
 * the order the module documents, each failing with the documented status and operand ID. A
 * handler must never throw: a thrown exception out of a SEAMCALL is a simulator bug.
 */
import type { RegisterFile } from '../abi/registers.ts';
import type { LogicalProcessor } from '../platform/processor.ts';
import type { TdxModule } from './module.ts';
import type { Vcpu } from './vcpu.ts';

export interface SeamcallContext {
  readonly module: TdxModule;
  readonly lp: LogicalProcessor;
  readonly regs: RegisterFile;
  /** Leaf version from RAX bits 23:16 (already checked against the leaf's maximum). */
  readonly version: number;
}

/** Returns the completion status for RAX. */
export type SeamcallHandler = (ctx: SeamcallContext) => bigint;

/** Handlers by SEAMCALL leaf number. */
export type SeamcallHandlerTable = Readonly<Record<number, SeamcallHandler>>;

export interface TdcallContext {
  readonly module: TdxModule;
  readonly vcpu: Vcpu;
  /** The guest's registers (vcpu.cpu.regs). */
  readonly regs: RegisterFile;
  readonly version: number;
}

/**
 * What a TDCALL leaf does to the guest:
 *   - `status`: it completed; RAX = status, RIP advances past TDCALL;
 *   - `exit`: it leaves the TD (TDG.VP.VMCALL, or an async exit such as an EPT violation during
 *     TDG.MEM.PAGE.ACCEPT); the runner performs the TD exit described by `exit`;
 *   - `inject`: it raises an exception in the guest (e.g. #GP) instead of completing.
 */
export type TdcallOutcome =
  | { readonly kind: 'status'; readonly status: bigint }
  | { readonly kind: 'exit'; readonly exit: TdExitRequest }
  | { readonly kind: 'inject'; readonly vector: number; readonly errorCode?: bigint };

/** A TD exit a TDCALL or guest instruction causes (see td-exit.ts for how it is built). */
export type TdExitRequest =
  | { readonly kind: 'tdvmcall' }
  | {
      readonly kind: 'async';
      /** Status in RAX bits 63:32 (TDX_SUCCESS or a NON_RECOVERABLE_* code). */
      readonly status: bigint;
      readonly exitReason: number;
      readonly exitQualification: bigint;
      readonly extExitQualification: bigint;
      readonly gpa: bigint;
      readonly interruptionInfo: bigint;
      /** Whether the faulting instruction re-executes at the next entry (RIP not advanced). */
      readonly retryInstruction: boolean;
    };

export type TdcallHandler = (ctx: TdcallContext) => TdcallOutcome;
export type TdcallHandlerTable = Readonly<Record<number, TdcallHandler>>;
