/**
 * A Map keyed by physical address that looks keys up as numbers.
 *
 * The module finds a TD by its TDR's address and a vCPU by its TDVPR's on every SEAMCALL that
 * names one — TDH.VP.ENTER at every TD exit. A Map keyed by bigint hashes the bigint's digits and
 * compares keys through a runtime call on each lookup; a number key is hashed and compared inline.
 * PaMap is an ordinary Map<bigint, V> (iteration, size and every other method see the bigint
 * keys) with a number-keyed index beside it for `get` and `has`.
 *
 * Keys are exact as numbers: physical addresses lie below 2^MAX_PA ≤ 2^52. A bigint at or above
 * 2^53 that a host passes as an operand converts to a number at or above 2^53, so it can never
 * match a stored key.
 */
import { u64ToNumber } from '../abi/u64.ts';

export class PaMap<V> extends Map<bigint, V> {
  private readonly index = new Map<number, V>();

  override get(pa: bigint): V | undefined {
    return this.index.get(u64ToNumber(pa));
  }

  override has(pa: bigint): boolean {
    return this.index.has(u64ToNumber(pa));
  }

  override set(pa: bigint, value: V): this {
    super.set(pa, value);
    // Map's constructor calls set() before this class's fields exist; it is never given entries.
    this.index?.set(u64ToNumber(pa), value);
    return this;
  }

  override delete(pa: bigint): boolean {
    this.index.delete(u64ToNumber(pa));
    return super.delete(pa);
  }

  override clear(): void {
    this.index.clear();
    super.clear();
  }
}
