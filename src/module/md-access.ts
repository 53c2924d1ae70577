/**
 * Metadata access by FIELD_ID: checking an id, reading and writing one element, and walking the
 * fields of a context — the semantics every RD/WR leaf shares (TDH.SYS.RD, TDH.MNG.RD/WR,
 * TDH.VP.RD/WR, TDG.SYS.RD, TDG.VM.RD/WR, TDG.VP.RD/WR), over the registry of md-fields.ts.
 *
 *   - A single-element id must have its reserved bits and its LAST_ELEMENT_IN_FIELD and
 *     LAST_FIELD_IN_SEQUENCE zero (TDX_METADATA_FIELD_ID_INCORRECT); its context comes from the
 *     leaf, and its element size, inc_size and write_mask_valid are ignored — the module reads the
 *     element size from its own table (Linux relies on this: it passes e.g. NOTIFY_ENABLES with
 *     size code 0 for an 8-byte field).
 *   - An id that names no known field, or a TD VMCS field's HIGH half, is
 *     TDX_METADATA_FIELD_ID_INCORRECT; a field the caller may not read is
 *     TDX_METADATA_FIELD_NOT_READABLE; one it may not write TDX_METADATA_FIELD_NOT_WRITABLE.
 *   - A write changes only `write mask & caller's mask`; asking to change a bit outside the write
 *     mask to a value other than the current one is TDX_METADATA_FIELD_VALUE_NOT_VALID, so a
 *     caller learns it did not get what it asked for instead of silently losing bits.
 *   - The null id (all ones, context bits ignored) on a read asks for the first readable field of
 *     the context; every successful read also returns the id of the next readable element, or the
 *     null id after the last.
 *
 * Source: TDX module 1.5 `metadata_generic.c` (`md_check_as_single_element_id`,
 * `md_find_entry_idx`, `md_get_next_element_in_context`, `md_check_forbidden_bits_unchanged`),
 * `metadata_td.c` (`md_td_write_element`), `metadata_vp.c` (`md_vp_write_element`).
 */
import { FIELD_ID } from '../abi/operands.ts';
import { U64_MASK } from '../abi/bitfield.ts';
import { MetadataContextCode, type MetadataContext } from '../abi/metadata.ts';
import { TdxStatus } from '../abi/status.ts';
import {
  MD_REGISTRY,
  accessMask,
  findEntry,
  isDebugTd,
  storedValue,
  type MdAccess,
  type MdBinding,
  type MdEntry,
} from './md-fields.ts';

/** The null field id (`MD_FIELD_ID_NA`): "none" on output, "the first field" on read input. */
export const NULL_FIELD_ID = U64_MASK;

const CONTEXT_MASK = FIELD_ID.field('context_code').mask;

/** True for the null id; the context bits are ignored (`is_null_field_id`). */
export function isNullFieldId(id: bigint): boolean {
  return (id | CONTEXT_MASK) === U64_MASK;
}

/** The id with its context code replaced: the leaf, not the caller, decides the context. */
export function inContext(id: bigint, context: MetadataContext): bigint {
  return FIELD_ID.set(id, 'context_code', BigInt(MetadataContextCode[context]));
}

/** `md_check_as_single_element_id`: TDX_SUCCESS or TDX_METADATA_FIELD_ID_INCORRECT. */
export function checkSingleElementId(id: bigint): bigint {
  if (FIELD_ID.hasReservedBits(id) || FIELD_ID.get(id, 'last_element_in_field') !== 0n || FIELD_ID.get(id, 'last_field_in_sequence') !== 0n) {
    return TdxStatus.TDX_METADATA_FIELD_ID_INCORRECT;
  }
  return TdxStatus.TDX_SUCCESS;
}

/** A position in a context: registry entry index, element within it, and the id that names it. */
export interface MdCursor {
  readonly index: number;
  readonly elem: number;
  readonly id: bigint;
}

export type Located = { readonly ok: true; readonly cursor: MdCursor } | { readonly ok: false; readonly status: bigint };

const fail = (status: bigint): Located => ({ ok: false, status });

/** The registry entry a cursor is in. */
export function entryAt(b: MdBinding, cursor: MdCursor): MdEntry {
  return MD_REGISTRY[b.context][cursor.index]!;
}

/** Resolve an id (context already set) to a cursor; FIELD_ID_INCORRECT or NOT_READABLE if none. */
export function locate(b: MdBinding, id: bigint): Located {
  const index = findEntry(b.context, id);
  if (index === undefined) return fail(TdxStatus.TDX_METADATA_FIELD_ID_INCORRECT);
  const elem = MD_REGISTRY[b.context][index]!.elementOf(Number(FIELD_ID.get(id, 'field_code')));
  if (elem === 'incorrect') return fail(TdxStatus.TDX_METADATA_FIELD_ID_INCORRECT);
  if (elem === 'not-readable') return fail(TdxStatus.TDX_METADATA_FIELD_NOT_READABLE);
  return { ok: true, cursor: { index, elem, id } };
}

/** The module's own id for element `elem` of entry `index` (what a walk returns on a new entry). */
function tableCursor(b: MdBinding, index: number): MdCursor | undefined {
  const entry = MD_REGISTRY[b.context][index];
  if (!entry) return undefined;
  return { index, elem: 0, id: FIELD_ID.set(entry.def.id, 'field_code', BigInt(entry.codeOf(0))) };
}

/**
 * The next element (or the first element of the next field) after `from`, or the first one of
 * the context when `from` is null, skipping entries the caller cannot access
 * (`md_get_next_accessible_item`). Within an entry the caller's id is kept with only its field
 * code changed; a new entry starts from the module's own id. Undefined after the last.
 */
export function advance(
  b: MdBinding,
  from: MdCursor | null,
  granularity: 'element' | 'field',
  access: MdAccess,
): MdCursor | undefined {
  let c: MdCursor | undefined;
  if (from === null) {
    c = tableCursor(b, 0);
  } else {
    const entry = entryAt(b, from);
    const next = granularity === 'element' ? from.elem + 1 : (Math.floor(from.elem / entry.elementsPerField) + 1) * entry.elementsPerField;
    c =
      next < entry.elements
        ? { index: from.index, elem: next, id: FIELD_ID.set(from.id, 'field_code', BigInt(entry.codeOf(next))) }
        : tableCursor(b, from.index + 1);
  }
  const debug = isDebugTd(b);
  while (c && accessMask(entryAt(b, c), access, debug) === 0n) c = tableCursor(b, c.index + 1);
  return c;
}

export interface MdReadResult {
  readonly status: bigint;
  /** The element's value under the caller's read mask (0 on failure). */
  readonly value: bigint;
  /** Where it was found (on success). */
  readonly cursor?: MdCursor;
}

const readFail = (status: bigint): MdReadResult => ({ status, value: 0n });

/** Read one element for `access` ('hostRead' or 'guestRead'). */
export function readElement(b: MdBinding, id: bigint, access: 'hostRead' | 'guestRead'): MdReadResult {
  const loc = locate(b, id);
  if (!loc.ok) return readFail(loc.status);
  const entry = entryAt(b, loc.cursor);
  const mask = accessMask(entry, access, isDebugTd(b));
  if (mask === 0n) return readFail(TdxStatus.TDX_METADATA_FIELD_NOT_READABLE);
  return { status: TdxStatus.TDX_SUCCESS, value: storedValue(b, entry, loc.cursor.elem) & mask, cursor: loc.cursor };
}

/** The id of the element after a successful read, or the null id (`md_get_next_element_in_context`). */
export function nextElementId(b: MdBinding, from: MdCursor | null, access: 'hostRead' | 'guestRead'): bigint {
  return advance(b, from, 'element', access)?.id ?? NULL_FIELD_ID;
}

export interface MdWriteResult {
  readonly status: bigint;
  /** The element's previous value under the caller's read mask (0 on failure). */
  readonly oldValue: bigint;
}

/**
 * Write one element for `access` ('hostWrite' or 'guestWrite'): `value` under the caller's
 * `requestMask`, narrowed to the field's write mask.
 */
export function writeElement(
  b: MdBinding,
  id: bigint,
  value: bigint,
  requestMask: bigint,
  access: 'hostWrite' | 'guestWrite',
): MdWriteResult {
  const loc = locate(b, id);
  if (!loc.ok) return { status: loc.status, oldValue: 0n };
  const entry = entryAt(b, loc.cursor);
  const debug = isDebugTd(b);
  const writeMask = accessMask(entry, access, debug);
  const readMask = accessMask(entry, access === 'hostWrite' ? 'hostRead' : 'guestRead', debug);
  const combined = writeMask & requestMask;
  if (combined === 0n) return { status: TdxStatus.TDX_METADATA_FIELD_NOT_WRITABLE, oldValue: 0n };
  const stored = storedValue(b, entry, loc.cursor.elem);
  // A physical address nobody wrote yet is NULL_PA; its bits outside the write mask count as 0,
  // so the first write need not repeat them (`md_vp_adjust_value_per_field_attr_on_wr`).
  const current = entry.behaviour.physicalAddress && stored >> 63n === 1n ? stored & writeMask : stored;
  const forbidden = requestMask & ~writeMask & U64_MASK;
  if ((current & forbidden) !== (value & forbidden)) {
    return { status: TdxStatus.TDX_METADATA_FIELD_VALUE_NOT_VALID, oldValue: 0n };
  }
  const next = (current & ~combined) | (value & combined);
  const status = entry.behaviour.write!(b, loc.cursor.elem, next, combined);
  if (status !== TdxStatus.TDX_SUCCESS) return { status, oldValue: 0n };
  return { status, oldValue: stored & readMask };
}

/** Read all elements of the field at `cursor` (a field's first element) for a list dump. */
export function readField(b: MdBinding, cursor: MdCursor, access: 'hostRead' | 'guestRead'): bigint[] | undefined {
  const entry = entryAt(b, cursor);
  const mask = accessMask(entry, access, isDebugTd(b));
  if (mask === 0n) return undefined;
  return Array.from({ length: entry.elementsPerField }, (_, i) => storedValue(b, entry, cursor.elem + i) & mask);
}
