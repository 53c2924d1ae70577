/**
 * Checks of GPA operands: the GPA|level register of the Secure-EPT leaves and of
 * TDG.MEM.PAGE.ACCEPT, and the validity of a private GPA for a TD.
 *
 * Both protect the module's walk: a level outside the leaf's range, a GPA not aligned to the
 * level's page size, a shared GPA or one beyond the TD's address width would make the walk name
 * the wrong entry. Failures are OPERAND_INVALID with the operand's register, decided by the
 * caller. Source: TDX module 1.5 `helpers.c` (`verify_page_info_input`, `check_gpa_validity`);
 * facts tdx-module.md §2.1 (GPA/level operand), §8.1.
 */
import { GPA_AND_LEVEL } from '../abi/operands.ts';
import { levelSize } from '../abi/sept.ts';
import { sharedBit } from '../abi/gpa.ts';

export type PageInfo = { readonly ok: true; readonly gpa: bigint; readonly level: number } | { readonly ok: false };

/**
 * `verify_page_info_input`: reserved bits 0, level within [minLevel, maxLevel], GPA aligned to
 * the level's page size. Returns the GPA (bits 51:12 of the operand) and level.
 */
export function verifyPageInfo(operand: bigint, minLevel: number, maxLevel: number): PageInfo {
  if (GPA_AND_LEVEL.hasReservedBits(operand)) return { ok: false };
  const level = Number(GPA_AND_LEVEL.get(operand, 'level'));
  if (level < minLevel || level > maxLevel) return { ok: false };
  const gpa = GPA_AND_LEVEL.get(operand, 'gpa_page') << 12n;
  if (gpa % levelSize(level) !== 0n) return { ok: false };
  return { ok: true, gpa, level };
}

/**
 * `check_gpa_validity` for a private GPA: the shared bit is clear, and no bit at or above the
 * smaller of MAX_PA and the guest address width is set (other than the shared bit itself, which
 * is tested first). With GPAW 48 this rejects bits 63:48; with GPAW 52, bits 63:52.
 */
export function isValidPrivateGpa(gpa: bigint, gpaw: number, maxPa: number): boolean {
  const m = validityMasks(gpaw, maxPa);
  if ((gpa & m.shared) !== 0n) return false;
  return (gpa & m.above) === 0n;
}

/** The shared bit and the other bits a private GPA must not have, per (GPAW, MAX_PA), built once. */
const VALIDITY_MASKS = new Map<number, { readonly shared: bigint; readonly above: bigint }>();

function validityMasks(gpaw: number, maxPa: number): { readonly shared: bigint; readonly above: bigint } {
  const key = gpaw * 256 + maxPa;
  let m = VALIDITY_MASKS.get(key);
  if (!m) {
    const width = Math.min(maxPa, gpaw);
    const shared = sharedBit(gpaw);
    m = { shared, above: ((((1n << 64n) - 1n) >> BigInt(width)) << BigInt(width)) & ~shared };
    VALIDITY_MASKS.set(key, m);
  }
  return m;
}
