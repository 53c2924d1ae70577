/**
 * The Physical Address Metadata Table: for every page of every TDMR, what the module uses it for
 * (its page type) and which TD owns it.
 *
 * The PAMT has three levels (1G, 2M, 4K). A page is described by the first level whose entry is
 * not PT_NDA, walking 1G → 2M → 4K; a 2M private page is recorded at the 2M level and leaves its
 * 512 4K entries PT_NDA. Pages outside every TDMR have no PAMT entry and can never be given to a
 * TD. Source: TDX module 1.5 `pamt_manager.c/h`; facts tdx-module.md §4.6.
 *
 * Storage is typed arrays per TDMR (type: 1 byte, owner page frame: 8 bytes per entry) plus a
 * sparse map for blocking epochs, so a fully populated 16 GiB TD costs ~9 bytes per 4K page here.
 */
import { PAGE_SIZE, PamtPageType, PamtPageSize, SIZE_1G, SIZE_2M, type PamtPageTypeValue } from '../abi/pamt.ts';
import { u64ToNumber } from '../abi/u64.ts';

export interface PamtEntry {
  /** PAMT level holding the entry: 0 = 4K, 1 = 2M, 2 = 1G (PamtPageSize). */
  readonly level: number;
  readonly type: PamtPageTypeValue;
  /** Owner TDR physical address (0 for PT_NDA/PT_RSVD and for a TDR itself). */
  readonly owner: bigint;
  /** Blocking epoch (TD_EPOCH when the page was blocked). */
  readonly bepoch: bigint;
  /** Physical address of the first byte the entry covers. */
  readonly base: bigint;
}

interface LevelTable {
  readonly type: Uint8Array;
  /** Owner TDR page frame numbers: 4 bytes each when every TDMR lies below 16 TiB, else 8. */
  readonly ownerPfn: Uint32Array | Float64Array;
}

export interface TdmrRange {
  readonly base: bigint;
  readonly size: bigint;
}

class TdmrPamt {
  /** Index by level: 0 = 4K, 1 = 2M, 2 = 1G. */
  readonly levels: LevelTable[];
  /** PAMT initialisation progress: everything below `base + initialized` is usable. */
  initialized = 0n;
  /** The same as numbers (exact: TDMRs lie below 2^52), for the per-SEAMCALL lookups. */
  readonly baseNumber: number;
  readonly endNumber: number;
  initializedEnd: number;
  constructor(
    readonly range: TdmrRange,
    compactOwners: boolean,
  ) {
    this.baseNumber = Number(range.base);
    this.endNumber = Number(range.base + range.size);
    this.initializedEnd = this.baseNumber;
    this.levels = [0, 1, 2].map((lvl) => {
      const n = Number(range.size >> BigInt(12 + 9 * lvl));
      return { type: new Uint8Array(n), ownerPfn: compactOwners ? new Uint32Array(n) : new Float64Array(n) };
    });
  }
  contains(pa: bigint): boolean {
    return pa >= this.range.base && pa < this.range.base + this.range.size;
  }
}

/** Page frame numbers below 2^32 (addresses below 16 TiB) fit a Uint32Array. */
const COMPACT_PFN_LIMIT = 2 ** 32;

export class Pamt {
  private readonly tdmrs: TdmrPamt[];
  private readonly bepochs = new Map<number, bigint>();
  /**
   * Number of changes made so far (entries set or freed, BEPOCHs recorded, TDMRs initialised):
   * lets an invariant checker skip a full scan when nothing changed since its last one.
   */
  changes = 0;

  constructor(ranges: readonly TdmrRange[]) {
    // Owners are TDR pages, which lie inside TDMRs: if every TDMR ends below 16 TiB, every owner
    // PFN fits 32 bits.
    const compact = ranges.every((r) => (r.base + r.size) >> 12n <= BigInt(COMPACT_PFN_LIMIT));
    this.tdmrs = ranges.map((r) => new TdmrPamt(r, compact));
  }

  /** The TDMR containing `pa`, if any. */
  private tdmrOf(pa: bigint): TdmrPamt | undefined {
    for (const t of this.tdmrs) if (t.contains(pa)) return t;
    return undefined;
  }

  /** The TDMR containing `pa` (a number: exact below 2^53, beyond every TDMR above), if any. */
  private tdmrOfNumber(pa: number): TdmrPamt | undefined {
    for (const t of this.tdmrs) if (pa >= t.baseNumber && pa < t.endNumber) return t;
    return undefined;
  }

  /** True if `pa` is in a TDMR whose PAMT has been initialised that far (TDH.SYS.TDMR.INIT). */
  covers(pa: bigint): boolean {
    const t = this.tdmrOf(pa);
    return t !== undefined && pa < t.range.base + t.initialized;
  }

  /** TDMR ranges and how far each is initialised. */
  ranges(): { base: bigint; size: bigint; initialized: bigint }[] {
    return this.tdmrs.map((t) => ({ base: t.range.base, size: t.range.size, initialized: t.initialized }));
  }

  /** Advance a TDMR's initialisation by `bytes`; returns the new initialised size. */
  initialize(base: bigint, bytes: bigint): bigint {
    const t = this.tdmrs.find((x) => x.range.base === base);
    if (!t) throw new Error(`no TDMR at ${base}`);
    t.initialized = t.initialized + bytes > t.range.size ? t.range.size : t.initialized + bytes;
    t.initializedEnd = Number(t.range.base + t.initialized);
    this.changes++;
    return t.initialized;
  }

  /**
   * The entry describing the page at `pa`: the first non-NDA entry walking 1G → 2M → 4K, else
   * the (NDA) 4K entry. Undefined outside initialised TDMR memory.
   */
  lookup(pa: bigint): PamtEntry | undefined {
    // Numbers, not bigints: this runs several times per SEAMCALL (abi/u64.ts).
    const n = u64ToNumber(pa);
    const t = this.tdmrOfNumber(n);
    if (!t || n >= t.initializedEnd) return undefined;
    // Page index inside the TDMR; level L's index is it / 512^L.
    const page = Math.floor((n - t.baseNumber) / PAGE_BYTES);
    for (let lvl: number = PamtPageSize.PT_1GB; lvl >= PamtPageSize.PT_4KB; lvl--) {
      const idx = Math.floor(page / PAGES_PER_ENTRY[lvl]!);
      const table = t.levels[lvl]!;
      const type = table.type[idx] as PamtPageTypeValue;
      if (type !== PamtPageType.PT_NDA || lvl === PamtPageSize.PT_4KB) {
        const base = BigInt(t.baseNumber + idx * PAGES_PER_ENTRY[lvl]! * PAGE_BYTES);
        return {
          level: lvl,
          type,
          owner: BigInt(table.ownerPfn[idx]! * PAGE_BYTES),
          bepoch: this.bepochs.size === 0 ? 0n : (this.bepochs.get(key(base, lvl)) ?? 0n),
          base,
        };
      }
    }
    return undefined;
  }

  /** Set the entry of the `level`-sized page at `pa` (which must be aligned to that size). */
  set(pa: bigint, level: number, type: PamtPageTypeValue, owner: bigint): void {
    const t = this.tdmrOf(pa);
    if (!t) throw new Error(`PAMT set outside TDMRs: ${pa}`);
    const idx = Number((pa - t.range.base) >> BigInt(12 + 9 * level));
    const ownerPfn = Number(owner >> 12n);
    const table = t.levels[level]!;
    if (table.ownerPfn instanceof Uint32Array && ownerPfn >= COMPACT_PFN_LIMIT) throw new Error(`PAMT owner ${owner} outside every TDMR`);
    table.type[idx] = type;
    table.ownerPfn[idx] = ownerPfn;
    if (type === PamtPageType.PT_NDA) this.bepochs.delete(key(pa, level));
    this.changes++;
  }

  /** Return the `level`-sized page at `pa` to PT_NDA with no owner. */
  free(pa: bigint, level: number): void {
    this.set(pa, level, PamtPageType.PT_NDA, 0n);
  }

  setBepoch(pa: bigint, level: number, epoch: bigint): void {
    // An absent BEPOCH reads as 0: store only the others (PAGE.ADD/AUG reset it to 0 for every
    // page, and a large TD has millions).
    if (epoch === 0n) this.bepochs.delete(key(pa, level));
    else this.bepochs.set(key(pa, level), epoch);
    this.changes++;
  }

  /**
   * True if every 4K page in [pa, pa + 4K·count) is PT_NDA at all levels (what a 2M AUG needs of
   * its target range).
   */
  rangeFree(pa: bigint, count: number): boolean {
    for (let i = 0; i < count; i++) {
      const e = this.lookup(pa + BigInt(i) * 4096n);
      if (!e || e.type !== PamtPageType.PT_NDA) return false;
    }
    return true;
  }

  /** Pages by type over all TDMRs (4K-equivalents), for invariants and "back to initial" checks. */
  census(): Map<PamtPageTypeValue, number> {
    const out = new Map<PamtPageTypeValue, number>();
    for (const t of this.tdmrs) {
      t.levels.forEach((table, lvl) => {
        for (let i = 0; i < table.type.length; i++) {
          const ty = table.type[i] as PamtPageTypeValue;
          if (ty === PamtPageType.PT_NDA) continue;
          out.set(ty, (out.get(ty) ?? 0) + 512 ** lvl);
        }
      });
    }
    return out;
  }

  /**
   * Call `fn` for every non-NDA entry, in the order `entries()` yields them. The same walk as a
   * plain loop: invariant checkers scan the whole PAMT often, and a generator costs ~20× more.
   */
  forEachEntry(fn: (e: PamtEntry) => void): void {
    const nda = PamtPageType.PT_NDA;
    for (const t of this.tdmrs) {
      for (let lvl = 0; lvl < t.levels.length; lvl++) {
        const table = t.levels[lvl]!;
        const types = table.type;
        for (let i = 0; i < types.length; i++) {
          if (types[i] === nda) continue;
          const base = t.range.base + (BigInt(i) << BigInt(12 + 9 * lvl));
          fn({
            level: lvl,
            type: types[i] as PamtPageTypeValue,
            owner: BigInt(table.ownerPfn[i]!) << 12n,
            bepoch: this.bepochs.get(key(base, lvl)) ?? 0n,
            base,
          });
        }
      }
    }
  }

  /** Every non-NDA entry (for invariant checks and debugging). */
  *entries(): Generator<PamtEntry> {
    for (const t of this.tdmrs) {
      for (let lvl = 0; lvl < t.levels.length; lvl++) {
        const table = t.levels[lvl]!;
        for (let i = 0; i < table.type.length; i++) {
          if (table.type[i] === PamtPageType.PT_NDA) continue;
          const base = t.range.base + (BigInt(i) << BigInt(12 + 9 * lvl));
          yield {
            level: lvl,
            type: table.type[i] as PamtPageTypeValue,
            owner: BigInt(table.ownerPfn[i]!) << 12n,
            bepoch: this.bepochs.get(key(base, lvl)) ?? 0n,
            base,
          };
        }
      }
    }
  }
}

const PAGE_BYTES = Number(PAGE_SIZE);
/** 4K pages one entry covers at each PAMT level (4K, 2M, 1G). */
const PAGES_PER_ENTRY: readonly number[] = [1, Number(SIZE_2M / PAGE_SIZE), Number(SIZE_1G / PAGE_SIZE)];

/** BEPOCH map key of the `level` entry at `pa`: PFN × 4 + level (exact: a PFN is below 2^40). */
function key(pa: bigint, level: number): number {
  return Math.floor(u64ToNumber(pa) / PAGE_BYTES) * 4 + level;
}
