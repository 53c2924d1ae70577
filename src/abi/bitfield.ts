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
}

/** Decoded value of a bitfield: one bigint per field. */
export type Fields<N extends string> = { readonly [K in N]: bigint };

export class Bitfield<N extends string = string> {
  readonly fields: readonly Field<N>[];
  readonly reservedMask: bigint;
  private readonly byName: ReadonlyMap<string, Field<N>>;

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
      const field: Field<N> = { ...spec, lsb, mask };
      fields.push(field);
      byName.set(spec.name, field);
      if (spec.name.startsWith('reserved')) reserved |= mask;
      lsb += spec.width;
    }
    if (lsb !== 64) throw new Error(`bitfield ${name}: widths sum to ${lsb}, not 64`);
    this.fields = fields;
    this.byName = byName;
    this.reservedMask = reserved;
  }

  field(name: N): Field<N> {
    const f = this.byName.get(name);
    if (!f) throw new Error(`bitfield ${this.name}: no field ${name}`);
    return f;
  }

  /** Extract one field (right-aligned). */
  get(value: bigint, name: N): bigint {
    const f = this.field(name);
    return (value & f.mask) >> BigInt(f.lsb);
  }

  /** Replace one field; the new value is truncated to the field's width. */
  set(value: bigint, name: N, fieldValue: bigint): bigint {
    const f = this.field(name);
    return (value & ~f.mask) | ((fieldValue << BigInt(f.lsb)) & f.mask);
  }

  /** Decode every field. */
  decode(value: bigint): Fields<N> {
    const out: Record<string, bigint> = {};
    for (const f of this.fields) out[f.name] = (value & f.mask) >> BigInt(f.lsb);
    return out as Fields<N>;
  }

  /**
   * Encode from named fields; missing fields are zero. Throws if a value does not fit its field:
   * that is a caller bug, not guest input (guest input is decoded, never encoded).
   */
  encode(values: Partial<Record<N, bigint | number>>): bigint {
    let out = 0n;
    for (const f of this.fields) {
      const raw = values[f.name];
      if (raw === undefined) continue;
      const v = BigInt(raw);
      if (v < 0n || v >> BigInt(f.width) !== 0n) {
        throw new RangeError(`bitfield ${this.name}: ${f.name}=${v} does not fit in ${f.width} bits`);
      }
      out |= v << BigInt(f.lsb);
    }
    return out;
  }

  /** True if any reserved bit is set. */
  hasReservedBits(value: bigint): boolean {
    return (value & this.reservedMask) !== 0n;
  }
}

export function bitfield<const N extends string>(name: string, specs: readonly FieldSpec<N>[]): Bitfield<N> {
  return new Bitfield<N>(name, specs);
}

export const U64_MASK = (1n << 64n) - 1n;
export const U32_MASK = (1n << 32n) - 1n;

/** Format a 64-bit value the way the spec and Linux print it: 0x + 16 upper-case hex digits. */
export function hex64(value: bigint): string {
  return '0x' + (value & U64_MASK).toString(16).toUpperCase().padStart(16, '0');
}
