/**
 * The SEAM interface of the CPU: what a loaded TDX module implements, and the SEAMCALL
 * instruction's own checks before the module runs.
 *
 * The platform knows nothing of TDX leaves: it checks the processor mode, hands the register file
 * to the module loaded in the SEAM range, and the module writes RAX and its outputs in place.
 * Registers the module does not write keep the caller's values — exactly the module's own rule
 * (it reloads all 16 GPRs from its saved copy before SEAMRET), so preservation is structural.
 */
import type { RegisterFile } from '../abi/registers.ts';
import type { LogicalProcessor } from './processor.ts';

/** What the platform needs from a TDX module loaded into the SEAM range. */
export interface SeamModule {
  /**
   * Handle one SEAMCALL from `lp`. Must never throw: every outcome, including bad operands, is a
   * completion status in RAX and outputs in the registers the leaf writes.
   */
  seamcall(lp: LogicalProcessor, regs: RegisterFile): void;
  /** False once the module is shut down; SEAMCALL then fails with VMfailInvalid until a reload. */
  readonly loaded: boolean;
}
