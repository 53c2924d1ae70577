/**
 * The synthetic path of the `host` target: a stand-in for "TDX module + malicious guest" on one
 * vCPU, so the host's exit handlers can be fuzzed at hundreds of thousands of exits per second.
 *
 * The host (src/host) is driven unchanged: its vCPU calls TDH.VP.ENTER through SEAMCALL as
 * always. The interposer (host-world.ts) routes that one leaf, for this one vCPU, here instead of
 * to the real module; every other SEAMCALL the host makes (Secure-EPT faults, conversions,
 * TDH.VP.RD, teardown) still reaches the real module and the real TD it built. `enter(regs)`
 * plays the module's part at each entry:
 *
 *   1. the registers the host passes are its reply to the previous TDVMCALL: check them against
 *      the GHCI contract (ghci-contract.ts);
 *   2. take the guest's next action and build the TD exit the module would return for it, with
 *      the module's register image (td-exit.ts): a TDVMCALL exposes exactly the selected GPRs
 *      (others 0, RBP untouched under NO_RBP_MOD, RCX = the control word) with RAX = exit reason
 *      TDCALL; an asynchronous exit carries exit qualification, extended qualification, GPA and
 *      interruption information in RCX, RDX, R8, R9 with R10–R15, RBX, RBP, RSI, RDI zeroed;
 *   3. with no action waiting, exit as the host's timer would (EXTERNAL_INTERRUPT), which gives
 *      the host back its LP.
 * A guest memory access is classified by the module's own translation (guest-memory.ts) against
 * the real Secure EPT and the host's shared EPT; only an access that would leave the TD becomes
 * an exit (EPT violation, including PENDING_EPT_VIOLATION), the rest stay inside the guest.
 */
import { Gpr, GPR_COUNT, type RegisterFile } from '../../abi/registers.ts';
import { EXT_EXIT_QUAL, TDVMCALL_EXIT_RCX } from '../../abi/operands.ts';
import { TDVMCALL_FORBIDDEN_GPR_MASK, TDVMCALL_RBP_GPR_BIT } from '../../abi/tdvmcall.ts';
import { ExtExitQualType, VmxExitReason } from '../../abi/vmx.ts';
import { HOST_TIMER_VECTOR, INTERRUPTION_INFO, InterruptionType } from '../../abi/vmx-events.ts';
import { translateAccess } from '../../module/guest-memory.ts';
import type { TdxModule } from '../../module/module.ts';
import type { Vcpu } from '../../module/vcpu.ts';
import type { TdExitRequest } from '../../module/context.ts';
import { checkTdvmcallReply, type TdvmcallRequest } from '../ghci-contract.ts';
import type { Violation } from '../invariants.ts';
import type { HostAction, LowerGpr, TdvmcallAction } from './host-gen.ts';

const TDCALL_EXIT = BigInt(VmxExitReason.TDCALL);
const EXTERNAL_INTERRUPT_EXIT = BigInt(VmxExitReason.EXTERNAL_INTERRUPT);
const TIMER_INFO = INTERRUPTION_INFO.encode({ vector: HOST_TIMER_VECTOR, interruption_type: InterruptionType.EXTERNAL_INTERRUPT, valid: 1 });
/** gpr_select bits the module refuses (RAX, RCX, RSP; RBP under NO_RBP_MOD): never in an exit. */
const NEVER_SELECTED = TDVMCALL_FORBIDDEN_GPR_MASK | TDVMCALL_RBP_GPR_BIT;
/** Registers an asynchronous exit zeroes. */
const ASYNC_ZEROED = [Gpr.R10, Gpr.R11, Gpr.R12, Gpr.R13, Gpr.R14, Gpr.R15, Gpr.RBX, Gpr.RBP, Gpr.RSI, Gpr.RDI];
const { RCX, R10, R11, R12, R13 } = Gpr;
/** RDX..R15 but RSP (never written) and RBP (left alone under NO_RBP_MOD): 0 unless selected. */
const HIDDEN_IF_UNSELECTED: readonly number[] = [...Array(GPR_COUNT).keys()].filter((i) => i >= Gpr.RDX && i !== Gpr.RSP && i !== Gpr.RBP);
const LOWER: readonly LowerGpr[] = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

export class SyntheticTd {
  /** Actions the guest will perform at its next entries. */
  readonly queue: HostAction[] = [];
  /** First contract violation seen in a reply, collected by the fuzz step. */
  found: Violation | undefined;
  /** TDVMCALLs whose replies were checked. */
  replies = 0;
  private outstanding: TdvmcallRequest | undefined;
  private readonly byMask = new Map<bigint, { rcx: bigint; regs: number[] }>();

  constructor(
    readonly module: TdxModule,
    /** The real vCPU the host built (its Secure EPT and shared EPT decide memory exits). */
    readonly vcpu: Vcpu,
  ) {}

  /** Called with each checked TDVMCALL and the status the VMM answered (coverage). */
  onReply: (req: TdvmcallRequest, r10: bigint) => void = () => {};

  /** TDH.VP.ENTER of the fuzzed vCPU: `regs` in are the host's, out the exit's. Returns RAX (status | exit reason). */
  enter(regs: RegisterFile): bigint {
    const g = regs.gpr;
    if (this.outstanding) {
      this.replies++;
      this.onReply(this.outstanding, g[R10]!);
      const v = checkTdvmcallReply(this.outstanding, g[R10]!, g[R11]!, 'VMM reply');
      if (v) this.found ??= v;
      this.outstanding = undefined;
    }
    regs.xmm.fill(0n);
    for (;;) {
      const a = this.queue.shift();
      if (a === undefined) return this.async(regs, EXTERNAL_INTERRUPT_EXIT, 0n, 0n, 0n, TIMER_INFO);
      if (a.kind === 'tdvmcall') return this.tdvmcall(regs, a);
      if (a.kind === 'interrupt') return this.async(regs, EXTERNAL_INTERRUPT_EXIT, 0n, 0n, 0n, TIMER_INFO);
      if (a.kind === 'access') {
        const exit = this.accessExit(a.gpa, a.size, a.write);
        // Touching a page before accepting it gets the VM killed (KVM's "access before accepting");
        // a guest following the GHCI accepts first. One such access in 4096 is made for real (the
        // TD path makes them all), so episodes stay long enough to fuzz everything else.
        const pending = exit !== undefined && EXT_EXIT_QUAL.get(exit.extExitQualification, 'type') === BigInt(ExtExitQualType.PENDING_EPT_VIOLATION);
        if (exit && (!pending || (a.value & 4095n) === 0n)) return this.async(regs, BigInt(exit.exitReason) | exit.status, exit.exitQualification, exit.extExitQualification, exit.gpa, exit.interruptionInfo);
      }
      // An access that stays inside the TD, or an instruction (only a real guest executes those):
      // nothing reaches the host; the guest goes on to its next action.
    }
  }

  /** The exit the module would take for a guest access, or undefined if none reaches the host. */
  private accessExit(gpa: bigint, size: number, write: boolean): Extract<TdExitRequest, { kind: 'async' }> | undefined {
    const ve = this.vcpu.veInfo;
    const veValid = ve.valid;
    const t = translateAccess(this.module, this.vcpu, { gpa, length: size, write, origin: 'cpu' });
    // The translation may have recorded a #VE for the guest; nobody will consume it here.
    ve.valid = veValid;
    return t.kind === 'exit' && t.exit.kind === 'async' ? t.exit : undefined;
  }

  private tdvmcall(regs: RegisterFile, a: TdvmcallAction): bigint {
    const g = regs.gpr;
    const exposed = this.exposure(a.mask);
    g[RCX] = exposed.rcx;
    for (let i = 0; i < HIDDEN_IF_UNSELECTED.length; i++) g[HIDDEN_IF_UNSELECTED[i]!] = 0n;
    const v = a.regs;
    for (let i = 0; i < exposed.regs.length; i++) {
      const r = exposed.regs[i]!;
      g[r] = v[LOWER[r]!] ?? 0n;
    }
    this.outstanding = { callType: g[R10]!, subfunction: g[R11]!, r12: g[R12]!, r13: g[R13]! };
    return TDCALL_EXIT;
  }

  /** The exit RCX and the GPRs a control word exposes (cached: guests reuse a few masks). */
  private exposure(requested: bigint): { rcx: bigint; regs: number[] } {
    let e = this.byMask.get(requested);
    if (e === undefined) {
      const mask = requested & ~NEVER_SELECTED & ((1n << BigInt(GPR_COUNT)) - 1n);
      const regs = HIDDEN_IF_UNSELECTED.filter((i) => (mask >> BigInt(i)) & 1n);
      e = { rcx: TDVMCALL_EXIT_RCX.encode({ gpr_select: mask, xmm_select: 0n, vm: 0n }), regs };
      this.byMask.set(requested, e);
    }
    return e;
  }

  private async(regs: RegisterFile, rax: bigint, qual: bigint, eeq: bigint, gpa: bigint, info: bigint): bigint {
    const g = regs.gpr;
    g[Gpr.RCX] = qual; // VM index (bits 33:32) 0: the L1 VM
    g[Gpr.RDX] = eeq;
    g[Gpr.R8] = gpa;
    g[Gpr.R9] = info;
    for (const r of ASYNC_ZEROED) g[r] = 0n;
    return rax;
  }
}
