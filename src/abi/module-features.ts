/**
 * TDX_FEATURES0: the module's feature enumeration, read by the host through TDH.SYS.RD (field
 * TDX_FEATURES0) and by the guest through TDG.SYS.RD.
 *
 * Bit positions: `tdx_features_enum0_t` in the TDX module's `include/tdx_api_defs.h` (1.5 and
 * later trees); facts tdx-module.md §10.3 and linux-tdx.md §1.4. Linux refuses to use a module
 * without NO_RBP_MOD ("frame pointer (RBP) clobber bug present"), and KVM requires TOPOLOGY_ENUM.
 */

/** Bit numbers of TDX_FEATURES0. */
export const TdxFeatures0Bit = Object.freeze({
  TD_MIGRATION: 0,
  TD_PRESERVING: 1,
  SERVICE_TD: 2,
  /** TDG.VP.RD / TDG.VP.WR are available to the guest. */
  TDG_VP_RDWR: 3,
  RELAXED_MEM_MNG_CONCURRENCY: 4,
  CPUID_VIRT_GUEST_CTRL: 5,
  TD_PARTITIONING: 7,
  LOCAL_ATTESTATION: 8,
  TD_ENTRY_ENHANCEMENTS: 9,
  /** Host-priority ("sharex_hp") locks: a busy host leaf makes guest acquirers back off. */
  HOST_PRIORITY_LOCKS: 10,
  CONFIG_IA32_ARCH_CAP: 11,
  PENDING_EPT_VIOLATION_V2: 16,
  FMS_CONFIG: 17,
  /** TDG.VP.VMCALL never modifies RBP unless the guest exposes it (CONFIG_FLAGS.NO_RBP_MOD). */
  NO_RBP_MOD: 18,
  L2_TLB_INVD_OPT: 19,
  /** The TD's CPU topology is enumerated through CPUID leaf 0x1F as configured by the host. */
  TOPOLOGY_ENUM: 20,
} as const);

export type TdxFeatures0BitName = keyof typeof TdxFeatures0Bit;

/** A TDX_FEATURES0 value with the named bits set. */
export function features0(...bits: TdxFeatures0BitName[]): bigint {
  return bits.reduce((acc, b) => acc | (1n << BigInt(TdxFeatures0Bit[b])), 0n);
}
