/**
 * Guest memory management: accepting private memory and converting pages between private and
 * shared, as Linux's `tdx_accept_memory` (arch/x86/coco/tdx/tdx-shared.c) and
 * `tdx_enc_status_changed` / `tdx_map_gpa` (arch/x86/coco/tdx/tdx.c). Facts: linux-tdx.md §6.2,
 * tdx-module.md §8.2.
 *
 * Accepting: TDG.MEM.PAGE.ACCEPT with the largest page size that fits at each step — 1G, then
 * 2M, then 4K. A size the module cannot accept there (TDX_PAGE_SIZE_MISMATCH: the range is mapped
 * with smaller pages; OPERAND_INVALID|RCX: the level is not supported, e.g. 1G on TDX 1.5) falls
 * back to the next smaller size. TDX_PAGE_ALREADY_ACCEPTED is a warning and counts as accepted
 * (Linux treats it as a failure; accepting twice is harmless, so this kernel does not).
 *
 * Converting: TDG.VP.VMCALL<MapGPA> with the shared bit set (to shared) or clear (to private).
 * The VMM may answer RETRY with R11 = where to resume. That value is untrusted: it must lie in
 * [current start, end), else the conversion fails (protects the guest from a VMM that would make
 * it skip pages it believes converted); a RETRY that makes no progress is allowed at most 3
 * times in a row, so a VMM cannot keep the guest looping. Converting to private ends by
 * accepting the range, because the VMM hands back PENDING pages.
 */
import { GPA_AND_LEVEL } from '../abi/operands.ts';
import { SeptLevel, levelSize } from '../abi/sept.ts';
import { OperandId, TdxStatus, statusCode, withOperand } from '../abi/status.ts';
import { TdcallLeaf } from '../abi/tdcall-leaves.ts';
import type { TdvmcallStatusName } from '../abi/tdvmcall-status.ts';
import { TdvmcallStatus } from '../abi/tdvmcall-status.ts';
import type { GuestCpu, GuestGen } from '../platform/guest-cpu.ts';
import { tdcall } from './tdcall.ts';
import * as ghci from './ghci.ts';

/** What the memory functions need to know about their TD. */
export interface MemoryEnv {
  readonly cpu: GuestCpu;
  /** The shared-bit mask (from TDG.VP.INFO's GPAW). */
  readonly sharedBit: bigint;
}

/** Why a memory operation failed; `accept` carries a module status, `map_gpa*` the VMM's. */
export type MemoryFailure =
  | { readonly ok: false; readonly kind: 'accept'; readonly gpa: bigint; readonly level: number; readonly status: bigint }
  | { readonly ok: false; readonly kind: 'map_gpa'; readonly gpa: bigint; readonly status: bigint; readonly statusName: TdvmcallStatusName | undefined }
  | { readonly ok: false; readonly kind: 'map_gpa_bad_retry'; readonly gpa: bigint; readonly nextGpa: bigint }
  | { readonly ok: false; readonly kind: 'map_gpa_no_progress'; readonly gpa: bigint };

export type MemoryResult = { readonly ok: true } | MemoryFailure;

/** Misuse by guest code: an unaligned or empty range, or a GPA with the shared bit. */
export class MemoryUsageError extends Error {
  override readonly name = 'MemoryUsageError';
}

/** Consecutive MapGPA RETRYs without progress tolerated (Linux `max_retries_per_page`). */
export const MAP_GPA_MAX_RETRIES_WITHOUT_PROGRESS = 3;

const PAGE = levelSize(SeptLevel.PT);
/** Page sizes to try at each step, largest first. */
const ACCEPT_LEVELS = [SeptLevel.PDPT, SeptLevel.PD, SeptLevel.PT] as const;
const LEVEL_NOT_SUPPORTED = withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX);

/** Accept the private range [gpa, gpa + size) into the TD. */
export function* acceptMemory(env: MemoryEnv, gpa: bigint, size: bigint): GuestGen<MemoryResult> {
  checkRange(env, gpa, size);
  const end = gpa + size;
  let start = gpa;
  while (start < end) {
    const res = yield* acceptOne(env.cpu, start, end - start);
    if (!res.ok) return res;
    start += res.accepted;
  }
  return { ok: true };
}

/** Accept one page at `start`, the largest that fits in `len` and is aligned. */
function* acceptOne(cpu: GuestCpu, start: bigint, len: bigint): GuestGen<{ ok: true; accepted: bigint } | MemoryFailure> {
  for (const level of ACCEPT_LEVELS) {
    const size = levelSize(level);
    if (len < size || start % size !== 0n) continue;
    const res = yield* tdcall(cpu, TdcallLeaf.TDG_MEM_PAGE_ACCEPT, {
      gpaLevel: GPA_AND_LEVEL.encode({ level, gpa_page: start / PAGE }),
    });
    if (res.ok) return { ok: true, accepted: size };
    const mayFallBack =
      level !== SeptLevel.PT &&
      (statusCode(res.status) === TdxStatus.TDX_PAGE_SIZE_MISMATCH || res.status === LEVEL_NOT_SUPPORTED);
    if (!mayFallBack) return { ok: false, kind: 'accept', gpa: start, level, status: res.status };
  }
  // Unreachable for a 4K-aligned range: the 4K level always fits and returns above.
  throw new MemoryUsageError(`cannot accept at 0x${start.toString(16)}`);
}

/** Convert the private range [gpa, gpa + size) to shared (MapGPA with the shared bit set). */
export function* setMemoryShared(env: MemoryEnv, gpa: bigint, size: bigint): GuestGen<MemoryResult> {
  checkRange(env, gpa, size);
  return yield* mapGpa(env.cpu, gpa | env.sharedBit, (gpa + size) | env.sharedBit);
}

/** Convert [gpa, gpa + size) back to private (MapGPA with the shared bit clear), then accept it. */
export function* setMemoryPrivate(env: MemoryEnv, gpa: bigint, size: bigint): GuestGen<MemoryResult> {
  checkRange(env, gpa, size);
  const mapped = yield* mapGpa(env.cpu, gpa, gpa + size);
  if (!mapped.ok) return mapped;
  return yield* acceptMemory(env, gpa, size);
}

/**
 * MapGPA over [start, end) (both already carry the target's shared bit), following the VMM's
 * RETRY answers as described in the module comment.
 */
function* mapGpa(cpu: GuestCpu, start: bigint, end: bigint): GuestGen<MemoryResult> {
  let retries = 0;
  while (retries < MAP_GPA_MAX_RETRIES_WITHOUT_PROGRESS) {
    const res = yield* ghci.mapGpa(cpu, start, end - start);
    if (res.ok) return { ok: true };
    if (res.status !== TdvmcallStatus.RETRY) {
      return { ok: false, kind: 'map_gpa', gpa: start, status: res.status, statusName: res.statusName };
    }
    const next = res.r11;
    if (next < start || next >= end) return { ok: false, kind: 'map_gpa_bad_retry', gpa: start, nextGpa: next };
    if (next === start) {
      retries++;
      continue;
    }
    start = next;
    retries = 0;
  }
  return { ok: false, kind: 'map_gpa_no_progress', gpa: start };
}

function checkRange(env: MemoryEnv, gpa: bigint, size: bigint): void {
  if (gpa < 0n || size <= 0n || gpa % PAGE !== 0n || size % PAGE !== 0n) {
    throw new MemoryUsageError(`range 0x${gpa.toString(16)}+0x${size.toString(16)} must be non-empty and 4K-aligned`);
  }
  if ((gpa | (gpa + size - 1n)) & ~(env.sharedBit - 1n)) {
    throw new MemoryUsageError(`range 0x${gpa.toString(16)}+0x${size.toString(16)} is not in the private GPA space`);
  }
}

/** One line describing a memory failure, for consoles and panics. */
export function describeMemoryFailure(f: MemoryFailure): string {
  const at = `0x${f.gpa.toString(16)}`;
  switch (f.kind) {
    case 'accept':
      return `accept ${at} level ${f.level}: status 0x${f.status.toString(16)}`;
    case 'map_gpa':
      return `MapGPA ${at}: VMM ${f.statusName ?? `0x${f.status.toString(16)}`}`;
    case 'map_gpa_bad_retry':
      return `MapGPA ${at}: VMM retry GPA 0x${f.nextGpa.toString(16)} out of range`;
    case 'map_gpa_no_progress':
      return `MapGPA ${at}: VMM retried without progress`;
  }
}
