/**
 * The malicious host of the `module` target: what SEAMCALL to issue next.
 *
 * Four strategies, mixed per step:
 *   plan      (40%) the next step of a valid sequence, read off the module's current state —
 *             bring-up, TD build, vCPU creation, memory, entry, teardown, reclaim — so episodes
 *             reach deep states; in 30% of these one operand, the LP, the version or a reserved
 *             bit of RAX is then corrupted
 *   operands  (40%) a random implemented leaf with each input drawn from the pool that suits its
 *             name: live TDRs and TDVPRs, free pages, other TDs' pages, the TDR of a live TD as a
 *             target page, GPAs with the shared bit or beyond GPAW, metadata field ids, HKIDs in
 *             and out of the private range, all with boundary values and mutations
 *   random    (10%) a fully random register file, RAX a leaf number with random version and
 *             reserved bits, or any 64-bit value
 *   memory    (10%) the host reading or scribbling on TD pages directly with a host KeyID
 *
 * Every choice ends as a concrete action (register values); nothing here changes the world.
 */
import { GPR_NAMES, RegisterFile, type GprName } from '../../abi/registers.ts';
import { LEAF_WORD, VP_ENTER_RCX, TDR_AND_SEPT_ADD_FLAGS, HKID_OPERAND } from '../../abi/operands.ts';
import { SeamcallLeaf } from '../../abi/seamcall-leaves.ts';
import { writeOperands, type LeafDef } from '../../abi/leaf.ts';
import { SysState, TdLifecycle, OpState, VcpuState, TDCS_BASE_PAGES, TDVPS_BASE_PAGES } from '../../abi/lifecycle.ts';
import { METADATA_FIELDS } from '../../abi/metadata.ts';
import { PamtPageType } from '../../abi/pamt.ts';
import { levelSize } from '../../abi/sept.ts';
import { BOOT_PAGE_GPA } from '../../platform/boot-image.ts';
import type { Td } from '../../module/td.ts';
import type { TdxModule } from '../../module/module.ts';
import type { Rng } from '../rng.ts';
import { boundary, flipBit, mutateAddress, smallInt, type AddressContext } from '../values.ts';
import { gpaLevel } from '../world.ts';
import type { ModuleWorld } from './module-world.ts';
import { LockKey, type LockId } from '../../module/locks.ts';
import { tdPages } from '../td-pages.ts';

/** A SEAMCALL with the full input register file (lower-case GPR names; absent = 0). */
export interface SeamcallAction {
  readonly kind: 'seamcall';
  readonly lp: number;
  readonly regs: Partial<Record<Lowercase<GprName>, bigint>>;
  /**
   * A module lock held "by another logical processor" for the duration of the call (LockTable
   * key and mode), so the leaf meets contention on an object it needs.
   */
  readonly contended?: { readonly key: LockId; readonly mode: 'shared' | 'exclusive' };
  /** For people reading a case: the leaf mnemonic the generator meant. Ignored by replay. */
  readonly note?: string;
}

/** The host touching physical memory directly with one of its own KeyIDs. */
export interface HostMemoryAction {
  readonly kind: 'host-read' | 'host-write';
  readonly pa: bigint;
  readonly keyId: number;
  readonly value: bigint;
}

export type ModuleAction = SeamcallAction | HostMemoryAction;

type Plan = {
  readonly leaf: LeafDef;
  readonly inputs: Record<string, bigint>;
  readonly lp: number;
  readonly version?: number;
  /** Other registers the host leaves set (TDH.VP.ENTER: its reply to the guest's TDVMCALL). */
  readonly extra?: SeamcallAction['regs'];
};

const IMPLEMENTED: readonly LeafDef[] = Object.freeze(Object.values(SeamcallLeaf).filter((l) => l.implemented));
const ALL_LEAVES: readonly LeafDef[] = Object.freeze(Object.values(SeamcallLeaf));
const FIELD_IDS: readonly bigint[] = Object.freeze(METADATA_FIELDS.map((f) => f.id));
/** GPAs the plans build paths to: the secret pages, the boot page, 2M and 1G boundaries. */
const PLAN_GPAS: readonly bigint[] = Object.freeze([0n, 1n << 12n, 2n << 12n, 3n << 12n, 1n << 21n, (1n << 21n) + (1n << 12n), 2n << 21n, 1n << 30n, BOOT_PAGE_GPA]);
const MAX_TDS = 4;
const REPLY_REGS: readonly Lowercase<GprName>[] = ['rdx', 'rbx', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

export class ModuleGenerator {
  constructor(readonly world: ModuleWorld) {}

  get module(): TdxModule {
    return this.world.w.module;
  }

  next(rng: Rng): ModuleAction {
    const s = rng.float();
    if (s < 0.4) {
      const plans = this.plans(rng);
      if (plans.length > 0) {
        const p = rng.pick(plans);
        const r = rng.float();
        return r < 0.25 ? this.corrupt(rng, this.toAction(p)) : r < 0.4 ? this.contend(rng, this.toAction(p)) : this.toAction(p);
      }
    }
    if (s < 0.8) return this.leafWithOperands(rng);
    if (s < 0.9) return this.randomRegisters(rng);
    return this.hostMemory(rng);
  }

  // ---- strategy: valid next steps --------------------------------------------------------

  private plans(rng: Rng): Plan[] {
    const m = this.module;
    const w = this.world.w;
    const lp0 = 0;
    const out: Plan[] = [];
    const L = SeamcallLeaf;
    switch (m.sysState) {
      case SysState.SYSINIT_PENDING:
        return [{ leaf: L.TDH_SYS_INIT, inputs: {}, lp: lp0 }];
      case SysState.SYSINIT_DONE: {
        const lp = m.lpState.findIndex((s) => !s.lpInit);
        if (lp >= 0) return [{ leaf: L.TDH_SYS_LP_INIT, inputs: {}, lp }];
        return [{ leaf: L.TDH_SYS_CONFIG, inputs: { tdmrArray: w.tdmrArray, tdmrCount: w.tdmrCount, globalHkid: BigInt(w.globalHkid) }, lp: lp0 }];
      }
      case SysState.SYSCONFIG_DONE: {
        const pkg = w.platform.packages.find((p) => !m.keyConfiguredPackages.has(p.id));
        return pkg ? [{ leaf: L.TDH_SYS_KEY_CONFIG, inputs: {}, lp: pkg.lps[0]!.id }] : [];
      }
      case SysState.SYS_READY:
        break;
      default:
        return [];
    }
    const tdmr = m.pamt.ranges()[0];
    if (tdmr && tdmr.initialized < tdmr.size) return [{ leaf: L.TDH_SYS_TDMR_INIT, inputs: { tdmrBase: tdmr.base }, lp: lp0 }];
    const free = this.freePages();
    if (m.tds.size < MAX_TDS && free.length > 0) {
      out.push({ leaf: L.TDH_MNG_CREATE, inputs: { tdr: rng.pick(free), hkid: BigInt(this.freeHkid(rng)) }, lp: lp0 });
    }
    for (const td of m.tds.values()) this.tdPlans(rng, td, free, out);
    return out;
  }

  private tdPlans(rng: Rng, td: Td, free: bigint[], out: Plan[]): void {
    const L = SeamcallLeaf;
    const m = this.module;
    const w = this.world.w;
    const tdr = td.tdr;
    const lpOfPkg = (pkg: number) => w.platform.packages[pkg]!.lps[0]!.id;
    const page = () => (free.length > 0 ? rng.pick(free) : rng.pick(this.world.freePages));
    switch (td.lifecycle) {
      case TdLifecycle.TD_HKID_ASSIGNED: {
        const pkg = w.platform.packages.find((p) => !td.keyConfiguredPackages.has(p.id));
        if (pkg) out.push({ leaf: L.TDH_MNG_KEY_CONFIG, inputs: { tdr }, lp: lpOfPkg(pkg.id) });
        out.push({ leaf: L.TDH_MNG_VPFLUSHDONE, inputs: { tdr }, lp: 0 });
        return;
      }
      case TdLifecycle.TD_BLOCKED:
        for (const pkg of w.platform.packages) out.push({ leaf: L.TDH_PHYMEM_CACHE_WB, inputs: { resume: rng.chance(0.5) ? 0n : 1n }, lp: pkg.lps[0]!.id });
        out.push({ leaf: L.TDH_MNG_KEY_FREEID, inputs: { tdr }, lp: 0 });
        return;
      case TdLifecycle.TD_TEARDOWN: {
        const owned = this.tdPagesOf(td).filter((pa) => m.pamt.lookup(pa)?.owner === tdr);
        const target = owned.length > 0 ? rng.pick(owned) : tdr;
        out.push({ leaf: L.TDH_PHYMEM_PAGE_RECLAIM, inputs: { page: target }, lp: 0 });
        out.push({ leaf: L.TDH_PHYMEM_PAGE_WBINVD, inputs: { page: rng.pick([target, tdr]) }, lp: 0 });
        return;
      }
    }
    // KEYS_CONFIGURED
    if (td.tdcx.length < TDCS_BASE_PAGES) {
      out.push({ leaf: L.TDH_MNG_ADDCX, inputs: { page: page(), tdr }, lp: 0 });
      return;
    }
    if (td.opState === OpState.UNINITIALIZED) {
      out.push({ leaf: L.TDH_MNG_INIT, inputs: { tdr, tdParams: rng.chance(0.8) ? this.world.tdParams[0]! : rng.pick(this.world.tdParams) }, lp: 0 });
      return;
    }
    const vcpus = [...m.vcpus.values()].filter((v) => v.td === td);
    const teardown = () => {
      for (const v of vcpus) out.push({ leaf: L.TDH_VP_FLUSH, inputs: { tdvpr: v.tdvpr }, lp: v.assocLp >= 0 ? v.assocLp : 0 });
      out.push({ leaf: L.TDH_MNG_VPFLUSHDONE, inputs: { tdr }, lp: 0 });
    };
    const anyLp = () => rng.int(w.lps.length);
    if (td.opState === OpState.INITIALIZED) {
      const building = vcpus.find((v) => v.state === VcpuState.VCPU_UNINITIALIZED);
      if (building) {
        if (building.tdcx.length < TDVPS_BASE_PAGES - 1) out.push({ leaf: L.TDH_VP_ADDCX, inputs: { page: page(), tdvpr: building.tdvpr }, lp: 0 });
        else out.push({ leaf: L.TDH_VP_INIT, inputs: { tdvpr: building.tdvpr, initialRcx: 0n }, lp: anyLp() });
      } else if (td.numVcpus < td.maxVcpus) {
        out.push({ leaf: L.TDH_VP_CREATE, inputs: { tdvpr: page(), tdr }, lp: 0 });
      }
      this.memoryPlans(rng, td, page, out, true);
      if (td.numVcpus > 0) out.push({ leaf: L.TDH_MR_FINALIZE, inputs: { tdr }, lp: 0 });
      if (rng.chance(0.1)) teardown();
      return;
    }
    if (td.opState === OpState.RUNNABLE) {
      for (const v of vcpus) {
        if (v.state !== VcpuState.VCPU_READY) continue;
        // The host's reply to the guest's last TDVMCALL: anything in every register it can set.
        const extra: SeamcallAction['regs'] = {};
        for (const name of REPLY_REGS) if (rng.chance(0.7)) extra[name] = boundary(rng);
        out.push({ leaf: L.TDH_VP_ENTER, inputs: { vcpu: v.tdvpr }, lp: v.assocLp >= 0 ? v.assocLp : anyLp(), extra });
      }
      this.memoryPlans(rng, td, page, out, false);
      out.push({ leaf: L.TDH_MEM_TRACK, inputs: { tdr }, lp: 0 });
      if (rng.chance(0.1)) teardown();
    }
  }

  /** SEPT.ADD down a path, then PAGE.ADD (build) or AUG (run time), EXTEND, BLOCK/UNBLOCK/REMOVE. */
  private memoryPlans(rng: Rng, td: Td, page: () => bigint, out: Plan[], building: boolean): void {
    const L = SeamcallLeaf;
    const sept = td.sept;
    if (!sept) return;
    const tdr = td.tdr;
    const gpa = rng.pick(PLAN_GPAS);
    for (let level = sept.maxLevel; level >= 1; level--) {
      const base = gpa & ~(levelSize(level) - 1n);
      const walk = sept.walk(base, level);
      if (!walk.reached) break;
      if (walk.stateName === 'FREE') {
        const tdrFlags = TDR_AND_SEPT_ADD_FLAGS.encode({ tdr_page: tdr >> 12n, allow_existing: 0 });
        out.push({ leaf: L.TDH_MEM_SEPT_ADD, inputs: { gpaLevel: gpaLevel(base, level), tdrFlags, page: page() }, lp: 0 });
        if (level === 1 && !building && this.world.free2m.length > 0) {
          out.push({ leaf: L.TDH_MEM_PAGE_AUG, inputs: { gpaLevel: gpaLevel(base, 1), tdr, page: rng.pick(this.world.free2m) }, lp: 0 });
        }
        return;
      }
    }
    const leafWalk = sept.walk(gpa, 0);
    if (leafWalk.reached && leafWalk.stateName === 'FREE') {
      if (building) out.push({ leaf: L.TDH_MEM_PAGE_ADD, inputs: { gpaLevel: gpaLevel(gpa, 0), tdr, page: page(), source: this.world.hostData }, lp: 0 });
      else out.push({ leaf: L.TDH_MEM_PAGE_AUG, inputs: { gpaLevel: gpaLevel(gpa, 0), tdr, page: page() }, lp: 0 });
      return;
    }
    const level = leafWalk.isLeaf ? leafWalk.level : 0;
    const gl = gpaLevel(gpa & ~(levelSize(level) - 1n), level);
    if (building && leafWalk.stateName === 'MAPPED') out.push({ leaf: L.TDH_MR_EXTEND, inputs: { gpa: gpa + BigInt(rng.int(16) * 256), tdr }, lp: 0 });
    out.push({ leaf: L.TDH_MEM_RANGE_BLOCK, inputs: { gpaLevel: gl, tdr }, lp: 0 });
    out.push({ leaf: L.TDH_MEM_RANGE_UNBLOCK, inputs: { gpaLevel: gl, tdr }, lp: 0 });
    out.push({ leaf: L.TDH_MEM_PAGE_REMOVE, inputs: { gpaLevel: gl, tdr }, lp: 0 });
    out.push({ leaf: L.TDH_MEM_SEPT_RD, inputs: { gpaLevel: gl, tdr }, lp: 0 });
    const upper = rng.range(1, sept.maxLevel);
    out.push({ leaf: L.TDH_MEM_SEPT_REMOVE, inputs: { gpaLevel: gpaLevel(gpa & ~(levelSize(upper) - 1n), upper), tdr }, lp: 0 });
  }

  // ---- strategy: a leaf with adversarial operands ------------------------------------------

  private leafWithOperands(rng: Rng): ModuleAction {
    const leaf = rng.chance(0.97) ? rng.pick(IMPLEMENTED) : rng.pick(ALL_LEAVES);
    const inputs: Record<string, bigint> = {};
    for (const op of leaf.inputs) inputs[op.name] = this.operand(rng, op.name);
    const version = rng.chance(0.8) ? 0 : rng.chance(0.5) ? leaf.maxVersion : rng.int(4);
    const lp = rng.chance(0.7) ? 0 : rng.int(this.world.w.lps.length);
    return this.toAction({ leaf, inputs, lp, version });
  }

  /** A value for the operand called `name`, from the pool that fits it. */
  private operand(rng: Rng, name: string): bigint {
    const w = this.world.w;
    switch (name) {
      case 'tdr':
        return this.tdrLike(rng);
      case 'tdrFlags':
        return TDR_AND_SEPT_ADD_FLAGS.encode({ tdr_page: (this.tdrLike(rng) >> 12n) & ((1n << 40n) - 1n), allow_existing: rng.int(2) }) | (rng.chance(0.05) ? 1n << BigInt(rng.range(1, 11)) : 0n);
      case 'tdvpr':
        return this.tdvprLike(rng);
      case 'vcpu': {
        const v = VP_ENTER_RCX.encode({ tdvpr_page: (this.tdvprLike(rng) >> 12n) & ((1n << 40n) - 1n), host_recoverability_hint: rng.chance(0.1) ? 1 : 0, resume_l1: rng.chance(0.05) ? 1 : 0 });
        return rng.chance(0.05) ? flipBit(rng, v) : v;
      }
      case 'page':
      case 'source':
      case 'sysInfo':
      case 'cmrArray':
      case 'list':
        return this.pageLike(rng);
      case 'gpaLevel':
        return this.gpaLevelLike(rng);
      case 'gpa':
        return rng.chance(0.7) ? rng.pick(PLAN_GPAS) + BigInt(rng.int(16) * 256) : mutateAddress(rng, rng.pick(PLAN_GPAS), this.addressContext());
      case 'hkid':
        return rng.chance(0.1) ? HKID_OPERAND.encode({ hkid: this.freeHkid(rng) }) | (1n << BigInt(rng.range(16, 63))) : BigInt(this.hkidLike(rng));
      case 'globalHkid':
        return rng.chance(0.6) ? BigInt(w.globalHkid) : BigInt(this.hkidLike(rng));
      case 'fieldId':
        return rng.chance(0.85) ? rng.pick(FIELD_IDS) + (rng.chance(0.3) ? smallInt(rng) : 0n) : boundary(rng);
      case 'tdParams':
        return rng.chance(0.7) ? rng.pick(this.world.tdParams) : this.pageLike(rng);
      case 'tdmrArray':
        return rng.chance(0.6) ? w.tdmrArray : rng.chance(0.5) ? this.world.hostData : mutateAddress(rng, w.tdmrArray, this.addressContext());
      case 'tdmrCount':
        return rng.chance(0.6) ? w.tdmrCount : smallInt(rng);
      case 'tdmrBase':
        return rng.chance(0.6) ? w.tdmr.base : mutateAddress(rng, w.tdmr.base, this.addressContext());
      case 'resume':
        return rng.chance(0.8) ? BigInt(rng.int(2)) : boundary(rng);
      case 'attributes':
        return rng.chance(0.7) ? 0n : boundary(rng);
      case 'initialRcx':
      case 'x2apicId':
      case 'sysInfoSize':
      case 'cmrEntries':
        return rng.chance(0.5) ? smallInt(rng) : boundary(rng);
      default:
        return boundary(rng);
    }
  }

  private addressContext(): AddressContext {
    const p = this.world.w.platform;
    return { keyIdShift: p.keyIdShift, maxPa: p.maxPa, keyId: this.world.w.globalHkid + 1 };
  }

  /** Free pool pages the PAMT still records as PT_NDA. */
  private freePages(): bigint[] {
    const pamt = this.module.pamt;
    return this.world.freePages.filter((pa) => {
      const e = pamt.lookup(pa);
      return e !== undefined && e.type === PamtPageType.PT_NDA;
    });
  }

  /** Every page a TD's structures name (TDR, TDCS, Secure EPT, mapped pages, vCPU pages). */
  private tdPagesOf(td: Td): bigint[] {
    return tdPages(this.module, td).map((p) => p.pa);
  }

  private pageLike(rng: Rng): bigint {
    const r = rng.float();
    if (r < 0.35) return rng.pick(this.world.freePages);
    if (r < 0.6) {
      const tds = [...this.module.tds.values()];
      if (tds.length > 0) return rng.pick(this.tdPagesOf(rng.pick(tds)));
    }
    if (r < 0.7 && this.world.free2m.length > 0) return rng.pick(this.world.free2m);
    if (r < 0.8) return rng.pick([this.world.hostData, ...this.world.tdParams]);
    return mutateAddress(rng, rng.pick(this.world.freePages), this.addressContext());
  }

  private tdrLike(rng: Rng): bigint {
    const tdrs = [...this.module.tds.keys()];
    if (tdrs.length > 0 && rng.chance(0.75)) return rng.chance(0.9) ? rng.pick(tdrs) : mutateAddress(rng, rng.pick(tdrs), this.addressContext());
    return this.pageLike(rng);
  }

  private tdvprLike(rng: Rng): bigint {
    const vcpus = [...this.module.vcpus.keys()];
    if (vcpus.length > 0 && rng.chance(0.75)) return rng.chance(0.9) ? rng.pick(vcpus) : mutateAddress(rng, rng.pick(vcpus), this.addressContext());
    return this.pageLike(rng);
  }

  private gpaLevelLike(rng: Rng): bigint {
    const level = rng.chance(0.9) ? rng.int(4) : rng.int(8);
    let gpa = rng.pick(PLAN_GPAS) & ~(levelSize(Math.min(level, 4)) - 1n);
    if (rng.chance(0.2)) gpa = mutateAddress(rng, gpa, { ...this.addressContext(), sharedBit: 1n << 47n }) & ((1n << 52n) - 1n);
    let v = gpaLevel(gpa, 0) | BigInt(level);
    if (rng.chance(0.05)) v = flipBit(rng, v);
    return v;
  }

  private hkidLike(rng: Rng): number {
    const p = this.world.w.platform;
    return rng.pick([this.freeHkid(rng), this.world.w.globalHkid, this.world.w.globalHkid + 1, 0, 1, p.mktmeKeyIds, p.firstTdxKeyId + p.tdxKeyIds, 65535]);
  }

  /** A private HKID no live TD uses (or, when all are used, any private one). */
  private freeHkid(rng: Rng): number {
    const p = this.world.w.platform;
    const used = new Set([...this.module.tds.values()].map((t) => t.hkid));
    for (let i = 0; i < 4; i++) {
      const h = p.firstTdxKeyId + 1 + rng.int(p.tdxKeyIds - 1);
      if (!used.has(h)) return h;
    }
    return p.firstTdxKeyId + 1 + rng.int(p.tdxKeyIds - 1);
  }

  // ---- strategy: random register files and host memory -------------------------------------

  private randomRegisters(rng: Rng): ModuleAction {
    const regs: SeamcallAction['regs'] = {};
    for (const name of GPR_NAMES) regs[name.toLowerCase() as Lowercase<GprName>] = rng.chance(0.5) ? boundary(rng) : rng.u64();
    regs.rax = rng.chance(0.7)
      ? LEAF_WORD.encode({ leaf: rng.pick(ALL_LEAVES).number, version: rng.int(4) }) | (rng.chance(0.3) ? 1n << BigInt(rng.range(24, 63)) : 0n)
      : rng.u64();
    return { kind: 'seamcall', lp: rng.int(this.world.w.lps.length), regs };
  }

  private hostMemory(rng: Rng): ModuleAction {
    const planted = [...this.world.memoryWatch.planted.keys()];
    const pa = planted.length > 0 && rng.chance(0.6) ? rng.pick(planted) : this.pageLike(rng) & ~4095n & ((1n << 31n) - 1n);
    const p = this.world.w.platform;
    const keyId = rng.chance(0.7) ? 0 : rng.range(1, p.mktmeKeyIds);
    return { kind: rng.chance(0.7) ? 'host-read' : 'host-write', pa: pa + BigInt(rng.int(512) * 8), keyId, value: rng.u64() };
  }

  // ---- corruption and encoding -------------------------------------------------------------

  /** Break a valid step in one way: an operand, the LP, the version, a reserved RAX bit. */
  private corrupt(rng: Rng, a: SeamcallAction): SeamcallAction {
    const regs = { ...a.regs };
    switch (rng.int(4)) {
      case 0: {
        const name = rng.pick(['rcx', 'rdx', 'r8', 'r9'] as const);
        regs[name] = rng.chance(0.5) ? mutateAddress(rng, regs[name] ?? 0n, this.addressContext()) : boundary(rng);
        break;
      }
      case 1:
        return { ...a, lp: (a.lp + 1 + rng.int(this.world.w.lps.length - 1)) % this.world.w.lps.length };
      case 2:
        regs.rax = LEAF_WORD.set(regs.rax ?? 0n, 'version', BigInt(rng.range(1, 3)));
        break;
      default:
        regs.rax = (regs.rax ?? 0n) | (1n << BigInt(rng.range(24, 63)));
    }
    return { ...a, regs, note: `${a.note ?? ''} (corrupted)` };
  }

  /**
   * Let another LP hold a lock the call needs: the PAMT entry of a page operand, the TD's
   * OP_STATE, Secure-EPT tree or epoch lock, the KOT or the global lock.
   */
  private contend(rng: Rng, a: SeamcallAction): SeamcallAction {
    const operand = rng.pick([a.regs.rcx, a.regs.rdx, a.regs.r8].filter((v): v is bigint => v !== undefined).concat(0n));
    const pfn = (operand & ((1n << 52n) - 1n)) >> 12n;
    const tds = [...this.module.tds.keys()];
    const tdrPfn = tds.length > 0 ? rng.pick(tds) >> 12n : pfn;
    const key = rng.pick<LockId>([
      LockKey.pamt(pfn),
      LockKey.pamt(pfn),
      LockKey.opState(tdrPfn),
      LockKey.septTree(tdrPfn),
      LockKey.tdEpoch(tdrPfn),
      LockKey.KOT,
      LockKey.GLOBAL,
    ]);
    return { ...a, contended: { key, mode: rng.chance(0.5) ? 'shared' : 'exclusive' }, note: `${a.note ?? ''} (contended)` };
  }

  private toAction(p: Plan): SeamcallAction {
    const rf = new RegisterFile();
    rf.gpr[0] = LEAF_WORD.encode({ leaf: p.leaf.number, version: p.version ?? 0 });
    writeOperands(p.leaf.inputs, rf, p.inputs);
    const regs: SeamcallAction['regs'] = { ...p.extra };
    GPR_NAMES.forEach((name, i) => {
      if (rf.gpr[i] !== 0n || i === 0) regs[name.toLowerCase() as Lowercase<GprName>] = rf.gpr[i]!;
    });
    return { kind: 'seamcall', lp: p.lp, regs, note: p.leaf.mnemonic };
  }
}
