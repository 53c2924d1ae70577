import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GPA_AND_LEVEL, LEAF_WORD, SEPT_ENTRY_INFO, TDVMCALL_CONTROL, TDVMCALL_EXIT_RCX, VP_ENTER_RCX } from '../../src/abi/operands.ts';
import { RegisterFile } from '../../src/abi/registers.ts';
import { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';
import { decodeStatus, decodeTdvmcallStatus, formatDecodedStatus, formatTdvmcallStatus } from '../../src/abi/status-decode.ts';
import { OperandId, TdxStatus, withOperand } from '../../src/abi/status.ts';
import { TdcallLeaf } from '../../src/abi/tdcall-leaves.ts';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';
import { KvmExitReason, KvmHypercall } from '../../src/abi/kvm.ts';
import { TdvmcallSubfunction } from '../../src/abi/tdvmcall.ts';
import { VmxExitReason } from '../../src/abi/vmx.ts';
import { SimClock } from '../../src/trace/clock.ts';
import { seamcallCost, TraceCost } from '../../src/trace/costs.ts';
import type { TraceEvent } from '../../src/trace/events.ts';
import {
  traceGuestResume,
  traceMeasure,
  tracePage,
  traceSeamcall,
  traceTdcall,
  traceTdEntry,
  traceTdExit,
  traceTdvmcall,
  traceUserComplete,
  traceUserExit,
  traceVe,
  type TraceWhere,
} from '../../src/trace/record.ts';
import { NULL_TRACER, RecordingTracer, type Tracer } from '../../src/trace/tracer.ts';

const TDR = 0x1_0000_0000n;
const TD = '0x0000000100000000';
const V0: TraceWhere = { td: TDR, vcpu: 0, lp: 0 };

const leafWord = (n: number, version = 0): bigint => LEAF_WORD.encode({ leaf: BigInt(n), version: BigInt(version) });
const tdxStatus = (v: bigint) => ({ text: formatDecodedStatus(decodeStatus(v)) });
const vmmStatus = (v: bigint) => ({ text: formatTdvmcallStatus(decodeTdvmcallStatus(v)) });

/** Guest registers of a standard TDVMCALL exposing RDX, RBX, RSI, RDI, R8–R15. */
function vmcallRegs(sub: number, r12 = 0n): RegisterFile {
  return RegisterFile.from({ RAX: 0n, RCX: 0xffccn, R10: 0n, R11: BigInt(sub), R12: r12 });
}

describe('traceSeamcall', () => {
  it('records only the registers the leaf defines, decodes packed operands and the status', () => {
    const t = new RecordingTracer();
    const leaf = SeamcallLeaf.TDH_MEM_PAGE_ADD;
    const regsIn = RegisterFile.from({
      RAX: leafWord(leaf.number),
      RCX: GPA_AND_LEVEL.encode({ gpa_page: 0x200n, level: 0n }),
      RDX: TDR,
      R8: 0x1_0001_0000n,
      R9: 0xa_0000n,
      R12: 0xdead_beefn, // not an operand of PAGE.ADD: must not appear
    });
    const regsOut = regsIn.clone()
      .set('RAX', withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX))
      .set('RCX', 1n << 63n)
      .set('RDX', SEPT_ENTRY_INFO.encode({ level: 1n, state: 0n }));
    traceSeamcall(t, 3, leaf, regsIn, regsOut);

    assert.equal(t.events.length, 1);
    assert.deepEqual(t.events[0], {
      seq: 1,
      time: 0,
      duration: TraceCost.SEAMCALL,
      kind: 'seamcall',
      party: 'host',
      name: 'TDH.MEM.PAGE.ADD',
      lp: 3,
      td: TD,
      in: {
        rax: '0x0000000000000002',
        rcx: '0x0000000000200000',
        rdx: '0x0000000100000000',
        r8: '0x0000000100010000',
        r9: '0x00000000000A0000',
      },
      out: { rax: '0xC000010000000001', rcx: '0x8000000000000000', rdx: '0x0000000000000001' },
      fields: {
        'in.gpaLevel.level': '0',
        'in.gpaLevel.gpa_page': '0x200',
        'in.tdr': '0x0000000100000000',
        'in.page': '0x0000000100010000',
        'in.source': '0x00000000000A0000',
        'out.septEntry': '0x8000000000000000',
        'out.septInfo.level': '1',
        'out.septInfo.state': '0',
        'out.septInfo.vm': '0',
      },
      status: {
        value: '0xC000010000000001',
        name: 'TDX_OPERAND_INVALID',
        detail: 'RCX',
        detailKind: 'operand',
        error: true,
        domain: 'tdx',
        warning: false,
        flags: ['error', 'non-recoverable'],
        ...tdxStatus(0xC000010000000001n),
      },
    });
    assert.equal(t.clock.now, TraceCost.SEAMCALL, 'the clock moved by the call cost');
  });

  it('shows a non-zero reserved field, the leaf version, and takes td from `where` over the operand', () => {
    const t = new RecordingTracer();
    const leaf = SeamcallLeaf.TDH_MEM_SEPT_ADD;
    const regsIn = RegisterFile.from({ RAX: leafWord(leaf.number, 1), RCX: GPA_AND_LEVEL.encode({ level: 1n, reserved0: 1n }) });
    traceSeamcall(t, 0, leaf, regsIn, regsIn.clone().set('RAX', 0n), { td: 7n });
    const e = t.events[0]!;
    assert.equal(e.td, '0x0000000000000007');
    assert.equal(e.fields?.['in.gpaLevel.reserved0'], '0x1', 'a 9-bit field is shown in hex');
    assert.equal(e.fields?.['in.gpaLevel.reserved1'], undefined, 'zero reserved fields are left out');
    assert.equal(e.in?.rax, '0x0000000000010003');
    assert.equal(e.duration, TraceCost.SEAMCALL_FAULT_PATH);
    assert.deepEqual(e.status?.flags, []);
    assert.equal(e.status?.warning, false);
  });

  it('omits fields for a leaf without operands', () => {
    const t = new RecordingTracer();
    const regsIn = RegisterFile.from({ RAX: leafWord(SeamcallLeaf.TDH_SYS_LP_INIT.number) });
    traceSeamcall(t, 1, SeamcallLeaf.TDH_SYS_LP_INIT, regsIn, regsIn.clone().set('RAX', TdxStatus.TDX_SYS_LP_INIT_DONE));
    const e = t.events[0]!;
    assert.equal('fields' in e, false);
    assert.deepEqual(e.in, { rax: '0x0000000000000023' });
    assert.deepEqual(e.out, { rax: '0xC000050300000000' });
    assert.equal(e.status?.name, 'TDX_SYS_LP_INIT_DONE');
    assert.equal('detail' in e.status!, false, 'no details in bits 31:0');
  });
});

describe('tracing off', () => {
  /** A tracer that is off and fails loudly if anything touches it. */
  const trap: Tracer = {
    enabled: false,
    nextSeq: () => assert.fail('nextSeq called with tracing off'),
    emit: () => assert.fail('emit called with tracing off'),
    get clock(): SimClock {
      return assert.fail('clock read with tracing off');
    },
  };

  it('builds nothing and touches neither the clock nor the tracer', () => {
    const r = vmcallRegs(TdvmcallSubfunction.MAP_GPA.number);
    traceSeamcall(trap, 0, SeamcallLeaf.TDH_SYS_INIT, r, r);
    traceTdcall(trap, V0, TdcallLeaf.TDG_VP_VMCALL, r);
    traceTdcall(trap, V0, TdcallLeaf.TDG_VP_INFO, r, r);
    traceGuestResume(trap, V0, r);
    traceTdExit(trap, V0, r);
    traceTdEntry(trap, V0, r);
    traceTdvmcall(trap, V0, r, r);
    traceUserExit(trap, V0, { kind: 'io' });
    traceUserComplete(trap, V0, { kind: 'io' });
    traceVe(trap, V0, { exitReason: VmxExitReason.CPUID, exitQualification: 0n, gla: 0n, gpa: 0n });
    tracePage(trap, { td: TDR, gpa: 0n, from: 'FREE', to: 'PENDING' });
    traceMeasure(trap, { td: TDR, register: 'MRTD', op: 'MR.FINALIZE', digest: new Uint8Array(48) });
  });

  it('NULL_TRACER stays at time 0', () => {
    const r = new RegisterFile();
    traceSeamcall(NULL_TRACER, 0, SeamcallLeaf.TDH_SYS_INIT, r, r);
    assert.equal(NULL_TRACER.clock.now, 0);
    assert.equal(NULL_TRACER.enabled, false);
  });
});

describe('traceTdcall without an exit', () => {
  it('TDG.MEM.PAGE.ACCEPT on an accepted page: a warning with the Secure-EPT level', () => {
    const t = new RecordingTracer();
    const leaf = TdcallLeaf.TDG_MEM_PAGE_ACCEPT;
    const regsIn = RegisterFile.from({ RAX: leafWord(leaf.number), RCX: GPA_AND_LEVEL.encode({ gpa_page: 0x300n }) });
    traceTdcall(t, V0, leaf, regsIn, regsIn.clone().set('RAX', TdxStatus.TDX_PAGE_ALREADY_ACCEPTED));
    assert.deepEqual(t.events[0], {
      seq: 1,
      time: 0,
      duration: TraceCost.TDCALL,
      kind: 'tdcall',
      party: 'guest',
      name: 'TDG.MEM.PAGE.ACCEPT',
      lp: 0,
      td: TD,
      vcpu: 0,
      in: { rax: '0x0000000000000006', rcx: '0x0000000000300000' },
      out: { rax: '0x00000B0A00000000' },
      fields: { 'in.gpaLevel.level': '0', 'in.gpaLevel.gpa_page': '0x300' },
      status: {
        value: '0x00000B0A00000000',
        name: 'TDX_PAGE_ALREADY_ACCEPTED',
        detail: 'level 4K',
        detailKind: 'septLevel',
        error: false,
        domain: 'tdx',
        warning: true,
        flags: [],
        ...tdxStatus(0x00000B0A00000000n),
      },
    });
  });

  it('a TDG.VP.VMCALL the module refuses (bad control word) completes in the module and opens no chain', () => {
    const t = new RecordingTracer();
    const regsIn = RegisterFile.from({ RAX: 0n, RCX: TDVMCALL_CONTROL.encode({ gpr_select: 0x13n }), R10: 0n, R11: 0x10001n });
    traceTdcall(t, V0, TdcallLeaf.TDG_VP_VMCALL, regsIn, regsIn.clone().set('RAX', withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RCX)));
    traceTdExit(t, V0, RegisterFile.from({ RAX: BigInt(VmxExitReason.HLT) }));
    const [call, exit] = t.events as [TraceEvent, TraceEvent];
    assert.equal(call.name, 'TDG.VP.VMCALL<MapGPA>');
    // The control word selects RAX, RCX and RSP, which the module refuses; the trace shows what the guest asked for.
    assert.deepEqual(call.in, { rax: '0x0000000000000000', rcx: '0x0000000000000013', rsp: '0x0000000000000000' });
    assert.deepEqual(call.out, { rax: '0xC000010000000001' });
    assert.equal(call.flowOut, undefined);
    assert.equal(call.status?.detail, 'RCX');
    assert.equal(exit.flowIn, undefined, 'the next exit does not continue a chain');
    assert.equal(exit.flowOut, exit.seq);
  });
});

describe('a TDVMCALL round trip through userspace', () => {
  function roundTrip(t: RecordingTracer, where: TraceWhere, r10: bigint): void {
    const guest = vmcallRegs(TdvmcallSubfunction.IO.number, 1n).set('R13', 1n).set('R14', 0x3f8n).set('R15', 0x41n);
    traceTdcall(t, where, TdcallLeaf.TDG_VP_VMCALL, guest);
    const exit = guest.clone().set('RAX', BigInt(VmxExitReason.TDCALL)).set('RCX', TDVMCALL_EXIT_RCX.encode({ gpr_select: 0xffccn }));
    traceTdExit(t, where, exit);
    const reply = exit.clone().set('R10', r10);
    traceTdvmcall(t, where, exit, reply);
    traceUserExit(t, where, { kind: 'io', exitReason: KvmExitReason.IO, direction: 'out', size: 1, port: 0x3f8, data: 0x41n } as { kind: string });
    traceUserComplete(t, where, { kind: 'io' });
    traceTdEntry(t, where, reply.clone().set('RAX', 0n).set('RCX', VP_ENTER_RCX.encode({ tdvpr_page: 0x100040n })));
    traceGuestResume(t, where, reply.clone().set('RAX', 0n).set('RCX', 0xffccn));
  }

  it('links call, exit, userspace, handling, entry and resume in one chain with exact registers', () => {
    const t = new RecordingTracer();
    roundTrip(t, V0, TdvmcallStatus.SUCCESS);
    const [call, exit, handled, uexit, ucomplete, entry, resume] = t.events as TraceEvent[] as [TraceEvent, TraceEvent, TraceEvent, TraceEvent, TraceEvent, TraceEvent, TraceEvent];
    assert.deepEqual(t.events.map((e) => [e.kind, e.party, e.flowOut, e.flowIn]), [
      ['tdcall', 'guest', 1, undefined],
      ['td_exit', 'module', undefined, 1],
      ['tdvmcall', 'host', undefined, 1],
      ['user_exit', 'userspace', undefined, 1],
      ['user_complete', 'userspace', undefined, 1],
      ['td_entry', 'module', undefined, 1],
      ['resume', 'guest', undefined, 1],
    ]);
    // The clock runs through the five steps of the round trip plus the userspace exit and entry.
    assert.deepEqual(t.events.map((e) => e.time), [0, 800, 1500, 2200, 2430, 2660, 3960]);
    assert.equal(t.clock.now, 4460);

    assert.equal(call.name, 'TDG.VP.VMCALL<Instruction.IO>');
    assert.deepEqual(call.fields, {
      'in.control.gpr_select': '0xFFCC',
      'in.control.xmm_select': '0x0',
      'in.subfunction': 'Instruction.IO',
      'in.size': '0x0000000000000001',
      'in.direction': '0x0000000000000001',
      'in.port': '0x00000000000003F8',
      'in.data': '0x0000000000000041',
    });
    assert.deepEqual(Object.keys(call.in ?? {}), ['rax', 'rcx', 'rdx', 'rbx', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15']);
    assert.equal(call.status, undefined, 'the outcome is on the resume');
    assert.equal(call.out, undefined);

    assert.equal(exit.name, 'TD exit: TDCALL');
    assert.equal(exit.status?.detail, 'TDCALL (77)');
    assert.equal(exit.fields?.['out.subfunction'], 'Instruction.IO');
    assert.equal(exit.fields?.['out.exitQualification.gpr_select'], '0xFFCC');
    assert.equal(exit.out?.r14, '0x00000000000003F8');
    assert.equal(exit.out?.r9, '0x0000000000000000', 'R9 is exposed by the mask and so recorded');

    assert.equal(uexit.name, 'KVM_EXIT_IO');
    assert.deepEqual(uexit.data, { kind: 'io', exitReason: 2, direction: 'out', size: 1, port: 0x3f8, data: '0x0000000000000041' });
    assert.equal(ucomplete.name, 'complete io');
    assert.deepEqual(ucomplete.data, { kind: 'io' });

    assert.equal(handled.name, 'Instruction.IO');
    assert.deepEqual(handled.in, {
      r10: '0x0000000000000000',
      r11: '0x000000000000001E',
      r12: '0x0000000000000001',
      r13: '0x0000000000000001',
      r14: '0x00000000000003F8',
      r15: '0x0000000000000041',
    });
    assert.deepEqual(handled.out, { r10: '0x0000000000000000', r11: '0x000000000000001E' });
    assert.deepEqual(handled.fields, {
      'in.subfunction': 'Instruction.IO',
      'in.size': '0x0000000000000001',
      'in.direction': '0x0000000000000001',
      'in.port': '0x00000000000003F8',
      'in.data': '0x0000000000000041',
      'out.data': '0x000000000000001E',
    });
    assert.equal(handled.status, undefined, 'a TDVMCALL status is never put where a module status goes');
    assert.deepEqual(handled.vmmStatus, {
      value: '0x0000000000000000',
      name: 'TDVMCALL_STATUS_SUCCESS',
      error: false,
      domain: 'tdvmcall',
      warning: false,
      flags: [],
      ...vmmStatus(0n),
    });

    assert.equal(entry.name, 'TD entry');
    assert.equal(entry.in?.rcx, '0x0000000100040000');
    assert.equal(entry.fields?.['in.vcpu.tdvpr_page'], '0x100040');
    assert.equal(entry.status, undefined);

    assert.equal(resume.name, 'TDG.VP.VMCALL<Instruction.IO>');
    assert.equal(resume.status?.name, 'TDX_SUCCESS');
    assert.equal(resume.vmmStatus?.name, 'TDVMCALL_STATUS_SUCCESS');
    assert.equal(resume.out?.rax, '0x0000000000000000');
    assert.equal(resume.out?.r10, '0x0000000000000000');
    assert.equal(resume.fields?.['out.data'], '0x000000000000001E');
  });

  it('the VMM refusing keeps RAX success and puts the error in vmmStatus only', () => {
    const t = new RecordingTracer();
    roundTrip(t, V0, TdvmcallStatus.INVALID_OPERAND);
    const resume = t.events.at(-1)!;
    assert.equal(resume.status?.error, false);
    assert.equal(resume.vmmStatus?.name, 'TDVMCALL_STATUS_INVALID_OPERAND');
    assert.equal(resume.vmmStatus?.error, true);
    assert.deepEqual(resume.vmmStatus?.flags, ['error']);
  });

  it('two vCPUs keep separate chains, and a chain closed by the resume is not continued', () => {
    const t = new RecordingTracer();
    const v1: TraceWhere = { td: TDR, vcpu: 1, lp: 1 };
    traceTdcall(t, V0, TdcallLeaf.TDG_VP_VMCALL, vmcallRegs(TdvmcallSubfunction.HLT.number));
    traceTdcall(t, v1, TdcallLeaf.TDG_VP_VMCALL, vmcallRegs(TdvmcallSubfunction.HLT.number));
    const exit = RegisterFile.from({ RAX: BigInt(VmxExitReason.TDCALL), RCX: 0xffccn });
    traceTdExit(t, v1, exit);
    traceTdExit(t, V0, exit);
    traceGuestResume(t, V0, new RegisterFile());
    traceTdEntry(t, V0, new RegisterFile());
    assert.deepEqual(t.events.map((e) => [e.vcpu, e.flowOut, e.flowIn]), [
      [0, 1, undefined],
      [1, 2, undefined],
      [1, undefined, 2],
      [0, undefined, 1],
      [0, undefined, 1],
      [0, undefined, undefined],
    ]);
  });
});

describe('asynchronous TD exits', () => {
  it('an EPT violation opens a chain that the TD entry closes; its registers are not read as a control word', () => {
    const t = new RecordingTracer();
    const exit = RegisterFile.from({ RAX: BigInt(VmxExitReason.EPT_VIOLATION), RCX: 0x181n, RDX: 0n, R8: 0x20_0000n, R9: 0n, R12: 0x55n });
    traceTdExit(t, V0, exit);
    traceSeamcall(t, 0, SeamcallLeaf.TDH_MEM_PAGE_AUG, new RegisterFile(), new RegisterFile());
    traceTdEntry(t, V0, RegisterFile.from({ RCX: 0x1_0004_0000n }));
    traceTdEntry(t, V0, RegisterFile.from({ RCX: 0x1_0004_0000n }));
    const [e, aug, entry, again] = t.events as [TraceEvent, TraceEvent, TraceEvent, TraceEvent];
    assert.equal(e.name, 'TD exit: EPT_VIOLATION');
    assert.equal(e.flowOut, 1);
    assert.deepEqual(e.out, {
      rax: '0x0000000000000030',
      rcx: '0x0000000000000181',
      rdx: '0x0000000000000000',
      r8: '0x0000000000200000',
      r9: '0x0000000000000000',
    });
    assert.deepEqual(e.fields, {
      'out.exitQualification': '0x0000000000000181',
      'out.extExitQualification.type': '0',
      'out.extExitQualification.info': '0x0',
      'out.gpa': '0x0000000000200000',
      'out.interruptionInfo': '0x0000000000000000',
    });
    assert.equal(e.status?.detail, 'EPT_VIOLATION (48)');
    assert.equal(aug.flowIn, undefined, 'SEAMCALLs are not part of a vCPU chain');
    assert.equal(entry.flowIn, 1);
    assert.deepEqual(entry.in, { rax: '0x0000000000000000', rcx: '0x0000000100040000' });
    assert.equal(again.flowIn, undefined, 'the entry closed the chain');
  });
});

describe('TDVMCALLs the VMM does not know', () => {
  it('an unknown sub-function is named by its number; the refusal is an error in vmmStatus', () => {
    const t = new RecordingTracer();
    const regs = vmcallRegs(0x100ff);
    traceTdvmcall(t, V0, regs, regs.clone().set('R10', TdvmcallStatus.SUBFUNC_UNSUPPORTED));
    const e = t.events[0]!;
    assert.equal(e.name, 'sub-function 0x00000000000100FF');
    assert.deepEqual(e.in, { r10: '0x0000000000000000', r11: '0x00000000000100FF' });
    assert.deepEqual(e.out, { r10: '0x8000000000000003' });
    assert.deepEqual(e.fields, { 'in.subfunction': 'sub-function 0x00000000000100FF' });
    assert.equal(e.vmmStatus?.name, 'TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED');
    assert.equal(e.vmmStatus?.error, true);
    assert.equal(e.vmmStatus?.text, formatTdvmcallStatus(decodeTdvmcallStatus(TdvmcallStatus.SUBFUNC_UNSUPPORTED)));
  });

  it('a KVM hypercall (R10 ≠ 0) shows its number and four arguments', () => {
    const t = new RecordingTracer();
    const regs = RegisterFile.from({ R10: BigInt(KvmHypercall.MAP_GPA_RANGE), R11: 0x1000n, R12: 1n, R13: 0n, R14: 0n, R15: 9n });
    traceTdvmcall(t, V0, regs, regs.clone().set('R10', 0n).set('R11', 0n));
    const e = t.events[0]!;
    assert.equal(e.name, 'KVM_HC_MAP_GPA_RANGE');
    assert.deepEqual(Object.keys(e.in ?? {}), ['r10', 'r11', 'r12', 'r13', 'r14']);
    assert.deepEqual(e.out, { r10: '0x0000000000000000', r11: '0x0000000000000000' });
  });

  it('an unknown KVM hypercall number is named by value', () => {
    const t = new RecordingTracer();
    const regs = RegisterFile.from({ R10: 0x77n });
    traceTdvmcall(t, V0, regs, regs);
    assert.equal(t.events[0]!.name, 'hypercall 0x0000000000000077');
  });

  it('a user exit record without a known exitReason is named by its kind; no reply is said so', () => {
    const t = new RecordingTracer();
    traceUserExit(t, V0, { kind: 'shutdown' });
    traceUserComplete(t, V0);
    assert.equal(t.events[0]!.name, 'exit shutdown');
    assert.equal(t.events[1]!.name, 'complete (no reply)');
    assert.equal('data' in t.events[1]!, false);
  });
});

describe('instants and #VE', () => {
  it('page changes take no time; SHARED changes are the host\'s', () => {
    const t = new RecordingTracer();
    t.clock.advance(500);
    tracePage(t, { td: TDR, gpa: 0x20_0000n, from: 'FREE', to: 'PENDING', level: 1 });
    tracePage(t, { td: TDR, gpa: 0x30_0000n, from: 'FREE', to: 'SHARED' });
    assert.deepEqual(t.events, [
      { seq: 1, time: 500, duration: 0, kind: 'page', party: 'module', name: 'FREE → PENDING', td: TD, data: { gpa: '0x0000000000200000', from: 'FREE', to: 'PENDING', level: 1 } },
      { seq: 2, time: 500, duration: 0, kind: 'page', party: 'host', name: 'FREE → SHARED', td: TD, data: { gpa: '0x0000000000300000', from: 'FREE', to: 'SHARED' } },
    ]);
    assert.equal(t.clock.now, 500);
  });

  it('measure events carry lower-case hex digests', () => {
    const t = new RecordingTracer();
    const digest = Uint8Array.from({ length: 48 }, (_v, i) => i);
    traceMeasure(t, { td: TDR, register: 'RTMR2', op: 'RTMR.EXTEND', digest, gpa: 0x1000n, input: new Uint8Array(48).fill(0xab) });
    assert.deepEqual(t.events[0], {
      seq: 1,
      time: 0,
      duration: 0,
      kind: 'measure',
      party: 'module',
      name: 'RTMR2 RTMR.EXTEND',
      td: TD,
      data: {
        register: 'RTMR2',
        op: 'RTMR.EXTEND',
        digest: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f',
        gpa: '0x0000000000001000',
        input: 'ab'.repeat(48),
      },
    });
  });

  it('a #VE names its exit reason', () => {
    const t = new RecordingTracer();
    traceVe(t, V0, { exitReason: VmxExitReason.EPT_VIOLATION, exitQualification: 0x84n, gla: 0x7000n, gpa: 0x8000_0000n });
    assert.deepEqual(t.events[0], {
      seq: 1,
      time: 0,
      duration: TraceCost.VE,
      kind: 've',
      party: 'guest',
      name: '#VE EPT_VIOLATION',
      lp: 0,
      td: TD,
      vcpu: 0,
      fields: {
        exitReason: 'EPT_VIOLATION (48)',
        exitQualification: '0x0000000000000084',
        gla: '0x0000000000007000',
        gpa: '0x0000000080000000',
      },
    });
  });
});

describe('clock and costs', () => {
  it('SimClock spends integer nanoseconds and refuses anything else', () => {
    const c = new SimClock();
    assert.equal(c.advance(41_100), 0);
    assert.equal(c.advance(0), 41_100);
    assert.equal(c.now, 41_100);
    assert.throws(() => c.advance(-1), RangeError);
    assert.throws(() => c.advance(0.5), RangeError);
    assert.throws(() => c.advance(Number.NaN), RangeError);
  });

  it('fault-path SEAMCALLs and TDH.VP.ENTER are cheaper than management calls; the round trip is ≈4 µs', () => {
    assert.equal(seamcallCost(SeamcallLeaf.TDH_MNG_CREATE), 41_100);
    assert.equal(seamcallCost(SeamcallLeaf.TDH_MEM_PAGE_AUG), 2_000);
    assert.equal(seamcallCost(SeamcallLeaf.TDH_MEM_SEPT_ADD), 2_000);
    assert.equal(seamcallCost(SeamcallLeaf.TDH_VP_ENTER), TraceCost.TD_ENTRY);
    const roundTrip = TraceCost.VMCALL_ISSUE + TraceCost.TD_EXIT + TraceCost.HOST_EXIT_HANDLER + TraceCost.TD_ENTRY + TraceCost.GUEST_RESUME;
    assert.equal(roundTrip, 4_000);
  });
});
