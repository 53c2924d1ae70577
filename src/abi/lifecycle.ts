/**
 * State machines the module guards: module-global state, KOT (HKID) states, TD life-cycle,
 * OP_STATE and vCPU state. Values are the module's own encodings (they are visible through
 * TDH.MNG.RD / TDH.VP.RD). Source: TDX module 1.5 `tdx_global_data.h`,
 * `td_control_structures.h`, `op_state_lookup.h`, `tdx_tdvps.h`; facts tdx-module.md §4.
 */

/** Module global state (`sys_state`). */
export const SysState = Object.freeze({
  SYSINIT_PENDING: 0,
  SYSINIT_DONE: 1,
  SYSCONFIG_DONE: 2,
  SYS_READY: 3,
  SYS_SHUTDOWN: 4,
} as const);
export type SysStateValue = (typeof SysState)[keyof typeof SysState];

/** Key Ownership Table entry states. */
export const KotState = Object.freeze({
  HKID_FREE: 0,
  HKID_ASSIGNED: 1,
  HKID_FLUSHED: 2,
  /** The module's own global private HKID. */
  HKID_RESERVED: 3,
} as const);
export type KotStateValue = (typeof KotState)[keyof typeof KotState];

/** Maximum number of HKIDs the KOT tracks. */
export const MAX_HKIDS = 2048;

/** TD life-cycle state, kept in the TDR. */
export const TdLifecycle = Object.freeze({
  TD_HKID_ASSIGNED: 0,
  TD_KEYS_CONFIGURED: 1,
  TD_BLOCKED: 2,
  TD_TEARDOWN: 3,
} as const);
export type TdLifecycleValue = (typeof TdLifecycle)[keyof typeof TdLifecycle];

/** TD operation state, kept in the TDCS. States 3..10 belong to live migration. */
export const OpState = Object.freeze({
  UNINITIALIZED: 0,
  INITIALIZED: 1,
  RUNNABLE: 2,
  LIVE_EXPORT: 3,
  PAUSED_EXPORT: 4,
  POST_EXPORT: 5,
  MEMORY_IMPORT: 6,
  STATE_IMPORT: 7,
  POST_IMPORT: 8,
  LIVE_IMPORT: 9,
  FAILED_IMPORT: 10,
} as const);
export type OpStateValue = (typeof OpState)[keyof typeof OpState];

/** vCPU state, kept in TDVPS. */
export const VcpuState = Object.freeze({
  VCPU_UNINITIALIZED: 0,
  VCPU_READY: 2,
  VCPU_ACTIVE: 4,
  VCPU_DISABLED: 8,
  VCPU_IMPORT: 0x10,
} as const);
export type VcpuStateValue = (typeof VcpuState)[keyof typeof VcpuState];

/** How the vCPU last left the TD; decides how TDH.VP.ENTER restores guest GPRs. */
export const LastTdExit = Object.freeze({
  ASYNC_FAULT: 0,
  ASYNC_TRAP: 1,
  TDVMCALL: 2,
} as const);
export type LastTdExitValue = (typeof LastTdExit)[keyof typeof LastTdExit];

/** TDCS pages of an L1-only TD (TDX 1.5): 6, plus one per L2 VM. */
export const TDCS_BASE_PAGES = 6;
/** TDVPS pages of an L1-only vCPU (TDVPR + 5 TDCX): 6, plus three per L2 VM. */
export const TDVPS_BASE_PAGES = 6;
/** TDCS pages each L2 VM adds (TDCS_PAGES_PER_L2_VM; SYS TDCS_SIZE_PER_L2_VM = 1 page). */
export const TDCS_PAGES_PER_L2_VM = 1;
/** TDVPS pages each L2 VM adds (TDVPS_PAGES_PER_L2_VM: VMCS, MSR bitmaps, shadow MSR bitmaps). */
export const TDVPS_PAGES_PER_L2_VM = 3;
/** Maximum TDCS pages (6 + 3 L2 VMs). */
export const TDCS_MAX_PAGES = 9;
/** Maximum TDVPS pages (6 + 3 × 3). */
export const TDVPS_MAX_PAGES = 15;
/** Maximum vCPUs per TD this module reports in MAX_VCPUS_PER_TD. */
export const MAX_VCPUS_PER_TD = 576;
