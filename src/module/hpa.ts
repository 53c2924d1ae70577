/**
 * How the module checks and touches host physical addresses (HPAs) that the host passes in
 * registers. Source: TDX module 1.5 `helpers.c` (`hpa_check_with_pwr_2_alignment`,
 * `shared_hpa_check_with_pwr_2_alignment`, `check_and_lock_explicit_private_hpa`) and
 * `pamt_manager.c` (`non_shared_hpa_metadata_check_and_lock`).
 *
 * A physical address carries a KeyID in its top bits: bits [keyIdShift, maxPa) of the PA
 * (platform.keyIdShift). Two kinds of HPA operand exist:
 *   - a *private* page operand (TDR, TDCX, TDVPR, a page to add or reclaim) must be aligned, have
 *     KeyID bits 0 and lie below 2^MAX_PA; the module applies the TD's or its own KeyID itself;
 *   - a *shared* buffer (TD_PARAMS, TDMR_INFO, the TDH.SYS.INFO outputs) must be aligned, lie below
 *     2^MAX_PA and use a shared KeyID (below the first private KeyID), because the module reads or
 *     writes it with the host's KeyID: a private KeyID there would let the host make the module
 *     read or overwrite TD-private memory.
 */
import { PAGE_SIZE, type PamtPageTypeValue, PamtPageSize } from '../abi/pamt.ts';
import { TdxStatus, withOperand } from '../abi/status.ts';
import type { Platform } from '../platform/platform.ts';
import type { LockMode } from './locks.ts';
import { LockKey } from './locks.ts';
import type { LockScope } from './lock-scope.ts';
import type { TdxModule } from './module.ts';
import type { PamtEntry } from './pamt.ts';

/** The KeyID an HPA carries in bits [keyIdShift, maxPa). */
export function keyIdOf(platform: Platform, pa: bigint): number {
  return Number((pa & platform.keyIdPaMask) >> BigInt(platform.keyIdShift));
}

/** The HPA with its KeyID bits cleared. */
export function withoutKeyId(platform: Platform, pa: bigint): bigint {
  return pa & ~platform.keyIdPaMask;
}

function belowMaxPa(platform: Platform, pa: bigint): boolean {
  return pa >= 0n && pa < platform.paLimit;
}

/** `hpa_check_with_pwr_2_alignment`: aligned, KeyID bits 0, below 2^MAX_PA. */
export function isPrivateHpa(platform: Platform, pa: bigint, alignment: bigint): boolean {
  return pa % alignment === 0n && (pa & platform.keyIdPaMask) === 0n && belowMaxPa(platform, pa);
}

/** `shared_hpa_check_with_pwr_2_alignment`: aligned, below 2^MAX_PA, KeyID not private. */
export function isSharedHpa(platform: Platform, pa: bigint, alignment: bigint): boolean {
  return pa % alignment === 0n && belowMaxPa(platform, pa) && keyIdOf(platform, pa) < platform.firstTdxKeyId;
}

/**
 * Read a shared buffer the host passed (with the KeyID its HPA names). Addresses with no memory
 * behind them read as all ones, as unbacked physical addresses do on real machines, so a host
 * pointing the module at a hole gets whatever that garbage decodes to, never an exception.
 */
export function readShared(platform: Platform, pa: bigint, length: number): Uint8Array {
  const keyId = keyIdOf(platform, pa);
  const addr = withoutKeyId(platform, pa);
  if (!platform.memory.contains(addr, length)) return new Uint8Array(length).fill(0xff);
  return platform.memory.read(addr, length, keyId);
}

/** Write a shared buffer; writes to addresses with no memory behind them are dropped. */
export function writeShared(platform: Platform, pa: bigint, data: Uint8Array): void {
  const keyId = keyIdOf(platform, pa);
  const addr = withoutKeyId(platform, pa);
  if (platform.memory.contains(addr, data.length)) platform.memory.write(addr, data, keyId);
}

export type PageCheck = { readonly ok: true; readonly entry: PamtEntry } | { readonly ok: false; readonly status: bigint };

const fail = (status: bigint): PageCheck => ({ ok: false, status });

/**
 * Check, lock and type-check an explicit 4K private page operand (`check_and_lock_explicit_4k_
 * private_hpa` for new pages, `check_lock_and_map_explicit_tdr` for a TDR). In the module's order:
 *   1. alignment, KeyID bits and MAX_PA           → OPERAND_INVALID | operand
 *   2. inside an initialised TDMR (PAMT exists)   → OPERAND_ADDR_RANGE_ERROR | operand
 *   3. the page's PAMT entry lock                 → OPERAND_BUSY | operand
 *   4. a 4K entry of the expected page type       → PAGE_METADATA_INCORRECT | operand
 * The module takes the PAMT lock while walking, before it compares the type, so a busy entry
 * reports BUSY even when its type is also wrong. The lock is held in `scope` on success; it
 * protects the page from a concurrent leaf changing its type between the check and the update.
 */
export function lockExplicitPage(
  scope: LockScope,
  module: TdxModule,
  pa: bigint,
  operand: number,
  mode: LockMode,
  expected: PamtPageTypeValue,
): PageCheck {
  if (!isPrivateHpa(module.platform, pa, PAGE_SIZE)) return fail(withOperand(TdxStatus.TDX_OPERAND_INVALID, operand));
  const entry = module.pamt.lookup(pa);
  if (!entry) return fail(withOperand(TdxStatus.TDX_OPERAND_ADDR_RANGE_ERROR, operand));
  if (scope.acquire(LockKey.pamtOfPa(entry.base), mode) !== 'ok') {
    return fail(withOperand(TdxStatus.TDX_OPERAND_BUSY, operand));
  }
  if (entry.level !== PamtPageSize.PT_4KB || entry.type !== expected) {
    scope.release(LockKey.pamtOfPa(entry.base), mode);
    return fail(withOperand(TdxStatus.TDX_PAGE_METADATA_INCORRECT, operand));
  }
  return { ok: true, entry };
}
