/**
 * The register file every crossing carries: 16 GPRs by architectural index and XMM0–15.
 *
 * SEAMCALL, TDCALL, TDG.VP.VMCALL and TDH.VP.ENTER all move state through these registers.
 * Values are 64-bit unsigned; at every API they are `bigint`. The storage is a BigUint64Array so
 * writes wrap to 64 bits exactly as hardware does and hot paths avoid per-register objects.
 */

/** Architectural GPR indices (Intel SDM Vol. 2, Table 2-4: RAX=0 … R15=15). */
export const Gpr = {
  RAX: 0,
  RCX: 1,
  RDX: 2,
  RBX: 3,
  RSP: 4,
  RBP: 5,
  RSI: 6,
  RDI: 7,
  R8: 8,
  R9: 9,
  R10: 10,
  R11: 11,
  R12: 12,
  R13: 13,
  R14: 14,
  R15: 15,
} as const;

export type GprName = keyof typeof Gpr;
export type GprIndex = (typeof Gpr)[GprName];

export const GPR_NAMES: readonly GprName[] = Object.freeze(
  (Object.keys(Gpr) as GprName[]).sort((a, b) => Gpr[a] - Gpr[b]),
);
export const GPR_COUNT = 16;
export const XMM_COUNT = 16;

/** Lower-case register name as used in traces and JSON (`rax`, `r10`). */
export function gprKey(i: number): string {
  const n = GPR_NAMES[i];
  if (n === undefined) throw new RangeError(`no GPR with index ${i}`);
  return n.toLowerCase();
}

/**
 * Register files are carved out of shared slabs. A typed array with its own backing store costs
 * V8 ~0.5–1 µs to create (anything over 64 bytes lives off the heap), a view into an existing
 * buffer ~50 ns, and tests, tools and hosts create register files at every crossing. Each file
 * gets its own never-reused, zero-filled slots, so files never alias one another; a slab lives as
 * long as any file carved from it.
 */
const FILES_PER_SLAB = 256;
const SLOTS_PER_FILE = GPR_COUNT + XMM_COUNT * 2;
let slab = new BigUint64Array(0);
let slabNext = 0;

/** `count` fresh zero slots. */
function carve(count: number): BigUint64Array {
  if (slabNext + count > slab.length) {
    slab = new BigUint64Array(FILES_PER_SLAB * SLOTS_PER_FILE);
    slabNext = 0;
  }
  slabNext += count;
  return slab.subarray(slabNext - count, slabNext);
}

/**
 * A register file. `gpr[i]` is GPR i; XMM i is the pair `xmm[2i]` (low 64 bits), `xmm[2i+1]`
 * (high 64 bits).
 */
export class RegisterFile {
  readonly gpr: BigUint64Array;
  readonly xmm: BigUint64Array;
  private halves: Uint32Array | undefined;

  constructor() {
    this.gpr = carve(GPR_COUNT);
    this.xmm = carve(XMM_COUNT * 2);
  }

  /**
   * The GPRs as 32-bit halves over the same memory (see u64.ts): GPR i is `gpr32[2i + LO32]`
   * (bits 31:0) and `gpr32[2i + HI32]` (bits 63:32). Writes through either view are seen by the
   * other.
   */
  get gpr32(): Uint32Array {
    return (this.halves ??= new Uint32Array(this.gpr.buffer, this.gpr.byteOffset, GPR_COUNT * 2));
  }

  static from(values: Partial<Record<GprName, bigint>>): RegisterFile {
    const r = new RegisterFile();
    for (const [name, v] of Object.entries(values) as [GprName, bigint][]) r.gpr[Gpr[name]] = v;
    return r;
  }

  get(name: GprName): bigint {
    return this.gpr[Gpr[name]]!;
  }

  set(name: GprName, value: bigint): this {
    this.gpr[Gpr[name]] = value;
    return this;
  }

  clone(): RegisterFile {
    const r = new RegisterFile();
    r.gpr.set(this.gpr);
    r.xmm.set(this.xmm);
    return r;
  }

  copyFrom(other: RegisterFile): this {
    this.gpr.set(other.gpr);
    this.xmm.set(other.xmm);
    return this;
  }

  /** GPRs as a plain record (for traces, JSON, assertions). */
  toRecord(): Record<GprName, bigint> {
    const out = {} as Record<GprName, bigint>;
    for (let i = 0; i < GPR_COUNT; i++) out[GPR_NAMES[i]!] = this.gpr[i]!;
    return out;
  }
}
