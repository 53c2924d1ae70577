/**
 * The trace helpers the emit points call: one line at each crossing, and nothing but a property
 * read when tracing is off (every helper returns at once unless `tracer.enabled`).
 *
 * Each helper allocates a sequence number, spends the crossing's modelled cost on the tracer's
 * virtual clock (costs.ts), reads the registers the crossing defines out of the register files
 * (through the ABI leaf tables) and emits one TraceEvent. The register files are only read.
 *
 * Where the events go, per party (the lane of the viewer and the Perfetto process):
 *   guest      tdcall, resume, ve
 *   module     td_exit, td_entry, page (Secure EPT), measure
 *   host       seamcall, tdvmcall (the exit handler), page (shared EPT)
 *   userspace  user_exit, user_complete
 *
 * A TDG.VP.VMCALL round trip is one flow chain (flows.ts): tdcall → td_exit → tdvmcall →
 * user_exit → user_complete → td_entry → resume, linked through the vCPU.
 */
import { hex64 } from '../abi/bitfield.ts';
import { KvmExitReason, KvmHypercall } from '../abi/kvm.ts';
import { operandReg, type LeafDef } from '../abi/leaf.ts';
import { TDVMCALL_CONTROL, TDVMCALL_EXIT_RCX } from '../abi/operands.ts';
import { Gpr, type GprName, type RegisterFile } from '../abi/registers.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { decodeExitReason, formatExitReason } from '../abi/status-decode.ts';
import { TdcallLeaf } from '../abi/tdcall-leaves.ts';
import { TDVMCALL_REGS, TDX_HYPERCALL_STANDARD, TdvmcallSubfunction, type TdvmcallSubfunction as Subfunction } from '../abi/tdvmcall.ts';
import { VmxExitReason } from '../abi/vmx.ts';
import { seamcallCost, TraceCost } from './costs.ts';
import type { TraceEvent, TraceEventKind, TraceMeasureOp, TraceMeasureRegister, TraceParty } from './events.ts';
import { closeChain, currentChain, openChain, vcpuKey } from './flows.ts';
import {
  addBitfieldFields,
  addOperandFields,
  flattenRecord,
  operandRegisters,
  registerRecord,
  selectedGprs,
  tdvmcallTraceStatus,
  tdxTraceStatus,
  type TraceScalar,
} from './format.ts';
import { SHARED_PAGE_STATE, type TracePageState } from './page-states.ts';
import type { Tracer } from './tracer.ts';

/** Which TD, vCPU and logical processor a crossing concerns (each where it applies). */
export interface TraceWhere {
  /** The TD, by its TDR physical address. */
  readonly td?: bigint;
  readonly vcpu?: number;
  readonly lp?: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The common head of every event: seq, time span, kind, party, name and where. */
function head(tracer: Tracer, kind: TraceEventKind, party: TraceParty, name: string, cost: number, where: TraceWhere): Mutable<TraceEvent> {
  const seq = tracer.nextSeq();
  const time = tracer.clock.advance(cost);
  return {
    seq,
    time,
    duration: cost,
    kind,
    party,
    name,
    ...(where.lp !== undefined && { lp: where.lp }),
    ...(where.td !== undefined && { td: hex64(where.td) }),
    ...(where.vcpu !== undefined && { vcpu: where.vcpu }),
  };
}

/** Decoded fields, when there are any (a leaf without operands has none). */
function setFields(e: Mutable<TraceEvent>, fields: Record<string, string>): void {
  if (Object.keys(fields).length > 0) e.fields = fields;
}

function keyOf(where: TraceWhere): string {
  return vcpuKey(where.td === undefined ? undefined : hex64(where.td), where.vcpu);
}

const reg = (regs: RegisterFile, name: GprName): bigint => regs.gpr[Gpr[name]]!;

// ---------------------------------------------------------------------------------------------
// Names from the tables.

const KVM_EXIT_NAME: ReadonlyMap<number, string> = new Map(Object.entries(KvmExitReason).map(([k, v]) => [v, `KVM_EXIT_${k}`]));
const KVM_HYPERCALL_NAME: ReadonlyMap<bigint, string> = new Map(Object.entries(KvmHypercall).map(([k, v]) => [BigInt(v), `KVM_HC_${k}`]));
const SUBFUNCTION_BY_NUMBER: ReadonlyMap<bigint, Subfunction> = new Map(Object.values(TdvmcallSubfunction).map((s) => [BigInt(s.number), s]));

interface TdvmcallCall {
  /** GHCI name (`MapGPA`), `KVM_HC_*` for a KVM hypercall, or a description of an unknown call. */
  readonly name: string;
  readonly sub?: Subfunction;
}

/**
 * What a TDVMCALL asks for, from R10 (call type) and R11 (sub-function). The values are the
 * guest's and may be anything; an unknown one is named, never rejected (GHCI; linux-tdx.md §2.2).
 */
function tdvmcallCall(regs: RegisterFile): TdvmcallCall {
  const callType = reg(regs, TDVMCALL_REGS.callType);
  if (callType !== TDX_HYPERCALL_STANDARD) return { name: KVM_HYPERCALL_NAME.get(callType) ?? `hypercall ${hex64(callType)}` };
  const number = reg(regs, TDVMCALL_REGS.subfunction);
  const sub = SUBFUNCTION_BY_NUMBER.get(number);
  return sub ? { name: sub.name, sub } : { name: `sub-function ${hex64(number)}` };
}

/** The sub-function's named operands as fields (`in.gpa`, `out.nextGpa`). */
function addSubfunctionFields(out: Record<string, string>, dir: 'in' | 'out', ops: Subfunction['inputs'], regs: RegisterFile): void {
  for (const op of ops) out[`${dir}.${op.name}`] = hex64(reg(regs, op.reg));
}

/** The TD a SEAMCALL works on: its operand named `tdr`, if the leaf has one. */
function tdOperand(leaf: LeafDef, regs: RegisterFile): bigint | undefined {
  const op = leaf.inputs.find((o) => o.name === 'tdr');
  return op ? reg(regs, op.reg) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Host → module.

/**
 * A host SEAMCALL that returned (`regsOut` holds the status in RAX). TDH.VP.ENTER is not traced
 * here: its two halves are `traceTdEntry` (the call) and `traceTdExit` (the return at a TD exit).
 */
export function traceSeamcall(tracer: Tracer, lp: number, leaf: LeafDef, regsIn: RegisterFile, regsOut: RegisterFile, where: TraceWhere = {}): void {
  if (!tracer.enabled) return;
  const td = where.td ?? tdOperand(leaf, regsIn);
  const e = head(tracer, 'seamcall', 'host', leaf.mnemonic, seamcallCost(leaf), { ...where, lp, ...(td !== undefined && { td }) });
  const fields: Record<string, string> = {};
  addOperandFields(fields, 'in', leaf.inputs, regsIn);
  addOperandFields(fields, 'out', leaf.outputs, regsOut);
  e.in = registerRecord(regsIn, operandRegisters(leaf.inputs));
  e.out = registerRecord(regsOut, operandRegisters(leaf.outputs));
  setFields(e, fields);
  e.status = tdxTraceStatus(reg(regsOut, 'RAX'));
  tracer.emit(e);
}

// ---------------------------------------------------------------------------------------------
// Guest → module, and back.

const isVmcall = (leaf: LeafDef): boolean => leaf === TdcallLeaf.TDG_VP_VMCALL;

/**
 * A guest TDCALL. With `regsOut`, the module completed it without leaving the TD (its status is
 * in RAX). Without, it exited to the host — TDG.VP.VMCALL, normally — and this event opens the
 * vCPU's flow chain; `traceGuestResume` reports the outputs when the guest continues.
 */
export function traceTdcall(tracer: Tracer, where: TraceWhere, leaf: LeafDef, regsIn: RegisterFile, regsOut?: RegisterFile): void {
  if (!tracer.enabled) return;
  const vmcall = isVmcall(leaf) ? tdvmcallCall(regsIn) : undefined;
  // The GPRs TDG.VP.VMCALL hands to the VMM are the ones its control word selects (RCX 15:0).
  const mask = vmcall ? TDVMCALL_CONTROL.get(reg(regsIn, operandReg(leaf.inputs, 'control')), 'gpr_select') : 0n;
  const name = vmcall ? `${leaf.mnemonic}<${vmcall.name}>` : leaf.mnemonic;
  const cost = regsOut ? TraceCost.TDCALL : TraceCost.VMCALL_ISSUE;
  const e = head(tracer, 'tdcall', 'guest', name, cost, where);
  const fields: Record<string, string> = {};
  addOperandFields(fields, 'in', leaf.inputs, regsIn);
  if (vmcall) {
    fields['in.subfunction'] = vmcall.name;
    if (vmcall.sub) addSubfunctionFields(fields, 'in', vmcall.sub.inputs, regsIn);
  }
  e.in = registerRecord(regsIn, new Set([...operandRegisters(leaf.inputs), ...selectedGprs(mask)]));
  if (regsOut) {
    addOperandFields(fields, 'out', leaf.outputs, regsOut);
    e.out = registerRecord(regsOut, operandRegisters(leaf.outputs));
    e.status = tdxTraceStatus(reg(regsOut, 'RAX'));
  } else {
    e.flowOut = e.seq;
    openChain(tracer, keyOf(where), e.seq, { byGuest: true, gprMask: mask, name, leaf, ...(vmcall?.sub && { sub: vmcall.sub }) });
  }
  setFields(e, fields);
  tracer.emit(e);
}

/**
 * The guest continues after a TDCALL that exited: RAX is the module's status, and for
 * TDG.VP.VMCALL the exposed GPRs carry the VMM's reply (R10 = its status, decoded separately).
 * Closes the vCPU's chain.
 */
export function traceGuestResume(tracer: Tracer, where: TraceWhere, regsOut: RegisterFile): void {
  if (!tracer.enabled) return;
  const key = keyOf(where);
  const chain = currentChain(tracer, key);
  const leaf = chain?.leaf ?? TdcallLeaf.TDG_VP_VMCALL;
  const e = head(tracer, 'resume', 'guest', chain?.name ?? leaf.mnemonic, TraceCost.GUEST_RESUME, where);
  const fields: Record<string, string> = {};
  addOperandFields(fields, 'out', leaf.outputs, regsOut);
  if (chain?.sub) addSubfunctionFields(fields, 'out', chain.sub.outputs, regsOut);
  e.out = registerRecord(regsOut, new Set([...operandRegisters(leaf.outputs), ...selectedGprs(chain?.gprMask ?? 0n)]));
  setFields(e, fields);
  e.status = tdxTraceStatus(reg(regsOut, 'RAX'));
  if (isVmcall(leaf)) e.vmmStatus = tdvmcallTraceStatus(reg(regsOut, TDVMCALL_REGS.status));
  if (chain) {
    e.flowIn = chain.id;
    closeChain(tracer, key);
  }
  tracer.emit(e);
}

/** A #VE the module delivers into the guest (the information TDG.VP.VEINFO.GET will return). */
export interface VeInfo {
  readonly exitReason: number;
  readonly exitQualification: bigint;
  readonly gla: bigint;
  readonly gpa: bigint;
}

export function traceVe(tracer: Tracer, where: TraceWhere, ve: VeInfo): void {
  if (!tracer.enabled) return;
  const reason = decodeExitReason(ve.exitReason);
  const e = head(tracer, 've', 'guest', `#VE ${reason.name ?? reason.basic}`, TraceCost.VE, where);
  e.fields = {
    exitReason: formatExitReason(reason),
    exitQualification: hex64(ve.exitQualification),
    gla: hex64(ve.gla),
    gpa: hex64(ve.gpa),
  };
  tracer.emit(e);
}

// ---------------------------------------------------------------------------------------------
// Module ↔ host: TD exit and TD entry (TDH.VP.ENTER returning and being called).

const VP_ENTER = SeamcallLeaf.TDH_VP_ENTER;

/**
 * TDH.VP.ENTER returned to the host: `exitRegs` are the host's registers after it, RAX the exit
 * status with the VMX exit reason in bits 31:0. On a TDCALL exit RCX is the guest's control word
 * and the GPRs it selects carry the guest's request; on any other exit RCX, RDX, R8 and R9 are the
 * exit qualification, extended qualification, GPA and interruption info (tdx-module.md §6.3).
 * Continues the vCPU's chain, or opens one for an asynchronous exit.
 */
export function traceTdExit(tracer: Tracer, where: TraceWhere, exitRegs: RegisterFile): void {
  if (!tracer.enabled) return;
  const rax = reg(exitRegs, 'RAX');
  const reason = decodeExitReason(rax);
  const tdcallExit = reason.basic === VmxExitReason.TDCALL;
  const e = head(tracer, 'td_exit', 'module', `TD exit: ${reason.name ?? reason.basic}`, TraceCost.TD_EXIT, where);
  const qualReg = operandReg(VP_ENTER.outputs, 'exitQualification');
  const fields: Record<string, string> = {};
  let mask = 0n;
  if (tdcallExit) {
    // The table's layout of RCX describes this case only: the control word the guest passed.
    mask = TDVMCALL_EXIT_RCX.get(reg(exitRegs, qualReg), 'gpr_select');
    addBitfieldFields(fields, 'out.exitQualification', TDVMCALL_EXIT_RCX, reg(exitRegs, qualReg));
    fields['out.subfunction'] = tdvmcallCall(exitRegs).name;
    e.out = registerRecord(exitRegs, new Set<GprName>(['RAX', qualReg, ...selectedGprs(mask)]));
  } else {
    for (const op of VP_ENTER.outputs) {
      if (op.reg === qualReg) fields['out.exitQualification'] = hex64(reg(exitRegs, op.reg));
      else addOperandFields(fields, 'out', [op], exitRegs);
    }
    e.out = registerRecord(exitRegs, operandRegisters(VP_ENTER.outputs));
  }
  setFields(e, fields);
  e.status = tdxTraceStatus(rax);
  const key = keyOf(where);
  const chain = currentChain(tracer, key);
  if (chain) e.flowIn = chain.id;
  else {
    e.flowOut = e.seq;
    openChain(tracer, key, e.seq, { byGuest: false, gprMask: mask, name: e.name, leaf: VP_ENTER });
  }
  tracer.emit(e);
}

/**
 * The host calls TDH.VP.ENTER to resume the vCPU: `entryRegs` are its inputs — RCX names the
 * vCPU, and after a TDVMCALL the GPRs the guest exposed carry the reply. Continues the chain and
 * closes it when no guest TDCALL is waiting for the reply (an asynchronous exit).
 */
export function traceTdEntry(tracer: Tracer, where: TraceWhere, entryRegs: RegisterFile): void {
  if (!tracer.enabled) return;
  const key = keyOf(where);
  const chain = currentChain(tracer, key);
  const e = head(tracer, 'td_entry', 'module', 'TD entry', TraceCost.TD_ENTRY, where);
  const fields: Record<string, string> = {};
  addOperandFields(fields, 'in', VP_ENTER.inputs, entryRegs);
  e.in = registerRecord(entryRegs, new Set([...operandRegisters(VP_ENTER.inputs), ...selectedGprs(chain?.gprMask ?? 0n)]));
  setFields(e, fields);
  if (chain) {
    e.flowIn = chain.id;
    if (!chain.byGuest) closeChain(tracer, key);
  }
  tracer.emit(e);
}

// ---------------------------------------------------------------------------------------------
// Host and userspace.

/**
 * The host kernel handled a TDVMCALL: `regsIn` are the exit registers as the guest filled them,
 * `regsOut` the same registers with the host's reply (R10 = TDVMCALL status, R11… results).
 */
export function traceTdvmcall(tracer: Tracer, where: TraceWhere, regsIn: RegisterFile, regsOut: RegisterFile): void {
  if (!tracer.enabled) return;
  const call = tdvmcallCall(regsIn);
  const e = head(tracer, 'tdvmcall', 'host', call.name, TraceCost.HOST_EXIT_HANDLER, where);
  const fields: Record<string, string> = { 'in.subfunction': call.name };
  let inRegs: GprName[] = [TDVMCALL_REGS.callType, TDVMCALL_REGS.subfunction];
  let outRegs: GprName[] = [TDVMCALL_REGS.status];
  if (call.sub) {
    addSubfunctionFields(fields, 'in', call.sub.inputs, regsIn);
    addSubfunctionFields(fields, 'out', call.sub.outputs, regsOut);
    inRegs = [...inRegs, ...call.sub.inputs.map((o) => o.reg)];
    outRegs = [...outRegs, ...call.sub.outputs.map((o) => o.reg)];
  } else if (reg(regsIn, TDVMCALL_REGS.callType) !== TDX_HYPERCALL_STANDARD) {
    // A KVM hypercall: number in R10, four arguments in R11–R14, result in R11 (linux-tdx.md §2.2).
    inRegs = [TDVMCALL_REGS.callType, ...TDVMCALL_REGS.kvmArgs];
    outRegs = [TDVMCALL_REGS.status, TDVMCALL_REGS.results[0]!];
  }
  e.in = registerRecord(regsIn, new Set(inRegs));
  e.out = registerRecord(regsOut, new Set(outRegs));
  setFields(e, fields);
  e.vmmStatus = tdvmcallTraceStatus(reg(regsOut, TDVMCALL_REGS.status));
  const chain = currentChain(tracer, keyOf(where));
  if (chain) e.flowIn = chain.id;
  tracer.emit(e);
}

/**
 * `vcpu.run()` returned an exit record to userspace. The record's fields become `data` (bigints
 * as hex); its name is KVM's for the record's `exitReason` (KVM_EXIT_IO, KVM_EXIT_HYPERCALL, …).
 */
export function traceUserExit(tracer: Tracer, where: TraceWhere, record: { readonly kind: string }): void {
  if (!tracer.enabled) return;
  const reason = (record as { exitReason?: unknown }).exitReason;
  const name = (typeof reason === 'number' ? KVM_EXIT_NAME.get(reason) : undefined) ?? `exit ${record.kind}`;
  userEvent(tracer, where, 'user_exit', name, TraceCost.USER_EXIT, record);
}

/** Userspace answered with `vcpu.complete(reply)` (no reply: KVM's presets stand). */
export function traceUserComplete(tracer: Tracer, where: TraceWhere, reply?: { readonly kind: string }): void {
  if (!tracer.enabled) return;
  userEvent(tracer, where, 'user_complete', reply ? `complete ${reply.kind}` : 'complete (no reply)', TraceCost.USER_COMPLETE, reply);
}

function userEvent(tracer: Tracer, where: TraceWhere, kind: TraceEventKind, name: string, cost: number, record: object | undefined): void {
  const e = head(tracer, kind, 'userspace', name, cost, where);
  if (record) e.data = flattenRecord(record);
  const chain = currentChain(tracer, keyOf(where));
  if (chain) e.flowIn = chain.id;
  tracer.emit(e);
}

// ---------------------------------------------------------------------------------------------
// State changes (instants: they take no time of their own).

export interface PageChange {
  readonly td: bigint;
  /** The GPA without the shared bit. */
  readonly gpa: bigint;
  readonly from: TracePageState;
  readonly to: TracePageState;
  /** Secure-EPT level of the mapping (0 = 4K, 1 = 2M, 2 = 1G). */
  readonly level?: number;
}

/**
 * A page changed state. Secure-EPT changes are the module's; a change to or from SHARED is the
 * host's shared EPT.
 */
export function tracePage(tracer: Tracer, change: PageChange): void {
  if (!tracer.enabled) return;
  const shared = change.from === SHARED_PAGE_STATE || change.to === SHARED_PAGE_STATE;
  const e = head(tracer, 'page', shared ? 'host' : 'module', `${change.from} → ${change.to}`, 0, { td: change.td });
  const data: Record<string, TraceScalar> = { gpa: hex64(change.gpa), from: change.from, to: change.to };
  if (change.level !== undefined) data.level = change.level;
  e.data = data;
  tracer.emit(e);
}

export interface MeasureChange {
  readonly td: bigint;
  readonly register: TraceMeasureRegister;
  readonly op: TraceMeasureOp;
  /** The register's value after the extend (48 bytes). */
  readonly digest: Uint8Array;
  /** The GPA measured (PAGE.ADD, MR.EXTEND) or holding the extend data (RTMR.EXTEND). */
  readonly gpa?: bigint;
  /** RTMR.EXTEND: the 48 bytes extended in. */
  readonly input?: Uint8Array;
}

const hexBytes = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** A measurement register was extended. Digests are lower-case hex, as measurement tools print them. */
export function traceMeasure(tracer: Tracer, m: MeasureChange): void {
  if (!tracer.enabled) return;
  const e = head(tracer, 'measure', 'module', `${m.register} ${m.op}`, 0, { td: m.td });
  const data: Record<string, TraceScalar> = { register: m.register, op: m.op, digest: hexBytes(m.digest) };
  if (m.gpa !== undefined) data.gpa = hex64(m.gpa);
  if (m.input !== undefined) data.input = hexBytes(m.input);
  e.data = data;
  tracer.emit(e);
}
