/**
 * TDH.VP.ENTER: enter (or resume) a TD vCPU on this logical processor; the SEAMCALL returns at
 * the vCPU's next TD exit.
 *
 * Entry checks, in the module's order (facts tdx-module.md §6.1, `tdh_vp_enter.c`):
 *   1. RCX reserved bits (`vcpu_and_flags_t`)                  → OPERAND_INVALID | RCX
 *   2. TDVPR page, PAMT lock shared; its owner TDR, shared      → … | RCX, OPERAND_BUSY | TDR
 *   3. TD build state (fatal, keys, TDCS)                       → TD_FATAL, TD_KEYS_NOT_CONFIGURED…
 *   4. OP_STATE lock (shared, host priority) and OP_STATE RUNNABLE
 *                                                               → OPERAND_BUSY | OP_STATE,
 *                                                                 TDX_OP_STATE_INCORRECT
 *   5. all TDVPS pages present                                  → TDX_TDCX_NUM_INCORRECT
 *   6. vCPU READY (not ACTIVE on another LP, not DISABLED)      → TDX_VCPU_STATE_INCORRECT;
 *      associated with this LP or with none (then associated now, one more associated vCPU)
 *                                                               → TDX_VCPU_ASSOCIATED
 *   7. HOST_RECOVERABILITY_HINT only after an ASYNC_TRAP exit; RESUME_L1 only from an L2 VM,
 *      which tdxsim never runs                                  → OPERAND_INVALID | RCX
 *   8. TD epoch lock (shared, against TDH.MEM.TRACK), counting the vCPU into the current epoch
 *                                                               → OPERAND_BUSY | TD_EPOCH
 * Checks of the real module that concern hardware the simulated platform does not model
 * (IA32_MISC_ENABLE.BOOT_NT4, IA32_TSC_ADJUST, TSC rollback, MONITOR_FSM, the zero-step filter)
 * never fail here. The TDVPR and TDR locks stay held while the vCPU runs and are released at the
 * TD exit; the OP_STATE lock is released before entering the guest.
 *
 * Resume rules (§6.2, `save_regs_after_tdvmcall`): after a TDVMCALL exit, each GPR the guest
 * selected (bits 2..15 of its control word) and each selected XMM takes the host's value from
 * this SEAMCALL's registers — that is the VMM's reply — and guest RAX = 0 (TDCALL succeeded);
 * guest RCX and every unselected register keep the guest's values, so a host cannot change
 * anything the guest did not hand it. After an ASYNC_TRAP exit the guest's TDCALL status gets
 * bit 60 = HOST_RECOVERABILITY_HINT. After an async fault the host's registers are ignored.
 *
 * Then posted interrupts move into the guest's virtual APIC (posted-interrupts.ts), the vCPU is
 * ACTIVE, runs (vcpu-runner.ts) until its next TD exit, and td-exit.ts builds
 * the register image the SEAMCALL returns.
 */
import { Gpr, GPR_COUNT, XMM_COUNT, type RegisterFile } from '../abi/registers.ts';
import { operandReg } from '../abi/leaf.ts';
import { hasReservedHalves, readHalfField } from '../abi/bitfield.ts';
import { PAGE_SHIFT } from '../abi/pamt.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { VP_ENTER_RCX } from '../abi/operands.ts';
import { LastTdExit, VcpuState } from '../abi/lifecycle.ts';
import { OperandId, STATUS_LAYOUT, TdxStatus, withOperand } from '../abi/status.ts';
import type { SeamcallContext, SeamcallHandlerTable } from './context.ts';
import { LockScope } from './lock-scope.ts';
import { LockKey } from './locks.ts';
import { checkTdcs } from './tdcs-check.ts';
import { associateVcpu, checkTdvpsPages, lockTdvpr } from './vcpu-operand.ts';
import { enterEpoch } from './tlb.ts';
import { runVcpu } from './vcpu-runner.ts';
import { completeTdExit } from './td-exit.ts';
import { processPostedInterrupts } from './posted-interrupts.ts';
import type { Vcpu } from './vcpu.ts';
import { traceVmcallResume, traceVpEntry, traceVpExit } from './trace-points.ts';

const INVALID_RCX = withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX);
const BUSY_TD_EPOCH = withOperand(TdxStatus.TDX_OPERAND_BUSY, OperandId.TD_EPOCH);

/** Where the leaf table puts the vCPU operand, and its fields (looked up once: VP.ENTER is hot). */
const VCPU_REG = Gpr[operandReg(SeamcallLeaf.TDH_VP_ENTER.inputs, 'vcpu')];
const TDVPR_PAGE = VP_ENTER_RCX.field('tdvpr_page');
if (TDVPR_PAGE.shift !== PAGE_SHIFT) throw new Error('vcpu_and_flags_t.tdvpr_page must start at the page shift');
const HINT = VP_ENTER_RCX.half('host_recoverability_hint');
const RESUME_L1 = VP_ENTER_RCX.half('resume_l1');
const RESERVED = VP_ENTER_RCX.reservedHalves;

function tdhVpEnter(ctx: SeamcallContext): bigint {
  const { module, lp, regs } = ctx;
  const words = regs.gpr32;
  if (hasReservedHalves(words, VCPU_REG, RESERVED)) return INVALID_RCX;
  // tdvpr_page holds PA bits 51:12 in place, so masking RCX gives the TDVPR's address.
  const tdvpr = regs.gpr[VCPU_REG]! & TDVPR_PAGE.mask;
  const hint = readHalfField(words, VCPU_REG, HINT);

  const scope = new LockScope(module.locks);
  try {
    const found = lockTdvpr(scope, module, tdvpr, { operand: OperandId.RCX, mode: 'shared', tdrMode: 'shared' });
    if (!found.ok) return found.status;
    const { vcpu, td } = found;
    const tdcs = checkTdcs(scope, module, td, 'TDH_VP_ENTER', true);
    if (tdcs !== TdxStatus.TDX_SUCCESS) return tdcs;
    const pages = checkTdvpsPages(vcpu, td);
    if (pages !== TdxStatus.TDX_SUCCESS) return pages;
    const assoc = associateVcpu(vcpu, td, lp, false);
    if (assoc !== TdxStatus.TDX_SUCCESS) return assoc;
    // The hint only makes sense for a TDCALL that a trap-like exit interrupted.
    if (hint === 1 && vcpu.lastTdExit !== LastTdExit.ASYNC_TRAP) return INVALID_RCX;
    // RESUME_L1 resumes L1 after an L2 exit; without TD partitioning the vCPU is always in L1.
    if (readHalfField(words, VCPU_REG, RESUME_L1) === 1) return INVALID_RCX;
    if (enterEpoch(td, vcpu, module.locks).status !== 'ok') return BUSY_TD_EPOCH;

    // All checks passed. OP_STATE is only protected during the checks.
    scope.release(LockKey.opState(td.tdrPfn), 'shared');
    module.lpState[lp.id]!.lastVcpu = vcpu;
    const tracer = module.platform.tracer;
    if (tracer.enabled) traceVpEntry(tracer, vcpu, regs);
    applyResumeRules(vcpu, regs, hint);
    if (tracer.enabled && vcpu.lastTdExit === LastTdExit.TDVMCALL) traceVmcallResume(tracer, vcpu);
    processPostedInterrupts(module.platform.memory, vcpu);
    vcpu.state = VcpuState.VCPU_ACTIVE;
    const exit = runVcpu(module, vcpu);
    const rax = completeTdExit({ lp, regs, vcpu, td }, exit);
    if (tracer.enabled) traceVpExit(tracer, vcpu, regs, rax);
    return rax;
  } finally {
    scope.releaseAll();
  }
}

/** Load the guest's registers for this entry from the host's, as LAST_TD_EXIT dictates. */
function applyResumeRules(vcpu: Vcpu, regs: RegisterFile, hint: number): void {
  const guest = vcpu.cpu.regs;
  if (vcpu.lastTdExit === LastTdExit.TDVMCALL) {
    // The select masks are 16-bit fields: test them as numbers, not bit by bit in bigint.
    const gprSelect = vcpu.tdvmcallGprMask;
    for (let i: number = Gpr.RDX; i < GPR_COUNT; i++) {
      if ((gprSelect >>> i) & 1) guest.gpr[i] = regs.gpr[i]!;
    }
    const xmmSelect = vcpu.tdvmcallXmmMask;
    for (let i = 0; xmmSelect !== 0 && i < XMM_COUNT; i++) {
      if ((xmmSelect >>> i) & 1) {
        guest.xmm[2 * i] = regs.xmm[2 * i]!;
        guest.xmm[2 * i + 1] = regs.xmm[2 * i + 1]!;
      }
    }
    guest.gpr[Gpr.RAX] = TdxStatus.TDX_SUCCESS;
  } else if (vcpu.lastTdExit === LastTdExit.ASYNC_TRAP) {
    guest.gpr[Gpr.RAX] = STATUS_LAYOUT.set(guest.gpr[Gpr.RAX]!, 'host_recoverability_hint', BigInt(hint));
  }
}

export const VP_ENTER_HANDLERS: SeamcallHandlerTable = Object.freeze({
  [SeamcallLeaf.TDH_VP_ENTER.number]: tdhVpEnter,
});
