/**
 * Dumping a context's metadata into a metadata list (`md_dump_list`), as TDH.SYS.RDALL does.
 *
 * Starting at a field (or at the first readable field, for the null id), fields are packed into
 * sequences: runs of consecutive fields of one class with the same element count and size, each
 * behind a sequence header. Only whole fields are written; when the next field no longer fits,
 * the dump stops with TDX_METADATA_LIST_OVERFLOW and returns that field's id so the host can
 * continue with a new list. After the last readable field it returns TDX_SUCCESS and the null id.
 *
 * Source: TDX module 1.5 `metadata_generic.c` (`md_dump_list`, `md_dump_sequence`,
 * `md_check_field_and_get_entry`, `md_set_sequence_header`, `is_sequential_field_id`).
 */
import { FIELD_ID } from '../abi/operands.ts';
import { TdxStatus } from '../abi/status.ts';
import {
  MD_ELEMENT_BYTES,
  MD_LIST_HEADER,
  MD_LIST_MIN_BYTES,
  MD_SEQUENCE_HEADER_BYTES,
  MetadataContextCode,
} from '../abi/metadata.ts';
import { NULL_FIELD_ID, advance, entryAt, isNullFieldId, locate, readField, type MdCursor } from './md-access.ts';
import type { MdBinding } from './md-fields.ts';

export interface MdListResult {
  readonly status: bigint;
  /** Where to continue (the next field not dumped), or the null id when the context is done. */
  readonly nextFieldId: bigint;
  /** The list bytes to store at the start of the host's page; undefined if nothing is written. */
  readonly list?: Uint8Array;
}

const ELEMENT = BigInt(MD_ELEMENT_BYTES);

/** `md_check_field_and_get_entry`: the id names the first element of a field, with its element size. */
function locateField(b: MdBinding, id: bigint): MdCursor | undefined {
  const loc = locate(b, id);
  if (!loc.ok) return undefined;
  const entry = entryAt(b, loc.cursor);
  if (loc.cursor.elem % entry.elementsPerField !== 0) return undefined;
  if (FIELD_ID.get(id, 'element_size_code') !== FIELD_ID.get(entry.def.id, 'element_size_code')) return undefined;
  return loc.cursor;
}

/** The field after `last` continues its sequence: same class, field code right after it. */
function sequential(b: MdBinding, last: MdCursor, next: MdCursor): boolean {
  const e = entryAt(b, last);
  return (
    FIELD_ID.get(last.id, 'class_code') === FIELD_ID.get(next.id, 'class_code') &&
    Number(FIELD_ID.get(last.id, 'field_code')) + e.elementsPerField * e.stride === Number(FIELD_ID.get(next.id, 'field_code'))
  );
}

/** Sequence header: the first field's id in this context, its element count and field count. */
function sequenceHeader(b: MdBinding, first: MdCursor, fields: number): bigint {
  let h = first.id;
  h = FIELD_ID.set(h, 'context_code', BigInt(MetadataContextCode[b.context]));
  for (const r of ['reserved0', 'reserved1', 'reserved2', 'reserved3'] as const) h = FIELD_ID.set(h, r, 0n);
  h = FIELD_ID.set(h, 'write_mask_valid', 0n);
  h = FIELD_ID.set(h, 'last_element_in_field', BigInt(entryAt(b, first).elementsPerField - 1));
  return FIELD_ID.set(h, 'last_field_in_sequence', BigInt(fields - 1));
}

/** Dump `b`'s context from `fieldId` into a list of at most `bufferBytes` bytes (host reads). */
export function dumpList(b: MdBinding, fieldId: bigint, bufferBytes: number): MdListResult {
  if (bufferBytes < MD_LIST_MIN_BYTES) return { status: TdxStatus.TDX_METADATA_LIST_OVERFLOW, nextFieldId: fieldId };
  let cursor: MdCursor | undefined;
  if (isNullFieldId(fieldId)) {
    cursor = advance(b, null, 'field', 'hostRead');
    // Nothing readable in this context: nothing to write.
    if (!cursor) return { status: TdxStatus.TDX_SUCCESS, nextFieldId: NULL_FIELD_ID };
  } else {
    cursor = locateField(b, fieldId);
    if (!cursor) return { status: TdxStatus.TDX_METADATA_FIELD_ID_INCORRECT, nextFieldId: NULL_FIELD_ID };
  }
  const words: bigint[] = [];
  let sequences = 0;
  let room = BigInt(bufferBytes - MD_LIST_HEADER.size);
  const fieldBytes = (c: MdCursor) => BigInt(entryAt(b, c).elementsPerField) * ELEMENT;

  while (cursor && room >= BigInt(MD_SEQUENCE_HEADER_BYTES) + fieldBytes(cursor)) {
    // One sequence: consecutive fields while they fit and continue the run.
    const first: MdCursor = cursor;
    const values: bigint[] = [];
    let fields = 0;
    let seqRoom = room - BigInt(MD_SEQUENCE_HEADER_BYTES);
    let outOfSpace = true;
    while (seqRoom >= fieldBytes(cursor)) {
      const elems = readField(b, cursor, 'hostRead');
      if (elems) {
        values.push(...elems);
        seqRoom -= fieldBytes(cursor);
        fields++;
      }
      const last: MdCursor = cursor;
      cursor = advance(b, cursor, 'field', 'hostRead');
      if (
        !elems ||
        !cursor ||
        !sequential(b, last, cursor) ||
        entryAt(b, last).elementsPerField !== entryAt(b, cursor).elementsPerField ||
        entryAt(b, last).def.elementSize !== entryAt(b, cursor).def.elementSize
      ) {
        outOfSpace = false;
        break;
      }
    }
    // Only the first field of a run can be unreadable (the walk skips unreadable fields), and
    // then the sequence is empty: a written sequence always starts at `first`.
    if (fields > 0) {
      words.push(sequenceHeader(b, first, fields), ...values);
      sequences++;
      room -= BigInt(MD_SEQUENCE_HEADER_BYTES) + BigInt(values.length) * ELEMENT;
    }
    if (outOfSpace || !cursor) break;
  }

  const size = MD_LIST_HEADER.size + words.length * MD_ELEMENT_BYTES;
  const list = new Uint8Array(size);
  MD_LIST_HEADER.encodeInto(list, { list_buff_size: size, num_sequences: sequences });
  const view = new DataView(list.buffer);
  words.forEach((w, i) => view.setBigUint64(MD_LIST_HEADER.size + i * MD_ELEMENT_BYTES, w, true));
  return cursor
    ? { status: TdxStatus.TDX_METADATA_LIST_OVERFLOW, nextFieldId: cursor.id, list }
    : { status: TdxStatus.TDX_SUCCESS, nextFieldId: NULL_FIELD_ID, list };
}

