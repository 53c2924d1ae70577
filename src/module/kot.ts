/**
 * The Key Ownership Table (KOT), the per-package write-back table (WBT) of TDH.PHYMEM.CACHE.WB,
 * and key programming (PCONFIG).
 *
 * Every private HKID has a KOT state (facts tdx-module.md §4.2, `tdx_global_data.h`):
 *   FREE ──MNG.CREATE──▶ ASSIGNED ──MNG.VPFLUSHDONE──▶ FLUSHED ──MNG.KEY.FREEID──▶ FREE
 * and the module's own global HKID is RESERVED from TDH.SYS.CONFIG on. A FLUSHED HKID carries a
 * bitmap of packages whose caches may still hold lines encrypted with it; TDH.PHYMEM.CACHE.WB on
 * a package clears that package's bit, and TDH.MNG.KEY.FREEID refuses until the bitmap is empty.
 * That ordering is what keeps a recycled HKID from meeting stale cache lines of its previous TD.
 */
import { KotState, MAX_HKIDS, type KotStateValue } from '../abi/lifecycle.ts';
import { OperandId, TdxStatus, withOperand } from '../abi/status.ts';
import type { LogicalProcessor } from '../platform/processor.ts';
import { LockKey } from './locks.ts';
import type { TdxModule } from './module.ts';

/** Per-package progress of TDH.PHYMEM.CACHE.WB (`wbt_entries` in the module). */
export interface WbtEntry {
  /** Next cache sub-block to write back; 0 = no interrupted run to resume. */
  intrPoint: number;
  /** HKIDs that were FLUSHED when the run started: the ones this run writes back. */
  readonly hkidFlushed: Set<number>;
}

/**
 * How TDH.PHYMEM.CACHE.WB is interrupted, deterministically. The real module writes the package's
 * cache back one sub-block at a time (WBNOINVDP) and stops with TDX_INTERRUPTED_RESUMABLE when a
 * host interrupt is pending between sub-blocks. tdxsim's package cache has `CACHE_WB_SUB_BLOCKS`
 * sub-blocks and a host interrupt is pending after every `CACHE_WB_SUB_BLOCKS_PER_CALL` of them,
 * so with the defaults a start call is interrupted once and one resume call completes it — the
 * loop KVM runs is exercised on every teardown. Tests may change both per module (`Kot` fields).
 */
export const CACHE_WB_SUB_BLOCKS = 4;
export const CACHE_WB_SUB_BLOCKS_PER_CALL = 2;

export class Kot {
  /** Cache sub-blocks one full write-back covers. */
  cacheSubBlocks = CACHE_WB_SUB_BLOCKS;
  /** Sub-blocks written back before a (simulated) host interrupt stops the call. */
  subBlocksPerCall = CACHE_WB_SUB_BLOCKS_PER_CALL;
  private readonly states = new Uint8Array(MAX_HKIDS);
  /** FLUSHED HKID → packages whose caches have not been written back yet (`wbinvd_bitmap`). */
  private readonly pendingWb = new Map<number, Set<number>>();
  /** The write-back table, one entry per package. */
  readonly wbt: WbtEntry[];

  constructor(numPackages: number) {
    this.wbt = Array.from({ length: numPackages }, () => ({ intrPoint: 0, hkidFlushed: new Set<number>() }));
  }

  /** KOT state of an HKID (an HKID outside the table reads as FREE; callers check it first). */
  state(hkid: number): KotStateValue {
    return (this.states[hkid] ?? KotState.HKID_FREE) as KotStateValue;
  }

  /** TDH.SYS.CONFIG: the module's global HKID. */
  reserve(hkid: number): void {
    this.states[hkid] = KotState.HKID_RESERVED;
  }

  /** TDH.MNG.CREATE: FREE → ASSIGNED. */
  assign(hkid: number): void {
    this.states[hkid] = KotState.HKID_ASSIGNED;
  }

  /** TDH.MNG.VPFLUSHDONE: ASSIGNED → FLUSHED; every package in `packages` must write back. */
  flush(hkid: number, packages: Iterable<number>): void {
    this.states[hkid] = KotState.HKID_FLUSHED;
    this.pendingWb.set(hkid, new Set(packages));
  }

  /** Packages that still have to run TDH.PHYMEM.CACHE.WB for a FLUSHED HKID. */
  pendingPackages(hkid: number): ReadonlySet<number> {
    return this.pendingWb.get(hkid) ?? new Set<number>();
  }

  /** TDH.PHYMEM.CACHE.WB finished on `pkg`: clear its bit for `hkid`. */
  writtenBack(hkid: number, pkg: number): void {
    this.pendingWb.get(hkid)?.delete(pkg);
  }

  /** TDH.MNG.KEY.FREEID: FLUSHED → FREE. */
  free(hkid: number): void {
    this.states[hkid] = KotState.HKID_FREE;
    this.pendingWb.delete(hkid);
  }

  /** HKIDs currently FLUSHED, ascending. */
  flushed(): number[] {
    const out: number[] = [];
    this.states.forEach((s, hkid) => {
      if (s === KotState.HKID_FLUSHED) out.push(hkid);
    });
    return out;
  }

  /** Number of HKIDs in each state (for invariant checks). */
  census(): Map<KotStateValue, number> {
    const out = new Map<KotStateValue, number>();
    this.states.forEach((s) => {
      if (s !== KotState.HKID_FREE) out.set(s as KotStateValue, (out.get(s as KotStateValue) ?? 0) + 1);
    });
    return out;
  }
}

/**
 * Program a private key for `hkid` on the package of `lp`, as the module does with PCONFIG
 * (`program_mktme_keys`). The package's key-encryption table is locked meanwhile; if another
 * PCONFIG holds it the leaf fails with OPERAND_BUSY|KET and the host retries.
 *
 * Real packages each get their own CPU-generated key for the KeyID, and a line is always
 * encrypted by the memory controller of its home package. tdxsim's memory has one key per KeyID,
 * so the key is generated when the first package of a configuration round programs it
 * (`firstPackage`); later packages only record that they are configured.
 */
export function programKey(module: TdxModule, lp: LogicalProcessor, hkid: number, firstPackage: boolean): bigint {
  const ket = LockKey.ket(lp.pkg.id);
  if (module.locks.acquire(ket, 'exclusive') !== 'ok') return withOperand(TdxStatus.TDX_OPERAND_BUSY, OperandId.KET);
  try {
    if (firstPackage) module.platform.memory.programKey(hkid);
    return TdxStatus.TDX_SUCCESS;
  } finally {
    module.locks.release(ket, 'exclusive');
  }
}
