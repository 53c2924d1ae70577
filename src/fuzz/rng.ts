/**
 * The fuzzer's deterministic pseudo-random number generator.
 *
 * A fuzz run must be replayable from its seed alone, on any machine and in any worker, so the
 * fuzzer never touches Math.random or crypto randomness. Two small, well-known generators:
 *
 *   - SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
 *     OOPSLA 2014): a 64-bit counter advanced by the golden-ratio increment and put through a
 *     64-bit finaliser. It turns any seed — even 0 or 1 — into well-mixed state, and gives
 *     independent streams for workers and episodes (`deriveSeed`). Runs on bigint; used only
 *     when a stream is created, never per step.
 *   - xoshiro128** (Blackman and Vigna, "Scrambled linear pseudorandom number generators", 2018):
 *     128 bits of state in four 32-bit words, period 2^128 − 1, passes BigCrush. Pure 32-bit
 *     integer arithmetic (Math.imul, >>> 0), so the per-step cost is a few nanoseconds and no
 *     allocation; 64-bit values are built from two 32-bit outputs.
 *
 * Both are written from their published descriptions. Not cryptographic — nothing here needs to be.
 */

const U64 = (1n << 64n) - 1n;
/** SplitMix64's increment: 2^64 / φ rounded to odd (0x9E3779B97F4A7C15). */
const GOLDEN_GAMMA = 11400714819323198485n;
/** SplitMix64's finaliser multipliers, Stafford's "Mix13" (0xBF58476D1CE4E5B9, 0x94D049BB133111EB). */
const MIX_1 = 13787848793156543929n;
const MIX_2 = 10723151780598845931n;
const U32_MASK = (1n << 32n) - 1n;
const U32_RANGE = 2 ** 32;

/** One SplitMix64 step: the next state and the 64-bit output it yields. */
export function splitmix64(state: bigint): { state: bigint; value: bigint } {
  const next = (state + GOLDEN_GAMMA) & U64;
  let z = next;
  z = ((z ^ (z >> 30n)) * MIX_1) & U64;
  z = ((z ^ (z >> 27n)) * MIX_2) & U64;
  return { state: next, value: z ^ (z >> 31n) };
}

/**
 * The seed of sub-stream `stream` of `seed` (worker i, episode j): SplitMix64 of the seed mixed
 * with the stream index, so neighbouring streams share no state.
 */
export function deriveSeed(seed: bigint, stream: number): bigint {
  const a = splitmix64(seed & U64);
  return splitmix64((a.value ^ BigInt(stream >>> 0) ^ (BigInt(Math.floor(stream / U32_RANGE)) << 32n)) & U64).value;
}

/** Parse a user-given seed: decimal or 0x-hex, 0 ≤ seed < 2^64. Returns undefined if malformed. */
export function parseSeed(text: string): bigint | undefined {
  if (!/^(0[xX][0-9a-fA-F]{1,16}|\d{1,20})$/.test(text)) return undefined;
  const v = BigInt(text);
  return v <= U64 ? v : undefined;
}

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  constructor(readonly seed: bigint) {
    // Expand the seed into 128 bits of xoshiro state with SplitMix64; the state is never all zero
    // because SplitMix64 outputs are a bijection of distinct counter values.
    const a = splitmix64(seed & U64);
    const b = splitmix64(a.state);
    this.s0 = Number(a.value & U32_MASK);
    this.s1 = Number(a.value >> 32n);
    this.s2 = Number(b.value & U32_MASK);
    this.s3 = Number(b.value >> 32n);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A generator with an explicit xoshiro128** state (for checking against published vectors). */
  static fromState(s0: number, s1: number, s2: number, s3: number): Rng {
    const r = new Rng(0n);
    r.s0 = s0 >>> 0;
    r.s1 = s1 >>> 0;
    r.s2 = s2 >>> 0;
    r.s3 = s3 >>> 0;
    return r;
  }

  /** Next uniformly distributed unsigned 32-bit integer (xoshiro128**). */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A float in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.u32() / U32_RANGE;
  }

  /** An integer in [0, n) for 1 ≤ n ≤ 2^32 (multiply-shift; bias below 2^-32·n, irrelevant here). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** An integer in [lo, hi] inclusive. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** A uniformly random unsigned 64-bit value. */
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }

  /** A random value below 2^bits (0 ≤ bits ≤ 64). */
  bits(bits: number): bigint {
    if (bits <= 0) return 0n;
    if (bits <= 32) return BigInt(this.u32() >>> (32 - bits));
    return this.u64() >> BigInt(64 - bits);
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Index chosen with probability proportional to `weights[i]` (all ≥ 0, not all 0). */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let x = this.float() * total;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i]!;
      if (x < 0) return i;
    }
    return weights.length - 1;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
