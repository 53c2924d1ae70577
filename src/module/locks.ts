/**
 * The module's locks.
 *
 * TDX module locks never wait: a leaf that cannot take a lock fails at once with OPERAND_BUSY and
 * the operand of the contended object (or TDX_SYS_BUSY for the global lock). In tdxsim a SEAMCALL
 * or TDCALL runs to completion before the next one starts, so a lock is only ever held by
 * someone else when a test or the fuzzer holds it on purpose (`hold`) to stand for a leaf running
 * on another logical processor. Every leaf still takes its locks in the documented order and
 * releases them, so those contention paths are the module's real ones.
 *
 * Host-priority ("sharex_hp") locks: a host acquirer that fails sets the HP flag; while it is set
 * guest acquirers fail with OPERAND_BUSY_HOST_PRIORITY; a host that later succeeds clears it
 * (facts tdx-module.md §9.1).
 */
import { u64ToNumber } from '../abi/u64.ts';
import { PAGE_SIZE } from '../abi/pamt.ts';

export type LockMode = 'shared' | 'exclusive';
export type LockSide = 'host' | 'guest';

/**
 * A lock's name. LockKey builds every name the module uses; any other string or number names a
 * lock of its own (tests). Hot locks are numbers, so taking one builds no string: locks are taken
 * and released several times on every SEAMCALL and TDCALL.
 */
export type LockId = string | number;

/*
 * A lock's state is one number in a cell, so acquiring and releasing allocate nothing:
 *   bit 0   held exclusive
 *   bit 1   host priority requested (a host acquirer failed since the last host success)
 *   bits 2+ number of shared holders
 * State 0 is a free lock. Cells of free locks stay in the table, so a lock taken at every
 * SEAMCALL costs one lookup, not an insertion and a deletion; they are swept out once free cells
 * outnumber the rest (a host that AUGs millions of pages must not leave a cell per page behind).
 */
const EXCLUSIVE = 1;
const HOST_PRIORITY = 2;
const SHARED_ONE = 4;
/** Table size below which free cells are never swept. */
const SWEEP_FLOOR = 1024;

/** One lock's state. LockScope keeps the cells it took, so it releases them without a lookup. */
export interface LockCell {
  state: number;
}

export type AcquireResult = 'ok' | 'busy' | 'busy_host_priority';

/** Try to take the lock in `c` (see LockTable.acquire). */
export function acquireCell(c: LockCell, mode: LockMode, side: LockSide): AcquireResult {
  const s = c.state;
  if (side === 'guest' && (s & HOST_PRIORITY) !== 0) return 'busy_host_priority';
  const free = mode === 'shared' ? (s & EXCLUSIVE) === 0 : (s & ~HOST_PRIORITY) === 0;
  if (!free) {
    if (side === 'host') c.state = s | HOST_PRIORITY;
    return 'busy';
  }
  const next = mode === 'shared' ? s + SHARED_ONE : s | EXCLUSIVE;
  c.state = side === 'host' ? next & ~HOST_PRIORITY : next;
  return 'ok';
}

/** Release one hold of the lock in `c`. */
export function releaseCell(c: LockCell, mode: LockMode): void {
  const s = c.state;
  c.state = mode === 'shared' ? (s >= SHARED_ONE ? s - SHARED_ONE : s) : s & ~EXCLUSIVE;
}

/** A table of sharex locks keyed by resource (e.g. a page's PAMT entry, a TD's OP_STATE). */
export class LockTable {
  private readonly cells = new Map<LockId, LockCell>();
  /** Table size at which the next sweep of free cells happens. */
  private sweepAt = SWEEP_FLOOR;

  /** The cell of `key`, created free if the lock was never taken. */
  cell(key: LockId): LockCell {
    let c = this.cells.get(key);
    if (c === undefined) {
      if (this.cells.size >= this.sweepAt) this.sweep(); // before inserting: the new cell is free too
      c = { state: 0 };
      this.cells.set(key, c);
    }
    return c;
  }

  /** Drop the cells of free locks; sweep again when the table has doubled past what stays. */
  private sweep(): void {
    for (const [key, c] of this.cells) if (c.state === 0) this.cells.delete(key);
    this.sweepAt = Math.max(SWEEP_FLOOR, 2 * this.cells.size);
  }

  /** Try to take a lock; never waits. */
  acquire(key: LockId, mode: LockMode, side: LockSide = 'host'): AcquireResult {
    return acquireCell(this.cell(key), mode, side);
  }

  /**
   * Take a lock and release it at once: what a leaf does around one atomic update (TDH.VP.ENTER's
   * epoch count). The outcome and the host-priority side effects are those of `acquire`.
   */
  probe(key: LockId, mode: LockMode, side: LockSide = 'host'): AcquireResult {
    const c = this.cells.get(key);
    if (c === undefined) return 'ok';
    const r = acquireCell(c, mode, side);
    if (r === 'ok') releaseCell(c, mode);
    return r;
  }

  release(key: LockId, mode: LockMode): void {
    const c = this.cells.get(key);
    if (c !== undefined) releaseCell(c, mode);
  }

  /**
   * Hold a lock on behalf of "another logical processor" (tests and fuzzing). Returns a function
   * that releases it.
   */
  hold(key: LockId, mode: LockMode): () => void {
    const c = this.cell(key);
    c.state = mode === 'shared' ? c.state + SHARED_ONE : c.state | EXCLUSIVE;
    return () => releaseCell(c, mode);
  }

  /** True when nothing is held (checked by invariant tests between calls). */
  idle(): boolean {
    for (const c of this.cells.values()) if ((c.state & ~HOST_PRIORITY) !== 0) return false;
    return true;
  }
}

/**
 * The TD-scoped locks, numbered so that each TD's are distinct negative numbers (PAMT locks are
 * the page frame numbers, ≥ 0): -(TDR PFN × TD_LOCK_KINDS + kind). A PFN is below 2^40, so the
 * result is an exact integer.
 */
const TdLockKind = { OP_STATE: 1, SEPT_TREE: 2, EPOCH: 3, RTMR: 4 } as const;
const TD_LOCK_KINDS = 8;
const tdLock = (tdrPfn: bigint | number, kind: number): number => -(pfnNumber(tdrPfn) * TD_LOCK_KINDS + kind);

const PAGE_BYTES = Number(PAGE_SIZE);

/** A page frame number as a number (u64ToNumber: exact, and far cheaper than Number()). */
const pfnNumber = (pfn: bigint | number): number => (typeof pfn === 'number' ? pfn : u64ToNumber(pfn));

/** Lock keys, so every leaf names the same object the same way. */
export const LockKey = Object.freeze({
  GLOBAL: 'global',
  KOT: 'kot',
  /** The PAMT entry of a physical page: its 4K page frame number. */
  pamt: (pfn: bigint | number): number => pfnNumber(pfn),
  /** The same lock named by an address in the page (`pamt(pa >> 12)` without bigint work). */
  pamtOfPa: (pa: bigint): number => Math.floor(u64ToNumber(pa) / PAGE_BYTES),
  /** A TD's OP_STATE lock (host-priority lock). */
  opState: (tdrPfn: bigint | number): number => tdLock(tdrPfn, TdLockKind.OP_STATE),
  /** A TD's Secure-EPT tree lock. */
  septTree: (tdrPfn: bigint | number): number => tdLock(tdrPfn, TdLockKind.SEPT_TREE),
  /** One Secure-EPT entry (TD, GPA page, level). */
  septEntry: (tdrPfn: bigint | number, gpa: bigint, level: number): string =>
    `septe:${pfnNumber(tdrPfn)}:${u64ToNumber(gpa >> 12n)}:${level}`,
  /** A TD's epoch lock (TDH.MEM.TRACK exclusive, TDH.VP.ENTER shared). */
  tdEpoch: (tdrPfn: bigint | number): number => tdLock(tdrPfn, TdLockKind.EPOCH),
  /** A TD's RTMR lock (guest host-priority lock). */
  rtmr: (tdrPfn: bigint | number): number => tdLock(tdrPfn, TdLockKind.RTMR),
  /** A TDMR's initialisation mutex. */
  tdmr: (base: bigint): string => `tdmr:${base.toString(16)}`,
  /** A package's PHYMEM.CACHE.WB mutex. */
  wbcache: (pkg: number): string => `wbcache:${pkg}`,
  /** A package's key-encryption table (PCONFIG engine), held while a key is programmed. */
  ket: (pkg: number): string => `ket:${pkg}`,
});
