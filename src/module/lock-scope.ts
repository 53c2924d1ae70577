/**
 * The locks one leaf invocation holds, released together when it returns.
 *
 * Module handlers take several locks in the documented order and must drop all of them on every
 * exit path, success or failure. A LockScope records each lock it takes; the handler releases the
 * whole scope in a `finally`, so no path can leak a lock into the next SEAMCALL.
 */
import { acquireCell, releaseCell, type AcquireResult, type LockCell, type LockId, type LockMode, type LockSide, type LockTable } from './locks.ts';

export class LockScope {
  /**
   * The locks taken, as parallel lists of which the first `count` entries are live (no object
   * per lock, no splicing: a scope lives on every leaf's path, TDH.VP.ENTER's included).
   */
  private readonly keys: LockId[] = [];
  private readonly cells: LockCell[] = [];
  private readonly modes: LockMode[] = [];
  private count = 0;

  constructor(private readonly locks: LockTable) {}

  /** Try to take a lock; on success it is released with the scope. */
  acquire(key: LockId, mode: LockMode, side: LockSide = 'host'): AcquireResult {
    const cell = this.locks.cell(key);
    const r = acquireCell(cell, mode, side);
    if (r === 'ok') {
      this.keys[this.count] = key;
      this.cells[this.count] = cell;
      this.modes[this.count] = mode;
      this.count++;
    }
    return r;
  }

  /** Release one lock early (e.g. a page lock dropped before the leaf continues). */
  release(key: LockId, mode: LockMode): void {
    for (let i = this.count - 1; i >= 0; i--) {
      if (this.keys[i] === key && this.modes[i] === mode) {
        releaseCell(this.cells[i]!, mode);
        for (let j = i + 1; j < this.count; j++) {
          this.keys[j - 1] = this.keys[j]!;
          this.cells[j - 1] = this.cells[j]!;
          this.modes[j - 1] = this.modes[j]!;
        }
        this.count--;
        return;
      }
    }
  }

  /** Release everything, most recent first. */
  releaseAll(): void {
    for (let i = this.count - 1; i >= 0; i--) releaseCell(this.cells[i]!, this.modes[i]!);
    this.count = 0;
  }
}

/** Run `body` with a fresh scope and release every lock it took when it returns. */
export function withLocks<T>(locks: LockTable, body: (scope: LockScope) => T): T {
  const scope = new LockScope(locks);
  try {
    return body(scope);
  } finally {
    scope.releaseAll();
  }
}
