/**
 * Decoding the leaf word in RAX, as both dispatchers (SEAMCALL and TDCALL) do first on every
 * call: bits 15:0 the leaf number, bits 23:16 the version, every other bit reserved (LEAF_WORD,
 * facts tdx-module.md §1). The fields come from the LEAF_WORD table once and are read as numbers
 * from the register's 32-bit halves (abi/u64.ts), so a decode converts no bigint.
 */
import { LEAF_WORD } from '../abi/operands.ts';
import { hasReservedHalves, readHalfField } from '../abi/bitfield.ts';
import { Gpr, type RegisterFile } from '../abi/registers.ts';
import { halvesOf } from '../abi/u64.ts';

const LEAF = LEAF_WORD.half('leaf');
const VERSION = LEAF_WORD.half('version');
const RESERVED = LEAF_WORD.reservedHalves;

export interface LeafWord {
  readonly number: number;
  readonly version: number;
}

/** RAX's leaf number and version, or undefined if a reserved bit is set (OPERAND_INVALID | RAX). */
export function decodeLeafWord(regs: RegisterFile): LeafWord | undefined {
  // Through the scratch halves, not regs.gpr32: a SEAMCALL's register file is often used once.
  const words = halvesOf(regs.gpr[Gpr.RAX]!);
  if (hasReservedHalves(words, 0, RESERVED)) return undefined;
  return { number: readHalfField(words, 0, LEAF), version: readHalfField(words, 0, VERSION) };
}
