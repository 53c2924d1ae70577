/**
 * A TD's memory as KVM manages it: memslots, the private/shared attribute of every GFN
 * (KVM_SET_MEMORY_ATTRIBUTES), private pages (guest_memfd) behind the Secure EPT, shared pages
 * behind the host's shared EPT, and the mirror of which Secure-EPT pages exist.
 *
 * Every change to private memory is a SEAMCALL sequence from KVM (arch/x86/kvm/vmx/tdx.c; facts
 * linux-tdx.md §1.5, §4.4, tdx-module.md §5.2–5.3):
 *   - mapping: TDH.MEM.SEPT.ADD for each missing non-leaf level, top down, then TDH.MEM.PAGE.ADD
 *     (build time, copying a source page, optionally 16 × TDH.MR.EXTEND) or TDH.MEM.PAGE.AUG
 *     (run time; the page is PENDING until the guest accepts it). Only 4K pages are mapped, as KVM
 *     does today;
 *   - zapping: TDH.MEM.RANGE.BLOCK, TDH.MEM.TRACK, kick the vCPUs, TDH.MEM.PAGE.REMOVE,
 *     TDH.PHYMEM.PAGE.WBINVD under the TD's KeyID, clear the page (MOVDIR64B of zeros with
 *     KeyID 0), free it. An OPERAND_BUSY from BLOCK/TRACK/REMOVE is retried once after the kick.
 *
 * "Kicking" the vCPUs (KVM_REQ_OUTSIDE_GUEST_MODE) forces every vCPU that may be inside the TD in
 * the old TLB epoch out to the host, so none still holds a translation of the blocked page. In
 * this simulator SEAMCALLs never overlap: while the host runs, no vCPU is inside TDH.VP.ENTER, so
 * every vCPU is already outside guest mode and the kick has nothing left to do — the next
 * TDH.VP.ENTER samples the new epoch and flushes, as the module requires.
 *
 * Shared memory needs no SEAMCALL: a shared GFN is backed by a host page mapped in the shared
 * EPT on first touch; a GFN outside every memslot gets KVM's TDX MMIO SPTE, so the guest's access
 * raises #VE and comes back as TDVMCALL<#VE.RequestMMIO>. The simulated CPU walks the shared EPT
 * on every access (it caches no shared translations), so unmapping a shared page needs no flush.
 */
import { GPA_AND_LEVEL } from '../abi/operands.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { levelSize, SeptLevel } from '../abi/sept.ts';
import { OperandId, TdxStatus, withOperand } from '../abi/status.ts';
import { PAGE_SIZE } from '../abi/pamt.ts';
import { TDX_EXTENDMR_CHUNKSIZE } from '../abi/kvm.ts';
import { KEYID_NONE } from '../platform/memory.ts';
import type { LogicalProcessor } from '../platform/processor.ts';
import { traceAttributeChange } from './trace-points.ts';
import { SharedEpt } from '../platform/shared-ept.ts';
import { PageMap } from '../platform/page-map.ts';
import { HostError, mapSeamcallError } from './errors.ts';
import { isOperandBusy, type Seamcaller } from './seamcall.ts';
import type { HostMemory, Range } from './host-memory.ts';
import type { TdAddressing } from './tdvmcall-args.ts';

/** What GuestMemory needs from its VM. */
export interface MemoryOwner {
  readonly tdr: bigint;
  readonly hkid: number;
  readonly addressing: TdAddressing;
  /** Secure-EPT levels: 4 (GPAW 48) or 5 (GPAW 52). */
  readonly eptLevels: number;
  readonly sc: Seamcaller;
  readonly memory: HostMemory;
  /** PA bit where a KeyID starts (for TDH.PHYMEM.PAGE.WBINVD operands). */
  readonly keyIdShift: number;
  /** The TD has been finalised (KVM's TD_STATE_RUNNABLE). */
  isRunnable(): boolean;
}

export type FaultResult =
  | { readonly kind: 'mapped' }
  /** A SEAMCALL found a lock taken: re-enter and let the fault happen again. */
  | { readonly kind: 'busy' }
  /** The GFN's attribute disagrees with the access: KVM_EXIT_MEMORY_FAULT to userspace. */
  | { readonly kind: 'memory_fault'; readonly private: boolean }
  /** A SEAMCALL failed in a way KVM treats as a bug (KVM_BUG_ON): the VM is dead. */
  | { readonly kind: 'error'; readonly error: HostError };

const gfnOf = (gpa: bigint) => gpa >> 12n;

export class GuestMemory {
  readonly sharedEpt = new SharedEpt();
  /** GFNs userspace made shared; every other GFN in a memslot is private. */
  private readonly sharedGfns = new Set<bigint>();
  /** Private pages by GFN (4 bytes a page: a 16 GiB TD has four million of them). */
  readonly privatePages: Map<bigint, bigint> = new PageMap();
  /** Host pages backing shared GFNs, by GFN (shared bit stripped). */
  readonly sharedPages = new Map<bigint, bigint>();
  /** Secure-EPT pages the host added, by `${level}:${gpa >> (12 + 9·level)}`. */
  readonly septPages = new Map<string, bigint>();

  constructor(
    private readonly owner: MemoryOwner,
    /** Memslots: GPA ranges (shared bit stripped) backed by memory. */
    readonly slots: readonly Range[],
  ) {}

  inSlot(gpa: bigint): boolean {
    return this.slots.some((s) => gpa >= s.base && gpa < s.base + s.size);
  }

  /** The attribute of a GFN (shared bit stripped): private unless userspace made it shared. */
  isPrivate(gpa: bigint): boolean {
    return !this.sharedGfns.has(gfnOf(gpa));
  }

  // ---- Private memory ---------------------------------------------------------------------

  /** SEPT.ADD every missing non-leaf level above the 4K leaf of `gpa`, top down. */
  private ensureSept(lp: LogicalProcessor, gpa: bigint): FaultResult {
    const o = this.owner;
    for (let level = o.eptLevels - 1; level >= SeptLevel.PD; level--) {
      const key = `${level}:${gpa >> BigInt(12 + 9 * level)}`;
      if (this.septPages.has(key)) continue;
      const page = o.memory.allocPage();
      const base = gpa & ~(levelSize(level) - 1n);
      const r = o.sc.call(lp, SeamcallLeaf.TDH_MEM_SEPT_ADD, { gpaLevel: GPA_AND_LEVEL.encode({ level, gpa_page: base >> 12n }), tdrFlags: o.tdr, page });
      if (!r.ok) {
        o.memory.freePage(page);
        if (isOperandBusy(r.status)) return { kind: 'busy' };
        return { kind: 'error', error: mapSeamcallError(SeamcallLeaf.TDH_MEM_SEPT_ADD.mnemonic, r.status, r.outputs, `adding the level-${level} S-EPT page for GPA 0x${gpa.toString(16)}`) };
      }
      this.septPages.set(key, page);
    }
    return { kind: 'mapped' };
  }

  /**
   * KVM_TDX_INIT_MEM_REGION for one page: SEPT.ADD as needed, PAGE.ADD copying `source` (4096
   * bytes), then 16 × MR.EXTEND if `measure`. Throws HostError (EBUSY on OPERAND_BUSY, EIO
   * otherwise), as the ioctl fails.
   */
  addInitialPage(lp: LogicalProcessor, gpa: bigint, source: Uint8Array, measure: boolean): void {
    const o = this.owner;
    if (gpa % PAGE_SIZE !== 0n || source.length !== Number(PAGE_SIZE)) throw new HostError('EINVAL', 'initial memory must be whole, aligned 4K pages');
    if (!this.inSlot(gpa) || (gpa & o.addressing.sharedBit) !== 0n) throw new HostError('EINVAL', `GPA 0x${gpa.toString(16)} is not private guest memory`);
    if (!this.isPrivate(gpa)) throw new HostError('EINVAL', `GPA 0x${gpa.toString(16)} has the shared memory attribute`);
    if (this.privatePages.has(gfnOf(gpa))) throw new HostError('EINVAL', `GPA 0x${gpa.toString(16)} is already populated`);
    const s = this.ensureSept(lp, gpa);
    if (s.kind === 'busy') throw new HostError('EBUSY', 'S-EPT busy while adding initial memory');
    if (s.kind === 'error') throw s.error;
    const src = o.memory.allocPage();
    const page = o.memory.allocPage();
    try {
      o.memory.memory.write(src, source, KEYID_NONE);
      const r = o.sc.call(lp, SeamcallLeaf.TDH_MEM_PAGE_ADD, { gpaLevel: GPA_AND_LEVEL.encode({ level: SeptLevel.PT, gpa_page: gpa >> 12n }), tdr: o.tdr, page, source: src });
      if (!r.ok) {
        o.memory.freePage(page);
        if (isOperandBusy(r.status)) throw new HostError('EBUSY', `TDH.MEM.PAGE.ADD of GPA 0x${gpa.toString(16)} found a busy operand`, { leaf: SeamcallLeaf.TDH_MEM_PAGE_ADD.mnemonic, status: r.status });
        throw mapSeamcallError(SeamcallLeaf.TDH_MEM_PAGE_ADD.mnemonic, r.status, r.outputs, `adding initial page 0x${gpa.toString(16)}`);
      }
      this.privatePages.set(gfnOf(gpa), page);
    } finally {
      o.memory.freePage(src);
    }
    if (measure) {
      for (let off = 0n; off < PAGE_SIZE; off += TDX_EXTENDMR_CHUNKSIZE) {
        o.sc.check(lp, SeamcallLeaf.TDH_MR_EXTEND, { gpa: gpa + off, tdr: o.tdr }, () => `measuring GPA 0x${(gpa + off).toString(16)}`);
      }
    }
  }

  /**
   * A private-GPA EPT violation at run time (treated as a write fault, 4K): SEPT.ADD as needed,
   * then PAGE.AUG of a fresh page. The guest's TDG.MEM.PAGE.ACCEPT then retries and succeeds.
   */
  faultPrivate(lp: LogicalProcessor, gpa: bigint): FaultResult {
    const o = this.owner;
    const page4k = gpa & ~(PAGE_SIZE - 1n);
    if (!this.inSlot(page4k) || !this.isPrivate(page4k)) return { kind: 'memory_fault', private: true };
    if (this.privatePages.has(gfnOf(page4k))) return { kind: 'mapped' }; // spurious: already mapped
    const s = this.ensureSept(lp, page4k);
    if (s.kind !== 'mapped') return s;
    const page = o.memory.allocPage();
    const r = o.sc.call(lp, SeamcallLeaf.TDH_MEM_PAGE_AUG, { gpaLevel: GPA_AND_LEVEL.encode({ level: SeptLevel.PT, gpa_page: page4k >> 12n }), tdr: o.tdr, page });
    if (!r.ok) {
      o.memory.freePage(page);
      if (isOperandBusy(r.status)) return { kind: 'busy' };
      return { kind: 'error', error: mapSeamcallError(SeamcallLeaf.TDH_MEM_PAGE_AUG.mnemonic, r.status, r.outputs, `augmenting GPA 0x${page4k.toString(16)}`) };
    }
    this.privatePages.set(gfnOf(page4k), page);
    return { kind: 'mapped' };
  }

  /** Zap one private 4K page (BLOCK, TRACK, kick, REMOVE, WBINVD, clear, free). */
  zapPrivate(lp: LogicalProcessor, gpa: bigint): void {
    const o = this.owner;
    const gfn = gfnOf(gpa);
    const page = this.privatePages.get(gfn);
    if (page === undefined) return;
    const gpaLevel = GPA_AND_LEVEL.encode({ level: SeptLevel.PT, gpa_page: gfn });
    const block = this.retryOnceIfBusy(() => o.sc.call(lp, SeamcallLeaf.TDH_MEM_RANGE_BLOCK, { gpaLevel, tdr: o.tdr }));
    const preMapped = !o.isRunnable() && block.status === withOperand(TdxStatus.TDX_EPT_ENTRY_STATE_INCORRECT, OperandId.RCX);
    if (!block.ok && !preMapped) throw mapSeamcallError(SeamcallLeaf.TDH_MEM_RANGE_BLOCK.mnemonic, block.status, block.outputs, `blocking GPA 0x${gpa.toString(16)}`);
    this.track(lp);
    // Kick: see the file comment — no vCPU is in guest mode while the host runs.
    const rm = this.retryOnceIfBusy(() => o.sc.call(lp, SeamcallLeaf.TDH_MEM_PAGE_REMOVE, { gpaLevel, tdr: o.tdr }));
    if (!rm.ok) throw mapSeamcallError(SeamcallLeaf.TDH_MEM_PAGE_REMOVE.mnemonic, rm.status, rm.outputs, `removing GPA 0x${gpa.toString(16)}`);
    o.sc.check(lp, SeamcallLeaf.TDH_PHYMEM_PAGE_WBINVD, { page: page | (BigInt(o.hkid) << BigInt(o.keyIdShift)) }, `writing back page 0x${page.toString(16)}`);
    this.privatePages.delete(gfn);
    o.memory.clearAndFree(page);
  }

  /** TDH.MEM.TRACK (only once the TD is runnable: before that no vCPU has run). */
  track(lp: LogicalProcessor): void {
    const o = this.owner;
    if (!o.isRunnable()) return;
    const r = this.retryOnceIfBusy(() => o.sc.call(lp, SeamcallLeaf.TDH_MEM_TRACK, { tdr: o.tdr }));
    if (!r.ok) throw mapSeamcallError(SeamcallLeaf.TDH_MEM_TRACK.mnemonic, r.status, r.outputs, 'tracking the TLB epoch');
  }

  private retryOnceIfBusy<T extends { status: bigint }>(call: () => T): T {
    const r = call();
    return isOperandBusy(r.status) ? call() : r;
  }

  // ---- Shared memory ----------------------------------------------------------------------

  /**
   * A shared-GPA EPT violation (`gpa` with the shared bit): map the GFN's host page, or install
   * the MMIO marker outside every memslot.
   */
  faultShared(gpa: bigint): FaultResult {
    const stripped = gpa & ~this.owner.addressing.sharedBit;
    if (!this.inSlot(stripped)) {
      this.sharedEpt.mapMmio(gpa);
      return { kind: 'mapped' };
    }
    if (this.isPrivate(stripped)) return { kind: 'memory_fault', private: false };
    this.sharedEpt.map(gpa, this.sharedBacking(stripped));
    return { kind: 'mapped' };
  }

  /** The host page backing a shared GFN (allocated on first use, as userspace RAM is). */
  private sharedBacking(gpa: bigint): bigint {
    const gfn = gfnOf(gpa);
    let hpa = this.sharedPages.get(gfn);
    if (hpa === undefined) {
      hpa = this.owner.memory.allocPage();
      this.sharedPages.set(gfn, hpa);
    }
    return hpa;
  }

  /** Drop a shared GFN's mapping and backing (userspace discards it on conversion to private). */
  zapShared(gpa: bigint): void {
    const gfn = gfnOf(gpa);
    this.sharedEpt.unmap((gfn << 12n) | this.owner.addressing.sharedBit);
    const hpa = this.sharedPages.get(gfn);
    if (hpa !== undefined) {
      this.owner.memory.freePage(hpa);
      this.sharedPages.delete(gfn);
    }
  }

  /**
   * KVM_SET_MEMORY_ATTRIBUTES over [gpa, gpa + size) (shared bit stripped, 4K-aligned): GFNs whose
   * attribute changes lose their old mapping (private pages are zapped, shared ones dropped).
   */
  setAttributes(lp: LogicalProcessor, gpa: bigint, size: bigint, toPrivate: boolean): void {
    if (gpa % PAGE_SIZE !== 0n || size % PAGE_SIZE !== 0n) throw new HostError('EINVAL', 'memory attributes need a 4K-aligned range');
    for (let a = gpa; a < gpa + size; a += PAGE_SIZE) {
      const gfn = gfnOf(a);
      if (toPrivate && this.sharedGfns.has(gfn)) {
        this.zapShared(a);
        this.sharedGfns.delete(gfn);
        if (lp.platform.tracer.enabled) traceAttributeChange(lp.platform.tracer, this.owner.tdr, a, true);
      } else if (!toPrivate && !this.sharedGfns.has(gfn)) {
        this.zapPrivate(lp, a);
        this.sharedGfns.add(gfn);
        if (lp.platform.tracer.enabled) traceAttributeChange(lp.platform.tracer, this.owner.tdr, a, false);
      }
    }
  }

  /** Userspace's view of shared guest memory; undefined if any byte is not shared RAM. */
  readShared(gpa: bigint, len: number): Uint8Array | undefined {
    if (!this.sharedRange(gpa, len)) return undefined;
    const out = new Uint8Array(len);
    for (let done = 0; done < len; ) {
      const a = gpa + BigInt(done);
      const n = Math.min(len - done, Number(PAGE_SIZE - (a % PAGE_SIZE)));
      out.set(this.owner.memory.memory.read(this.sharedBacking(a) + (a % PAGE_SIZE), n, KEYID_NONE), done);
      done += n;
    }
    return out;
  }

  /** Write shared guest memory from userspace; false (nothing written) if not all shared RAM. */
  writeShared(gpa: bigint, bytes: Uint8Array): boolean {
    if (!this.sharedRange(gpa, bytes.length)) return false;
    for (let done = 0; done < bytes.length; ) {
      const a = gpa + BigInt(done);
      const n = Math.min(bytes.length - done, Number(PAGE_SIZE - (a % PAGE_SIZE)));
      this.owner.memory.memory.write(this.sharedBacking(a) + (a % PAGE_SIZE), bytes.subarray(done, done + n), KEYID_NONE);
      done += n;
    }
    return true;
  }

  private sharedRange(gpa: bigint, len: number): boolean {
    if (len <= 0 || gpa < 0n) return false;
    for (let a = gpa & ~(PAGE_SIZE - 1n); a < gpa + BigInt(len); a += PAGE_SIZE) {
      if (!this.inSlot(a) || this.isPrivate(a)) return false;
    }
    return true;
  }
}
