/**
 * The guest's TDCALL helper, as Linux's `__tdcall` / `__tdcall_ret` and `tdcall()`
 * (arch/x86/coco/tdx/tdx.c, tdcall.S).
 *
 * A leaf is issued from its table entry (src/abi/tdcall-leaves.ts): RAX = the leaf word, each
 * input operand loaded by name into the register the table names, TDCALL, then each output read
 * back by name. Input operands the caller does not give are loaded as zero, as Linux's
 * zero-initialised `struct tdx_module_args` does, so stale register contents never become operands.
 *
 * The result is in the MODULE failure domain: RAX is the TDX module's completion status.
 * Warnings (bit 63 clear, e.g. TDX_PAGE_ALREADY_ACCEPTED) are `ok` with their status. A VMM's
 * answer to TDG.VP.VMCALL is a different domain with its own type (hypercall.ts).
 */
import { LEAF_WORD } from '../abi/operands.ts';
import { readOperands, writeOperands, type LeafDef, type OperandValues, type RegOperand } from '../abi/leaf.ts';
import { isSuccessOrWarning } from '../abi/status.ts';
import { hex64 } from '../abi/bitfield.ts';
import type { GuestCpu, GuestGen } from '../platform/guest-cpu.ts';
import { panic } from './panic.ts';

/** Outcome of a TDCALL: the module's status and, when it did not fail, the named outputs. */
export type TdcallResult<Out> =
  | { readonly ok: true; readonly status: bigint; readonly out: Out }
  | { readonly ok: false; readonly status: bigint };

/** Misuse of the helper by guest code (a seamcall leaf, a version the leaf lacks). */
export class TdcallUsageError extends Error {
  override readonly name = 'TdcallUsageError';
}

/**
 * Issue one TDCALL leaf. `inputs` are named after the leaf's input operands; unnamed ones are 0.
 */
export function* tdcall<const I extends readonly RegOperand[], const O extends readonly RegOperand[]>(
  cpu: GuestCpu,
  leaf: LeafDef<I, O>,
  inputs: Partial<OperandValues<I>> = {},
  version = 0,
): GuestGen<TdcallResult<OperandValues<O>>> {
  if (leaf.kind !== 'tdcall') throw new TdcallUsageError(`${leaf.mnemonic} is not a TDCALL leaf`);
  if (!Number.isInteger(version) || version < 0 || version > leaf.maxVersion) {
    throw new TdcallUsageError(`${leaf.mnemonic} has no version ${version}`);
  }
  const zeros = Object.fromEntries(leaf.inputs.map((op) => [op.name, 0n])) as Partial<OperandValues<I>>;
  writeOperands(leaf.inputs, cpu.regs, { ...zeros, ...inputs });
  cpu.regs.set('RAX', LEAF_WORD.encode({ leaf: leaf.number, version }));
  yield* cpu.tdcall();
  const status = cpu.regs.get('RAX');
  if (!isSuccessOrWarning(status)) return { ok: false, status };
  return { ok: true, status, out: readOperands(leaf.outputs, cpu.regs) };
}

/**
 * A TDCALL that has no legitimate reason to fail (TDG.VP.INFO, TDG.VP.VEINFO.GET): a failure
 * means the TDX module is broken, and the guest cannot go on trusting its environment, so it
 * panics (Linux `tdcall()`: "Buggy TDX module!"). Never returns on failure.
 */
export function* tdcallOrPanic<const I extends readonly RegOperand[], const O extends readonly RegOperand[]>(
  cpu: GuestCpu,
  leaf: LeafDef<I, O>,
  inputs: Partial<OperandValues<I>> = {},
): GuestGen<OperandValues<O>> {
  const res = yield* tdcall(cpu, leaf, inputs);
  if (res.ok) return res.out;
  return yield* panic(cpu, `${leaf.mnemonic} failed ${hex64(res.status)}: TDX module bug?`);
}
