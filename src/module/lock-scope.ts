/**
 * The locks one leaf invocation holds, released together when it returns.
 *
 * Module handlers take several locks in the documented order and must drop all of them on every
 * exit path, success or failure. A LockScope records each lock it takes; the handler releases the
 * whole scope in a `finally`, so no path can leak a lock into the next SEAMCALL.
 */
import type { AcquireResult, LockMode, LockSide, LockTable } from './locks.ts';

export class LockScope {
  private readonly held: { key: string; mode: LockMode }[] = [];

  constructor(private readonly locks: LockTable) {}

  /** Try to take a lock; on success it is released with the scope. */
  acquire(key: string, mode: LockMode, side: LockSide = 'host'): AcquireResult {
    const r = this.locks.acquire(key, mode, side);
    if (r === 'ok') this.held.push({ key, mode });
    return r;
  }

  /** Release one lock early (e.g. a page lock dropped before the leaf continues). */
  release(key: string, mode: LockMode): void {
    const i = this.held.findIndex((h) => h.key === key && h.mode === mode);
    if (i < 0) return;
    this.held.splice(i, 1);
    this.locks.release(key, mode);
  }

  /** Release everything, most recent first. */
  releaseAll(): void {
    for (let h = this.held.pop(); h; h = this.held.pop()) this.locks.release(h.key, h.mode);
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
