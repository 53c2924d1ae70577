/**
 * TDCALL leaves about the vCPU itself: TDG.VP.VMCALL (call the host), TDG.VP.INFO (what the TD
 * looks like), TDG.VP.VEINFO.GET (consume the pending #VE's information) and TDG.VP.CPUIDVE.SET
 * (make every CPUID raise #VE).
 *
 * Sources: TDX module 1.5 `tdg_vp_vmcall.c`, `tdg_vp_info.c`, `tdg_vp_veinfo_get.c`,
 * `tdg_vp_cpuidve_set.c`; facts tdx-module.md §2.2, §6.2–6.3; linux-tdx.md §2.1–2.2.
 */
import { operandReg, readOperands, writeOperands } from '../abi/leaf.ts';
import { Gpr } from '../abi/registers.ts';
import { hasReservedHalves, readHalfField } from '../abi/bitfield.ts';
import { TdcallLeaf } from '../abi/tdcall-leaves.ts';
import { CPUIDVE_FLAGS, TDVMCALL_CONTROL, VEINFO_R10, VP_INFO_R10, VP_INFO_R8, VP_INFO_RCX } from '../abi/operands.ts';
import { OperandId, TdxStatus, withOperand } from '../abi/status.ts';
import { TDVMCALL_FORBIDDEN_GPR_MASK, TDVMCALL_RBP_GPR_BIT } from '../abi/tdvmcall.ts';
import type { TdcallContext, TdcallHandlerTable, TdcallOutcome } from './context.ts';
import { hasNoRbpMod } from './td-exit.ts';

const status = (s: bigint): TdcallOutcome => ({ kind: 'status', status: s });

/** The control word's register and fields, looked up once: TDG.VP.VMCALL is the hottest TDCALL. */
const CONTROL_REG = Gpr[operandReg(TdcallLeaf.TDG_VP_VMCALL.inputs, 'control')];
const GPR_SELECT = TDVMCALL_CONTROL.half('gpr_select');
const XMM_SELECT = TDVMCALL_CONTROL.half('xmm_select');
const RESERVED = TDVMCALL_CONTROL.reservedHalves;
/** The forbidden gpr_select bits (16-bit masks) as numbers. */
const FORBIDDEN_GPRS = Number(TDVMCALL_FORBIDDEN_GPR_MASK);
const RBP_GPR = Number(TDVMCALL_RBP_GPR_BIT);
const TDVMCALL_EXIT: TdcallOutcome = Object.freeze({ kind: 'exit', exit: Object.freeze({ kind: 'tdvmcall' }) });
const SUCCESS = status(TdxStatus.TDX_SUCCESS);
const INVALID_RCX = status(withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX));

/**
 * TDG.VP.VMCALL: check the control word and leave the TD. RCX bits 63:32 are reserved; RAX and
 * RCX carry the call itself and RSP cannot be handed to the host, so their select bits must be 0,
 * and so must RBP's when the TD promised never to let the host change RBP (NO_RBP_MOD). A bad
 * word fails with OPERAND_INVALID | RCX and no TD exit — nothing leaks to the host. Otherwise the
 * masks are saved in TDVPS for the exit image (td-exit.ts) and the reply (TDH.VP.ENTER).
 */
function tdgVpVmcall(ctx: TdcallContext): TdcallOutcome {
  const { vcpu, regs } = ctx;
  const words = regs.gpr32;
  const forbidden = FORBIDDEN_GPRS | (hasNoRbpMod(vcpu.td) ? RBP_GPR : 0);
  const gprSelect = readHalfField(words, CONTROL_REG, GPR_SELECT);
  if (hasReservedHalves(words, CONTROL_REG, RESERVED) || (gprSelect & forbidden) !== 0) return INVALID_RCX;
  vcpu.tdvmcallGprMask = gprSelect;
  vcpu.tdvmcallXmmMask = readHalfField(words, CONTROL_REG, XMM_SELECT);
  return TDVMCALL_EXIT;
}

/**
 * TDG.VP.INFO: RCX = GPAW (48 or 52), RDX = ATTRIBUTES, R8 = NUM_VCPUS | MAX_VCPUS << 32,
 * R9 = VCPU_INDEX, R10 = bit 0 (TDG.SYS.RD available), R11 = 0. Cannot fail.
 */
function tdgVpInfo(ctx: TdcallContext): TdcallOutcome {
  const { vcpu, regs } = ctx;
  const td = vcpu.td;
  writeOperands(TdcallLeaf.TDG_VP_INFO.outputs, regs, {
    gpaw: VP_INFO_RCX.encode({ gpaw: td.gpaw }),
    attributes: td.attributes,
    vcpus: VP_INFO_R8.encode({ num_vcpus: td.numVcpus, max_vcpus: td.maxVcpus }),
    vcpuIndex: BigInt(vcpu.index),
    features: VP_INFO_R10.encode({ sys_rd: 1 }),
    reserved11: 0n,
  });
  return SUCCESS;
}

/**
 * TDG.VP.VEINFO.GET: hand the guest the information of the pending #VE and free VE_INFO for the
 * next one. The outputs are zeroed first, so with no valid information (TDX_NO_VALID_VE_INFO)
 * the guest reads zeros, never a stale #VE.
 */
function tdgVpVeinfoGet(ctx: TdcallContext): TdcallOutcome {
  const { vcpu, regs } = ctx;
  const out = TdcallLeaf.TDG_VP_VEINFO_GET.outputs;
  writeOperands(out, regs, { exitReason: 0n, exitQualification: 0n, gla: 0n, gpa: 0n, instruction: 0n });
  const ve = vcpu.veInfo;
  if (!ve.valid) return status(TdxStatus.TDX_NO_VALID_VE_INFO);
  writeOperands(out, regs, {
    exitReason: BigInt(ve.exitReason >>> 0),
    exitQualification: ve.exitQualification,
    gla: ve.gla,
    gpa: ve.gpa,
    instruction: VEINFO_R10.encode({ instr_len: ve.instructionLength >>> 0, instr_info: ve.instructionInfo >>> 0 }),
  });
  ve.valid = false;
  return SUCCESS;
}

/**
 * TDG.VP.CPUIDVE.SET: RCX bit 0 = #VE on every CPUID at CPL 0, bit 1 = at CPL > 0; any other
 * bit set is OPERAND_INVALID | RCX.
 */
function tdgVpCpuidveSet(ctx: TdcallContext): TdcallOutcome {
  const { vcpu, regs } = ctx;
  const { flags } = readOperands(TdcallLeaf.TDG_VP_CPUIDVE_SET.inputs, regs);
  if (CPUIDVE_FLAGS.hasReservedBits(flags)) return INVALID_RCX;
  vcpu.cpuidVeSupervisor = CPUIDVE_FLAGS.get(flags, 'supervisor') === 1n;
  vcpu.cpuidVeUser = CPUIDVE_FLAGS.get(flags, 'user') === 1n;
  return SUCCESS;
}

export const TDG_VP_HANDLERS: TdcallHandlerTable = Object.freeze({
  [TdcallLeaf.TDG_VP_VMCALL.number]: tdgVpVmcall,
  [TdcallLeaf.TDG_VP_INFO.number]: tdgVpInfo,
  [TdcallLeaf.TDG_VP_VEINFO_GET.number]: tdgVpVeinfoGet,
  [TdcallLeaf.TDG_VP_CPUIDVE_SET.number]: tdgVpCpuidveSet,
});
