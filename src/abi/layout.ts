/**
 * Byte-layout codecs for the in-memory structures of the TDX ABI (TD_PARAMS, TDREPORT_STRUCT,
 * TDMR_INFO, TDSYSINFO_STRUCT, …).
 *
 * A layout is declared once as a list of fields with explicit byte offsets and sizes, in the
 * order and with the names of the spec's table. At definition time the declaration is checked:
 * fields sorted by offset, contiguous (no gap, no overlap: reserved bytes are declared as
 * `reserved` fields, never left implicit) and summing to the structure's size. A layout that
 * silently drops or overlaps a byte therefore cannot exist, just as a bitfield cannot.
 *
 * All integers are little-endian (x86). Decoding yields a `number` for u8/u16/u32, a `bigint` for
 * u64 (never a number for a 64-bit quantity) and a copy of the bytes for byte arrays. Reserved
 * fields are not decoded; `reservedNonZero` reports the first reserved field that is not zero,
 * which is how the module rejects a structure (e.g. TDH.MNG.INIT fails with OPERAND_INVALID|RDX
 * on non-zero reserved bytes in TD_PARAMS, tdx-module.md §10.1).
 */

export type LayoutKind = 'u8' | 'u16' | 'u32' | 'u64' | 'bytes' | 'reserved';

/** Size in bytes that each integer kind must have. */
const INT_SIZES: Readonly<Record<string, number>> = Object.freeze({ u8: 1, u16: 2, u32: 4, u64: 8 });

export interface LayoutFieldSpec<N extends string = string, K extends LayoutKind = LayoutKind> {
  /** Spec mnemonic of the field in lower_snake_case (`max_vcpus`, `mrconfigid`). */
  readonly name: N;
  /** Byte offset from the start of the structure. */
  readonly offset: number;
  /** Size in bytes (1, 2, 4 or 8 for the integer kinds). */
  readonly size: number;
  readonly kind: K;
  /** One line: what the field holds and what the module requires of it. */
  readonly doc?: string;
}

/** The value a field decodes to. */
export type LayoutFieldValue<K extends LayoutKind> = K extends 'u64'
  ? bigint
  : K extends 'bytes'
    ? Uint8Array
    : K extends 'reserved'
      ? never
      : number;

/** The value `encode` accepts for a field: a u64 may also be given as a safe-integer number. */
export type LayoutFieldInput<K extends LayoutKind> = K extends 'u64' ? bigint | number : LayoutFieldValue<K>;

type DataField<F extends readonly LayoutFieldSpec[]> = Exclude<F[number], { readonly kind: 'reserved' }>;

/** Decoded structure: one property per non-reserved field, typed by its kind. */
export type DecodedLayout<F extends readonly LayoutFieldSpec[]> = {
  [E in DataField<F> as E['name']]: LayoutFieldValue<E['kind']>;
};

/** Input of `encode`: any subset of the non-reserved fields (missing fields are zero). */
export type LayoutValues<F extends readonly LayoutFieldSpec[]> = Partial<{
  [E in DataField<F> as E['name']]: LayoutFieldInput<E['kind']>;
}>;

export type LayoutFieldName<F extends readonly LayoutFieldSpec[]> = F[number]['name'];
export type LayoutDataFieldName<F extends readonly LayoutFieldSpec[]> = DataField<F>['name'];

/** Machine-readable description of a layout (what `tdxsim abi --json` prints). */
export interface LayoutDescription {
  readonly name: string;
  readonly size: number;
  readonly fields: readonly { name: string; offset: number; size: number; kind: LayoutKind; doc?: string }[];
}

export class Layout<F extends readonly LayoutFieldSpec[] = readonly LayoutFieldSpec[]> {
  readonly fields: F;
  private readonly byName: ReadonlyMap<string, F[number]>;

  constructor(
    /** Spec name of the structure, e.g. `TD_PARAMS`. */
    readonly name: string,
    /** Size of the structure in bytes. */
    readonly size: number,
    fields: F,
  ) {
    if (!Number.isInteger(size) || size <= 0) throw new Error(`layout ${name}: invalid size ${size}`);
    const byName = new Map<string, F[number]>();
    let end = 0;
    for (const f of fields) {
      const where = `layout ${name}: field ${f.name}`;
      if (!f.name) throw new Error(`layout ${name}: a field has no name`);
      if (byName.has(f.name)) throw new Error(`layout ${name}: duplicate field ${f.name}`);
      if (!Number.isInteger(f.offset) || f.offset < 0) throw new Error(`${where} has invalid offset ${f.offset}`);
      if (!Number.isInteger(f.size) || f.size <= 0) throw new Error(`${where} has invalid size ${f.size}`);
      const intSize = INT_SIZES[f.kind];
      if (intSize !== undefined && f.size !== intSize) {
        throw new Error(`${where}: kind ${f.kind} is ${intSize} bytes, not ${f.size}`);
      }
      if (f.offset < end) {
        throw new Error(`${where} at offset ${f.offset} overlaps the previous field (which ends at ${end}), or is out of order`);
      }
      if (f.offset > end) {
        throw new Error(`${where} at offset ${f.offset} leaves a gap of ${f.offset - end} bytes at ${end}: declare it as a reserved field`);
      }
      byName.set(f.name, f);
      end = f.offset + f.size;
    }
    if (end !== size) throw new Error(`layout ${name}: fields cover ${end} bytes, not ${size}`);
    this.fields = Object.freeze(fields.map((f) => Object.freeze({ ...f }))) as unknown as F;
    this.byName = byName;
  }

  /** The field named `name` (offset, size, kind, doc). */
  field(name: LayoutFieldName<F>): F[number] {
    const f = this.byName.get(name);
    if (!f) throw new Error(`layout ${this.name}: no field ${name}`);
    return f;
  }

  /** Decode the structure starting at `offset` in `bytes`; reserved fields are omitted. */
  decode(bytes: Uint8Array, offset = 0): DecodedLayout<F> {
    const view = this.view(bytes, offset);
    const out: Record<string, number | bigint | Uint8Array> = {};
    for (const f of this.fields) {
      if (f.kind === 'reserved') continue;
      out[f.name] = readField(view, bytes, offset, f);
    }
    return out as DecodedLayout<F>;
  }

  /** Read one field of the structure starting at `offset` in `bytes`. */
  read<N extends LayoutDataFieldName<F>>(
    bytes: Uint8Array,
    name: N,
    offset = 0,
  ): LayoutFieldValue<Extract<F[number], { readonly name: N }>['kind']> {
    const f = this.field(name);
    return readField(this.view(bytes, offset), bytes, offset, f) as LayoutFieldValue<
      Extract<F[number], { readonly name: N }>['kind']
    >;
  }

  /**
   * Encode a fresh structure of `size` bytes; fields not given are zero. Throws on an unknown
   * name, a reserved name, or a value that does not fit: those are caller bugs (structures a
   * party inside the simulation hands over are decoded, never encoded).
   */
  encode(values: LayoutValues<F>): Uint8Array {
    const out = new Uint8Array(this.size);
    this.encodeInto(out, values, 0);
    return out;
  }

  /** Write the whole structure (missing fields zero) into `target` at `offset`. */
  encodeInto(target: Uint8Array, values: LayoutValues<F>, offset = 0): void {
    const view = this.view(target, offset);
    const given = values as Readonly<Record<string, unknown>>;
    for (const key of Object.keys(given)) {
      const f = this.byName.get(key);
      if (!f) throw new Error(`layout ${this.name}: no field ${key}`);
      if (f.kind === 'reserved') throw new Error(`layout ${this.name}: ${key} is reserved and cannot be set`);
    }
    target.fill(0, offset, offset + this.size);
    for (const f of this.fields) {
      const v = given[f.name];
      if (v !== undefined) writeField(view, target, offset, f, v, this.name);
    }
  }

  /** Overwrite one field in place, leaving the rest of the structure untouched. */
  write<N extends LayoutDataFieldName<F>>(
    target: Uint8Array,
    name: N,
    value: LayoutFieldInput<Extract<F[number], { readonly name: N }>['kind']>,
    offset = 0,
  ): void {
    const f = this.field(name);
    writeField(this.view(target, offset), target, offset, f, value, this.name);
  }

  /** Name of the first reserved field with a non-zero byte, or undefined if all are zero. */
  reservedNonZero(bytes: Uint8Array, offset = 0): LayoutFieldName<F> | undefined {
    this.view(bytes, offset);
    for (const f of this.fields) {
      if (f.kind !== 'reserved') continue;
      const start = offset + f.offset;
      for (let i = start; i < start + f.size; i++) if (bytes[i] !== 0) return f.name;
    }
    return undefined;
  }

  /** Decode `count` consecutive structures (an array of entries) starting at `offset`. */
  decodeArray(bytes: Uint8Array, count: number, offset = 0): DecodedLayout<F>[] {
    const out: DecodedLayout<F>[] = [];
    for (let i = 0; i < count; i++) out.push(this.decode(bytes, offset + i * this.size));
    return out;
  }

  /** Encode an array of structures back to back. */
  encodeArray(entries: readonly LayoutValues<F>[]): Uint8Array {
    const out = new Uint8Array(entries.length * this.size);
    entries.forEach((e, i) => this.encodeInto(out, e, i * this.size));
    return out;
  }

  /** Plain description for catalogs and JSON. */
  describe(): LayoutDescription {
    return {
      name: this.name,
      size: this.size,
      fields: this.fields.map((f) => ({
        name: f.name,
        offset: f.offset,
        size: f.size,
        kind: f.kind,
        ...(f.doc !== undefined && { doc: f.doc }),
      })),
    };
  }

  /** A DataView over exactly this structure's bytes, after checking they are all there. */
  private view(bytes: Uint8Array, offset: number): DataView {
    if (!Number.isInteger(offset) || offset < 0 || offset + this.size > bytes.length) {
      throw new RangeError(`layout ${this.name}: ${this.size} bytes at offset ${offset} do not fit in a buffer of ${bytes.length}`);
    }
    return new DataView(bytes.buffer, bytes.byteOffset + offset, this.size);
  }
}

function readField(view: DataView, bytes: Uint8Array, base: number, f: LayoutFieldSpec): number | bigint | Uint8Array {
  switch (f.kind) {
    case 'u8':
      return view.getUint8(f.offset);
    case 'u16':
      return view.getUint16(f.offset, true);
    case 'u32':
      return view.getUint32(f.offset, true);
    case 'u64':
      return view.getBigUint64(f.offset, true);
    default:
      // bytes: a copy, so the caller can keep it while the underlying memory changes.
      return bytes.slice(base + f.offset, base + f.offset + f.size);
  }
}

function writeField(view: DataView, target: Uint8Array, base: number, f: LayoutFieldSpec, v: unknown, layout: string): void {
  const where = `layout ${layout}: ${f.name}`;
  switch (f.kind) {
    case 'u8':
    case 'u16':
    case 'u32': {
      const max = 2 ** (8 * f.size) - 1;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
        throw new RangeError(`${where}=${String(v)} is not an integer in 0..${max}`);
      }
      if (f.kind === 'u8') view.setUint8(f.offset, v);
      else if (f.kind === 'u16') view.setUint16(f.offset, v, true);
      else view.setUint32(f.offset, v, true);
      return;
    }
    case 'u64': {
      if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new RangeError(`${where}=${v} is not a safe integer; pass a bigint`);
      if (typeof v !== 'number' && typeof v !== 'bigint') throw new RangeError(`${where} must be a bigint`);
      const b = BigInt(v);
      if (b < 0n || b >> 64n !== 0n) throw new RangeError(`${where}=${b} does not fit in 64 bits`);
      view.setBigUint64(f.offset, b, true);
      return;
    }
    case 'bytes': {
      if (!(v instanceof Uint8Array) || v.length !== f.size) {
        const got = v instanceof Uint8Array ? `${v.length} bytes` : typeof v;
        throw new RangeError(`${where} takes exactly ${f.size} bytes, got ${got}`);
      }
      target.set(v, base + f.offset);
      return;
    }
    case 'reserved':
      throw new Error(`${where} is reserved and cannot be set`);
  }
}

/**
 * Define a layout. `const` inference keeps field names and kinds as literal types, so
 * `TD_PARAMS.decode(b).max_vcpus` is a `number` and `.attributes` a `bigint`.
 */
export function defineLayout<const F extends readonly LayoutFieldSpec[]>(name: string, size: number, fields: F): Layout<F> {
  return new Layout<F>(name, size, fields);
}
