/**
 * TDG.MEM.PAGE.ACCEPT: the guest takes a PENDING page (added by TDH.MEM.PAGE.AUG) into use.
 *
 * Accepting is how a TD agrees to new memory: until then the page is not accessible, so a host
 * cannot slip a page with chosen contents under a GPA the guest already uses. The module zeroes
 * the page with the TD's key and maps it (PENDING → MAPPED with R/W/X). The walk takes no SEPT
 * tree lock, only the entry lock (guest side). Outcomes, in the module's order:
 *
 *   OPERAND_INVALID | RCX           bad GPA|level (level 0 or 1 only), shared or invalid GPA
 *   PAGE_ALREADY_ACCEPTED | level   the walk stopped at a guest-accessible leaf above the level
 *   EPT-violation TD exit (EEQ ACCEPT) the walk stopped early at anything else (no SEPT page
 *                                   yet, a PENDING or BLOCKED large page), so the VMM can add the
 *                                   page; the TDCALL re-executes at the next entry
 *   OPERAND_BUSY | RCX              the entry is locked (by the host: also when the host asked
 *                                   for priority — the module reports OPERAND_BUSY_HOST_PRIORITY
 *                                   to the guest as OPERAND_BUSY)
 *   PAGE_SIZE_MISMATCH | level      a non-FREE non-leaf entry at the level (2M asked, 4K mapped)
 *   PAGE_ALREADY_ACCEPTED | level   a guest-accessible leaf at the level (warning)
 *   EPT-violation TD exit           the leaf is not PENDING (FREE, BLOCKED, ...)
 *   success                         page(s) zeroed and MAPPED
 *
 * Source: TDX module 1.5 `ve/tdg_mem_page_accept.c`, `td_exit.c async_tdexit_ept_violation`,
 * `tdx_td_dispatcher.c` (host-priority reporting); facts tdx-module.md §8.2, §6.3, §9.1.
 */
import { readOperands } from '../abi/leaf.ts';
import { TdcallLeaf } from '../abi/tdcall-leaves.ts';
import { OperandId, TdxStatus, withOperand } from '../abi/status.ts';
import { EEQ_ACCEPT, EPT_VIOLATION_EXIT_QUAL } from '../abi/operands.ts';
import { ExtExitQualType, VmxExitReason } from '../abi/vmx.ts';
import { SepteBit, SeptLevel, levelSize } from '../abi/sept.ts';
import { PAGE_SIZE } from '../abi/pamt.ts';
import { SEPT_LEAF_ALLOWED_STATES, SEPT_STATE_FLAGS } from '../abi/sept-state.ts';
import type { TdcallHandler, TdcallHandlerTable, TdcallOutcome } from './context.ts';
import { LockKey } from './locks.ts';
import { withLocks } from './lock-scope.ts';
import { isValidPrivateGpa, verifyPageInfo } from './gpa-check.ts';
import type { SeptWalk } from './sept.ts';
import { traceSeptChange } from './trace-points.ts';

const ACCEPT = TdcallLeaf.TDG_MEM_PAGE_ACCEPT;

const status = (value: bigint): TdcallOutcome => ({ kind: 'status', status: value });

const bitOf = (raw: bigint, n: number): bigint => (raw >> BigInt(n)) & 1n;

/**
 * `async_tdexit_ept_violation` with EEQ type ACCEPT: an asynchronous TD exit, reason EPT
 * violation (48), that tells the VMM which level the guest asked for and what the walk found
 * there. The exit qualification says "data write" (ACCEPT writes the page) with the R/W/X the
 * entry grants. RIP is not advanced: the guest's TDCALL runs again after the next TDH.VP.ENTER.
 */
function acceptViolation(gpa: bigint, requestedLevel: number, walk: SeptWalk): TdcallOutcome {
  return {
    kind: 'exit',
    exit: {
      kind: 'async',
      status: TdxStatus.TDX_SUCCESS,
      exitReason: VmxExitReason.EPT_VIOLATION,
      exitQualification: EPT_VIOLATION_EXIT_QUAL.encode({
        data_write: 1,
        gpa_readable: bitOf(walk.raw, SepteBit.R),
        gpa_writable: bitOf(walk.raw, SepteBit.W),
        gpa_executable: bitOf(walk.raw, SepteBit.X),
      }),
      extExitQualification: EEQ_ACCEPT.encode({
        type: ExtExitQualType.ACCEPT,
        req_level: requestedLevel,
        err_level: walk.level,
        err_sept_state: walk.state,
        err_is_leaf: walk.isLeaf ? 1 : 0,
      }),
      gpa,
      interruptionInfo: 0n,
      retryInstruction: true,
    },
  };
}

const pageAccept: TdcallHandler = (ctx) =>
  withLocks(ctx.module.locks, (scope) => {
    const { vcpu, regs, module } = ctx;
    const td = vcpu.td;
    const { gpaLevel } = readOperands(ACCEPT.inputs, regs);
    const info = verifyPageInfo(gpaLevel, SeptLevel.PT, SeptLevel.PD);
    if (!info.ok) return status(withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX));
    const { gpa, level } = info;
    if (!isValidPrivateGpa(gpa, td.gpaw, module.platform.maxPa)) {
      return status(withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX));
    }
    // A vCPU only runs in a RUNNABLE TD, which TDH.MNG.INIT gave a Secure EPT.
    const sept = td.sept;
    if (!sept) throw new Error('TDG.MEM.PAGE.ACCEPT in a TD without a Secure EPT');

    const walk = sept.walk(gpa, level);
    if (!walk.reached) {
      // A guest-accessible leaf above the requested level already covers the GPA.
      if (walk.isLeaf && SEPT_STATE_FLAGS[walk.stateName].guestAccessibleLeaf) {
        return status(withOperand(TdxStatus.TDX_PAGE_ALREADY_ACCEPTED, walk.level));
      }
      return acceptViolation(gpa, level, walk);
    }

    const lock = scope.acquire(LockKey.septEntry(td.tdrPfn, gpa, level), 'exclusive', 'guest');
    if (lock !== 'ok') return status(withOperand(TdxStatus.TDX_OPERAND_BUSY, OperandId.RCX));

    if (walk.stateName !== 'FREE' && !walk.isLeaf) return status(withOperand(TdxStatus.TDX_PAGE_SIZE_MISMATCH, level));
    if (SEPT_STATE_FLAGS[walk.stateName].guestAccessibleLeaf) {
      return status(withOperand(TdxStatus.TDX_PAGE_ALREADY_ACCEPTED, level));
    }
    if (!SEPT_LEAF_ALLOWED_STATES.TDG_MEM_PAGE_ACCEPT!.includes(walk.stateName)) return acceptViolation(gpa, level, walk);

    // The module clears a 2M page 4K at a time, counting progress in the entry so a pending
    // interrupt can end the TDCALL early and the re-executed TDCALL resumes. No interrupt arrives
    // in the middle of a leaf here, so all 512 pages are cleared in one go with the same result.
    module.platform.memory.zeroPages(walk.hpa, Number(levelSize(level) / PAGE_SIZE), td.hkid);
    sept.accept(walk);
    if (module.platform.tracer.enabled) traceSeptChange(module.platform.tracer, td, gpa, level, walk.stateName);
    return status(TdxStatus.TDX_SUCCESS);
  });

export const TDG_MEM_HANDLERS: TdcallHandlerTable = Object.freeze({
  [ACCEPT.number]: pageAccept,
});
