import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { GET_QUOTE_HEADER, GetQuoteStatus } from '../../../src/abi/get-quote.ts';
import { TDREPORT_STRUCT_SIZE, tdreportOffset } from '../../../src/abi/tdreport.ts';
import { TdvmcallStatus } from '../../../src/abi/tdvmcall-status.ts';
import {
  serveGetQuote,
  SimulatedQuoteService,
  SIMULATED_QUOTE_HEADER_BYTES,
  SIMULATED_QUOTE_MAGIC,
  unwrapSimulatedQuote,
  type QuoteService,
} from '../../../src/host/userspace/quote-service.ts';
import { hostEnv } from '../host-env.ts';

const env = hostEnv();
const vm = env.host.createVm({ memorySize: 16n << 20n });
const BUF = 0x10_0000n;
vm.setMemoryAttributes(BUF, 0x8000n, false);
after(() => vm.destroy());

function report(): Uint8Array {
  const r = new Uint8Array(TDREPORT_STRUCT_SIZE);
  for (let i = 0; i < r.length; i++) r[i] = i & 0xff;
  r.fill(0xaa, tdreportOffset('tdinfo', 'rtmr2'), tdreportOffset('tdinfo', 'rtmr2') + 48);
  return r;
}

function request(opts: { version?: bigint; inLen?: number; body?: Uint8Array } = {}): void {
  const body = opts.body ?? report();
  vm.guest.writeShared(BUF, GET_QUOTE_HEADER.encode({ version: opts.version ?? 1n, status: GetQuoteStatus.GET_QUOTE_IN_FLIGHT, in_len: opts.inLen ?? body.length, out_len: 0 }));
  vm.guest.writeShared(BUF + 24n, body);
}

const header = () => GET_QUOTE_HEADER.decode(vm.guest.readShared(BUF, 24)!);

describe('serveGetQuote (QEMU-style checks of the guest buffer)', () => {
  it('writes a simulated quote, SUCCESS and out_len; the report is decoded for the story', () => {
    request();
    const r = serveGetQuote(vm.guest, { ret: 0n, gpa: BUF, size: 0x2000n }, new SimulatedQuoteService());
    assert.equal(r.ret, TdvmcallStatus.SUCCESS);
    assert.equal(r.bufferStatus, GetQuoteStatus.GET_QUOTE_SUCCESS);
    assert.equal(r.quoteBytes, SIMULATED_QUOTE_HEADER_BYTES + TDREPORT_STRUCT_SIZE);
    assert.deepEqual(r.report?.tdInfo.rtmr2, new Uint8Array(48).fill(0xaa));
    const h = header();
    assert.deepEqual([h.version, h.status, h.in_len, h.out_len], [1n, GetQuoteStatus.GET_QUOTE_SUCCESS, TDREPORT_STRUCT_SIZE, r.quoteBytes]);
    const quote = vm.guest.readShared(BUF + 24n, r.quoteBytes!)!;
    assert.equal(new TextDecoder().decode(quote.subarray(0, SIMULATED_QUOTE_MAGIC.length)), SIMULATED_QUOTE_MAGIC);
    assert.deepEqual(unwrapSimulatedQuote(quote), report());
    assert.equal(unwrapSimulatedQuote(quote.subarray(0, 100)), undefined);
  });

  it('refuses unaligned, empty, oversized, private and malformed buffers', () => {
    const svc = new SimulatedQuoteService();
    request();
    assert.equal(serveGetQuote(vm.guest, { ret: 0n, gpa: BUF + 8n, size: 0x1000n }, svc).ret, TdvmcallStatus.ALIGN_ERROR);
    assert.equal(serveGetQuote(vm.guest, { ret: 0n, gpa: BUF, size: 0x1800n }, svc).ret, TdvmcallStatus.ALIGN_ERROR);
    assert.equal(serveGetQuote(vm.guest, { ret: 0n, gpa: BUF, size: 0n }, svc).ret, TdvmcallStatus.INVALID_OPERAND);
    assert.equal(serveGetQuote(vm.guest, { ret: 0n, gpa: BUF, size: 0x2_1000n }, svc).ret, TdvmcallStatus.INVALID_OPERAND);
    assert.equal(serveGetQuote(vm.guest, { ret: 0n, gpa: 0x20_0000n, size: 0x1000n }, svc).ret, TdvmcallStatus.INVALID_OPERAND);
    request({ version: 2n });
    assert.equal(serveGetQuote(vm.guest, { ret: 0n, gpa: BUF, size: 0x2000n }, svc).ret, TdvmcallStatus.INVALID_OPERAND);
    request({ inLen: 0x2000 });
    assert.equal(serveGetQuote(vm.guest, { ret: 0n, gpa: BUF, size: 0x2000n }, svc).ret, TdvmcallStatus.INVALID_OPERAND);
  });

  it('service problems go in the header status, the call itself succeeds', () => {
    request();
    const none = serveGetQuote(vm.guest, { ret: 0n, gpa: BUF, size: 0x2000n }, undefined);
    assert.deepEqual([none.ret, none.bufferStatus, header().status], [0n, GetQuoteStatus.GET_QUOTE_SERVICE_UNAVAILABLE, GetQuoteStatus.GET_QUOTE_SERVICE_UNAVAILABLE]);
    request();
    const big: QuoteService = { name: 'big', quote: () => ({ ok: true, quote: new Uint8Array(5000) }) };
    const small = serveGetQuote(vm.guest, { ret: 0n, gpa: BUF, size: 0x1000n }, big);
    assert.equal(small.bufferStatus, GetQuoteStatus.GET_QUOTE_ERROR);
    assert.match(small.problem!, /does not fit/);
    const failing: QuoteService = { name: 'x', quote: () => ({ ok: false, reason: 'error', message: 'broken' }) };
    request();
    assert.equal(serveGetQuote(vm.guest, { ret: 0n, gpa: BUF, size: 0x2000n }, failing).bufferStatus, GetQuoteStatus.GET_QUOTE_ERROR);
    request({ body: new Uint8Array(10) });
    const short = serveGetQuote(vm.guest, { ret: 0n, gpa: BUF, size: 0x2000n }, new SimulatedQuoteService());
    assert.equal(short.bufferStatus, GetQuoteStatus.GET_QUOTE_ERROR);
    assert.equal(short.report, undefined);
  });
});
