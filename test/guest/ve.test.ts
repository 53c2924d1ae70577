import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IO_EXIT_QUAL, VEINFO_R10 } from '../../src/abi/operands.ts';
import { TdcallLeaf } from '../../src/abi/tdcall-leaves.ts';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';
import { Vector, VmxExitReason } from '../../src/abi/vmx.ts';
import type { GuestCpu, GuestGen } from '../../src/platform/guest-cpu.ts';
import { createVeHandler, getVeInfo, installVeHandler } from '../../src/guest/ve.ts';
import { MockTdx, type MockConfig, type Regs } from '../helpers/mock-tdx.ts';

const SHARED = 1n << 47n;
const START = 0x10_0000n;

/** Run guest code with the #VE handler installed and RIP at START. */
function run<T>(config: MockConfig, fn: (cpu: GuestCpu) => GuestGen<T>) {
  const mock = new MockTdx(config);
  installVeHandler(mock.cpu, { sharedBit: SHARED });
  mock.cpu.rip = START;
  const value = mock.run(fn);
  return { mock, value, cpu: mock.cpu };
}

const replying = (regs: Partial<Regs>): MockConfig => ({ vmm: () => ({ regs }) });
const panicMessage = (mock: MockTdx) => (mock.outcome?.kind === 'panic' ? mock.outcome.panic.message : undefined);

test('the handler is installed at vector 20 and reads VE_INFO first', () => {
  const { mock, cpu } = run({}, (c) => c.out(0x3f8, 1, 0x41n));
  assert.ok(cpu.idt.has(Vector.VE));
  assert.deepEqual(mock.trace(), ['#VE IO_INSTRUCTION', 'TDG.VP.VEINFO.GET', 'VMCALL Instruction.IO']);
});

test('OUT becomes Instruction.IO write with size, direction, port and the low bytes of RAX; RIP += 1', () => {
  const { mock, cpu } = run({}, (c) => c.out(0x3f8, 1, 0x41n));
  const r = mock.tdvmcalls()[0]!.request.regs;
  assert.deepEqual([r.R11, r.R12, r.R13, r.R14, r.R15], [30n, 1n, 1n, 0x3f8n, 0x41n]);
  assert.equal(cpu.rip, START + 1n);
  assert.deepEqual(mock.outcome, { kind: 'returned' });
});

test('IN merges the VMM value into RAX under the size mask; RIP advances by the 16-bit IN length', () => {
  const { mock, cpu, value } = run(replying({ R11: 0xdead_1234_5678n }), function* (c) {
    c.regs.set('RAX', 0xffff_ffff_ffff_0000n);
    return yield* c.in(0x60, 2);
  });
  const r = mock.tdvmcalls()[0]!.request.regs;
  assert.deepEqual([r.R11, r.R12, r.R13, r.R14, r.R15], [30n, 2n, 0n, 0x60n, 0n]);
  assert.equal(cpu.regs.get('RAX'), 0xffff_ffff_ffff_5678n, 'bits above AX keep their value');
  assert.equal(value, 0x5678n);
  assert.equal(cpu.rip, START + 2n);
});

test('a 4-byte IN takes exactly 32 bits of the VMM value', () => {
  const { cpu, value } = run(replying({ R11: 0x1_8765_4321n }), (c) => c.in(0xcfc, 4));
  assert.equal(value, 0x8765_4321n);
  assert.equal(cpu.regs.get('RAX'), 0x8765_4321n);
});

test('a refused IN is a guest fault naming the instruction', () => {
  const { mock } = run(replying({ R10: TdvmcallStatus.INVALID_OPERAND }), (c) => c.in(0x60, 1));
  assert.equal(panicMessage(mock), '#VE fault: IN port 0x60: VMM INVALID_OPERAND');
});

test('string I/O is refused', () => {
  const qual = IO_EXIT_QUAL.encode({ size_minus_1: 0, direction_in: 0, string: 1, port: 0x3f8 });
  const mock = new MockTdx({
    tdcall: { [TdcallLeaf.TDG_VP_VEINFO_GET.number]: () => ({ out: { RCX: 30n, RDX: qual, R8: 0n, R9: 0n, R10: 1n } }) },
  });
  mock.run((cpu) => createVeHandler({ sharedBit: SHARED })(cpu, Vector.VE, undefined));
  assert.equal(panicMessage(mock), '#VE fault: OUT port 0x3f8: string I/O is not supported');
  assert.equal(mock.tdvmcalls().filter((c) => c.name === 'Instruction.IO').length, 0);
});

test('HLT becomes Instruction.HLT with R12 = interrupts blocked; RIP += 1', () => {
  const blocked = run({}, (c) => c.hlt());
  assert.deepEqual([blocked.mock.tdvmcalls()[0]!.request.regs.R11, blocked.mock.tdvmcalls()[0]!.request.regs.R12], [12n, 1n]);
  assert.equal(blocked.cpu.rip, START + 1n);
  const open = run({}, function* (c) {
    c.interruptsEnabled = true;
    yield* c.hlt();
  });
  assert.equal(open.mock.tdvmcalls()[0]!.request.regs.R12, 0n);
});

test('RDMSR returns the VMM value in EDX:EAX; WRMSR sends EDX:EAX joined', () => {
  const rd = run(replying({ R11: 0x0000_0001_fee0_0900n }), (c) => c.rdmsr(0x1b));
  assert.equal(rd.value, 0x1_fee0_0900n);
  assert.equal(rd.cpu.regs.get('RAX'), 0xfee0_0900n);
  assert.equal(rd.cpu.regs.get('RDX'), 1n);
  assert.deepEqual([rd.mock.tdvmcalls()[0]!.request.regs.R11, rd.mock.tdvmcalls()[0]!.request.regs.R12], [31n, 0x1bn]);
  assert.equal(rd.cpu.rip, START + 2n);
  const wr = run({}, (c) => c.wrmsr(0x4b564d02, 0x1234_5678_9abc_def0n));
  const r = wr.mock.tdvmcalls()[0]!.request.regs;
  assert.deepEqual([r.R11, r.R12, r.R13], [32n, 0x4b564d02n, 0x1234_5678_9abc_def0n]);
  assert.equal(wr.cpu.rip, START + 2n);
  const refused = run(replying({ R10: TdvmcallStatus.INVALID_OPERAND }), (c) => c.rdmsr(0x10));
  assert.equal(panicMessage(refused.mock), '#VE fault: RDMSR 0x10: VMM INVALID_OPERAND');
});

test('CPUID in the hypervisor range is forwarded; the VMM values are cut to 32 bits', () => {
  const { mock, value, cpu } = run(replying({ R12: 0xffff_0000_4000_0001n, R13: 0x4b4d564bn, R14: 0x564b4d56n, R15: 0x4dn }), (c) =>
    c.cpuid(0x4000_0000, 0),
  );
  const r = mock.tdvmcalls()[0]!.request.regs;
  assert.deepEqual([r.R11, r.R12, r.R13], [10n, 0x40000000n, 0n]);
  assert.deepEqual(value, { eax: 0x4000_0001, ebx: 0x4b4d564b, ecx: 0x564b4d56, edx: 0x4d });
  assert.equal(cpu.regs.get('RAX'), 0x4000_0001n);
  assert.equal(cpu.rip, START + 2n);
});

test('CPUID outside the hypervisor range reads as zeros and is never asked of the VMM', () => {
  const { mock, value, cpu } = run({ cpuid: () => 've' }, function* (c) {
    c.regs.set('RBX', 0x77n);
    return yield* c.cpuid(0x8000_0002, 0);
  });
  assert.deepEqual(value, { eax: 0, ebx: 0, ecx: 0, edx: 0 });
  assert.deepEqual(mock.trace(), ['#VE CPUID', 'TDG.VP.VEINFO.GET']);
  assert.equal(cpu.rip, START + 2n);
});

test('CPUID is the one #VE user mode may have emulated', () => {
  const user = run({ cpuid: () => 've' }, function* (c) {
    c.cpl = 3;
    return yield* c.cpuid(7, 0);
  });
  assert.deepEqual(user.value, { eax: 0, ebx: 0, ecx: 0, edx: 0 });
  const hlt = run({}, function* (c) {
    c.cpl = 3;
    yield* c.hlt();
  });
  assert.equal(panicMessage(hlt.mock), '#VE fault: unexpected #VE in user mode, exit reason 12');
});

test('an MMIO load becomes #VE.RequestMMIO read and zero-extends into RAX; RIP += MOV length', () => {
  const gpa = SHARED | 0xfed0_0008n;
  const { mock, value, cpu } = run(replying({ R11: 0xffff_ffff_1234_5678n }), function* (c) {
    c.regs.set('RAX', 0xaaaa_aaaa_aaaa_aaaan);
    return yield* c.readValue(gpa, 4);
  });
  const r = mock.tdvmcalls()[0]!.request.regs;
  assert.deepEqual([r.R11, r.R12, r.R13, r.R14, r.R15], [48n, 4n, 0n, gpa, 0n]);
  assert.equal(value, 0x1234_5678n);
  assert.equal(cpu.regs.get('RAX'), 0x1234_5678n);
  assert.equal(cpu.rip, START + 3n);
  assert.deepEqual(mock.trace(), ['#VE EPT_VIOLATION', 'TDG.VP.VEINFO.GET', 'VMCALL #VE.RequestMMIO']);
});

test('an MMIO store sends the stored bytes', () => {
  const gpa = SHARED | 0xfed0_0010n;
  const { mock, cpu } = run({}, (c) => c.writeValue(gpa, 8, 0x0102_0304_0506_0708n));
  const r = mock.tdvmcalls()[0]!.request.regs;
  assert.deepEqual([r.R11, r.R12, r.R13, r.R14, r.R15], [48n, 8n, 1n, gpa, 0x0102_0304_0506_0708n]);
  assert.equal(cpu.rip, START + 3n);
  const one = run({}, (c) => c.writeValue(gpa, 1, 0x1ffn));
  assert.deepEqual([one.mock.tdvmcalls()[0]!.request.regs.R12, one.mock.tdvmcalls()[0]!.request.regs.R15], [1n, 0xffn]);
});

test('MMIO that crosses a page, or is wider than 8 bytes, is refused without asking the VMM', () => {
  const crossing = run({}, (c) => c.readValue(SHARED | 0xfed0_0ffen, 4));
  assert.equal(panicMessage(crossing.mock), '#VE fault: MMIO 0x8000fed00ffe: access crosses a page');
  const wide = run({}, (c) => c.read(SHARED | 0xfed0_0000n, 16));
  assert.equal(panicMessage(wide.mock), '#VE fault: MMIO 0x8000fed00000: bad size 16');
  for (const m of [crossing.mock, wide.mock]) assert.equal(m.tdvmcalls().filter((c) => c.name === '#VE.RequestMMIO').length, 0);
  const refused = run(replying({ R10: TdvmcallStatus.INVALID_OPERAND }), (c) => c.readValue(SHARED | 0x1000n, 2));
  assert.equal(panicMessage(refused.mock), '#VE fault: MMIO read 0x800000001000: VMM INVALID_OPERAND');
});

test('an EPT violation on a private GPA panics', () => {
  const { mock } = run({ privateVe: () => true }, (c) => c.readValue(0x20_0000n, 8));
  assert.deepEqual(mock.trace(), ['#VE EPT_VIOLATION', 'TDG.VP.VEINFO.GET', 'VMCALL ReportFatalError']);
  assert.equal(panicMessage(mock), 'unexpected EPT violation on private memory');
});

test('an exit reason the handler does not know is a guest fault', () => {
  const { mock } = run({}, (c) => c.vmcall());
  assert.equal(panicMessage(mock), `#VE fault: unexpected #VE, exit reason ${VmxExitReason.VMCALL}`);
});

test('getVeInfo decodes VEINFO.GET outputs', () => {
  const mock = new MockTdx({
    tdcall: {
      [TdcallLeaf.TDG_VP_VEINFO_GET.number]: () => ({
        out: { RCX: 0xffff_ffff_0000_001en, RDX: 0x3f80008n, R8: 0x11n, R9: 0x22n, R10: VEINFO_R10.encode({ instr_len: 2, instr_info: 9 }) },
      }),
    },
  });
  assert.deepEqual(mock.run(getVeInfo), {
    exitReason: 30,
    exitQualification: 0x3f80008n,
    gla: 0x11n,
    gpa: 0x22n,
    instructionLength: 2,
    instructionInfo: 9,
  });
});

test("the interrupted context is restored: the handler's TDCALLs and the VMM's reply do not leak into it", () => {
  const junk = { RDX: 1n, RBX: 2n, RSI: 3n, RDI: 4n, R8: 5n, R9: 6n, R10: 0n, R11: 8n, R12: 9n, R13: 10n, R14: 11n, R15: 12n };
  const { cpu } = run({ vmm: () => ({ regs: junk }) }, function* (c) {
    for (const [i, r] of (['RBX', 'RSI', 'RDI', 'R8', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15', 'RBP'] as const).entries()) {
      c.regs.set(r, 0x100n + BigInt(i));
    }
    yield* c.out(0x80, 1, 0x55n);
  });
  assert.deepEqual(
    (['RBX', 'RSI', 'RDI', 'R8', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15', 'RBP'] as const).map((r) => cpu.regs.get(r)),
    Array.from({ length: 12 }, (_, i) => 0x100n + BigInt(i)),
  );
  assert.equal(cpu.regs.get('RAX'), 0x55n, 'OUT leaves RAX alone');
  assert.equal(cpu.regs.get('RDX'), 0x80n, 'the port stays in DX');
  assert.equal(cpu.regs.get('RCX'), 0n, 'RCX is the interrupted value, not the TDVMCALL control word');
  assert.equal(cpu.rip, START + 1n);
});
