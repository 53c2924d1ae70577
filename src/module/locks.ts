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

export type LockMode = 'shared' | 'exclusive';
export type LockSide = 'host' | 'guest';

interface LockState {
  shared: number;
  exclusive: boolean;
  hostPriority: boolean;
}

export type AcquireResult = 'ok' | 'busy' | 'busy_host_priority';

/** A table of sharex locks keyed by resource name (e.g. `pamt:0x1234`, `sept:tdr`, `global`). */
export class LockTable {
  private readonly locks = new Map<string, LockState>();

  private state(key: string): LockState {
    let s = this.locks.get(key);
    if (!s) {
      s = { shared: 0, exclusive: false, hostPriority: false };
      this.locks.set(key, s);
    }
    return s;
  }

  /** Try to take a lock; never waits. */
  acquire(key: string, mode: LockMode, side: LockSide = 'host'): AcquireResult {
    const s = this.state(key);
    if (side === 'guest' && s.hostPriority) return 'busy_host_priority';
    const free = mode === 'shared' ? !s.exclusive : !s.exclusive && s.shared === 0;
    if (!free) {
      if (side === 'host') s.hostPriority = true;
      return 'busy';
    }
    if (mode === 'shared') s.shared++;
    else s.exclusive = true;
    if (side === 'host') s.hostPriority = false;
    return 'ok';
  }

  release(key: string, mode: LockMode): void {
    const s = this.locks.get(key);
    if (!s) return;
    if (mode === 'shared') s.shared = Math.max(0, s.shared - 1);
    else s.exclusive = false;
    if (s.shared === 0 && !s.exclusive && !s.hostPriority) this.locks.delete(key);
  }

  /**
   * Hold a lock on behalf of "another logical processor" (tests and fuzzing). Returns a function
   * that releases it.
   */
  hold(key: string, mode: LockMode): () => void {
    const s = this.state(key);
    if (mode === 'shared') s.shared++;
    else s.exclusive = true;
    return () => this.release(key, mode);
  }

  /** True when nothing is held (checked by invariant tests between calls). */
  idle(): boolean {
    for (const s of this.locks.values()) if (s.shared || s.exclusive) return false;
    return true;
  }
}

/** Lock keys, so every leaf names the same object the same way. */
export const LockKey = Object.freeze({
  GLOBAL: 'global',
  KOT: 'kot',
  /** The PAMT entry of a physical page (4K page frame number). */
  pamt: (pfn: bigint | number): string => `pamt:${pfn.toString(16)}`,
  /** A TD's OP_STATE lock (host-priority lock). */
  opState: (tdrPfn: bigint | number): string => `opstate:${tdrPfn.toString(16)}`,
  /** A TD's Secure-EPT tree lock. */
  septTree: (tdrPfn: bigint | number): string => `sept:${tdrPfn.toString(16)}`,
  /** One Secure-EPT entry (TD, GPA page, level). */
  septEntry: (tdrPfn: bigint | number, gpa: bigint, level: number): string =>
    `septe:${tdrPfn.toString(16)}:${gpa.toString(16)}:${level}`,
  /** A TD's epoch lock (TDH.MEM.TRACK exclusive, TDH.VP.ENTER shared). */
  tdEpoch: (tdrPfn: bigint | number): string => `epoch:${tdrPfn.toString(16)}`,
  /** A TD's RTMR lock (guest host-priority lock). */
  rtmr: (tdrPfn: bigint | number): string => `rtmr:${tdrPfn.toString(16)}`,
  /** A TDMR's initialisation mutex. */
  tdmr: (base: bigint): string => `tdmr:${base.toString(16)}`,
  /** A package's PHYMEM.CACHE.WB mutex. */
  wbcache: (pkg: number): string => `wbcache:${pkg}`,
  /** A package's key-encryption table (PCONFIG engine), held while a key is programmed. */
  ket: (pkg: number): string => `ket:${pkg}`,
});
