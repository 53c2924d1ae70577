/**
 * The TDH.MR.* leaves: measuring a TD's initial contents and sealing its build-time measurement.
 *
 *   TDH.MR.EXTEND    extend MRTD with a 256-byte chunk of an added (MAPPED) private page
 *   TDH.MR.FINALIZE  finish MRTD; the TD becomes RUNNABLE and can no longer be built
 *
 * Both hold the TDR exclusively (which also keeps the Secure EPT still) and take no OP_STATE
 * lock; both run only in OP_STATE INITIALIZED, so nothing can be measured into a TD that already
 * runs. Source: TDX module 1.5 `ac/tdh_mr_extend.c`, `ac/tdh_mr_finalize.c`; facts
 * tdx-module.md §4.4, §7.1, §9.2.
 */
import { readOperands } from '../abi/leaf.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { OperandId, TdxStatus, withOperand } from '../abi/status.ts';
import { OpState } from '../abi/lifecycle.ts';
import { MR_EXTEND_CHUNK_BYTES } from '../abi/measurement.ts';
import { levelSize } from '../abi/sept.ts';
import { SEPT_LEAF_ALLOWED_STATES } from '../abi/sept-state.ts';
import type { SeamcallHandler, SeamcallHandlerTable } from './context.ts';
import { withLocks } from './lock-scope.ts';
import { isValidPrivateGpa } from './gpa-check.ts';
import { finalizeMrtd, measureExtend } from './measurement.ts';
import { traceMrtd } from './trace-points.ts';
import { clearSeptOutputs, openTd, writeSeptOutputs } from './sept-leaf.ts';

const L = SeamcallLeaf;
const CHUNK = BigInt(MR_EXTEND_CHUNK_BYTES);
/** Where TDH.MR.EXTEND reads its chunk: measureExtend copies it into MRTD before the next call. */
const CHUNK_BUFFER = new Uint8Array(MR_EXTEND_CHUNK_BYTES);

/**
 * TDH.MR.EXTEND. The GPA must be 256-byte aligned and a valid private GPA (OPERAND_INVALID | RCX).
 * The walk goes to whatever leaf maps it (4K, 2M or 1G); no leaf, or a leaf the guest could not
 * access, is TDX_EPT_ENTRY_NOT_PRESENT | RCX with the entry's details. A present leaf that is not
 * MAPPED (only possible with migration states) is TDX_EPT_ENTRY_NOT_PRESENT without details, as
 * in the module. The chunk is read with the TD's key, so what is measured is what the TD will see.
 */
const mrExtend: SeamcallHandler = (ctx) =>
  withLocks(ctx.module.locks, (scope) => {
    const { regs, module } = ctx;
    const { gpa, tdr } = readOperands(L.TDH_MR_EXTEND.inputs, regs);
    clearSeptOutputs(regs);
    const opened = openTd(scope, module, 'TDH_MR_EXTEND', tdr, OperandId.RDX, 'exclusive', false);
    if (!opened.ok) return opened.status;
    const { td, sept } = opened;
    if (gpa % CHUNK !== 0n) return withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX);
    if (!isValidPrivateGpa(gpa, td.gpaw, module.platform.maxPa)) return withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX);
    const walk = sept.walk(gpa, 0);
    if (!walk.isLeaf || !walk.present) {
      writeSeptOutputs(regs, sept, walk);
      return withOperand(TdxStatus.TDX_EPT_ENTRY_NOT_PRESENT, OperandId.RCX);
    }
    if (!SEPT_LEAF_ALLOWED_STATES.TDH_MR_EXTEND!.includes(walk.stateName)) return TdxStatus.TDX_EPT_ENTRY_NOT_PRESENT;
    const hpa = walk.hpa + (gpa & (levelSize(walk.level) - 1n));
    measureExtend(td, gpa, module.platform.memory.readInto(hpa, CHUNK_BUFFER, td.hkid));
    if (module.platform.tracer.enabled) traceMrtd(module.platform.tracer, td, 'MR.EXTEND', gpa);
    return TdxStatus.TDX_SUCCESS;
  });

/**
 * TDH.MR.FINALIZE: the TD must have at least one initialised vCPU (TDX_NO_VCPUS otherwise — a TD
 * that can never run must not be sealed). MRTD is finished and OP_STATE becomes RUNNABLE, after
 * which PAGE.ADD, MR.EXTEND and VP.INIT are refused and TDH.VP.ENTER is allowed.
 */
const mrFinalize: SeamcallHandler = (ctx) =>
  withLocks(ctx.module.locks, (scope) => {
    const { regs, module } = ctx;
    const { tdr } = readOperands(L.TDH_MR_FINALIZE.inputs, regs);
    const opened = openTd(scope, module, 'TDH_MR_FINALIZE', tdr, OperandId.RCX, 'exclusive', false);
    if (!opened.ok) return opened.status;
    const { td } = opened;
    if (td.numVcpus === 0) return TdxStatus.TDX_NO_VCPUS;
    finalizeMrtd(td);
    if (module.platform.tracer.enabled) traceMrtd(module.platform.tracer, td, 'MR.FINALIZE');
    td.opState = OpState.RUNNABLE;
    return TdxStatus.TDX_SUCCESS;
  });

export const MR_HANDLERS: SeamcallHandlerTable = Object.freeze({
  [L.TDH_MR_EXTEND.number]: mrExtend,
  [L.TDH_MR_FINALIZE.number]: mrFinalize,
});
