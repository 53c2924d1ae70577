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
import { PamtPageType, PamtPageSize, type PamtPageTypeValue } from '../abi/pamt.ts';

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
  readonly ownerPfn: Float64Array;
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
  constructor(readonly range: TdmrRange) {
    this.levels = [0, 1, 2].map((lvl) => {
      const n = Number(range.size >> BigInt(12 + 9 * lvl));
      return { type: new Uint8Array(n), ownerPfn: new Float64Array(n) };
    });
  }
  contains(pa: bigint): boolean {
    return pa >= this.range.base && pa < this.range.base + this.range.size;
  }
}

export class Pamt {
  private readonly tdmrs: TdmrPamt[];
  private readonly bepochs = new Map<string, bigint>();

  constructor(ranges: readonly TdmrRange[]) {
    this.tdmrs = ranges.map((r) => new TdmrPamt(r));
  }

  /** The TDMR containing `pa`, if any. */
  private tdmrOf(pa: bigint): TdmrPamt | undefined {
    for (const t of this.tdmrs) if (t.contains(pa)) return t;
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
    return t.initialized;
  }

  /**
   * The entry describing the page at `pa`: the first non-NDA entry walking 1G → 2M → 4K, else
   * the (NDA) 4K entry. Undefined outside initialised TDMR memory.
   */
  lookup(pa: bigint): PamtEntry | undefined {
    const t = this.tdmrOf(pa);
    if (!t || pa >= t.range.base + t.initialized) return undefined;
    const off = pa - t.range.base;
    for (let lvl: number = PamtPageSize.PT_1GB; lvl >= PamtPageSize.PT_4KB; lvl--) {
      const idx = Number(off >> BigInt(12 + 9 * lvl));
      const table = t.levels[lvl]!;
      const type = table.type[idx] as PamtPageTypeValue;
      if (type !== PamtPageType.PT_NDA || lvl === PamtPageSize.PT_4KB) {
        const base = t.range.base + (BigInt(idx) << BigInt(12 + 9 * lvl));
        return {
          level: lvl,
          type,
          owner: BigInt(table.ownerPfn[idx]!) << 12n,
          bepoch: this.bepochs.get(key(base, lvl)) ?? 0n,
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
    t.levels[level]!.type[idx] = type;
    t.levels[level]!.ownerPfn[idx] = Number(owner >> 12n);
    if (type === PamtPageType.PT_NDA) this.bepochs.delete(key(pa, level));
  }

  /** Return the `level`-sized page at `pa` to PT_NDA with no owner. */
  free(pa: bigint, level: number): void {
    this.set(pa, level, PamtPageType.PT_NDA, 0n);
  }

  setBepoch(pa: bigint, level: number, epoch: bigint): void {
    this.bepochs.set(key(pa, level), epoch);
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

function key(pa: bigint, level: number): string {
  return `${pa.toString(16)}:${level}`;
}
