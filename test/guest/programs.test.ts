import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FirmwareCatalogue } from '../../src/platform/boot-image.ts';
import { GET_QUOTE_HEADER } from '../../src/abi/get-quote.ts';
import { MmioTestReg } from '../../src/abi/pc-devices.ts';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';
import { guestProgram, GuestProgramArgsError, parseProgramArgs, registerGuestPrograms } from '../../src/guest/programs/index.ts';
import { createHash } from 'node:crypto';
import { mmioProbe } from '../../src/guest/programs/mmio-probe.ts';
import { demo } from '../../src/guest/programs/demo.ts';
import { MockTdx, tdMetadata, type MockConfig, type VmmReply, type VmmRequest } from '../helpers/mock-tdx.ts';

const catalogue = new FirmwareCatalogue();
registerGuestPrograms(catalogue);

const HLT = 12n;
/** Stop the run at the clean halt (HLT with interrupts blocked); otherwise `vmm`, else SUCCESS. */
function untilHalt(vmm?: (req: VmmRequest, m: MockTdx) => VmmReply) {
  return (req: VmmRequest, m: MockTdx): VmmReply =>
    req.callType === 0n && req.subfunction === HLT && req.regs.R12 === 1n ? { stop: true } : (vmm?.(req, m) ?? {});
}

function runProgram(name: string, args: unknown, config: MockConfig = {}) {
  const program = catalogue.resolve({ program: name, args });
  assert.ok(program, `${name} resolves`);
  const mock = new MockTdx({
    metadata: tdMetadata({ CONFIG_FLAGS: 0n, TD_CTLS: 0n, NOTIFY_ENABLES: 1n }),
    ...config,
    vmm: untilHalt(config.vmm),
  });
  mock.run(program);
  return mock;
}

/** The crossings without the console's #VE/VEINFO.GET/IO triples. */
const withoutConsole = (mock: MockTdx) =>
  mock.trace().filter((t) => t !== '#VE IO_INSTRUCTION' && t !== 'TDG.VP.VEINFO.GET' && t !== 'VMCALL Instruction.IO');
const EARLY_INIT = ['TDG.VP.INFO', 'TDG.VM.WR', 'TDG.VM.RD'];
const lastHalt = (mock: MockTdx) => mock.tdvmcalls().at(-1)!.request.regs;

test('registerGuestPrograms registers the catalogue', () => {
  assert.deepEqual(catalogue.names(), ['cpuid-msr', 'demo', 'hello', 'idle', 'io-echo', 'mmio-probe', 'panic']);
  assert.equal(guestProgram('demo')?.name, 'demo');
  assert.equal(guestProgram('nope'), undefined);
});

test('argument validation: each program refuses what its schema does not allow', () => {
  const refused: [string, unknown][] = [
    ['hello', { message: 'x'.repeat(201) }],
    ['hello', { colour: 'red' }],
    ['idle', { x: 1 }],
    ['panic', { message: 'é'.repeat(33) }],
    ['panic', { code: 2 ** 31 }],
    ['panic', { code: -1 }],
    ['demo', { heap: { gpa: 0x1001, size: 4096 } }],
    ['demo', { accept: { gpa: 0, size: 0 } }],
    ['demo', { reportData: '00'.repeat(65) }],
    ['demo', { reportData: 'xyz' }],
    ['demo', { quotePages: 0 }],
    ['mmio-probe', {}],
    ['mmio-probe', { gpa: '0x1001' }],
    ['mmio-probe', { gpa: 4096, ops: [{ op: 'read', offset: 0, size: 3 }] }],
    ['mmio-probe', { gpa: 4096, ops: [{ op: 'read', offset: 4092, size: 8 }] }],
    ['mmio-probe', { gpa: 4096, ops: [{ op: 'write', offset: 0, size: 8 }] }],
    ['mmio-probe', { gpa: '0x1_0000_0000_0000_0000' }],
    ['io-echo', { inPort: 65536 }],
    ['io-echo', { size: 3 }],
    ['io-echo', { count: 0 }],
    ['cpuid-msr', { cpuid: [{ leaf: 2 ** 32 }] }],
    ['cpuid-msr', { wrmsr: [{ msr: 1, value: -1 }] }],
  ];
  for (const [name, args] of refused) {
    assert.equal(catalogue.resolve({ program: name, args }), undefined, `${name} ${JSON.stringify(args)}`);
    assert.throws(() => parseProgramArgs(guestProgram(name)!, args), GuestProgramArgsError);
  }
  assert.throws(() => parseProgramArgs(guestProgram('io-echo')!, { size: 3 }), /guest program io-echo: .*size/s);
  for (const name of catalogue.names().filter((n) => n !== 'mmio-probe')) {
    assert.ok(catalogue.resolve({ program: name, args: null }), `${name} runs with no arguments`);
  }
  assert.deepEqual(parseProgramArgs(mmioProbe, { gpa: '0xfed00000' }).gpa, 0xfed00000n);
  assert.deepEqual(parseProgramArgs(demo, { reportData: '0x0102' }).reportData, Uint8Array.of(1, 2));
});

test('hello: early init, the message on COM1, then HLT with interrupts blocked', () => {
  const mock = runProgram('hello', { message: 'hi TD' });
  assert.deepEqual(withoutConsole(mock), [...EARLY_INIT, 'VMCALL Instruction.HLT']);
  assert.equal(mock.serialOutput(), 'hi TD\n');
  assert.deepEqual([lastHalt(mock).R11, lastHalt(mock).R12], [12n, 1n]);
  assert.deepEqual(mock.outcome, { kind: 'stopped' });
});

test('idle: the HLT instruction traps (#VE) and becomes TDVMCALL<HLT>, forever', () => {
  let halts = 0;
  const program = catalogue.resolve({ program: 'idle', args: {} })!;
  const mock = new MockTdx({ metadata: tdMetadata({ CONFIG_FLAGS: 0n, NOTIFY_ENABLES: 0n }), vmm: () => (++halts < 3 ? {} : { stop: true }) });
  mock.run(program);
  assert.deepEqual(mock.trace(), [
    ...EARLY_INIT,
    ...Array.from({ length: 3 }, () => ['#VE HLT', 'TDG.VP.VEINFO.GET', 'VMCALL Instruction.HLT']).flat(),
  ]);
  assert.ok(mock.tdvmcalls().every((c) => c.request.regs.R12 === 1n));
});

test('panic: a ReportFatalError with the message and code', () => {
  const mock = runProgram('panic', { message: 'boom', code: 42 });
  assert.deepEqual(mock.trace(), [...EARLY_INIT, 'VMCALL ReportFatalError']);
  assert.deepEqual(mock.outcome, { kind: 'panic', panic: { errorCode: 42n << 32n, tdSpecificCode: 42n, message: 'boom' } });
});

test('mmio-probe: each access is #VE → #VE.RequestMMIO at the shared GPA, each result printed', () => {
  const device = 0xfed0_0000n;
  const shared = (1n << 47n) | device;
  const mmio = (req: VmmRequest): VmmReply => {
    if (req.subfunction !== 48n || req.regs.R13 !== 0n) return {};
    const off = req.regs.R14 - shared;
    return { regs: { R11: off === BigInt(MmioTestReg.ID) ? 0x4f494d4953584454n : off === BigInt(MmioTestReg.COUNTER) ? 0xffff_0001n : 0x7n } };
  };
  const mock = runProgram('mmio-probe', { gpa: '0xfed00000' }, { vmm: mmio });
  const calls = mock.tdvmcalls().filter((c) => c.name === '#VE.RequestMMIO').map((c) => [c.request.regs.R12, c.request.regs.R13, c.request.regs.R14 - shared, c.request.regs.R15]);
  assert.deepEqual(calls, [
    [8n, 0n, 0x0n, 0n],
    [8n, 1n, 0x8n, 0x2168637461726373n], // "scratch!" little-endian
    [8n, 0n, 0x8n, 0n],
    [4n, 0n, 0x10n, 0n],
    [4n, 1n, 0x18n, 1n],
  ]);
  assert.equal(
    mock.serialOutput(),
    [
      'mmio read +0x0/8 = 0x4f494d4953584454',
      'mmio write +0x8/8 = 0x2168637461726373',
      'mmio read +0x8/8 = 0x7',
      'mmio read +0x10/4 = 0xffff0001',
      'mmio write +0x18/4 = 0x1',
      '',
    ].join('\n'),
  );
  assert.deepEqual(mock.outcome, { kind: 'stopped' });
});

test('io-echo: IN from one port, OUT of the same value to another', () => {
  let n = 0x40n;
  const vmm = (req: VmmRequest): VmmReply => (req.subfunction === 30n && req.regs.R13 === 0n ? { regs: { R11: ++n } } : {});
  const mock = runProgram('io-echo', { inPort: 0x60, outPort: 0x3f8, size: 2, count: 2 }, { vmm });
  const io = mock.tdvmcalls().filter((c) => c.name === 'Instruction.IO').map((c) => [c.request.regs.R12, c.request.regs.R13, c.request.regs.R14, c.request.regs.R15]);
  assert.deepEqual(io, [
    [2n, 0n, 0x60n, 0n],
    [2n, 1n, 0x3f8n, 0x41n],
    [2n, 0n, 0x60n, 0n],
    [2n, 1n, 0x3f8n, 0x42n],
  ]);
  assert.deepEqual(mock.outcome, { kind: 'stopped' });
});

test('cpuid-msr: module leaves answered in place, hypervisor leaves forwarded, others zero; MSRs via the VMM', () => {
  const cpuid = (leaf: number) => (leaf === 0 ? { eax: 0x23, ebx: 1, ecx: 2, edx: 3 } : leaf === 0x21 ? { eax: 0, ebx: 0x65746e49, ecx: 0x20202020, edx: 0x5844546c } : ('ve' as const));
  const vmm = (req: VmmRequest): VmmReply => {
    if (req.subfunction === 10n) return { regs: { R12: 0x4000_0001n, R13: 0x4b4d564bn, R14: 0x564b4d56n, R15: 0x4dn } };
    if (req.subfunction === 31n) return { regs: { R11: 0xfee0_0900n + req.regs.R12 } };
    return {};
  };
  const mock = runProgram(
    'cpuid-msr',
    { cpuid: [{ leaf: 0 }, { leaf: 0x21 }, { leaf: 0x40000000 }, { leaf: 7, subleaf: 1 }], rdmsr: [0x1b], wrmsr: [{ msr: 0x4b564d05, value: '0x1' }] },
    { cpuid, vmm },
  );
  assert.deepEqual(
    mock.tdvmcalls().filter((c) => c.name !== 'Instruction.IO').map((c) => [c.name, c.request.regs.R12, c.request.regs.R13]),
    [
      ['Instruction.CPUID', 0x40000000n, 0n],
      ['Instruction.RDMSR', 0x1bn, 0n],
      ['Instruction.WRMSR', 0x4b564d05n, 1n],
      ['Instruction.HLT', 1n, 0n],
    ],
  );
  assert.equal(
    mock.serialOutput(),
    [
      'cpuid 0x0.0 = 0x23 0x1 0x2 0x3',
      'cpuid 0x21.0 = 0x0 0x65746e49 0x20202020 0x5844546c',
      'cpuid 0x40000000.0 = 0x40000001 0x4b4d564b 0x564b4d56 0x4d',
      'cpuid 0x7.1 = 0x0 0x0 0x0 0x0',
      'rdmsr 0x1b = 0xfee0091b',
      'wrmsr 0x4b564d05 = 0x1',
      '',
    ].join('\n'),
  );
});

/** A VMM with a quote service that answers GetQuote at once with `quote`. */
function quoteService(quote: Uint8Array, refuse = false) {
  return (req: VmmRequest, m: MockTdx): VmmReply => {
    if (req.subfunction !== 0x10002n) return {};
    if (refuse) return { regs: { R10: TdvmcallStatus.SUBFUNC_UNSUPPORTED } };
    const header = GET_QUOTE_HEADER.encode({ version: 1n, status: 0n, in_len: 1024, out_len: quote.length });
    m.writeBytes(req.regs.R12, header);
    m.writeBytes(req.regs.R12 + 24n, quote);
    return {};
  };
}

test('demo: the whole story, in order, ending in a clean halt', () => {
  const mock = runProgram('demo', { reportData: 'cafe' }, { mmio: () => false, vmm: quoteService(new Uint8Array(600).fill(1)) });
  const heapAccepts = 64; // 256 KiB heap at 1 MiB: 4K pages
  assert.deepEqual(withoutConsole(mock), [
    ...EARLY_INIT,
    ...Array.from({ length: heapAccepts }, () => 'TDG.MEM.PAGE.ACCEPT'),
    'TDG.MEM.PAGE.ACCEPT', // the 2 MiB range at 2 MiB: one 2M accept (1G does not fit)
    'VMCALL MapGPA', // page to shared
    'VMCALL MapGPA', // and back
    'TDG.MEM.PAGE.ACCEPT',
    'TDG.MR.RTMR.EXTEND',
    'TDG.MR.REPORT',
    'VMCALL MapGPA', // GetQuote buffer to shared
    'VMCALL GetQuote',
    'VMCALL MapGPA',
    'TDG.MEM.PAGE.ACCEPT',
    'TDG.MEM.PAGE.ACCEPT',
    'VMCALL Instruction.HLT',
  ]);
  assert.deepEqual(mock.accepted[heapAccepts], { gpa: 0x20_0000n, level: 1 });
  const lines = mock.serialOutput().split('\n');
  assert.deepEqual(lines.slice(0, 3), ['tdxsim demo: vCPU 0 of 1, GPAW 48', 'accepted 0x200000 bytes at 0x200000', 'page 0x100000 converted to shared and back']);
  assert.match(lines[3]!, /^RTMR2 extended with [0-9a-f]{16}\.\.\.$/);
  assert.deepEqual(lines.slice(4), ['TDREPORT carries our REPORTDATA and the logged RTMR2', 'quote: 600 bytes', 'demo done', '']);
  const extend = mock.tdcalls().find((c) => c.name === 'TDG.MR.RTMR.EXTEND')!;
  assert.equal(extend.in.RDX, 2n);
  const reportCall = mock.tdcalls().find((c) => c.name === 'TDG.MR.REPORT')!;
  assert.deepEqual(mock.readBytes(reportCall.in.RDX, 64), Uint8Array.from([0xca, 0xfe, ...new Uint8Array(62)]));
  const digest = createHash('sha384').update('tdxsim demo: measured event').digest();
  assert.equal(lines[3], `RTMR2 extended with ${digest.subarray(0, 8).toString('hex')}...`);
  const expected = createHash('sha384').update(new Uint8Array(48)).update(digest).digest();
  assert.deepEqual(Buffer.from(mock.rtmr[2]!), expected);
  assert.deepEqual(mock.outcome, { kind: 'stopped' });
});

test('demo: a failing step ends in ReportFatalError naming it', () => {
  const refused = runProgram('demo', {}, { mmio: () => false, vmm: quoteService(new Uint8Array(), true) });
  assert.deepEqual(refused.outcome, { kind: 'panic', panic: { errorCode: 0n, tdSpecificCode: 0n, message: 'demo quote: GetQuote: VMM SUBFUNC_UNSUPPORTED' } });
  const noShare = runProgram('demo', {}, { vmm: (req) => (req.subfunction === 0x10001n ? { regs: { R10: TdvmcallStatus.INVALID_OPERAND } } : {}) });
  assert.equal(noShare.outcome?.kind === 'panic' && noShare.outcome.panic.message, 'demo to shared: MapGPA 0x800000100000: VMM INVALID_OPERAND');
  const noQuote = runProgram('demo', { quote: false }, { mmio: () => false });
  assert.ok(!noQuote.tdvmcalls().some((c) => c.name === 'GetQuote'));
  assert.match(noQuote.serialOutput(), /demo done\n$/);
});
