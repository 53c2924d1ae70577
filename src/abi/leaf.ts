/**
 * How a leaf is described as data, and the register accessors built from that description.
 *
 * A leaf lists its input and output operands: which GPR carries each one, its name, and (for a
 * packed operand) its bitfield layout. Code that issues or handles a leaf reads and writes operands
 * by name through `readOperands` / `writeOperands`, so the table is the only place that knows which
 * register holds what.
 */
import type { Bitfield } from './bitfield.ts';
import { Gpr, type GprName, type RegisterFile } from './registers.ts';

export interface RegOperand<N extends string = string> {
  /** Register that carries the operand. */
  readonly reg: GprName;
  /** camelCase name used by the typed helpers (`tdr`, `gpaLevel`, `fieldId`). */
  readonly name: N;
  /** One line: what it is and what the module requires of it. */
  readonly doc: string;
  /** Bitfield layout for packed operands. */
  readonly layout?: Bitfield;
}

export type LeafKind = 'seamcall' | 'tdcall';

export interface LeafDef<
  I extends readonly RegOperand[] = readonly RegOperand[],
  O extends readonly RegOperand[] = readonly RegOperand[],
> {
  readonly kind: LeafKind;
  /** Spec mnemonic, e.g. `TDH.MEM.PAGE.ADD`. */
  readonly mnemonic: string;
  /** Leaf number (RAX bits 15:0). */
  readonly number: number;
  /** Highest accepted version (RAX bits 23:16); most leaves accept only 0. */
  readonly maxVersion: number;
  /** One line: what the leaf does. */
  readonly purpose: string;
  /** Whether tdxsim models this leaf (a leaf it does not model returns OPERAND_INVALID|RAX). */
  readonly implemented: boolean;
  readonly inputs: I;
  readonly outputs: O;
  /** Extra notes: version differences, outputs on error. */
  readonly notes?: string;
}

export type OperandValues<T extends readonly RegOperand[]> = { [K in T[number]['name']]: bigint };

/** Define a leaf; `const` inference keeps operand names as literal types for typed helpers. */
export function defineLeaf<const I extends readonly RegOperand[], const O extends readonly RegOperand[]>(
  def: LeafDef<I, O>,
): LeafDef<I, O> {
  return Object.freeze(def);
}

/**
 * An operand list prepared for the accessors below, once per list: the names, their GPR indices,
 * and a template object with every name (so results are cloned with their final shape instead of
 * growing one property at a time — every SEAMCALL and TDCALL reads and writes operands).
 */
interface OperandPlan {
  readonly names: readonly string[];
  readonly regs: readonly number[];
  readonly template: Readonly<Record<string, bigint>>;
}

const PLANS = new WeakMap<readonly RegOperand[], OperandPlan>();

function planOf(operands: readonly RegOperand[]): OperandPlan {
  let plan = PLANS.get(operands);
  if (!plan) {
    const template: Record<string, bigint> = {};
    for (const op of operands) template[op.name] = 0n;
    plan = { names: operands.map((op) => op.name), regs: operands.map((op) => Gpr[op.reg]), template };
    PLANS.set(operands, plan);
  }
  return plan;
}

/** Read the named operands of a leaf out of a register file. */
export function readOperands<T extends readonly RegOperand[]>(operands: T, regs: RegisterFile): OperandValues<T> {
  const plan = planOf(operands);
  const out: Record<string, bigint> = { ...plan.template };
  for (let i = 0; i < plan.names.length; i++) out[plan.names[i]!] = regs.gpr[plan.regs[i]!]!;
  return out as OperandValues<T>;
}

/** Write named operands into a register file; operands not given are left untouched. */
export function writeOperands<T extends readonly RegOperand[]>(
  operands: T,
  regs: RegisterFile,
  values: Partial<OperandValues<T>>,
): void {
  const plan = planOf(operands);
  const v = values as Record<string, bigint | undefined>;
  for (let i = 0; i < plan.names.length; i++) {
    const x = v[plan.names[i]!];
    if (x !== undefined) regs.gpr[plan.regs[i]!] = x;
  }
}

/** The register that carries a named operand. */
export function operandReg<T extends readonly RegOperand[]>(operands: T, name: T[number]['name']): GprName {
  const op = operands.find((o) => o.name === name);
  if (!op) throw new Error(`no operand ${name}`);
  return op.reg;
}
