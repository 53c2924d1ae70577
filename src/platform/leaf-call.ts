/**
 * The host-facing typed SEAMCALL API, built from the leaf tables.
 *
 * `callLeaf(lp, SeamcallLeaf.TDH_MNG_CREATE, { tdr, hkid })` puts the leaf word in RAX and each
 * named input in the register the leaf table assigns to it, executes SEAMCALL on `lp`, and returns
 * the completion status with the leaf's outputs read back by name. `seamcalls(lp)` offers the same
 * as one method per leaf, generated from SeamcallLeaf (`tdh.MNG_CREATE({ tdr, hkid })`), so no
 * leaf has hand-written calling code and the table stays the only place that knows registers.
 *
 * Every leaf of the table gets a method; one the module does not model returns the module's own
 * answer for it (OPERAND_INVALID|RAX), as a real module does for numbers it does not dispatch.
 */
import { RegisterFile, Gpr } from '../abi/registers.ts';
import { LEAF_WORD } from '../abi/operands.ts';
import { readOperands, writeOperands, type LeafDef, type OperandValues } from '../abi/leaf.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { TdxStatus } from '../abi/status.ts';
import type { LogicalProcessor } from './processor.ts';

export interface LeafCallOptions {
  /** Leaf version (RAX bits 23:16). Default 0. */
  readonly version?: number;
  /**
   * Register file to start from (e.g. to check that registers a leaf does not write survive).
   * It is copied; the caller's object is not modified. Default: all registers 0.
   */
  readonly regs?: RegisterFile;
  /**
   * Execute in this register file instead: it is both the starting registers and where the
   * results land, with no copy — for a caller that owns a register file across calls, as KVM
   * owns a vCPU's `vp_enter_args`. Takes precedence over `regs`.
   */
  readonly into?: RegisterFile;
}

export interface LeafCallResult<L extends LeafDef> {
  /** RAX after SEAMCALL: the completion status (or a software code if SEAMCALL itself failed). */
  readonly status: bigint;
  /** True only for TDX_SUCCESS (warnings such as TDX_KEY_CONFIGURED are not `ok`). */
  readonly ok: boolean;
  /** The leaf's output operands, by name, as the registers hold them after the call. */
  readonly outputs: OperandValues<L['outputs']>;
  /** The whole register file after the call. */
  readonly regs: RegisterFile;
}

/** Issue one SEAMCALL leaf on `lp` with named inputs. Never throws for any operand values. */
export function callLeaf<L extends LeafDef>(
  lp: LogicalProcessor,
  leaf: L,
  inputs: Partial<OperandValues<L['inputs']>> = {},
  options: LeafCallOptions = {},
): LeafCallResult<L> {
  const regs = options.into ?? (options.regs ? options.regs.clone() : new RegisterFile());
  regs.gpr[Gpr.RAX] = leafWord(leaf, options.version ?? 0);
  writeOperands(leaf.inputs, regs, inputs);
  lp.seamcall(regs);
  const status = regs.gpr[Gpr.RAX]!;
  return {
    status,
    ok: status === TdxStatus.TDX_SUCCESS,
    outputs: readOperands(leaf.outputs as L['outputs'], regs),
    regs,
  };
}

/** Leaf words by leaf and version, encoded once (LEAF_WORD) rather than at every call. */
const leafWords = new WeakMap<LeafDef, bigint[]>();

function leafWord(leaf: LeafDef, version: number): bigint {
  let words = leafWords.get(leaf);
  if (!words) leafWords.set(leaf, (words = []));
  return (words[version] ??= LEAF_WORD.encode({ leaf: leaf.number, version }));
}

type SeamcallTable = typeof SeamcallLeaf;
/** `TDH_MNG_CREATE` → `MNG_CREATE`. */
type MethodName<K> = K extends `TDH_${infer R}` ? R : never;

/** One typed method per SEAMCALL leaf. */
export type Seamcalls = {
  readonly [K in keyof SeamcallTable as MethodName<K>]: (
    inputs?: Partial<OperandValues<SeamcallTable[K]['inputs']>>,
    options?: LeafCallOptions,
  ) => LeafCallResult<SeamcallTable[K]>;
};

/** The typed SEAMCALL methods bound to one logical processor. */
export function seamcalls(lp: LogicalProcessor): Seamcalls {
  const out: Record<string, unknown> = {};
  for (const [name, leaf] of Object.entries(SeamcallLeaf) as [string, LeafDef][]) {
    out[name.replace(/^TDH_/, '')] = (inputs?: Partial<Record<string, bigint>>, options?: LeafCallOptions) =>
      callLeaf(lp, leaf, inputs as Partial<OperandValues<LeafDef['inputs']>>, options);
  }
  return Object.freeze(out) as Seamcalls;
}
