import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { GET_QUOTE_HEADER, GetQuoteStatus } from '../../src/abi/get-quote.ts';
import { OperandId, TdxStatus, withOperand } from '../../src/abi/status.ts';
import { TdcallLeaf } from '../../src/abi/tdcall-leaves.ts';
import { TcgEventType } from '../../src/abi/td-guest.ts';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';
import { tdreportOffset } from '../../src/abi/tdreport.ts';
import {
  AttestationUsageError,
  describeAttestationFailure,
  extendRtmr,
  getQuote,
  getReport,
  measureEvent,
} from '../../src/guest/attestation.ts';
import { replayRtmrs } from '../../src/guest/event-log.ts';
import { earlyInit, type GuestKernel } from '../../src/guest/kernel.ts';
import type { GuestGen } from '../../src/platform/guest-cpu.ts';
import { MockTdx, type MockConfig, type VmmReply, type VmmRequest } from '../helpers/mock-tdx.ts';

const HEAP = { gpa: 0x10_0000n, size: 0x4000n };
const SHARED = 1n << 47n;

/** Boot a kernel with a 4-page heap, then run `fn`; shared memory is plain memory (no MMIO). */
function withKernel<T>(config: MockConfig, fn: (k: GuestKernel) => GuestGen<T>) {
  const mock = new MockTdx({ mmio: () => false, ...config });
  let kernel: GuestKernel | undefined;
  const value = mock.run(function* (cpu) {
    kernel = yield* earlyInit(cpu, { heap: HEAP });
    mock.crossings.length = 0; // only what `fn` does
    mock.accepted.length = 0;
    return yield* fn(kernel);
  });
  return { mock, value, kernel: kernel! };
}

const REPORT_DATA = Uint8Array.from({ length: 64 }, (_, i) => i);

test('getReport: REPORTDATA at a 64-aligned GPA, TDREPORT into a 1024-aligned one; returns the 1024 bytes', () => {
  const { mock, value, kernel } = withKernel({}, (k) => getReport(k, REPORT_DATA));
  const [call] = mock.tdcalls();
  assert.deepEqual([call!.in.RAX, call!.in.RCX, call!.in.RDX, call!.in.R8], [4n, HEAP.gpa, HEAP.gpa + 1024n, 0n]);
  assert.deepEqual(mock.readBytes(HEAP.gpa + 1024n, 64), REPORT_DATA);
  assert.ok(value?.ok);
  assert.equal(value.report.length, 1024);
  assert.deepEqual(value.report, mock.readBytes(HEAP.gpa, 1024));
  const at = tdreportOffset('reportmacstruct', 'reportdata');
  assert.deepEqual(value.report.subarray(at, at + 64), REPORT_DATA);
  assert.equal(kernel.pages.freePages, 4, 'buffer page returned');
});

test('getReport: a module failure is returned in the module domain and the page is freed', () => {
  const status = withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.R8);
  const { value, kernel } = withKernel({ tdcall: { [TdcallLeaf.TDG_MR_REPORT.number]: () => ({ status }) } }, (k) => getReport(k, REPORT_DATA));
  assert.deepEqual(value, { ok: false, kind: 'module', leaf: 'TDG.MR.REPORT', status: 0xc000010000000008n });
  assert.equal(describeAttestationFailure(value as never), 'TDG.MR.REPORT: status 0xc000010000000008');
  assert.equal(kernel.pages.freePages, 4);
});

test('getReport refuses REPORTDATA that is not 64 bytes; no heap means no_memory', () => {
  assert.throws(() => withKernel({}, (k) => getReport(k, new Uint8Array(63))), AttestationUsageError);
  const mock = new MockTdx();
  const res = mock.run(function* (cpu) {
    return yield* getReport(yield* earlyInit(cpu), REPORT_DATA);
  });
  assert.deepEqual(res, { ok: false, kind: 'no_memory' });
});

test('extendRtmr: 48 bytes from a 64-aligned private GPA into RTMR[index]; the event is logged', () => {
  const data48 = new Uint8Array(48).fill(0xab);
  const { mock, value, kernel } = withKernel({}, (k) => extendRtmr(k, 3, data48, { eventType: TcgEventType.EV_EVENT_TAG, data: Uint8Array.of(9) }));
  const [call] = mock.tdcalls();
  assert.deepEqual([call!.in.RAX, call!.in.RCX, call!.in.RDX], [2n, HEAP.gpa, 3n]);
  assert.ok(value?.ok);
  assert.equal(value.event.rtmrIndex, 3);
  assert.equal(value.event.digest, 'ab'.repeat(48));
  assert.equal(value.event.data, '09');
  assert.deepEqual(kernel.eventLog.events, [value.event]);
  assert.deepEqual(new Uint8Array(mock.rtmr[3]!), replayRtmrs(kernel.eventLog.events)[3]);
});

test('extendRtmr: a refused extend is not logged', () => {
  const { value, kernel } = withKernel({}, (k) => extendRtmr(k, 4, new Uint8Array(48), { eventType: 0, data: new Uint8Array() }));
  assert.deepEqual(value, { ok: false, kind: 'module', leaf: 'TDG.MR.RTMR.EXTEND', status: 0xc000010000000002n });
  assert.equal(kernel.eventLog.events.length, 0);
  assert.equal(kernel.pages.freePages, 4);
  assert.throws(() => withKernel({}, (k) => extendRtmr(k, 0, new Uint8Array(47), { eventType: 0, data: new Uint8Array() })), AttestationUsageError);
});

test('measureEvent extends SHA-384 of the data', () => {
  const data = new TextEncoder().encode('app v1');
  const { value, mock } = withKernel({}, (k) => measureEvent(k, 2, TcgEventType.EV_IPL, data));
  assert.ok(value?.ok);
  assert.equal(value.event.digest, createHash('sha384').update(data).digest('hex'));
  assert.deepEqual(mock.readBytes(HEAP.gpa, 48), new Uint8Array(createHash('sha384').update(data).digest()));
});

const REPORT = new Uint8Array(1024).fill(0x5c);
const QUOTE = Uint8Array.from({ length: 5000 }, (_, i) => i & 0xff);

/** A VMM whose quote service answers GetQuote by writing `status`, `out_len` and the quote. */
function quoteVmm(status: bigint, quote = QUOTE, outLen = quote.length, also: Partial<Record<string, (r: VmmRequest) => VmmReply>> = {}) {
  return (req: VmmRequest, m: MockTdx): VmmReply => {
    if (req.subfunction === 0x10002n) {
      const gpa = req.regs.R12;
      m.writeBytes(gpa + 8n, GET_QUOTE_HEADER.encode({ status }).subarray(8, 16));
      m.writeBytes(gpa + 20n, Uint8Array.of(outLen & 0xff, (outLen >> 8) & 0xff, 0, 0));
      m.writeBytes(gpa + 24n, quote);
    }
    const name = req.subfunction === 0x10001n ? 'MapGPA' : req.subfunction === 0x10002n ? 'GetQuote' : '';
    return also[name]?.(req) ?? {};
  };
}

test('getQuote: shared buffer with header and report, GetQuote, poll, read, back to private', () => {
  const { mock, value, kernel } = withKernel({ vmm: quoteVmm(GetQuoteStatus.GET_QUOTE_SUCCESS) }, (k) => getQuote(k, REPORT));
  assert.ok(value?.ok, JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v)));
  assert.deepEqual(value.quote, QUOTE);
  assert.deepEqual(mock.trace(), ['VMCALL MapGPA', 'VMCALL GetQuote', 'VMCALL MapGPA', 'TDG.MEM.PAGE.ACCEPT', 'TDG.MEM.PAGE.ACCEPT']);
  const [toShared, quote, toPrivate] = mock.tdvmcalls().map((c) => c.request.regs);
  assert.deepEqual([toShared!.R12, toShared!.R13], [SHARED | HEAP.gpa, 0x2000n]);
  assert.deepEqual([quote!.R12, quote!.R13], [SHARED | HEAP.gpa, 0x2000n]);
  assert.deepEqual([toPrivate!.R12, toPrivate!.R13], [HEAP.gpa, 0x2000n]);
  const header = GET_QUOTE_HEADER.decode(mock.readBytes(SHARED | HEAP.gpa, 24));
  assert.equal(header.version, 1n);
  assert.equal(header.in_len, 1024);
  assert.deepEqual(mock.readBytes((SHARED | HEAP.gpa) + 24n, 1024).subarray(0, 1000), QUOTE.subarray(0, 1000));
  assert.equal(kernel.pages.freePages, 4);
});

test('getQuote: what the guest wrote before GetQuote is version 1, status 0, in_len 1024, out_len 0, then the report', () => {
  let seen: Uint8Array | undefined;
  const vmm = (req: VmmRequest, m: MockTdx): VmmReply => {
    if (req.subfunction !== 0x10002n) return {};
    seen = m.readBytes(req.regs.R12, 24 + 1024);
    return { regs: { R10: TdvmcallStatus.INVALID_OPERAND } };
  };
  const { value } = withKernel({ vmm }, (k) => getQuote(k, REPORT));
  assert.deepEqual(GET_QUOTE_HEADER.decode(seen!), { version: 1n, status: 0n, in_len: 1024, out_len: 0 });
  assert.deepEqual(seen!.subarray(24), REPORT);
  assert.deepEqual(value, { ok: false, kind: 'vmm', status: 0x8000000000000000n, statusName: 'INVALID_OPERAND' });
});

test('getQuote: the quote service error status comes back typed', () => {
  const { value, kernel } = withKernel({ vmm: quoteVmm(GetQuoteStatus.GET_QUOTE_SERVICE_UNAVAILABLE, new Uint8Array(), 0) }, (k) => getQuote(k, REPORT));
  assert.deepEqual(value, { ok: false, kind: 'quote', status: 0x8000000000000001n, statusName: 'GET_QUOTE_SERVICE_UNAVAILABLE' });
  assert.equal(describeAttestationFailure(value as never), 'GetQuote: GET_QUOTE_SERVICE_UNAVAILABLE');
  assert.equal(kernel.pages.freePages, 4, 'buffer converted back and freed');
});

test('getQuote: polls while in flight, gives up after maxPolls', () => {
  let reads = 0;
  const flip = (gpa: bigint, size: number, m: MockTdx) => {
    if (size === 24 && (gpa & SHARED) !== 0n && ++reads === 3) m.writeBytes(gpa + 8n, new Uint8Array(8)); // done on the third poll
  };
  const slow = withKernel({ vmm: quoteVmm(GetQuoteStatus.GET_QUOTE_IN_FLIGHT, QUOTE.subarray(0, 10)), onLoad: flip }, (k) => getQuote(k, REPORT));
  assert.ok(slow.value?.ok);
  assert.equal(reads, 3);
  assert.deepEqual(slow.value.quote, QUOTE.subarray(0, 10));
  const never = withKernel({ vmm: quoteVmm(GetQuoteStatus.GET_QUOTE_IN_FLIGHT) }, (k) => getQuote(k, REPORT, { maxPolls: 5 }));
  assert.deepEqual(never.value, { ok: false, kind: 'timeout', polls: 5 });
});

test('getQuote: a quote length beyond the buffer is refused (untrusted shared memory)', () => {
  const { value } = withKernel({ vmm: quoteVmm(GetQuoteStatus.GET_QUOTE_SUCCESS, QUOTE, 8192 - 23) }, (k) => getQuote(k, REPORT));
  assert.deepEqual(value, { ok: false, kind: 'bad_quote_length', outLen: 8169, max: 8168 });
});

test('getQuote: a buffer that cannot be made shared is retired, never reused', () => {
  const { value, kernel, mock } = withKernel(
    { vmm: quoteVmm(0n, QUOTE, QUOTE.length, { MapGPA: () => ({ regs: { R10: TdvmcallStatus.INVALID_OPERAND } }) }) },
    (k) => getQuote(k, REPORT),
  );
  assert.equal(value?.ok, false);
  assert.equal(!value?.ok && value?.kind, 'memory');
  assert.equal(kernel.pages.freePages, 2);
  assert.deepEqual(mock.trace(), ['VMCALL MapGPA']);
});

test('getQuote: if the buffer cannot be made private again the quote is kept and the pages retired', () => {
  let maps = 0;
  const { value, kernel } = withKernel(
    { vmm: quoteVmm(0n, QUOTE, QUOTE.length, { MapGPA: () => (++maps === 2 ? { regs: { R10: TdvmcallStatus.INVALID_OPERAND } } : {}) }) },
    (k) => getQuote(k, REPORT),
  );
  assert.ok(value?.ok);
  assert.equal(kernel.pages.freePages, 2);
  assert.deepEqual(kernel.warnings, ['GetQuote buffer not converted back: MapGPA 0x100000: VMM INVALID_OPERAND']);
});

test('getQuote refuses a report that is not 1024 bytes', () => {
  assert.throws(() => withKernel({}, (k) => getQuote(k, new Uint8Array(10))), AttestationUsageError);
});
