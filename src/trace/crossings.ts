/**
 * Emit-point adapters for the two instructions: they name the leaf a register file asks for and
 * hand the crossing to the trace helpers (record.ts), which build the events.
 *
 * The instruction layers (platform/processor.ts for SEAMCALL, module/tdcall.ts for TDCALL) see
 * only a register file with the leaf word in RAX. Every leaf word is traced, including ones the
 * module refuses: a leaf number the tables do not know becomes a leaf named by its number with
 * no operands, so a host or guest probing unknown leaves still shows up with the
 * OPERAND_INVALID | RAX it got. Reserved bits of the leaf word are ignored for naming (the status
 * already says the word was refused).
 */
import { hex64 } from '../abi/bitfield.ts';
import type { LeafDef, LeafKind } from '../abi/leaf.ts';
import { LEAF_WORD } from '../abi/operands.ts';
import { Gpr, type RegisterFile } from '../abi/registers.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { TdcallLeaf } from '../abi/tdcall-leaves.ts';
import { traceSeamcall, traceTdcall, type TraceWhere } from './record.ts';
import type { Tracer } from './tracer.ts';

const LEAF_FIELD = LEAF_WORD.field('leaf');

function byNumber(leaves: Record<string, LeafDef>): ReadonlyMap<number, LeafDef> {
  return new Map(Object.values(leaves).map((l) => [l.number, l]));
}

const SEAMCALL_BY_NUMBER = byNumber(SeamcallLeaf);
const TDCALL_BY_NUMBER = byNumber(TdcallLeaf);

/** A leaf number no table names: traced by its number, with no operands to decode. */
function unknownLeaf(kind: LeafKind, number: number): LeafDef {
  return Object.freeze({
    kind,
    mnemonic: `${kind === 'seamcall' ? 'SEAMCALL' : 'TDCALL'} leaf ${hex64(BigInt(number))}`,
    number,
    maxVersion: 0,
    purpose: 'a leaf number the ABI tables do not define',
    implemented: false,
    inputs: [],
    outputs: [],
  });
}

/** The leaf a leaf word (RAX on entry) names. */
export function leafOfWord(kind: LeafKind, rax: bigint): LeafDef {
  const number = Number((rax & LEAF_FIELD.mask) >> LEAF_FIELD.shift);
  return (kind === 'seamcall' ? SEAMCALL_BY_NUMBER : TDCALL_BY_NUMBER).get(number) ?? unknownLeaf(kind, number);
}

/**
 * A SEAMCALL the module returned from: `regsIn` is the caller's register file as it was before
 * the call, `regsOut` after it. TDH.VP.ENTER is left to the TD entry and TD exit helpers, which
 * the module emits around the guest's run.
 */
export function traceSeamcallReturn(tracer: Tracer, lp: number, regsIn: RegisterFile, regsOut: RegisterFile): void {
  const leaf = leafOfWord('seamcall', regsIn.gpr[Gpr.RAX]!);
  if (leaf === SeamcallLeaf.TDH_VP_ENTER) return;
  traceSeamcall(tracer, lp, leaf, regsIn, regsOut);
}

/**
 * A guest TDCALL: completed inside the module (`regsOut` holds the guest's registers with the
 * status in RAX) or exited to the host (no `regsOut`; the guest's resume reports the outputs).
 */
export function traceTdcallRegs(tracer: Tracer, where: TraceWhere, regsIn: RegisterFile, regsOut?: RegisterFile): void {
  traceTdcall(tracer, where, leafOfWord('tdcall', regsIn.gpr[Gpr.RAX]!), regsIn, regsOut);
}
