/**
 * The metadata leaves: the host's TDH.SYS.RD, TDH.SYS.RDALL, TDH.MNG.RD/WR and TDH.VP.RD/WR, and
 * the guest's TDG.SYS.RD, TDG.VM.RD/WR and TDG.VP.RD/WR.
 *
 * Each leaf first establishes what it may touch — the module (SYS), a TD (its TDR operand, or
 * for the guest its own TD) or a vCPU (its TDVPR operand, or the guest's own vCPU) — with the
 * same operand, state and lock checks as the other leaves on those objects, then reads or writes
 * one element through md-access.ts with the caller's masks (host of a production TD, host of a
 * debug TD, or guest; md-fields.ts). A read leaf that returns a next field id (SYS.RD, MNG.RD and
 * VP.RD version 1, TDG.VM.RD version 1, TDG.VP.RD, TDG.SYS.RD) answers the null id with the
 * context's first readable field and TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT, and defaults that
 * output to the null id; value outputs default to 0 and are written only on success.
 *
 * Source: TDX module 1.5 `ac/tdh_sys_rd.c`, `tdh_sys_rdall.c`, `tdh_mng_rd_wr.c`,
 * `tdh_vp_rd_wr.c`, `ve/tdg_sys_rd.c`, `tdg_vm_rd_wr.c`, `tdg_vp_rd_wr.c`; facts tdx-module.md
 * §2, §4.4, §9.2, §10.3.
 */
import { readOperands, writeOperands, type RegOperand } from '../abi/leaf.ts';
import { OperandId, TdxStatus, withOperand } from '../abi/status.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { TdcallLeaf } from '../abi/tdcall-leaves.ts';
import type { RegisterFile } from '../abi/registers.ts';
import { MD_LIST_BYTES } from '../abi/metadata.ts';
import type { SeamcallContext, SeamcallHandlerTable, TdcallHandler, TdcallHandlerTable } from './context.ts';
import { isSharedHpa, writeShared } from './hpa.ts';
import { withLocks } from './lock-scope.ts';
import type { LockScope } from './lock-scope.ts';
import {
  NULL_FIELD_ID,
  checkSingleElementId,
  inContext,
  isNullFieldId,
  nextElementId,
  readElement,
  writeElement,
} from './md-access.ts';
import type { MdBinding } from './md-fields.ts';
import { dumpList } from './md-list.ts';
import { checkTdcs } from './tdcs-check.ts';
import { lockTdr } from './td-state-check.ts';
import { associateVcpu, checkTdvpsPages, lockTdvpr } from './vcpu-operand.ts';

const L = SeamcallLeaf;
const G = TdcallLeaf;
const OK = TdxStatus.TDX_SUCCESS;

type ReadOutputs = readonly RegOperand<'nextFieldId' | 'value'>[];
type WriteOutputs = readonly RegOperand<'oldValue'>[];

/**
 * Read the element `fieldId` names into the leaf's outputs. `withNext`: the leaf returns the
 * next field id (and accepts the null id as "first field").
 */
function readInto(
  b: MdBinding,
  fieldId: bigint,
  access: 'hostRead' | 'guestRead',
  regs: RegisterFile,
  outputs: ReadOutputs,
  withNext: boolean,
): bigint {
  const id = inContext(fieldId, b.context);
  if (withNext && isNullFieldId(id)) {
    writeOperands(outputs, regs, { nextFieldId: nextElementId(b, null, access) });
    return TdxStatus.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT;
  }
  const check = checkSingleElementId(id);
  if (check !== OK) return check;
  const r = readElement(b, id, access);
  if (r.status !== OK || !r.cursor) return r.status;
  writeOperands(outputs, regs, { value: r.value });
  if (withNext) writeOperands(outputs, regs, { nextFieldId: nextElementId(b, r.cursor, access) });
  return OK;
}

/** Write the element `fieldId` names; the previous value goes to the leaf's output on success. */
function writeFrom(
  b: MdBinding,
  operands: { fieldId: bigint; value: bigint; mask: bigint },
  access: 'hostWrite' | 'guestWrite',
  regs: RegisterFile,
  outputs: WriteOutputs,
): bigint {
  const id = inContext(operands.fieldId, b.context);
  const check = checkSingleElementId(id);
  if (check !== OK) return check;
  const r = writeElement(b, id, operands.value, operands.mask, access);
  if (r.status === OK) writeOperands(outputs, regs, { oldValue: r.oldValue });
  return r.status;
}

// ---------------------------------------------------------------------------------------------
// Host leaves.

/** TDH.SYS.RD: one SYS field. Needs TDH.SYS.LP.INIT on this LP (the module's per-LP setup). */
function sysRd({ module, lp, regs }: SeamcallContext): bigint {
  const { fieldId } = readOperands(L.TDH_SYS_RD.inputs, regs);
  writeOperands(L.TDH_SYS_RD.outputs, regs, { nextFieldId: NULL_FIELD_ID, value: 0n });
  if (!module.lpState[lp.id]!.lpInit) return TdxStatus.TDX_SYS_LP_INIT_NOT_DONE;
  return readInto({ context: 'SYS', module }, fieldId, 'hostRead', regs, L.TDH_SYS_RD.outputs, true);
}

/**
 * TDH.SYS.RDALL: dump the SYS fields from R8 on into a metadata list in the 4 KB host page at
 * RDX, which must be a shared HPA — the module writes it with the host's KeyID, so a private
 * page there would let the host make the module overwrite TD memory. R8 returns where to go on.
 */
function sysRdAll({ module, lp, regs }: SeamcallContext): bigint {
  const { list, fieldId } = readOperands(L.TDH_SYS_RDALL.inputs, regs);
  writeOperands(L.TDH_SYS_RDALL.outputs, regs, { nextFieldId: NULL_FIELD_ID });
  if (!module.lpState[lp.id]!.lpInit) return TdxStatus.TDX_SYS_LP_INIT_NOT_DONE;
  if (!isSharedHpa(module.platform, list, BigInt(MD_LIST_BYTES))) return withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RDX);
  const r = dumpList({ context: 'SYS', module }, inContext(fieldId, 'SYS'), MD_LIST_BYTES);
  if (r.list) writeShared(module.platform, list, r.list);
  writeOperands(L.TDH_SYS_RDALL.outputs, regs, { nextFieldId: r.nextFieldId });
  return r.status;
}

/**
 * The TD a TDH.MNG.RD/WR names (RCX = TDR, shared) after the TDCS checks for `leaf`: metadata is
 * only there once TDH.MNG.INIT filled the TDCS, and a fatal or torn-down TD is not accessed.
 */
function openTd(scope: LockScope, ctx: SeamcallContext, tdr: bigint, leaf: 'TDH_MNG_RD' | 'TDH_MNG_WR') {
  const found = lockTdr(scope, ctx.module, tdr, 'shared', OperandId.RCX);
  if (!found.ok) return found;
  const state = checkTdcs(scope, ctx.module, found.td, leaf, true);
  if (state !== OK) return { ok: false as const, status: state };
  return { ok: true as const, binding: { context: 'TD' as const, module: ctx.module, td: found.td } };
}

/** TDH.MNG.RD (version 1 also returns the next field id in RDX). */
function mngRd(ctx: SeamcallContext): bigint {
  const { tdr, fieldId } = readOperands(L.TDH_MNG_RD.inputs, ctx.regs);
  if (ctx.version > 0) writeOperands(L.TDH_MNG_RD.outputs, ctx.regs, { nextFieldId: NULL_FIELD_ID });
  writeOperands(L.TDH_MNG_RD.outputs, ctx.regs, { value: 0n });
  return withLocks(ctx.module.locks, (scope) => {
    const open = openTd(scope, ctx, tdr, 'TDH_MNG_RD');
    if (!open.ok) return open.status;
    return readInto(open.binding, fieldId, 'hostRead', ctx.regs, L.TDH_MNG_RD.outputs, ctx.version > 0);
  });
}

/** TDH.MNG.WR: R8 = value, R9 = the bits to change; R8 returns the previous value. */
function mngWr(ctx: SeamcallContext): bigint {
  const ops = readOperands(L.TDH_MNG_WR.inputs, ctx.regs);
  writeOperands(L.TDH_MNG_WR.outputs, ctx.regs, { oldValue: 0n });
  return withLocks(ctx.module.locks, (scope) => {
    const open = openTd(scope, ctx, ops.tdr, 'TDH_MNG_WR');
    if (!open.ok) return open.status;
    return writeFrom(open.binding, ops, 'hostWrite', ctx.regs, L.TDH_MNG_WR.outputs);
  });
}

/**
 * The vCPU a TDH.VP.RD/WR names (RCX = TDVPR, shared; its TDR implicitly, shared), after the
 * TDCS checks, a complete TDVPS, and association with this LP: the vCPU's VMCS is only
 * accessible on the LP it is associated with, so a vCPU running elsewhere is
 * TDX_VCPU_ASSOCIATED, and reading (not writing) a DISABLED vCPU is allowed.
 */
function openVcpu(scope: LockScope, ctx: SeamcallContext, tdvpr: bigint, write: boolean) {
  const found = lockTdvpr(scope, ctx.module, tdvpr, { operand: OperandId.RCX, mode: 'shared', tdrMode: 'shared' });
  if (!found.ok) return found;
  const { vcpu, td } = found;
  const state = checkTdcs(scope, ctx.module, td, write ? 'TDH_VP_WR' : 'TDH_VP_RD', true);
  if (state !== OK) return { ok: false as const, status: state };
  const pages = checkTdvpsPages(vcpu, td);
  if (pages !== OK) return { ok: false as const, status: pages };
  const assoc = associateVcpu(vcpu, td, ctx.lp, !write);
  if (assoc !== OK) return { ok: false as const, status: assoc };
  return { ok: true as const, binding: { context: 'VP' as const, module: ctx.module, td, vcpu } };
}

/** TDH.VP.RD (version 1 also returns the next field id in RDX). */
function vpRd(ctx: SeamcallContext): bigint {
  const { tdvpr, fieldId } = readOperands(L.TDH_VP_RD.inputs, ctx.regs);
  if (ctx.version > 0) writeOperands(L.TDH_VP_RD.outputs, ctx.regs, { nextFieldId: NULL_FIELD_ID });
  writeOperands(L.TDH_VP_RD.outputs, ctx.regs, { value: 0n });
  return withLocks(ctx.module.locks, (scope) => {
    const open = openVcpu(scope, ctx, tdvpr, false);
    if (!open.ok) return open.status;
    return readInto(open.binding, fieldId, 'hostRead', ctx.regs, L.TDH_VP_RD.outputs, ctx.version > 0);
  });
}

/** TDH.VP.WR: R8 = value, R9 = the bits to change; R8 returns the previous value. */
function vpWr(ctx: SeamcallContext): bigint {
  const ops = readOperands(L.TDH_VP_WR.inputs, ctx.regs);
  writeOperands(L.TDH_VP_WR.outputs, ctx.regs, { oldValue: 0n });
  return withLocks(ctx.module.locks, (scope) => {
    const open = openVcpu(scope, ctx, ops.tdvpr, true);
    if (!open.ok) return open.status;
    return writeFrom(open.binding, ops, 'hostWrite', ctx.regs, L.TDH_VP_WR.outputs);
  });
}

export const METADATA_SEAMCALL_HANDLERS: SeamcallHandlerTable = Object.freeze({
  [L.TDH_SYS_RD.number]: sysRd,
  [L.TDH_SYS_RDALL.number]: sysRdAll,
  [L.TDH_MNG_RD.number]: mngRd,
  [L.TDH_MNG_WR.number]: mngWr,
  [L.TDH_VP_RD.number]: vpRd,
  [L.TDH_VP_WR.number]: vpWr,
});

// ---------------------------------------------------------------------------------------------
// Guest leaves: the guest reaches only its own TD and vCPU, with the guest masks.

const status = (s: bigint) => ({ kind: 'status' as const, status: s });

/** TDG.VM.RD (RCX = VM index, must be 0: no L2 VMs; version 1 returns the next field id). */
const tdgVmRd: TdcallHandler = ({ module, vcpu, regs, version }) => {
  const { vm, fieldId } = readOperands(G.TDG_VM_RD.inputs, regs);
  if (version > 0) writeOperands(G.TDG_VM_RD.outputs, regs, { nextFieldId: NULL_FIELD_ID });
  writeOperands(G.TDG_VM_RD.outputs, regs, { value: 0n });
  if (vm !== 0n) return status(withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX));
  const b: MdBinding = { context: 'TD', module, td: vcpu.td };
  return status(readInto(b, fieldId, 'guestRead', regs, G.TDG_VM_RD.outputs, version > 0));
};

/** TDG.VM.WR (RCX = VM index, must be 0). */
const tdgVmWr: TdcallHandler = ({ module, vcpu, regs }) => {
  const ops = readOperands(G.TDG_VM_WR.inputs, regs);
  writeOperands(G.TDG_VM_WR.outputs, regs, { oldValue: 0n });
  if (ops.vm !== 0n) return status(withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX));
  return status(writeFrom({ context: 'TD', module, td: vcpu.td }, ops, 'guestWrite', regs, G.TDG_VM_WR.outputs));
};

/** TDG.VP.RD: a field of the calling vCPU (RCX must be 0). */
const tdgVpRd: TdcallHandler = ({ module, vcpu, regs }) => {
  const { vm, fieldId } = readOperands(G.TDG_VP_RD.inputs, regs);
  writeOperands(G.TDG_VP_RD.outputs, regs, { nextFieldId: NULL_FIELD_ID, value: 0n });
  if (vm !== 0n) return status(withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX));
  const b: MdBinding = { context: 'VP', module, td: vcpu.td, vcpu };
  return status(readInto(b, fieldId, 'guestRead', regs, G.TDG_VP_RD.outputs, true));
};

/** TDG.VP.WR: a field of the calling vCPU (RCX must be 0). */
const tdgVpWr: TdcallHandler = ({ module, vcpu, regs }) => {
  const ops = readOperands(G.TDG_VP_WR.inputs, regs);
  writeOperands(G.TDG_VP_WR.outputs, regs, { oldValue: 0n });
  if (ops.vm !== 0n) return status(withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX));
  return status(writeFrom({ context: 'VP', module, td: vcpu.td, vcpu }, ops, 'guestWrite', regs, G.TDG_VP_WR.outputs));
};

/** TDG.SYS.RD: a SYS field the guest may see (module version and features). */
const tdgSysRd: TdcallHandler = ({ module, regs }) => {
  const { fieldId } = readOperands(G.TDG_SYS_RD.inputs, regs);
  writeOperands(G.TDG_SYS_RD.outputs, regs, { nextFieldId: NULL_FIELD_ID, value: 0n });
  return status(readInto({ context: 'SYS', module }, fieldId, 'guestRead', regs, G.TDG_SYS_RD.outputs, true));
};

export const METADATA_TDCALL_HANDLERS: TdcallHandlerTable = Object.freeze({
  [G.TDG_VM_RD.number]: tdgVmRd,
  [G.TDG_VM_WR.number]: tdgVmWr,
  [G.TDG_VP_RD.number]: tdgVpRd,
  [G.TDG_VP_WR.number]: tdgVpWr,
  [G.TDG_SYS_RD.number]: tdgSysRd,
});
