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
 * An operand list compiled, once per list, into two accessors specialised to it: `read` returns
 * `{ name: gpr[reg], … }` as one object literal and `write` stores each given name into its
 * register. Every SEAMCALL and TDCALL reads and writes its operands; a generic loop over the
 * names makes each access a keyed lookup on an object of unknown shape (megamorphic in V8),
 * while the specialised functions load and store fixed properties. The generated code is exactly
 * what the comment in `compilePlan` shows, built from names the leaf tables define (checked to be
 * identifiers) and register indices.
 */
interface OperandPlan {
  readonly read: (gpr: BigUint64Array) => Record<string, bigint>;
  readonly write: (gpr: BigUint64Array, values: Readonly<Record<string, bigint | undefined>>) => void;
}

const PLANS = new WeakMap<readonly RegOperand[], OperandPlan>();
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function compilePlan(operands: readonly RegOperand[]): OperandPlan {
  for (const op of operands) {
    if (!IDENTIFIER.test(op.name)) throw new Error(`operand name ${JSON.stringify(op.name)} is not an identifier`);
  }
  // read:  (g) => ({ tdr: g[1], fieldId: g[2] })
  // write: (g, v) => { let x; if ((x = v.tdr) !== undefined) g[1] = x; … }
  const read = `return { ${operands.map((op) => `${op.name}: g[${Gpr[op.reg]}]`).join(', ')} };`;
  const write = `let x;\n${operands.map((op) => `if ((x = v.${op.name}) !== undefined) g[${Gpr[op.reg]}] = x;`).join('\n')}`;
  return {
    read: new Function('g', read) as OperandPlan['read'],
    write: new Function('g', 'v', write) as OperandPlan['write'],
  };
}

function planOf(operands: readonly RegOperand[]): OperandPlan {
  let plan = PLANS.get(operands);
  if (!plan) {
    plan = compilePlan(operands);
    PLANS.set(operands, plan);
  }
  return plan;
}

/** Read the named operands of a leaf out of a register file. */
export function readOperands<T extends readonly RegOperand[]>(operands: T, regs: RegisterFile): OperandValues<T> {
  return planOf(operands).read(regs.gpr) as OperandValues<T>;
}

/** Write named operands into a register file; operands not given are left untouched. */
export function writeOperands<T extends readonly RegOperand[]>(
  operands: T,
  regs: RegisterFile,
  values: Partial<OperandValues<T>>,
): void {
  planOf(operands).write(regs.gpr, values as Record<string, bigint | undefined>);
}

/** The register that carries a named operand. */
export function operandReg<T extends readonly RegOperand[]>(operands: T, name: T[number]['name']): GprName {
  const op = operands.find((o) => o.name === name);
  if (!op) throw new Error(`no operand ${name}`);
  return op.reg;
}
