/**
 * Metadata field ids by name, from the ABI's field table (src/abi/metadata.ts), for cases that
 * read or write TD, vCPU or global metadata.
 */
import { U64_MASK } from '../../abi/bitfield.ts';
import { metadataFieldByName } from '../../abi/metadata.ts';

/** The null field id (-1): "the first field" on input, "no next field" on output (facts tdx-module.md §10.3). */
export const NULL_FIELD_ID = U64_MASK;

/** FIELD_ID of a named field, plus an element offset. */
export function field(name: string, offset = 0): bigint {
  const f = metadataFieldByName(name);
  if (!f) throw new Error(`the metadata table has no field ${name}`);
  return f.id + BigInt(offset);
}
