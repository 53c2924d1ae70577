/**
 * Guest-physical address width and the shared bit.
 *
 * A TD's GPA space is split in two halves by the shared bit: GPAs with it clear are private
 * (mapped by the Secure EPT, encrypted with the TD's key), GPAs with it set are shared (mapped by
 * the host's shared EPT). TD_PARAMS.CONFIG_FLAGS.GPAW chooses the width. Source: TDX module 1.5
 * `helpers.h get_gpa_shared_bit`; facts tdx-module.md §8.1.
 */

/** GPAW 0: 48-bit guest physical addresses, shared bit 47 (4-level EPT). */
export const GPAW_48 = 48;
/** GPAW 1: 52-bit guest physical addresses, shared bit 51 (5-level EPT). */
export const GPAW_52 = 52;

/** The shared-bit mask for a guest physical address width: bit (gpaw - 1). */
export function sharedBit(gpaw: number): bigint {
  return 1n << BigInt(gpaw - 1);
}

/** Maximum physical address width of the simulated platform (MAX_PA). */
export const DEFAULT_MAX_PA = 52;

/** EPT page-walk levels: 4 for GPAW 48, 5 for GPAW 52. */
export function eptLevels(gpaw: number): number {
  return gpaw === GPAW_52 ? 5 : 4;
}

/** Guest RIP after TDH.VP.INIT: the x86 reset vector (tdx-module.md §6.5). */
export const RESET_VECTOR = 0xffff_fff0n;
