/**
 * How the host issues SEAMCALLs: Linux's `seamcall()` family (arch/x86/virt/vmx/tdx/tdx.c,
 * arch/x86/include/asm/tdx.h; facts linux-tdx.md §1.3).
 *
 * `sc_retry()` repeats a leaf that returned TDX_RND_NO_ENTROPY (the module's RDRAND/RDSEED ran
 * dry) up to RDRAND_RETRY_LOOPS times; everything else comes back to the caller, who decides —
 * as each KVM call site does — whether a status is fatal (`mapSeamcallError`), retryable
 * (OPERAND_BUSY) or expected (VCPU_NOT_ASSOCIATED during teardown). `check()` is the common
 * "anything but success is a host error" policy.
 *
 * The log counts leaves and keeps the last few calls, so the CLI can tell the story of a run
 * without tracing.
 */
import type { LeafDef, OperandValues } from '../abi/leaf.ts';
import { RDRAND_RETRY_LOOPS } from '../abi/kvm.ts';
import { TdxStatus, statusCode } from '../abi/status.ts';
import type { LogicalProcessor } from '../platform/processor.ts';
import { callLeaf, type LeafCallOptions, type LeafCallResult } from '../platform/leaf-call.ts';
import { mapSeamcallError } from './errors.ts';

export interface SeamcallRecord {
  readonly leaf: string;
  readonly lp: number;
  readonly status: bigint;
}

export class SeamcallLog {
  /** Calls per leaf mnemonic (retries included). */
  readonly counts = new Map<string, number>();
  /** The most recent calls (bounded ring). */
  readonly recent: SeamcallRecord[] = [];
  total = 0;

  constructor(private readonly keep = 64) {}

  record(r: SeamcallRecord): void {
    this.total++;
    this.counts.set(r.leaf, (this.counts.get(r.leaf) ?? 0) + 1);
    this.recent.push(r);
    if (this.recent.length > this.keep) this.recent.shift();
  }

  /** Calls of one leaf so far. */
  count(leaf: LeafDef): number {
    return this.counts.get(leaf.mnemonic) ?? 0;
  }
}

export class Seamcaller {
  constructor(readonly log: SeamcallLog = new SeamcallLog()) {}

  /** SEAMCALL with Linux's RND_NO_ENTROPY retry. Never throws. */
  call<L extends LeafDef>(
    lp: LogicalProcessor,
    leaf: L,
    inputs: Partial<OperandValues<L['inputs']>> = {},
    options: LeafCallOptions = {},
  ): LeafCallResult<L> {
    let r = callLeaf(lp, leaf, inputs, options);
    this.log.record({ leaf: leaf.mnemonic, lp: lp.id, status: r.status });
    for (let i = 1; i < RDRAND_RETRY_LOOPS && statusCode(r.status) === TdxStatus.TDX_RND_NO_ENTROPY; i++) {
      r = callLeaf(lp, leaf, inputs, options);
      this.log.record({ leaf: leaf.mnemonic, lp: lp.id, status: r.status });
    }
    return r;
  }

  /** SEAMCALL that must succeed; any other status becomes a HostError (errno per seamcall_prerr). */
  check<L extends LeafDef>(
    lp: LogicalProcessor,
    leaf: L,
    inputs: Partial<OperandValues<L['inputs']>> = {},
    context = '',
    options: LeafCallOptions = {},
  ): LeafCallResult<L> {
    const r = this.call(lp, leaf, inputs, options);
    if (!r.ok) throw mapSeamcallError(leaf.mnemonic, r.status, r.outputs as Record<string, bigint>, context);
    return r;
  }
}

/** KVM's `tdx_operand_busy()`: the status (bits 63:32) is TDX_OPERAND_BUSY, whatever the operand. */
export function isOperandBusy(status: bigint): boolean {
  return statusCode(status) === TdxStatus.TDX_OPERAND_BUSY;
}
