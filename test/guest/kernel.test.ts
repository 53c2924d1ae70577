import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metadataFieldByName } from '../../src/abi/metadata.ts';
import { TdcallLeaf } from '../../src/abi/tdcall-leaves.ts';
import { TdxStatus } from '../../src/abi/status.ts';
import { Vector } from '../../src/abi/vmx.ts';
import { earlyInit, haltForever } from '../../src/guest/kernel.ts';
import { DEFAULT_ATTRIBUTES, MockTdx, tdMetadata, type MockConfig } from '../helpers/mock-tdx.ts';

const DEBUG = 1n;
const SEPT_VE_DISABLE = 1n << 28n;
const FLEXIBLE_PENDING_VE = 2n;
const id = (name: string) => metadataFieldByName(name)!.id;

function boot(config: MockConfig, options: Parameters<typeof earlyInit>[1] = {}) {
  const mock = new MockTdx({
    metadata: tdMetadata({ CONFIG_FLAGS: 0n, TD_CTLS: 0n, NOTIFY_ENABLES: 1n }),
    ...config,
  });
  const kernel = mock.run((cpu) => earlyInit(cpu, options));
  return { mock, kernel };
}
const panicMessage = (mock: MockTdx) => (mock.outcome?.kind === 'panic' ? mock.outcome.panic.message : undefined);

test('early init: CPUID(0x21), VP.INFO, NOTIFY_ENABLES = 0, SEPT policy, #VE handler', () => {
  const { mock, kernel } = boot({ gpaw: 52, vcpuIndex: 2n, numVcpus: 3n, maxVcpus: 4n });
  assert.ok(kernel);
  assert.deepEqual(mock.trace(), ['TDG.VP.INFO', 'TDG.VM.WR', 'TDG.VM.RD']);
  assert.equal(mock.crossings[0]!.kind, 'op', 'CPUID(0x21) first, answered by the module');
  const [, wr, rd] = mock.tdcalls();
  assert.deepEqual([wr!.in.RAX, wr!.in.RCX, wr!.in.RDX, wr!.in.R8, wr!.in.R9], [8n, 0n, id('NOTIFY_ENABLES'), 0n, 0xffff_ffff_ffff_ffffn]);
  assert.equal(mock.metadata.get(id('NOTIFY_ENABLES')), 0n);
  assert.deepEqual([rd!.in.RAX, rd!.in.RDX], [7n, id('CONFIG_FLAGS')]);
  assert.equal(kernel.gpaw, 52);
  assert.equal(kernel.sharedBit, 1n << 51n);
  assert.deepEqual([kernel.vcpuIndex, kernel.numVcpus, kernel.maxVcpus], [2, 3, 4]);
  assert.equal(kernel.attributes, DEFAULT_ATTRIBUTES);
  assert.equal(kernel.debug, false);
  assert.deepEqual(kernel.warnings, []);
  assert.ok(mock.cpu.idt.has(Vector.VE));
  assert.equal(kernel.pages.freePages, 0, 'no heap: no pages');
});

test('the installed #VE handler uses the shared bit from GPAW', () => {
  const mock = new MockTdx({ gpaw: 52, privateVe: () => true });
  mock.run(function* (cpu) {
    yield* earlyInit(cpu);
    yield* cpu.readValue((1n << 51n) | 0x1000n, 4); // shared for GPAW 52: MMIO
    yield* cpu.readValue((1n << 47n) | 0x1000n, 4); // private for GPAW 52: EPT violation → panic
  });
  assert.deepEqual(
    mock.tdvmcalls().map((c) => c.name),
    ['#VE.RequestMMIO', 'ReportFatalError'],
  );
  assert.equal(mock.outcome?.kind === 'panic' && mock.outcome.panic.message, 'unexpected EPT violation on private memory');
});

test('a CPU without the TDX CPUID signature is not a TD: panic', () => {
  const { mock, kernel } = boot({ cpuid: () => ({ eax: 0, ebx: 0, ecx: 0, edx: 0 }) });
  assert.equal(kernel, undefined);
  assert.equal(panicMessage(mock), 'CPUID(0x21) has no TDX signature: not a TD');
  assert.deepEqual(mock.trace(), ['VMCALL ReportFatalError']);
});

test('TDG.VP.INFO failing is a module bug: panic', () => {
  const { mock } = boot({ tdcall: { [TdcallLeaf.TDG_VP_INFO.number]: () => ({ status: TdxStatus.TDX_OPERAND_INVALID }) } });
  assert.equal(panicMessage(mock), 'TDG.VP.INFO failed 0xC000010000000000: TDX module bug?');
});

test('a production TD with neither SEPT_VE_DISABLE nor FLEXIBLE_PENDING_VE panics', () => {
  const { mock } = boot({ attributes: 0n });
  assert.equal(panicMessage(mock), 'SEPT #VE must be disabled in a production TD');
  // A refused CONFIG_FLAGS read counts as no flags: the same strict outcome.
  const refused = boot({ attributes: 0n, metadata: new Map() });
  assert.equal(panicMessage(refused.mock), 'SEPT #VE must be disabled in a production TD');
});

test('a debug TD without SEPT_VE_DISABLE only gets a warning', () => {
  const { mock, kernel } = boot({ attributes: DEBUG });
  assert.equal(mock.outcome?.kind, 'returned');
  assert.equal(kernel?.debug, true);
  assert.deepEqual(kernel?.warnings, ['SEPT #VE must be disabled in a production TD (debug TD: continuing)']);
});

test('with FLEXIBLE_PENDING_VE the guest sets TD_CTLS.PENDING_VE_DISABLE itself', () => {
  const { mock } = boot({ attributes: 0n, metadata: tdMetadata({ CONFIG_FLAGS: FLEXIBLE_PENDING_VE, TD_CTLS: 0n, NOTIFY_ENABLES: 0n }) });
  assert.deepEqual(mock.trace(), ['TDG.VP.INFO', 'TDG.VM.WR', 'TDG.VM.RD', 'TDG.VM.RD', 'TDG.VM.WR']);
  const wr = mock.tdcalls().at(-1)!;
  assert.deepEqual([wr.in.RDX, wr.in.R8, wr.in.R9], [id('TD_CTLS'), 1n, 1n]);
  assert.equal(mock.metadata.get(id('TD_CTLS')), 1n);
});

test('with FLEXIBLE_PENDING_VE: no write if already disabled, or on a debug TD', () => {
  const already = boot({ metadata: tdMetadata({ CONFIG_FLAGS: FLEXIBLE_PENDING_VE, TD_CTLS: 1n, NOTIFY_ENABLES: 0n }) });
  assert.deepEqual(already.mock.trace(), ['TDG.VP.INFO', 'TDG.VM.WR', 'TDG.VM.RD', 'TDG.VM.RD']);
  const debug = boot({ attributes: DEBUG, metadata: tdMetadata({ CONFIG_FLAGS: FLEXIBLE_PENDING_VE, TD_CTLS: 0n, NOTIFY_ENABLES: 0n }) });
  assert.deepEqual(debug.mock.trace(), ['TDG.VP.INFO', 'TDG.VM.WR', 'TDG.VM.RD', 'TDG.VM.RD']);
  assert.equal(debug.mock.metadata.get(id('TD_CTLS')), 0n);
});

test('a refused TD_CTLS write panics (stricter than Linux, which ignores it)', () => {
  const { mock } = boot({
    attributes: SEPT_VE_DISABLE,
    metadata: tdMetadata({ CONFIG_FLAGS: FLEXIBLE_PENDING_VE, NOTIFY_ENABLES: 0n, TD_CTLS: 0n }),
    tdcall: {
      [TdcallLeaf.TDG_VM_WR.number]: (regs) =>
        regs.get('RDX') === id('TD_CTLS') ? { status: TdxStatus.TDX_METADATA_FIELD_NOT_WRITABLE } : undefined,
    },
  });
  assert.equal(panicMessage(mock), 'TD_CTLS.PENDING_VE_DISABLE write failed 0xC0000C0100000000');
});

test('the heap is accepted and becomes the page pool', () => {
  const { mock, kernel } = boot({}, { heap: { gpa: 0x10_0000n, size: 0x3000n } });
  assert.deepEqual(mock.accepted, [
    { gpa: 0x10_0000n, level: 0 },
    { gpa: 0x10_1000n, level: 0 },
    { gpa: 0x10_2000n, level: 0 },
  ]);
  assert.equal(kernel?.pages.freePages, 3);
  assert.equal(kernel?.pages.alloc(), 0x10_0000n);
});

test('a heap that cannot be accepted panics with the reason', () => {
  const { mock } = boot(
    { tdcall: { [TdcallLeaf.TDG_MEM_PAGE_ACCEPT.number]: () => ({ status: TdxStatus.TDX_OPERAND_BUSY }) } },
    { heap: { gpa: 0x10_0000n, size: 0x1000n } },
  );
  assert.equal(panicMessage(mock), 'heap: accept 0x100000 level 0: status 0x8000020000000000');
});

test('haltForever issues HLT with interrupts blocked again whenever the VMM resumes the guest', () => {
  let halts = 0;
  const mock = new MockTdx({ vmm: () => (++halts < 3 ? {} : { stop: true }) });
  mock.run(haltForever);
  const calls = mock.tdvmcalls();
  assert.equal(calls.length, 3);
  for (const c of calls) assert.deepEqual([c.request.regs.R11, c.request.regs.R12], [12n, 1n]);
});
