/**
 * Modelled hardware cost of each crossing, in nanoseconds: what the trace helpers advance the
 * virtual clock by (clock.ts). They only shape the timeline Perfetto and the viewer draw; nothing
 * in the simulation depends on them.
 *
 * Every figure names its source. "(estimate)" marks a number derived here from the sources rather
 * than measured; /work/shared/facts/perf-anchors.md (§1.1, §1.2) says why no direct TDX
 * measurement exists for those. Cycle counts are converted at 2.5 GHz, the working frequency of
 * that note.
 */
import type { LeafDef } from '../abi/leaf.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';

export const TraceCost = Object.freeze({
  /**
   * A host SEAMCALL (management and build leaves): TDXplorer (CCS'25) §7.4.3 timed 10 SEAMCALLs
   * issued from a kernel module on a Xeon Gold 5520+: average 41.1 µs, range 21–167 µs
   * (perf-anchors §1.1).
   */
  SEAMCALL: 41_100,
  /**
   * A SEAMCALL on the private-fault path (TDH.MEM.PAGE.AUG, TDH.MEM.SEPT.ADD). (estimate) A whole
   * 4K accept fault — TD exit, KVM fault, PAGE.AUG, re-entry, accept — costs 8 µs (Dstack-TEE
   * dstack PR #1220, Granite Rapids; perf-anchors §1.1), so these calls cannot cost the 41 µs of a
   * management call: 8 µs less the ≈4 µs exit round trip, split between the SEAMCALL and the
   * accept, leaves ≈2 µs.
   */
  SEAMCALL_FAULT_PATH: 2_000,
  /**
   * A TDCALL the module completes without a TD exit (TDG.MEM.PAGE.ACCEPT, TDG.MR.REPORT, …).
   * (estimate) One VMX round trip, 1,539–1,559 cycles ≈ 0.6 µs (kvm-unit-tests vmexit on
   * Skylake-SP, W. Li, LKML 2020-03-12), plus the module's work of 803–5,874 instructions per call
   * (TDXplorer Table 1): ≈1 µs.
   */
  TDCALL: 1_000,
  /**
   * The TDG.VP.VMCALL round trip, guest → module → host → module → guest: ≈4 µs, the working
   * hardware figure of perf-anchors §1.1 (estimate, 2–8 µs; no published TDX measurement). Split
   * (estimate) over its five steps so the parts sum to 4,000 ns; the entry side is the largest
   * because TDH.VP.ENTER alone runs 3,357 module instructions (TDXplorer Table 1).
   */
  /** Guest TDCALL(TDG.VP.VMCALL) up to the module's control-word checks. */
  VMCALL_ISSUE: 800,
  /** The module saves the guest and builds the exit registers; SEAMRET to the host. */
  TD_EXIT: 700,
  /** The host kernel's exit handler for a TDVMCALL. */
  HOST_EXIT_HANDLER: 700,
  /** TDH.VP.ENTER: SEAMCALL, module restores the guest, copies the reply, VM entry. */
  TD_ENTRY: 1_300,
  /** The guest sees its TDCALL return. */
  GUEST_RESUME: 500,
  /**
   * Returning from KVM_RUN to userspace, and entering it again with the reply: on an AMD SVM host
   * the KVM_RUN ioctl spends 576–656 cycles from the VM exit to the ioctl's return and 560–592
   * cycles from ioctl entry to VMRUN (LKML, Dec 2020,
   * lkml.iu.edu/hypermail/linux/kernel/2012.2/00527.html): ≈0.23 µs each way at 2.5 GHz. The
   * userspace VMM's own work is not modelled.
   */
  USER_EXIT: 230,
  USER_COMPLETE: 230,
  /**
   * A #VE delivered to the guest and handled there. (estimate) No TDX figure; the closest is the
   * in-guest handling of SEV-SNP's #VC with the CPUID page, 645–672 ns (TUM-DSE CVM_eval
   * benchmarks/vmexit README; perf-anchors §1.1 explains why those numbers are SNP).
   */
  VE: 650,
} as const);

/** SEAMCALLs that run on the private-memory fault path (see SEAMCALL_FAULT_PATH). */
const FAULT_PATH_LEAVES: ReadonlySet<LeafDef> = new Set<LeafDef>([SeamcallLeaf.TDH_MEM_PAGE_AUG, SeamcallLeaf.TDH_MEM_SEPT_ADD]);

/** Modelled cost of one SEAMCALL of `leaf`. TDH.VP.ENTER is the entry step of the round trip. */
export function seamcallCost(leaf: LeafDef): number {
  if (leaf === SeamcallLeaf.TDH_VP_ENTER) return TraceCost.TD_ENTRY;
  return FAULT_PATH_LEAVES.has(leaf) ? TraceCost.SEAMCALL_FAULT_PATH : TraceCost.SEAMCALL;
}
