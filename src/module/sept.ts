/**
 * A TD's Secure EPT: the tree of 4K pages of 512 entries that maps the TD's private GPAs to host
 * pages, kept by the module in TD-private memory so the host can change it only through the
 * TDH.MEM.* leaves.
 *
 * Each SEPT page is a BigUint64Array(512) keyed by the page's physical address; the root is the
 * TDCS page TDH.MNG.ADDCX added as the SEPT root, its entries are at level PWL-1 (3 for a 4-level
 * EPT, 4 for 5-level). Entries hold exactly the bits the module writes (src/abi/sept-state.ts):
 *   FREE        TDEX|TDBW|TDB|SVE (SEPTE_INIT_VALUE)
 *   NL_MAPPED   R|W|X|XU | child page PA | SVE
 *   NL_BLOCKED  child page PA | TDB | SVE                     (permissions cleared)
 *   MAPPED      R|W|X|XU | MT=WB | IPAT | PS | page PA | SVE
 *   PENDING     MT=WB | IPAT | PS | TDP | page PA | SVE      (no permissions until accepted)
 *   BLOCKED     MT=WB | IPAT | PS | TDB | page PA | SVE
 *   PENDING_BLOCKED  MT=WB | IPAT | PS | TDP | TDB | page PA | SVE
 * so a hardware walk (R/W/X) and the module's own state (the encoding bits) agree by construction.
 *
 * The walk follows `secure_ept_walk`: from the root down to the requested level, stopping early
 * at an entry that is not present (R/W/X all 0: FREE, NL_BLOCKED, any PENDING/BLOCKED leaf) or is
 * a leaf (PS = 1). Source: TDX module 1.5 `sept_manager.c/h`; facts tdx-module.md §2.1, §4.7.
 */
import { SEPT_ENTRY_INFO } from '../abi/operands.ts';
import { HI32, LO32, halvesOf, u64ToNumber } from '../abi/u64.ts';
import { PAGE_SHIFT, PAGE_SIZE } from '../abi/pamt.ts';
import { SepteBit, SEPT_ENTRIES_PER_PAGE, SEPTE_MEMTYPE_WB, SEPTE_PA_MASK, SEPTE_FREE_REPORTED, levelSize } from '../abi/sept.ts';
import type { SeptStateName, SeptStateValue } from '../abi/sept.ts';
import {
  SEPT_STATE_ENCODING_MASK,
  SEPT_STATE_FLAGS,
  SEPTE_ARCH_LEAF_MASK,
  SEPTE_ARCH_NON_LEAF_MASK,
  SEPTE_INIT_VALUE,
  SEPTE_MEMTYPE_MASK,
  SEPTE_PERMISSIONS_MASK,
  septStateMask,
  septStateOf,
  type SeptStateFlags,
} from '../abi/sept-state.ts';

const bit = (n: number): bigint => 1n << BigInt(n);
const R_W_X = bit(SepteBit.R) | bit(SepteBit.W) | bit(SepteBit.X);
const PS = bit(SepteBit.PS);
const SVE = bit(SepteBit.SVE);
const IPAT = bit(SepteBit.IPAT);

/** Where a walk stopped and what it found there. */
export interface SeptWalk {
  /** Level of the entry the walk stopped at. */
  readonly level: number;
  /** The walk reached the requested level (it did not stop early). */
  readonly reached: boolean;
  /** The architectural view of the entry (what the host is shown in RCX on an EPT error). */
  readonly entry: bigint;
  /** Public state of the entry (SEPT_ENTRY_INFO.state). */
  readonly state: SeptStateValue;
  /** The entry maps a page (PS = 1) rather than a next-level SEPT page. */
  readonly isLeaf: boolean;
  /** Hardware would use the entry: any of R/W/X set (MAPPED, NL_MAPPED). */
  readonly present: boolean;
  /** PA the entry maps: the page (leaf) or the child SEPT page (non-leaf); 0n for none. */
  readonly hpa: bigint;
  /** The entry as stored, including the module's state and lock bits. */
  readonly raw: bigint;
  /** The module's name for the entry's state. */
  readonly stateName: SeptStateName;
  /** The SEPT page holding the entry and its index there. */
  readonly tablePa: bigint;
  readonly index: number;
}

/** What a guest access to a private GPA finds. */
export type GuestTranslation =
  | { readonly kind: 'mapped'; /** HPA of the byte at the GPA. */ readonly hpa: bigint; readonly level: number }
  | { readonly kind: 'pending'; readonly level: number; /** Base HPA of the pending page. */ readonly hpa: bigint }
  | { readonly kind: 'blocked'; readonly level: number }
  | { readonly kind: 'not_present'; readonly level: number };

/** One SEPT page: its PA, the level of the entries it holds, and the entries. */
export interface SeptPage {
  readonly pa: bigint;
  readonly level: number;
  readonly entries: BigUint64Array;
}

/** One non-FREE entry found by iterating the tree. */
export interface SeptEntryInfo {
  /** First GPA the entry covers. */
  readonly gpa: bigint;
  readonly level: number;
  readonly raw: bigint;
  readonly stateName: SeptStateName;
  readonly state: SeptStateValue;
  readonly isLeaf: boolean;
  readonly hpa: bigint;
}

/** Index of the entry for `gpa` in a SEPT page at `level`: GPA bits [12+9L+8 : 12+9L]. */
export function septIndex(gpa: bigint, level: number): number {
  // As a number when exact (every valid GPA is below 2^52): no bigint shift on each walk step.
  if (gpa >= 0n && gpa < TWO_POW_53 && level < LEVEL_SHIFT_DIVISORS.length) return Math.floor(u64ToNumber(gpa) / LEVEL_SHIFT_DIVISORS[level]!) % SEPT_ENTRIES_PER_PAGE;
  return Number((gpa >> BigInt(12 + 9 * level)) & BigInt(SEPT_ENTRIES_PER_PAGE - 1));
}

const TWO_POW_53 = 1n << 53n;
/** 2^(12 + 9L): the GPA bit where level L's index starts, as a divisor. */
const LEVEL_SHIFT_DIVISORS: readonly number[] = [0, 1, 2, 3, 4].map((l) => 2 ** (12 + 9 * l));

function stateNameOf(raw: bigint): SeptStateName {
  const name = septStateOf(raw);
  // Only the module writes entries, always with a valid encoding; anything else is a simulator bug.
  if (!name) throw new Error(`SEPT entry ${raw.toString(16)} has no valid state encoding`);
  return name;
}

/** The flags of an entry's state (tlb tracking, blocked, pending, guest-accessible…). */
export function septFlags(raw: bigint): SeptStateFlags {
  return SEPT_STATE_FLAGS[stateNameOf(raw)];
}

/**
 * What the host is shown of an entry (`set_arch_septe_details_in_vmm_regs`): a FREE entry as
 * SVE only; a leaf with its permissions, memory type, HPA, IPAT, PS and SVE; a non-leaf with only
 * its permissions and PS.
 */
export function architecturalSepte(raw: bigint): bigint {
  return architecturalOf(raw, stateNameOf(raw));
}

/** `architecturalSepte` for an entry whose state is already decoded. */
function architecturalOf(raw: bigint, stateName: SeptStateName): bigint {
  if (stateName === 'FREE') return SEPTE_FREE_REPORTED;
  return raw & ((raw & PS) !== 0n ? SEPTE_ARCH_LEAF_MASK : SEPTE_ARCH_NON_LEAF_MASK);
}

/**
 * `sept_update_state`: replace the state bits, derive the memory type from IPAT (WB for pages,
 * 0 for non-leaf entries) and keep SVE set.
 */
function withState(raw: bigint, state: SeptStateName): bigint {
  let v = (raw & ~SEPT_STATE_ENCODING_MASK) | septStateMask(state);
  v &= ~SEPTE_MEMTYPE_MASK;
  if ((v & IPAT) !== 0n) v |= SEPTE_MEMTYPE_WB << BigInt(SepteBit.MT0);
  return v | SVE;
}

/**
 * SEPT pages are kept by page frame number (a number: exact below 2^53), not by their bigint
 * address: the walk looks a child page up at every level of every Secure-EPT leaf and access.
 */
const pageKey = (pa: bigint): number => Math.floor(u64ToNumber(pa) / PAGE_BYTES);
const PAGE_BYTES = Number(PAGE_SIZE);

/** PA bits 51:12 of an entry as a page frame number, read from the entry's halves (u64.ts). */
function childKey(raw: bigint): number {
  const w = halvesOf(raw);
  return (w[HI32]! & PA_HI_BITS) * PFN_LO_WEIGHT + (w[LO32]! >>> PAGE_SHIFT_BITS);
}
const PAGE_SHIFT_BITS = Number(PAGE_SHIFT);
/** SEPTE_PA_MASK is bits 51:12: 20 bits in each half. */
const PA_HI_BITS = Number(SEPTE_PA_MASK >> 32n);
const PFN_LO_WEIGHT = 2 ** (32 - PAGE_SHIFT_BITS);
if (SEPTE_PA_MASK !== ((BigInt(PA_HI_BITS) << 32n) | (((2n ** 32n - 1n) >> BigInt(PAGE_SHIFT_BITS)) << BigInt(PAGE_SHIFT_BITS)))) {
  throw new Error('SEPTE_PA_MASK must be PA bits 51:12 for childKey');
}

export class SecureEpt {
  private readonly tables = new Map<number, SeptPage>();

  constructor(
    /** PA of the root SEPT page (the TDCS SEPT-root page). */
    readonly rootPa: bigint,
    /** EPT page-walk length: 4 (GPAW 48) or 5 (GPAW 52). */
    readonly levels: 4 | 5,
  ) {
    this.tables.set(pageKey(rootPa), { pa: rootPa, level: levels - 1, entries: new BigUint64Array(SEPT_ENTRIES_PER_PAGE).fill(SEPTE_INIT_VALUE) });
  }

  /** Level of the root page's entries (EPTP.PWL - 1): the highest level a leaf may name. */
  get maxLevel(): number {
    return this.levels - 1;
  }

  /**
   * Walk towards the entry of `gpa` at `level` (`secure_ept_walk`). Stops at the requested level,
   * or earlier at a non-present entry or a leaf; `reached` says which. `level` must be within
   * 0..maxLevel (callers validate the operand first).
   */
  walk(gpa: bigint, level: number): SeptWalk {
    if (!Number.isInteger(level) || level < 0 || level > this.maxLevel) {
      throw new RangeError(`SEPT walk level ${level} outside 0..${this.maxLevel}`);
    }
    let table = this.tables.get(pageKey(this.rootPa))!;
    for (let cur = this.maxLevel; ; cur--) {
      const index = septIndex(gpa, cur);
      const raw = table.entries[index]!;
      const stop = cur === level || (raw & R_W_X) === 0n || (raw & PS) !== 0n;
      if (stop) return this.describe(table, index, cur, cur === level);
      const child = this.tables.get(childKey(raw));
      // A present non-leaf entry always points at a page this tree holds.
      if (!child) throw new Error(`SEPT entry at level ${cur} points at an unknown page`);
      table = child;
    }
  }

  private describe(table: SeptPage, index: number, level: number, reached: boolean): SeptWalk {
    const raw = table.entries[index]!;
    const stateName = stateNameOf(raw);
    return {
      level,
      reached,
      entry: architecturalOf(raw, stateName),
      state: SEPT_STATE_FLAGS[stateName].public,
      isLeaf: (raw & PS) !== 0n,
      present: (raw & R_W_X) !== 0n,
      hpa: stateName === 'FREE' || stateName === 'REMOVED' ? 0n : raw & SEPTE_PA_MASK,
      raw,
      stateName,
      tablePa: table.pa,
      index,
    };
  }

  /**
   * What a guest load/store/fetch at private `gpa` finds: a page it can use (with the HPA of the
   * byte), a PENDING page (it must be accepted first), a BLOCKED entry or no mapping. The caller
   * has already checked that `gpa` is a valid private GPA for the TD.
   */
  translate(gpa: bigint): GuestTranslation {
    const w = this.walk(gpa, 0);
    const flags = SEPT_STATE_FLAGS[w.stateName];
    if (w.isLeaf && flags.guestFullyAccessibleLeaf) {
      return { kind: 'mapped', hpa: w.hpa + (gpa & (levelSize(w.level) - 1n)), level: w.level };
    }
    if (w.isLeaf && flags.pendingGuestAcceptable) return { kind: 'pending', level: w.level, hpa: w.hpa };
    if (flags.anyBlocked || flags.anyPending || flags.guestAccessibleLeaf) return { kind: 'blocked', level: w.level };
    return { kind: 'not_present', level: w.level };
  }

  /**
   * The SEPT error outputs (`set_arch_septe_details_in_vmm_regs`): RCX = the architectural entry,
   * RDX = SEPT_ENTRY_INFO {level, public state, vm = 0}. `level` overrides the walk's level where
   * the module reports the requested level instead.
   */
  errorOutputs(walk: SeptWalk, level: number = walk.level): { rcx: bigint; rdx: bigint } {
    return { rcx: walk.entry, rdx: SEPT_ENTRY_INFO.encode({ level, state: walk.state, vm: 0 }) };
  }

  // ---- mutations (each called by a leaf after all its checks passed) ----

  private write(walk: SeptWalk, raw: bigint): void {
    this.tables.get(pageKey(walk.tablePa))!.entries[walk.index] = raw;
  }

  /**
   * TDH.MEM.SEPT.ADD: the FREE entry at walk.level becomes NL_MAPPED, pointing at a new SEPT page
   * (at `childPa`) whose 512 entries are all FREE.
   */
  addTable(walk: SeptWalk, childPa: bigint): void {
    if (walk.level < 1) throw new RangeError('a SEPT page can only be added at level 1 or above');
    this.tables.set(pageKey(childPa), { pa: childPa, level: walk.level - 1, entries: new BigUint64Array(SEPT_ENTRIES_PER_PAGE).fill(SEPTE_INIT_VALUE) });
    this.write(walk, SEPTE_PERMISSIONS_MASK | withState(childPa & SEPTE_PA_MASK, 'NL_MAPPED'));
  }

  /** True if every entry of the child SEPT page the walk's entry points at is FREE. */
  childTableIsFree(walk: SeptWalk): boolean {
    const child = this.tables.get(pageKey(walk.hpa));
    if (!child) return false;
    return child.entries.every((e) => stateNameOf(e) === 'FREE');
  }

  /** TDH.MEM.SEPT.REMOVE: the entry becomes FREE and its child page leaves the tree. */
  removeTable(walk: SeptWalk): void {
    this.tables.delete(pageKey(walk.hpa));
    this.write(walk, SEPTE_INIT_VALUE);
  }

  /**
   * TDH.MEM.PAGE.ADD (MAPPED, with R/W/X/XU) and TDH.MEM.PAGE.AUG (PENDING, no permissions):
   * `sept_set_leaf`: the entry maps `hpa` as a WB page, IPAT set, SVE set.
   */
  mapLeaf(walk: SeptWalk, hpa: bigint, state: 'MAPPED' | 'PENDING'): void {
    const perms = state === 'MAPPED' ? SEPTE_PERMISSIONS_MASK : 0n;
    this.write(walk, perms | withState(hpa & SEPTE_PA_MASK, state));
  }

  /** TDH.MEM.PAGE.REMOVE: the leaf becomes FREE. */
  clear(walk: SeptWalk): void {
    this.write(walk, SEPTE_INIT_VALUE);
  }

  /**
   * TDH.MEM.RANGE.BLOCK (`block_sept_entry`): NL_MAPPED → NL_BLOCKED, MAPPED/BLOCKEDW → BLOCKED
   * with permissions cleared; PENDING/PENDING_BLOCKEDW → PENDING_BLOCKED. Clearing R/W/X is what
   * makes the hardware stop using the range for new translations.
   */
  block(walk: SeptWalk): void {
    const raw = walk.raw;
    switch (walk.stateName) {
      case 'NL_MAPPED':
        this.write(walk, withState(raw, 'NL_BLOCKED') & ~SEPTE_PERMISSIONS_MASK);
        return;
      case 'MAPPED':
      case 'BLOCKEDW':
        this.write(walk, withState(raw & ~SEPTE_PERMISSIONS_MASK, 'BLOCKED'));
        return;
      case 'PENDING':
      case 'PENDING_BLOCKEDW':
        this.write(walk, withState(raw, 'PENDING_BLOCKED'));
        return;
      default:
        throw new Error(`cannot block a SEPT entry in state ${walk.stateName}`);
    }
  }

  /**
   * TDH.MEM.RANGE.UNBLOCK (`sept_unblock`): the state before blocking comes back, with R/W/X/XU
   * restored for NL_MAPPED and MAPPED; a PENDING page stays without permissions.
   */
  unblock(walk: SeptWalk): void {
    const raw = walk.raw;
    switch (walk.stateName) {
      case 'NL_BLOCKED':
        this.write(walk, withState(raw, 'NL_MAPPED') | SEPTE_PERMISSIONS_MASK);
        return;
      case 'BLOCKED':
        this.write(walk, withState(raw, 'MAPPED') | SEPTE_PERMISSIONS_MASK);
        return;
      case 'PENDING_BLOCKED':
        this.write(walk, withState(raw, 'PENDING'));
        return;
      default:
        return; // not blocked: nothing to do, as in the module
    }
  }

  /** TDG.MEM.PAGE.ACCEPT: PENDING → MAPPED (PENDING_EXPORTED_DIRTY → EXPORTED_DIRTY) with R/W/X/XU. */
  accept(walk: SeptWalk): void {
    const next: SeptStateName = walk.stateName === 'PENDING_EXPORTED_DIRTY' ? 'EXPORTED_DIRTY' : 'MAPPED';
    this.write(walk, withState(walk.raw | SEPTE_PERMISSIONS_MASK, next));
  }

  // ---- iteration (invariant checks, teardown, debugging) ----

  /** Every SEPT page of the tree, the root first. */
  *pages(): Generator<SeptPage> {
    yield* this.tables.values();
  }

  /** Number of SEPT pages, root included. */
  get pageCount(): number {
    return this.tables.size;
  }

  /** Every non-FREE entry, depth first from the root, with the first GPA it covers. */
  *entries(): Generator<SeptEntryInfo> {
    yield* this.entriesOf(this.tables.get(pageKey(this.rootPa))!, 0n);
  }

  private *entriesOf(table: SeptPage, base: bigint): Generator<SeptEntryInfo> {
    for (let i = 0; i < SEPT_ENTRIES_PER_PAGE; i++) {
      const raw = table.entries[i]!;
      const stateName = stateNameOf(raw);
      if (stateName === 'FREE') continue;
      const gpa = base + BigInt(i) * levelSize(table.level);
      const isLeaf = (raw & PS) !== 0n;
      const hpa = stateName === 'REMOVED' ? 0n : raw & SEPTE_PA_MASK;
      yield { gpa, level: table.level, raw, stateName, state: SEPT_STATE_FLAGS[stateName].public, isLeaf, hpa };
      if (!isLeaf && stateName !== 'REMOVED') {
        const child = this.tables.get(pageKey(hpa));
        if (child) yield* this.entriesOf(child, gpa);
      }
    }
  }

  /** Every leaf entry (a page mapped, pending or blocked), with its GPA and level. */
  *leaves(): Generator<SeptEntryInfo> {
    for (const e of this.entries()) if (e.isLeaf) yield e;
  }
}
