/**
 * TDMR_INFO and CMR_INFO: how the host describes memory to the TDX module.
 *
 * CMRs (convertible memory ranges) are fixed by BIOS and checked by MCHECK; TDH.SYS.INFO returns
 * them as an array of CMR_INFO entries. TDMRs (TD memory ranges) are chosen by the host: each is
 * 1G-aligned, covers CMR memory, and comes with three PAMT areas (1G, 2M and 4K entries) and up to
 * 16 reserved areas (holes and the PAMTs themselves). TDH.SYS.CONFIG takes RCX = the PA of an array
 * of TDMR_INFO PAs.
 *
 * Source: TDX module 1.5 `tdmr_info_entry_t` and `cmr_info_entry_t` in `include/tdx_api_defs.h`;
 * facts tdx-module.md §10.2, linux-tdx.md §1.4 (Linux's `struct tdmr_info`).
 */
import { defineLayout, type DecodedLayout } from './layout.ts';
import { PAMT_ENTRY_BYTES } from './pamt.ts';

/** Maximum TDMRs TDH.SYS.CONFIG accepts (TDSYSINFO max_tdmrs, SYS metadata MAX_TDMRS). */
export const MAX_TDMRS = 64;
/** Reserved areas per TDMR (TDSYSINFO max_reserved_per_tdmr, MAX_RESERVED_PER_TDMR). */
export const MAX_RESERVED_PER_TDMR = 16;
/** Bytes per PAMT entry, for each of the three PAMT levels. */
export const PAMT_ENTRY_SIZE = PAMT_ENTRY_BYTES;
/**
 * Each TDMR_INFO must be 512-byte aligned. A 320-byte TDMR_INFO therefore occupies a 512-byte slot
 * when several are laid out together (Linux rounds each up to this alignment).
 */
export const TDMR_INFO_ALIGNMENT = 512;
/** The array of TDMR_INFO PAs (TDH.SYS.CONFIG RCX) must be 512-byte aligned. */
export const TDMR_INFO_PA_ARRAY_ALIGNMENT = 512;
/** CMR_INFO entries TDH.SYS.INFO writes (R9 on input must be at least this). */
export const MAX_CMRS = 32;
/** The CMR_INFO array (TDH.SYS.INFO R8) must be 512-byte aligned. */
export const CMR_INFO_ARRAY_ALIGNMENT = 512;
/** TDMR base and size granularity. */
export const TDMR_ALIGNMENT = 1n << 30n;

export const TDMR_RESERVED_AREA_SIZE = 16;
export const TDMR_INFO_SIZE = 64 + MAX_RESERVED_PER_TDMR * TDMR_RESERVED_AREA_SIZE;
export const CMR_INFO_SIZE = 16;

/** TDMR_INFO (`tdmr_info_entry_t`), 320 bytes. Addresses have HKID bits 0. */
export const TDMR_INFO = defineLayout('TDMR_INFO', TDMR_INFO_SIZE, [
  { name: 'base', offset: 0, size: 8, kind: 'u64', doc: 'TDMR base address, 1G-aligned' },
  { name: 'size', offset: 8, size: 8, kind: 'u64', doc: 'TDMR size in bytes, 1G-aligned' },
  { name: 'pamt_1g_base', offset: 16, size: 8, kind: 'u64', doc: 'PAMT_1G area base, 4K-aligned' },
  { name: 'pamt_1g_size', offset: 24, size: 8, kind: 'u64', doc: 'PAMT_1G area size, 4K-aligned' },
  { name: 'pamt_2m_base', offset: 32, size: 8, kind: 'u64', doc: 'PAMT_2M area base, 4K-aligned' },
  { name: 'pamt_2m_size', offset: 40, size: 8, kind: 'u64', doc: 'PAMT_2M area size, 4K-aligned' },
  { name: 'pamt_4k_base', offset: 48, size: 8, kind: 'u64', doc: 'PAMT_4K area base, 4K-aligned' },
  { name: 'pamt_4k_size', offset: 56, size: 8, kind: 'u64', doc: 'PAMT_4K area size, 4K-aligned' },
  {
    name: 'reserved_areas',
    offset: 64,
    size: MAX_RESERVED_PER_TDMR * TDMR_RESERVED_AREA_SIZE,
    kind: 'bytes',
    doc: '16 × TDMR_RESERVED_AREA {offset, size}, sorted by offset; size 0 = unused (see decodeReservedAreas)',
  },
]);

/** One reserved area of a TDMR: a 4K-aligned range, relative to the TDMR base. */
export const TDMR_RESERVED_AREA = defineLayout('TDMR_RESERVED_AREA', TDMR_RESERVED_AREA_SIZE, [
  { name: 'offset', offset: 0, size: 8, kind: 'u64', doc: 'offset from the TDMR base, 4K-aligned' },
  { name: 'size', offset: 8, size: 8, kind: 'u64', doc: 'size in bytes, 4K-aligned; 0 = null entry' },
]);

/** One CMR (`cmr_info_entry_t`). */
export const CMR_INFO = defineLayout('CMR_INFO', CMR_INFO_SIZE, [
  { name: 'base', offset: 0, size: 8, kind: 'u64', doc: 'CMR base, 4K-aligned' },
  { name: 'size', offset: 8, size: 8, kind: 'u64', doc: 'CMR size, 4K-aligned; 0 = null entry' },
]);

export type TdmrReservedArea = DecodedLayout<(typeof TDMR_RESERVED_AREA)['fields']>;

/** The 16 reserved areas of a TDMR_INFO (the `reserved_areas` field, as `decode` returns it). */
export function decodeReservedAreas(reservedAreas: Uint8Array): TdmrReservedArea[] {
  return TDMR_RESERVED_AREA.decodeArray(reservedAreas, MAX_RESERVED_PER_TDMR);
}

/** Encode up to 16 reserved areas into the 256-byte `reserved_areas` field; the rest are null. */
export function encodeReservedAreas(areas: readonly { offset: bigint; size: bigint }[]): Uint8Array {
  if (areas.length > MAX_RESERVED_PER_TDMR) {
    throw new RangeError(`a TDMR has at most ${MAX_RESERVED_PER_TDMR} reserved areas, got ${areas.length}`);
  }
  const out = new Uint8Array(MAX_RESERVED_PER_TDMR * TDMR_RESERVED_AREA_SIZE);
  areas.forEach((a, i) => TDMR_RESERVED_AREA.encodeInto(out, a, i * TDMR_RESERVED_AREA_SIZE));
  return out;
}
