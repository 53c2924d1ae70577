/**
 * 64-bit values as two 32-bit halves, for hot paths.
 *
 * Registers are bigints at every API and live in BigUint64Arrays. In V8 (Node 20) comparing and
 * masking bigints that stay in typed arrays is cheap, but turning one into a number (`Number(v)`)
 * costs ~300 instructions and every bigint result that escapes into a variable is a heap
 * allocation. Reading the same memory through a Uint32Array view costs a few instructions, so the
 * module's and the host's per-crossing paths read register fields as numbers through the halves.
 * Which half comes first depends on the machine's byte order.
 */

/** True on little-endian machines (every platform Node ships for but s390x). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Offset of the low (bits 31:0) and high (bits 63:32) half of a 64-bit slot in a Uint32Array view. */
export const LO32 = LITTLE_ENDIAN ? 0 : 1;
export const HI32 = 1 - LO32;

/** 2^32, the weight of the high half. */
export const TWO_POW_32 = 4294967296;

const SCRATCH64 = new BigUint64Array(1);
const SCRATCH32 = new Uint32Array(SCRATCH64.buffer);

/**
 * The halves of `v` (mod 2^64) in a shared scratch view: slot 0, read at LO32 and HI32. Valid only
 * until the next call — read what you need at once. For a register file used once (a SEAMCALL's),
 * where creating its own `gpr32` view would cost more than the read.
 */
export function halvesOf(v: bigint): Uint32Array {
  SCRATCH64[0] = v;
  return SCRATCH32;
}

/**
 * `Number(v)` for 0 ≤ v < 2^64 at a fraction of its cost: exact below 2^53 (physical addresses,
 * page frame numbers, small fields), rounded to nearest above, as Number() rounds.
 */
export function u64ToNumber(v: bigint): number {
  SCRATCH64[0] = v;
  return SCRATCH32[HI32]! * TWO_POW_32 + SCRATCH32[LO32]!;
}
