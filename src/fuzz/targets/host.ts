/**
 * Fuzz target `host`: a malicious guest against the host VMM's exit handlers and its default
 * userspace.
 *
 * Each step hands one guest action (host-gen.ts) to the guest — the synthetic TD or the real
 * malicious guest program (host-world.ts) — and runs the host as a VMM's run loop would:
 * vcpu.run(), give the exit record to userspace, wake the vCPU when it halts, run again, until the
 * guest has taken the action. Checked at every step:
 *   - no exception escaped vcpu.run(), an exit handler, vcpu.complete() or userspace
 *     (no-exception); KVM_RUN failing with a HostError is how KVM reports a dead VM, not an
 *     exception;
 *   - every SEAMCALL the host made returned a defined status and TDH.VP.ENTER handed it no TD
 *     secret (status-defined, no-plaintext-leak, via the SEAM tap); the host never read memory
 *     with a private KeyID nor saw a secret in memory (memory watch);
 *   - the VMM's TDVMCALL answers keep the GHCI contract (status-defined, vmm-reply-contract) and,
 *     on the TD path, never change a register the guest did not expose (unexposed-registers);
 *   - the VM did not die of a failed SEAMCALL of the host's own (host-survives-guest). A guest
 *     can legitimately get its VM killed (touching memory it never accepted); that ends the
 *     episode without a finding.
 * Coverage counts actions by sub-function, exit records by kind, and (synthetic path) each
 * sub-function's TDVMCALL status.
 */
import { z } from 'zod';
import { hex64 } from '../../abi/bitfield.ts';
import { TdvmcallSubfunction, TDX_HYPERCALL_STANDARD } from '../../abi/tdvmcall.ts';
import { decodeTdvmcallStatus } from '../../abi/status-decode.ts';
import { HostError } from '../../host/errors.ts';
import type { ExitKind } from '../../host/exit-records.ts';
import { U64_JSON } from '../case.ts';
import { exceptionViolation, Invariant, violation, type Violation } from '../invariants.ts';
import type { Coverage } from '../coverage.ts';
import type { Rng } from '../rng.ts';
import type { Episode, FuzzTarget, OpenOptions } from '../target.ts';
import type { TdvmcallRequest } from '../ghci-contract.ts';
import { buildHostWorld, HOST_PATHS, type HostPath, type HostWorld } from './host-world.ts';
import { HostGenerator, WAKE_VECTOR, type HostAction, type LowerGpr } from './host-gen.ts';

/** vcpu.run() calls one step may make before the action is left for the next step. */
const MAX_RUNS_PER_STEP = 64;
/** Steps in a row in which the guest took no action: it is stuck (e.g. panicking forever). */
const MAX_STALLED_STEPS = 8;
/** Exit records after which a real VMM stops running the vCPU. */
const FINAL_EXITS: ReadonlySet<ExitKind> = new Set<ExitKind>(['shutdown', 'internal_error', 'fail_entry', 'exception']);

const SUB_NAMES = new Map<bigint, string>(Object.values(TdvmcallSubfunction).map((s) => [BigInt(s.number), s.name]));
const TDVMCALL_NAMES = new Map<bigint, string>([...SUB_NAMES].map(([n, name]) => [n, `TDVMCALL<${name}>`]));
const EXIT_NAMES = new Map<string, string>();

function actionName(a: HostAction): string {
  switch (a.kind) {
    case 'tdvmcall': {
      const exposes = (bit: number) => ((a.mask >> BigInt(bit)) & 1n) === 1n;
      const callType = exposes(10) ? (a.regs.r10 ?? 0n) : 0n;
      if (callType !== TDX_HYPERCALL_STANDARD) return 'KVM hypercall';
      const sub = exposes(11) ? (a.regs.r11 ?? 0n) : 0n;
      return TDVMCALL_NAMES.get(sub) ?? 'TDVMCALL<undefined sub-function>';
    }
    case 'access':
      return a.write ? 'guest store' : 'guest load';
    case 'instruction':
      return `guest ${a.op.toUpperCase()}`;
    case 'interrupt':
      return 'host interrupt';
  }
}

function exitName(kind: string): string {
  let n = EXIT_NAMES.get(kind);
  if (n === undefined) EXIT_NAMES.set(kind, (n = `exit record ${kind}`));
  return n;
}

const GPR_KEYS: readonly LowerGpr[] = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

export const HostActionSchema: z.ZodType<HostAction> = z.union([
  z.object({ kind: z.literal('tdvmcall'), mask: U64_JSON, regs: z.partialRecord(z.enum(GPR_KEYS as [LowerGpr, ...LowerGpr[]]), U64_JSON) }),
  z.object({ kind: z.literal('access'), gpa: U64_JSON, size: z.union([z.literal(1), z.literal(2), z.literal(4), z.literal(8)]), write: z.boolean(), value: U64_JSON }),
  z.object({ kind: z.literal('instruction'), op: z.enum(['in', 'out', 'cpuid', 'rdmsr', 'wrmsr', 'hlt']), a: U64_JSON, b: U64_JSON }),
  z.object({ kind: z.literal('interrupt') }),
]) as z.ZodType<HostAction>;
export const HostSetupSchema: z.ZodType<HostPath> = z.enum(HOST_PATHS);

/** One host episode over a world from buildHostWorld (tests may hand it a world they altered). */
export class HostEpisode implements Episode<HostAction> {
  private readonly gen: HostGenerator;
  private dead = false;
  private stalled = 0;

  constructor(
    readonly world: HostWorld,
    readonly coverage: Coverage,
  ) {
    if (world.synthetic) world.synthetic.onReply = (req, r10) => this.countReply(req, r10);
    this.gen = new HostGenerator(world.layout);
  }

  get live(): boolean {
    return !this.dead;
  }

  next(rng: Rng): HostAction {
    return this.gen.next(rng);
  }

  step(action: HostAction): Violation | undefined {
    const w = this.world;
    this.coverage.hit(actionName(action));
    const queue = w.synthetic?.queue ?? w.mailbox!.queue;
    queue.push(action);
    if (action.kind === 'interrupt' && w.path === 'td') {
      try {
        w.vcpu.postInterrupt(WAKE_VECTOR);
      } catch (e) {
        return exceptionViolation('posting an interrupt', e);
      }
    }
    for (let i = 0; i < MAX_RUNS_PER_STEP && !this.dead; i++) {
      const v = this.runOnce();
      if (v) return v;
      if (queue.length === 0) break;
    }
    this.stalled = queue.length === 0 ? 0 : this.stalled + 1;
    if (this.stalled >= MAX_STALLED_STEPS) this.dead = true;
    return this.collect();
  }

  /** One vcpu.run() and userspace's handling of its record. */
  private runOnce(): Violation | undefined {
    const w = this.world;
    let rec;
    try {
      rec = w.vcpu.run();
    } catch (e) {
      if (!(e instanceof HostError)) return exceptionViolation('vcpu.run()', e);
      this.dead = true;
      const v = this.collect();
      if (v) return v;
      // KVM_BUG_ON: one of the host's own SEAMCALLs failed because of what the guest did.
      if (e.details.status !== undefined) {
        return violation(Invariant.HOST_SURVIVES_GUEST, `the VM died of a failed host SEAMCALL ${e.details.leaf ?? ''} ${hex64(e.details.status)}: ${e.message}`);
      }
      this.coverage.hit('VM killed by the host');
      if (process.env.FUZZ_DEBUG) console.error('VM killed:', e.message);
      return undefined;
    }
    this.coverage.hit(exitName(rec.kind));
    if (rec.kind === 'hlt') {
      if (rec.interruptsBlocked) {
        // Only an NMI wakes a vCPU halted with interrupts blocked, and the host does not model
        // NMIs: the fuzzer stands in for one, so the episode goes on.
        w.vcpu.halted = undefined;
        return this.collect();
      }
      try {
        w.vcpu.postInterrupt(WAKE_VECTOR);
      } catch (e) {
        return exceptionViolation('waking the halted vCPU', e);
      }
      return this.collect();
    }
    if (rec.kind === 'system_event' && w.mailbox?.current !== undefined && w.mailbox.current.kind !== 'tdvmcall') {
      // A ReportFatalError the guest kernel made itself: it panicked and will loop forever.
      this.coverage.hit('guest kernel panic');
      this.dead = true;
      return this.collect();
    }
    try {
      w.user.handle(w.vcpu, rec);
    } catch (e) {
      return exceptionViolation(`userspace handling a ${rec.kind} exit`, e);
    }
    if (FINAL_EXITS.has(rec.kind)) this.dead = true;
    return this.collect();
  }

  private collect(): Violation | undefined {
    const w = this.world;
    const fromTap = w.tap.found;
    const fromSynthetic = w.synthetic?.found;
    const fromGuest = w.mailbox?.found;
    w.tap.found = undefined;
    if (w.synthetic) w.synthetic.found = undefined;
    if (w.mailbox) w.mailbox.found = undefined;
    return fromTap ?? fromSynthetic ?? fromGuest ?? w.memoryWatch.take();
  }

  private countReply(req: TdvmcallRequest, r10: bigint): void {
    if (req.callType !== TDX_HYPERCALL_STANDARD) return;
    const name = TDVMCALL_NAMES.get(req.subfunction) ?? 'TDVMCALL<undefined sub-function>';
    this.coverage.outcome(name, decodeTdvmcallStatus(r10).key ?? hex64(r10));
  }
}

export const hostTarget: FuzzTarget<HostAction, HostPath> = {
  name: 'host',
  summary: "a malicious guest against the host VMM's exit handlers and default userspace",
  episodeLength: (path) => (path === 'synthetic' ? 20_000 : 2_000),
  chooseSetup(rng: Rng): HostPath {
    // One episode in eight goes through the real TD end to end; the rest use the fast path.
    return rng.chance(0.125) ? 'td' : 'synthetic';
  },
  open(path: HostPath, coverage: Coverage, options: OpenOptions = {}): Episode<HostAction> {
    return new HostEpisode(buildHostWorld(path, options.tracer), coverage);
  },
  setupSchema: HostSetupSchema,
  actionSchema: HostActionSchema,
};
