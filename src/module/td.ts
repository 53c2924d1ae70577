/**
 * A trust domain as the module keeps it: the TDR (life-cycle, HKID, owned-page count) and the
 * TDCS (everything MNG.INIT configures and the TD's measurements, epochs and Secure EPT).
 *
 * In the real module these live in TD-private pages (the TDR page and the TDCX pages the host
 * added); here they are objects keyed by the TDR's physical address, and the pages themselves are
 * tracked in the PAMT with their real types and owner. Source: TDX module 1.5
 * `td_control_structures.h`; facts tdx-module.md §4.3–4.4, §5.2.
 */
import { OpState, TdLifecycle, type OpStateValue, type TdLifecycleValue } from '../abi/lifecycle.ts';
import { HP_LOCK_TIMEOUT_DEFAULT_US } from '../abi/td-config.ts';
import type { SecureEpt } from './sept.ts';
import { MrtdHash } from './measurement.ts';
import { SIMULATED_CPUID, type SimulatedCpuidLeaf } from '../abi/cpuid.ts';
import type { Vcpu } from './vcpu.ts';

export const MEASUREMENT_BYTES = 48;
export const NUM_RTMRS = 4;

export interface CpuidValue {
  readonly leaf: number;
  /** Sub-leaf, or null for leaves without one. */
  readonly subleaf: number | null;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

export class Td {
  // ---- TDR ----
  lifecycle: TdLifecycleValue = TdLifecycle.TD_HKID_ASSIGNED;
  /** Set by a TD exit with a NON_RECOVERABLE_TD status; most TD leaves then fail with TDX_TD_FATAL. */
  fatal = false;
  /** Packages whose key has been programmed by TDH.MNG.KEY.CONFIG. */
  readonly keyConfiguredPackages = new Set<number>();
  /** TDCS pages added by TDH.MNG.ADDCX, in order (index 3 is the Secure-EPT root). */
  readonly tdcx: bigint[] = [];
  /** TDR.CHLDCNT: 4K-page equivalents owned by the TD besides the TDR (a 2M page counts 512). */
  childCount = 0n;
  /** TD_UUID, random at TDH.MNG.CREATE. */
  readonly uuid: Uint8Array;

  // ---- TDCS (meaningful once OP_STATE ≥ INITIALIZED) ----
  opState: OpStateValue = OpState.UNINITIALIZED;
  attributes = 0n;
  xfam = 0n;
  maxVcpus = 0;
  numVcpus = 0;
  numL2Vms = 0;
  eptpControls = 0n;
  configFlags = 0n;
  /** Guest physical address width: 48 or 52. */
  gpaw = 48;
  /** TSC frequency in 25 MHz units. */
  tscFrequency = 0;
  /** TD_CTLS (PENDING_VE_DISABLE …) and NOTIFY_ENABLES, guest-writable controls. */
  tdCtls = 0n;
  notifyEnables = 0n;
  /**
   * TOPOLOGY_ENUM_CONFIGURED: every vCPU was given an x2APIC ID (TDH.VP.INIT version 1), so the
   * guest may turn on TD_CTLS.ENUM_TOPOLOGY. TDH.MNG.INIT sets it and a version-0 TDH.VP.INIT
   * clears it; no metadata leaf can see the TDCS before TDH.MNG.INIT, so it starts true here.
   */
  topologyEnumConfigured = true;
  /** Virtual TSC parameters (TDCS TSC_OFFSET, TSC_MULTIPLIER) that TDH.MNG.INIT derives; KVM reads them. */
  tscOffset = 0n;
  tscMultiplier = 0n;
  /** TDCS HP_LOCK_TIMEOUT in microseconds (host-writable through TDH.MNG.WR). */
  hpLockTimeoutUs = HP_LOCK_TIMEOUT_DEFAULT_US;
  mrConfigId = new Uint8Array(MEASUREMENT_BYTES);
  mrOwner = new Uint8Array(MEASUREMENT_BYTES);
  mrOwnerConfig = new Uint8Array(MEASUREMENT_BYTES);
  /** CPUID values configured by TD_PARAMS, in CPUID_CONFIG order. */
  cpuidConfig: CpuidValue[] = [];
  /** TDCS.CPUID_VALUES: the TD's virtual CPUID, one entry per SIMULATED_CPUID leaf (td-cpuid.ts). */
  cpuidValues: readonly SimulatedCpuidLeaf[] = SIMULATED_CPUID;
  /** MRTD while it is being built (SHA-384 in progress); undefined once finalised. */
  mrtdHash: MrtdHash | undefined;
  /** MRTD after TDH.MR.FINALIZE (all zero before). */
  mrtd = new Uint8Array(MEASUREMENT_BYTES);
  readonly rtmr: Uint8Array[] = Array.from({ length: NUM_RTMRS }, () => new Uint8Array(MEASUREMENT_BYTES));
  /** SHA-384 of TDINFO_STRUCT, cached between RTMR extends (TDG.MR.REPORT). */
  teeInfoHash: Uint8Array | undefined;
  /** SERVTD_HASH: zero, as no service TDs are bound. */
  servtdHash = new Uint8Array(MEASUREMENT_BYTES);
  /** TLB epoch (1 after MNG.INIT) and the per-parity count of vCPUs running in an epoch. */
  tdEpoch = 0n;
  readonly epochRefcount: [number, number] = [0, 0];
  /** vCPUs currently associated with an LP (TDH.MNG.VPFLUSHDONE needs 0). */
  numAssocVcpus = 0;
  /** The Secure EPT (created when the SEPT root TDCX page is added). */
  sept: SecureEpt | undefined;
  /** vCPUs by VCPU_INDEX. */
  readonly vcpus: Vcpu[] = [];

  constructor(
    /** TDR physical address: the TD's identity in every SEAMCALL. */
    readonly tdr: bigint,
    /** The TD's private HKID (KeyID). */
    readonly hkid: number,
    uuid: Uint8Array,
  ) {
    this.uuid = uuid;
    this.tdrPfn = tdr >> 12n;
  }

  /** TDR page frame number (used in lock keys). */
  readonly tdrPfn: bigint;

  /** Start the MRTD hash (TDH.MNG.INIT). */
  startMeasurement(): void {
    this.mrtdHash = new MrtdHash();
    this.mrtd = new Uint8Array(MEASUREMENT_BYTES);
  }

  /** The shared-bit mask of this TD's GPAs. */
  get sharedBit(): bigint {
    return 1n << BigInt(this.gpaw - 1);
  }


}
