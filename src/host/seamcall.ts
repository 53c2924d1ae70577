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
import { operandReg, type LeafDef, type OperandValues } from '../abi/leaf.ts';
import { Gpr, type RegisterFile } from '../abi/registers.ts';
import { LEAF_WORD } from '../abi/operands.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
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
  total = 0;
  /**
   * Calls per leaf number, and the leaves in the order of their first call: an array slot per
   * leaf rather than a Map keyed by mnemonic, since this runs on every SEAMCALL.
   */
  private readonly perLeaf: number[] = [];
  private readonly seen: LeafDef[] = [];
  /**
   * Ring of the last `keep` calls as parallel arrays (no object per call); the oldest is at
   * `total % keep` once it has wrapped.
   */
  private readonly leaves: LeafDef[] = [];
  private readonly lps: number[] = [];
  private readonly statuses: bigint[] = [];

  constructor(private readonly keep = 64) {}

  /** Calls per leaf mnemonic (retries included), in the order each leaf was first called. */
  get counts(): Map<string, number> {
    return new Map(this.seen.map((leaf) => [leaf.mnemonic, this.perLeaf[leaf.number]!]));
  }

  /** The most recent calls, oldest first (at most `keep`). */
  get recent(): SeamcallRecord[] {
    const n = Math.min(this.total, this.keep);
    const first = this.total - n;
    return Array.from({ length: n }, (_, k) => {
      const i = (first + k) % this.keep;
      return { leaf: this.leaves[i]!.mnemonic, lp: this.lps[i]!, status: this.statuses[i]! };
    });
  }

  record(leaf: LeafDef, lp: number, status: bigint): void {
    const i = this.total % this.keep;
    this.leaves[i] = leaf;
    this.lps[i] = lp;
    this.statuses[i] = status;
    this.total++;
    const n = this.perLeaf[leaf.number];
    if (n === undefined) {
      this.perLeaf[leaf.number] = 1;
      this.seen.push(leaf);
    } else {
      this.perLeaf[leaf.number] = n + 1;
    }
  }

  /** Calls of one leaf so far. */
  count(leaf: LeafDef): number {
    return this.perLeaf[leaf.number] ?? 0;
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
    this.log.record(leaf, lp.id, r.status);
    for (let i = 1; i < RDRAND_RETRY_LOOPS && r.status !== TdxStatus.TDX_SUCCESS && statusCode(r.status) === TdxStatus.TDX_RND_NO_ENTROPY; i++) {
      r = callLeaf(lp, leaf, inputs, options);
      this.log.record(leaf, lp.id, r.status);
    }
    return r;
  }

  /**
   * TDH.VP.ENTER as KVM issues it (`tdh_vp_enter` → `__seamcall_saved_ret`, no retry loop): in
   * the vCPU's own register file, where the last exit's registers and KVM's reply wait, with only
   * RCX set to the TDVPR. Counted in the log like every call. Returns RAX. The leaf word and the
   * operand's register come from the leaf table; nothing is allocated, since this runs once per
   * TD exit.
   */
  vpEnter(lp: LogicalProcessor, regs: RegisterFile, tdvpr: bigint): bigint {
    regs.gpr[Gpr.RAX] = VP_ENTER_WORD;
    regs.gpr[VP_ENTER_VCPU] = tdvpr;
    lp.seamcall(regs);
    const status = regs.gpr[Gpr.RAX]!;
    this.log.record(SeamcallLeaf.TDH_VP_ENTER, lp.id, status);
    return status;
  }

  /**
   * SEAMCALL that must succeed; any other status becomes a HostError (errno per seamcall_prerr).
   * `context` may be a function, called only on failure: loops that issue tens of thousands of
   * calls (MR.EXTEND over an image) need not format a message for each.
   */
  check<L extends LeafDef>(
    lp: LogicalProcessor,
    leaf: L,
    inputs: Partial<OperandValues<L['inputs']>> = {},
    context: string | (() => string) = '',
    options: LeafCallOptions = {},
  ): LeafCallResult<L> {
    const r = this.call(lp, leaf, inputs, options);
    if (!r.ok) throw mapSeamcallError(leaf.mnemonic, r.status, r.outputs as Record<string, bigint>, typeof context === 'string' ? context : context());
    return r;
  }
}

const VP_ENTER_WORD = LEAF_WORD.encode({ leaf: SeamcallLeaf.TDH_VP_ENTER.number });
const VP_ENTER_VCPU = Gpr[operandReg(SeamcallLeaf.TDH_VP_ENTER.inputs, 'vcpu')];

/** KVM's `tdx_operand_busy()`: the status (bits 63:32) is TDX_OPERAND_BUSY, whatever the operand. */
export function isOperandBusy(status: bigint): boolean {
  return statusCode(status) === TdxStatus.TDX_OPERAND_BUSY;
}
