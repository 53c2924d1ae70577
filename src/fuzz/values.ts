/**
 * Adversarial values shared by the targets: the boundaries where range checks go wrong.
 *
 * A fuzzer that only draws uniform 64-bit values almost never hits 0, all ones, an address one
 * past a range, or an aligned address with a single stray bit. These helpers mix such values in:
 * `boundary()` is a u64 from a list of classic edge cases or uniformly random; `mutateAddress()`
 * takes a plausible address and breaks it in one of the ways a malicious party would (unaligned,
 * a KeyID or shared bit set, beyond the physical address width, off by one page, bit flips).
 */
import type { Rng } from './rng.ts';

export const U64_MAX = (1n << 64n) - 1n;
const PAGE = 4096n;

const EDGES: readonly bigint[] = Object.freeze([
  0n,
  1n,
  2n,
  7n,
  8n,
  PAGE - 1n,
  PAGE,
  PAGE + 1n,
  (1n << 21n) - 1n,
  1n << 21n,
  (1n << 30n) - 1n,
  1n << 30n,
  (1n << 31n) - 1n,
  1n << 31n,
  (1n << 32n) - 1n,
  1n << 32n,
  (1n << 47n) - 1n,
  1n << 47n,
  (1n << 48n) - 1n,
  1n << 48n,
  (1n << 51n) - 1n,
  1n << 51n,
  (1n << 52n) - 1n,
  1n << 52n,
  (1n << 63n) - 1n,
  1n << 63n,
  U64_MAX - PAGE + 1n,
  U64_MAX - 1n,
  U64_MAX,
]);

/** An edge-case u64 (70%) or a uniformly random one. */
export function boundary(rng: Rng): bigint {
  return rng.chance(0.7) ? rng.pick(EDGES) : rng.u64();
}

/** A small integer (counts, indexes, sizes), sometimes just past a limit. */
export function smallInt(rng: Rng): bigint {
  return BigInt(rng.pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 15, 16, 17, 31, 32, 63, 64, 255, 256, 4095, 4096]));
}

/** Flip one random bit of `v`. */
export function flipBit(rng: Rng, v: bigint): bigint {
  return v ^ (1n << BigInt(rng.int(64)));
}

export interface AddressContext {
  /** Lowest bit of the KeyID in a physical address (MAX_PA − KeyID bits). */
  readonly keyIdShift: number;
  /** Physical address width (MAX_PA). */
  readonly maxPa: number;
  /** A KeyID to smuggle into an address. */
  readonly keyId: number;
  /** A shared bit to set on a GPA. */
  readonly sharedBit?: bigint;
}

/** Break a plausible address in one adversarial way. */
export function mutateAddress(rng: Rng, addr: bigint, ctx: AddressContext): bigint {
  switch (rng.int(9)) {
    case 0:
      return addr | BigInt(rng.range(1, 4095)); // unaligned
    case 1:
      return addr | (BigInt(ctx.keyId) << BigInt(ctx.keyIdShift)); // KeyID bits in a PA
    case 2:
      return addr | (1n << BigInt(ctx.maxPa)); // beyond MAX_PA
    case 3:
      return addr | (ctx.sharedBit ?? 1n << 47n);
    case 4:
      return (addr + PAGE) & U64_MAX;
    case 5:
      return (addr - PAGE) & U64_MAX;
    case 6:
      return flipBit(rng, addr);
    case 7:
      return addr | (1n << 63n);
    default:
      return boundary(rng);
  }
}
