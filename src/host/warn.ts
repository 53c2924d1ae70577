/**
 * Rate-limited host warnings: KVM's `pr_warn_ratelimited` / `kvm_pr_unimpl`, with blame.
 *
 * A misbehaving guest can make the host complain on every exit; an unbounded log is a
 * denial-of-service on the host. Each (vCPU, kind) pair therefore has a token bucket: `burst`
 * warnings may be logged at once, then one more per `refillEvery` exits handled by that vCPU
 * (the simulator has no wall clock, so exits are its time). Suppressed warnings are counted and
 * the count is reported with the next warning that gets through. The retained log is a ring of at
 * most `keep` entries, so memory stays bounded too.
 *
 * Every warning says whose fault it is: the guest (bad TDVMCALL operands, access before accept),
 * the TDX module (an exit or status the host cannot explain), the VMM's policy (an MSR filter, a
 * disabled capability) or userspace (a reply the kernel had to fix up).
 */

export type Culprit = 'guest' | 'module' | 'vmm-policy' | 'userspace';

export interface HostWarning {
  /** vCPU index, or -1 for VM-wide warnings. */
  readonly vcpu: number;
  /** Short machine-readable kind, e.g. `io-invalid-size`. */
  readonly kind: string;
  readonly culprit: Culprit;
  readonly message: string;
  /** Warnings of this vCPU and kind dropped since the last one logged. */
  readonly suppressed: number;
}

export interface WarningOptions {
  /** Tokens per bucket (warnings that may be logged back to back). Default 5. */
  readonly burst?: number;
  /** Exits of the vCPU after which one token is added back. Default 1000. */
  readonly refillEvery?: number;
  /** Most recent warnings kept in `log`. Default 200. */
  readonly keep?: number;
  /** Called for each warning that passes the limiter (e.g. to print it). */
  readonly sink?: (w: HostWarning) => void;
}

interface Bucket {
  tokens: number;
  /** Exit count of the vCPU when tokens were last refilled. */
  stamp: number;
  suppressed: number;
}

export class WarningLimiter {
  private readonly buckets = new Map<string, Bucket>();
  /** Per vCPU (index + 1; slot 0 is the VM itself, vCPU -1): exits handled. Ticked at every exit. */
  private readonly clocks: number[] = [];
  private readonly ring: HostWarning[] = [];
  private readonly burst: number;
  private readonly refillEvery: number;
  private readonly keep: number;
  private readonly sink: ((w: HostWarning) => void) | undefined;
  /** Warnings dropped by the limiter, in total. */
  dropped = 0;

  constructor(options: WarningOptions = {}) {
    this.burst = options.burst ?? 5;
    this.refillEvery = options.refillEvery ?? 1000;
    this.keep = options.keep ?? 200;
    this.sink = options.sink;
  }

  /** Advance a vCPU's clock by one handled exit. */
  tick(vcpu: number): void {
    this.clocks[vcpu + 1] = (this.clocks[vcpu + 1] ?? 0) + 1;
  }

  /** Log a warning unless its bucket is empty. Returns whether it was logged. */
  warn(vcpu: number, kind: string, culprit: Culprit, message: string): boolean {
    const now = this.clocks[vcpu + 1] ?? 0;
    const key = `${vcpu}:${kind}`;
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.burst, stamp: now, suppressed: 0 };
      this.buckets.set(key, b);
    }
    const refill = Math.floor((now - b.stamp) / this.refillEvery);
    if (refill > 0) {
      b.tokens = Math.min(this.burst, b.tokens + refill);
      b.stamp += refill * this.refillEvery;
    }
    if (b.tokens === 0) {
      b.suppressed++;
      this.dropped++;
      return false;
    }
    b.tokens--;
    const w: HostWarning = { vcpu, kind, culprit, message, suppressed: b.suppressed };
    b.suppressed = 0;
    this.ring.push(w);
    if (this.ring.length > this.keep) this.ring.shift();
    this.sink?.(w);
    return true;
  }

  /** The retained warnings, oldest first. */
  get log(): readonly HostWarning[] {
    return this.ring;
  }
}

/** One line for a warning: `vcpu 0 [guest bug] io-invalid-size: …`. */
export function formatWarning(w: HostWarning): string {
  const who = { guest: 'guest bug', module: 'TDX module bug', 'vmm-policy': 'VMM policy', userspace: 'userspace bug' }[w.culprit];
  const where = w.vcpu < 0 ? 'vm' : `vcpu ${w.vcpu}`;
  const sup = w.suppressed ? ` (${w.suppressed} similar suppressed)` : '';
  return `${where} [${who}] ${w.kind}: ${w.message}${sup}`;
}
