/**
 * TDH.SYS.CONFIG's validation of the host's TDMR_INFO entries: each TDMR, its reserved areas and
 * its three PAMT ranges, checked in the module's order against the TDMRs before it.
 *
 * Source: TDX module 1.5 `tdh_sys_config.c` (`check_and_set_tdmrs` and the helpers it calls);
 * facts tdx-module.md §4.1, §10.2. These checks protect every TD that will ever run: a PAMT that
 * overlaps usable TDMR memory, or a TDMR outside convertible memory, would let the host alias the
 * module's metadata with pages it hands to TDs. Errors carry details in status bits 31:0 as the
 * module packs them (`api_error_with_multiple_info`): byte 0 = TDMR index, byte 1 = PAMT level or
 * reserved-area index, byte 2 = the other TDMR's index.
 */
import { PamtPageSize, PAGE_SIZE, PAMT_ENTRY_BYTES, SIZE_1G, SIZE_2M } from '../abi/pamt.ts';
import { TdxStatus } from '../abi/status.ts';
import { U64_MASK } from '../abi/bitfield.ts';
import { TDMR_INFO, decodeReservedAreas } from '../abi/tdmr.ts';
import type { Platform } from '../platform/platform.ts';
import { keyIdOf } from './hpa.ts';

export interface PamtRange {
  readonly base: bigint;
  readonly size: bigint;
}

/** One decoded TDMR_INFO entry. `pamt` is indexed by PAMT level: 0 = 4K, 1 = 2M, 2 = 1G. */
export interface TdmrInfo {
  readonly base: bigint;
  readonly size: bigint;
  readonly pamt: readonly [PamtRange, PamtRange, PamtRange];
  /** All 16 reserved-area slots, including null (size 0) ones. */
  readonly reserved: readonly { readonly offset: bigint; readonly size: bigint }[];
}

/** Decode a TDMR_INFO entry as read from host memory. */
export function decodeTdmrInfo(bytes: Uint8Array): TdmrInfo {
  const t = TDMR_INFO.decode(bytes);
  return {
    base: t.base,
    size: t.size,
    pamt: [
      { base: t.pamt_4k_base, size: t.pamt_4k_size },
      { base: t.pamt_2m_base, size: t.pamt_2m_size },
      { base: t.pamt_1g_base, size: t.pamt_1g_size },
    ],
    reserved: decodeReservedAreas(t.reserved_areas),
  };
}

/** Page size covered by one PAMT entry at each level. */
const LEVEL_PAGE_SIZE = [PAGE_SIZE, SIZE_2M, SIZE_1G] as const;
/** The module checks the PAMT levels in this order (1G, 2M, 4K) where it reports the first. */
const LEVELS_1G_FIRST = [PamtPageSize.PT_1GB, PamtPageSize.PT_2MB, PamtPageSize.PT_4KB] as const;
const LEVELS_4K_FIRST = [PamtPageSize.PT_4KB, PamtPageSize.PT_2MB, PamtPageSize.PT_1GB] as const;

/** `api_error_with_multiple_info`: detail bytes 0..2 in status bits 23:0. */
function info(code: bigint, b0: number, b1 = 0, b2 = 0): bigint {
  return code | BigInt(b0 & 0xff) | (BigInt(b1 & 0xff) << 8n) | (BigInt(b2 & 0xff) << 16n);
}

const overflows = (base: bigint, size: bigint): boolean => base + size > U64_MASK;
const overlap = (a: bigint, as: bigint, b: bigint, bs: bigint): boolean => a < b + bs && b < a + as;

/** PA bits and KeyID bits as the module checks a TDMR or PAMT boundary. */
function validPa(platform: Platform, pa: bigint): boolean {
  return pa >> BigInt(platform.maxPa) === 0n && keyIdOf(platform, pa) === 0;
}

/** The non-reserved ("available") parts of a TDMR, in ascending order. */
function availableAreas(t: TdmrInfo): PamtRange[] {
  const out: PamtRange[] = [];
  let start = t.base;
  for (const r of t.reserved) {
    if (r.size === 0n) break;
    const rs = t.base + r.offset;
    if (rs > start) out.push({ base: start, size: rs - start });
    start = rs + r.size;
  }
  if (t.base + t.size > start) out.push({ base: start, size: t.base + t.size - start });
  return out;
}

/** `is_area_in_cmr`: [start, end) inside one CMR, treating back-to-back CMRs as one. */
function inCmr(platform: Platform, start: bigint, end: bigint): boolean {
  let runStart = -1n;
  let runEnd = -1n;
  for (const c of platform.cmrs) {
    if (c.size === 0n) continue;
    if (c.base === runEnd) runEnd = c.base + c.size;
    else [runStart, runEnd] = [c.base, c.base + c.size];
    if (start >= runStart && end <= runEnd) return true;
  }
  return false;
}

function checkTdmrRange(platform: Platform, t: TdmrInfo, i: number): bigint {
  if (t.base % SIZE_1G !== 0n || t.size % SIZE_1G !== 0n || t.size === 0n) return info(TdxStatus.TDX_INVALID_TDMR, i);
  if (!validPa(platform, t.base) || !validPa(platform, t.base + t.size - 1n)) return info(TdxStatus.TDX_INVALID_TDMR, i);
  return TdxStatus.TDX_SUCCESS;
}

function checkReservedAreas(t: TdmrInfo, i: number): bigint {
  for (let j = 0; j < t.reserved.length; j++) {
    const r = t.reserved[j]!;
    if (r.size === 0n) {
      // A null area may only be followed by null areas.
      if (j < t.reserved.length - 1 && t.reserved[j + 1]!.size !== 0n) return info(TdxStatus.TDX_NON_ORDERED_RESERVED_IN_TDMR, i, j);
      continue;
    }
    if (overflows(r.offset, r.size)) return info(TdxStatus.TDX_INVALID_RESERVED_IN_TDMR, i, j);
    const prev = j > 0 ? t.reserved[j - 1]! : undefined;
    if (prev && (r.offset < prev.offset || r.offset < prev.offset + prev.size)) {
      return info(TdxStatus.TDX_NON_ORDERED_RESERVED_IN_TDMR, i, j);
    }
    if (r.offset % PAGE_SIZE !== 0n || r.size % PAGE_SIZE !== 0n) return info(TdxStatus.TDX_INVALID_RESERVED_IN_TDMR, i, j);
    if (overflows(t.base, r.offset) || overflows(t.base + r.offset, r.size)) return info(TdxStatus.TDX_INVALID_RESERVED_IN_TDMR, i, j);
    if (t.base + r.offset + r.size > t.base + t.size) return info(TdxStatus.TDX_INVALID_RESERVED_IN_TDMR, i, j);
  }
  return TdxStatus.TDX_SUCCESS;
}

function checkPamtAddresses(platform: Platform, t: TdmrInfo, i: number): bigint {
  for (const lvl of LEVELS_1G_FIRST) {
    const p = t.pamt[lvl];
    const ok =
      !overflows(p.base, p.size) &&
      p.base % PAGE_SIZE === 0n &&
      p.size % PAGE_SIZE === 0n &&
      validPa(platform, p.base) &&
      validPa(platform, p.base + p.size - 1n) &&
      p.size >= (t.size / LEVEL_PAGE_SIZE[lvl]) * BigInt(PAMT_ENTRY_BYTES);
    if (!ok) return info(TdxStatus.TDX_INVALID_PAMT, i, lvl);
  }
  return TdxStatus.TDX_SUCCESS;
}

function checkPamtOverlaps(tdmrs: readonly TdmrInfo[], i: number): bigint {
  const t = tdmrs[i]!;
  // PAMTs must not overlap the PAMTs of earlier TDMRs …
  for (let j = 0; j < i; j++) {
    for (const lvl of LEVELS_4K_FIRST) {
      const p = t.pamt[lvl];
      if (tdmrs[j]!.pamt.some((q) => overlap(p.base, p.size, q.base, q.size))) return info(TdxStatus.TDX_PAMT_OVERLAP, i, lvl, j);
    }
  }
  // … nor each other.
  const [p4k, p2m, p1g] = t.pamt;
  if (overlap(p4k.base, p4k.size, p2m.base, p2m.size)) return info(TdxStatus.TDX_PAMT_OVERLAP, i, PamtPageSize.PT_4KB, i);
  if (overlap(p4k.base, p4k.size, p1g.base, p1g.size)) return info(TdxStatus.TDX_PAMT_OVERLAP, i, PamtPageSize.PT_4KB, i);
  if (overlap(p2m.base, p2m.size, p1g.base, p1g.size)) return info(TdxStatus.TDX_PAMT_OVERLAP, i, PamtPageSize.PT_2MB, i);
  // PAMTs may sit in reserved areas of any TDMR, never in memory a TD could be given.
  const hitsAvailable = (p: PamtRange, of: TdmrInfo) => availableAreas(of).some((a) => overlap(p.base, p.size, a.base, a.size));
  for (let j = 0; j <= i; j++) {
    for (const lvl of LEVELS_4K_FIRST) if (hitsAvailable(t.pamt[lvl], tdmrs[j]!)) return info(TdxStatus.TDX_PAMT_OVERLAP, i, lvl, j);
    if (j < i) {
      for (const lvl of LEVELS_4K_FIRST) if (hitsAvailable(tdmrs[j]!.pamt[lvl], t)) return info(TdxStatus.TDX_PAMT_OVERLAP, j, lvl, i);
    }
  }
  return TdxStatus.TDX_SUCCESS;
}

function checkPamtInCmr(platform: Platform, t: TdmrInfo, i: number): bigint {
  for (const lvl of LEVELS_1G_FIRST) {
    const p = t.pamt[lvl];
    if (!inCmr(platform, p.base, p.base + p.size)) return info(TdxStatus.TDX_PAMT_OUTSIDE_CMRS, i, lvl);
  }
  return TdxStatus.TDX_SUCCESS;
}

/**
 * Check TDMR `i` against itself and TDMRs 0..i-1 (`check_and_set_tdmrs`). Returns TDX_SUCCESS or
 * the first failure, with its details.
 */
export function checkTdmr(platform: Platform, tdmrs: readonly TdmrInfo[], i: number): bigint {
  const t = tdmrs[i]!;
  if (overflows(t.base, t.size)) return info(TdxStatus.TDX_INVALID_TDMR, i);
  const prev = i > 0 ? tdmrs[i - 1]! : undefined;
  if (prev && (t.base < prev.base || t.base < prev.base + prev.size)) return info(TdxStatus.TDX_NON_ORDERED_TDMR, i);
  for (const check of [
    () => checkTdmrRange(platform, t, i),
    () => checkReservedAreas(t, i),
    () => checkPamtAddresses(platform, t, i),
    () => checkPamtOverlaps(tdmrs, i),
    () => checkPamtInCmr(platform, t, i),
  ]) {
    const status = check();
    if (status !== TdxStatus.TDX_SUCCESS) return status;
  }
  if (!availableAreas(t).every((a) => inCmr(platform, a.base, a.base + a.size))) return info(TdxStatus.TDX_TDMR_OUTSIDE_CMRS, i);
  return TdxStatus.TDX_SUCCESS;
}
