/**
 * Bitfield descriptors for 64-bit register operands.
 *
 * Every packed register operand in the TDX ABI (the RAX leaf word, a GPA|level operand, the
 * TDVMCALL control word, a completion status, a metadata field id, …) is declared once as a list
 * of fields from bit 0 upwards with explicit widths. The descriptor checks at definition time that
 * the widths add up to exactly 64, so a layout that silently drops or overlaps a bit cannot exist.
 *
 * Fields whose name starts with `reserved` are collected into `reservedMask`: the module checks
 * that they are zero on input, and so does the simulator.
 */
import { HI32, LO32, u64ToNumber } from './u64.ts';

export interface FieldSpec<N extends string = string> {
  /** Spec mnemonic of the field (lower_snake_case), or `reservedN` for reserved bits. */
  readonly name: N;
  /** Width in bits (1..64). */
  readonly width: number;
  /** One line: what the field means. */
  readonly doc?: string;
}

export interface Field<N extends string = string> extends FieldSpec<N> {
  /** Bit position of the field's least significant bit. */
  readonly lsb: number;
  /** Mask of the field's bits, in place (already shifted). */
  readonly mask: bigint;
  /** `lsb` as a bigint, so extracting a field converts nothing. */
  readonly shift: bigint;
}

/**
 * A field that lies inside one 32-bit half of its 64-bit value, read as a number from a
 * Uint32Array view (u64.ts): `(words[2·slot + index] >>> shift) & mask`.
 */
export interface HalfField {
  /** LO32 or HI32: which half of the slot holds the field. */
  readonly index: number;
  /** Bit position of the field inside that half. */
  readonly shift: number;
  /** Mask of the field's bits once shifted down (width ≤ 32). */
  readonly mask: number;
}

/** Decoded value of a bitfield: one bigint per field. */
export type Fields<N extends string> = { readonly [K in N]: bigint };

/**
 * Scratch for reading a bigint's halves (see u64.ts): extracting a field that lies inside one half
 * as a number and converting that back costs a few instructions, where a bigint shift allocates.
 */
const SCRATCH64 = new BigUint64Array(1);
const SCRATCH32 = new Uint32Array(SCRATCH64.buffer);
/** The largest value a HalfField can hold. */
const MAX_HALF = 0xffff_ffffn;

export class Bitfield<N extends string = string> {
  readonly fields: readonly Field<N>[];
  readonly reservedMask: bigint;
  private readonly byName: ReadonlyMap<string, Field<N>>;
  /** Per field (same order as `fields`): its HalfField, or undefined when it straddles bit 32. */
  private readonly halves: readonly (HalfField | undefined)[];
  private readonly halfByName: ReadonlyMap<string, HalfField | undefined>;

  constructor(
    /** Spec name of the layout, e.g. `page_info_api_input_t`. */
    readonly name: string,
    specs: readonly FieldSpec<N>[],
  ) {
    let lsb = 0;
    let reserved = 0n;
    const fields: Field<N>[] = [];
    const byName = new Map<string, Field<N>>();
    for (const spec of specs) {
      if (!Number.isInteger(spec.width) || spec.width < 1 || spec.width > 64) {
        throw new Error(`bitfield ${name}: field ${spec.name} has invalid width ${spec.width}`);
      }
      if (byName.has(spec.name)) throw new Error(`bitfield ${name}: duplicate field ${spec.name}`);
      const mask = ((1n << BigInt(spec.width)) - 1n) << BigInt(lsb);
      const field: Field<N> = { ...spec, lsb, mask, shift: BigInt(lsb) };
      fields.push(field);
      byName.set(spec.name, field);
      if (spec.name.startsWith('reserved')) reserved |= mask;
      lsb += spec.width;
    }
    if (lsb !== 64) throw new Error(`bitfield ${name}: widths sum to ${lsb}, not 64`);
    this.fields = fields;
    this.byName = byName;
    this.reservedMask = reserved;
    this.halves = fields.map((f) => (Math.floor(f.lsb / 32) === Math.floor((f.lsb + f.width - 1) / 32) ? this.half(f.name) : undefined));
    this.halfByName = new Map(fields.map((f, i) => [f.name, this.halves[i]]));
  }

  /** Field `i` of the value whose halves are in SCRATCH32 (or `value` itself for a straddling field). */
  private extract(i: number, value: bigint): bigint {
    const h = this.halves[i];
    if (h === undefined) {
      const f = this.fields[i]!;
      return (value & f.mask) >> f.shift;
    }
    return BigInt(((SCRATCH32[h.index]! >>> h.shift) & h.mask) >>> 0);
  }

  /**
   * The field as a HalfField, for hot paths that read registers as numbers. Throws if the field
   * straddles bit 32 (read it as a bigint instead): a layout error, not input.
   */
  half(name: N): HalfField {
    const f = this.field(name);
    const word = f.lsb >= 32 ? 1 : 0;
    if (f.lsb + f.width > 32 * (word + 1)) throw new Error(`bitfield ${this.name}: field ${name} straddles bit 32`);
    return Object.freeze({ index: word === 0 ? LO32 : HI32, shift: f.lsb - 32 * word, mask: f.width === 32 ? 0xffff_ffff : 2 ** f.width - 1 });
  }

  /** The reserved bits in the low and high half, as numbers (see `half`). */
  get reservedHalves(): { readonly lo: number; readonly hi: number } {
    return { lo: Number(this.reservedMask & U32_MASK), hi: Number(this.reservedMask >> 32n) };
  }

  field(name: N): Field<N> {
    const f = this.byName.get(name);
    if (!f) throw new Error(`bitfield ${this.name}: no field ${name}`);
    return f;
  }

  /** Extract one field (right-aligned). */
  get(value: bigint, name: N): bigint {
    const f = this.field(name);
    const h = this.halfByName.get(name);
    if (h === undefined) return (value & f.mask) >> f.shift;
    SCRATCH64[0] = value; // the low 64 bits: all any field can see
    return BigInt(((SCRATCH32[h.index]! >>> h.shift) & h.mask) >>> 0);
  }

  /** Replace one field; the new value is truncated to the field's width. */
  set(value: bigint, name: N, fieldValue: bigint): bigint {
    const f = this.field(name);
    return (value & ~f.mask) | ((fieldValue << f.shift) & f.mask);
  }

  /** Decode every field. */
  decode(value: bigint): Fields<N> {
    const out: Record<string, bigint> = {};
    SCRATCH64[0] = value; // the low 64 bits: all any field can see
    for (let i = 0; i < this.fields.length; i++) out[this.fields[i]!.name] = this.extract(i, value);
    return out as Fields<N>;
  }

  /**
   * Encode from named fields; missing fields are zero. Throws if a value does not fit its field:
   * that is a caller bug, not guest input (guest input is decoded, never encoded).
   */
  encode(values: Partial<Record<N, bigint | number>>): bigint {
    // A value that fits a field inside one half is ORed into that half as a number; the halves
    // become one bigint at the end (exits and SEPT operands are encoded by the million).
    let lo = 0;
    let hi = 0;
    let out = 0n;
    for (let i = 0; i < this.fields.length; i++) {
      const f = this.fields[i]!;
      const raw = values[f.name];
      if (raw === undefined) continue;
      const h = this.halves[i];
      const n = typeof raw === 'number' ? raw : raw >= 0n && raw <= MAX_HALF ? u64ToNumber(raw) : -1;
      if (h !== undefined && Number.isInteger(n) && n >= 0 && n <= h.mask) {
        const bits = (n << h.shift) >>> 0;
        if (h.index === LO32) lo = (lo | bits) >>> 0;
        else hi = (hi | bits) >>> 0;
        continue;
      }
      const v = BigInt(raw);
      if (v < 0n || v >> BigInt(f.width) !== 0n) {
        throw new RangeError(`bitfield ${this.name}: ${f.name}=${v} does not fit in ${f.width} bits`);
      }
      out |= v << f.shift;
    }
    SCRATCH32[LO32] = lo;
    SCRATCH32[HI32] = hi;
    return out === 0n ? SCRATCH64[0]! : out | SCRATCH64[0]!;
  }

  /** True if any reserved bit is set. */
  hasReservedBits(value: bigint): boolean {
    return (value & this.reservedMask) !== 0n;
  }
}

/** Read a HalfField of 64-bit slot `slot` from a Uint32Array view (e.g. a register's gpr32). */
export function readHalfField(words: Uint32Array, slot: number, f: HalfField): number {
  return ((words[2 * slot + f.index]! >>> f.shift) & f.mask) >>> 0;
}

/** OR `value` (truncated to the field's width) into a HalfField of slot `slot` of a Uint32Array view. */
export function putHalfField(words: Uint32Array, slot: number, f: HalfField, value: number): void {
  const i = 2 * slot + f.index;
  words[i] = words[i]! | ((value & f.mask) << f.shift);
}

/** True if slot `slot` of a Uint32Array view has any of `reserved` (from `reservedHalves`) set. */
export function hasReservedHalves(words: Uint32Array, slot: number, reserved: { readonly lo: number; readonly hi: number }): boolean {
  return ((words[2 * slot + LO32]! & reserved.lo) | (words[2 * slot + HI32]! & reserved.hi)) !== 0;
}

export function bitfield<const N extends string>(name: string, specs: readonly FieldSpec<N>[]): Bitfield<N> {
  return new Bitfield<N>(name, specs);
}

export const U64_MASK = (1n << 64n) - 1n;
export const U32_MASK = (1n << 32n) - 1n;

/** Format a 64-bit value the way the spec and Linux print it: 0x + 16 upper-case hex digits. */
export function hex64(value: bigint): string {
  // Two 32-bit halves formatted as numbers (traces format every register of every crossing).
  SCRATCH64[0] = value; // value mod 2^64, as `value & U64_MASK`
  return '0x' + hex32(SCRATCH32[HI32]!) + hex32(SCRATCH32[LO32]!);
}

function hex32(v: number): string {
  return v.toString(16).toUpperCase().padStart(8, '0');
}
