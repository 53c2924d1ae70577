/**
 * The `guest` target: a bounded smoke run of the guest library against a hostile VMM, exact
 * replays of scripted replies (a bad MapGPA RETRY refused, CPUID outside the hypervisor range
 * never forwarded, IN merging only the low bytes), and the oracle catching a deliberately broken
 * guest library — one that accepts a RETRY outside the range, one that forwards CPUID, one that
 * uses a value the VMM failed, one that panics where it should report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';
import { TdvmcallSubfunction } from '../../src/abi/tdvmcall.ts';
import { GetQuoteStatus } from '../../src/abi/get-quote.ts';
import { runFuzz, replay } from '../../src/fuzz/engine.ts';
import { Invariant } from '../../src/fuzz/invariants.ts';
import { guestTarget } from '../../src/fuzz/targets/guest.ts';
import { checkGuestOutcome, type ExitLog } from '../../src/fuzz/targets/guest-oracle.ts';
import { IN_CANARY } from '../../src/fuzz/targets/guest-driver.ts';
import type { GuestAction, VmmReply } from '../../src/fuzz/targets/guest-ops.ts';

const SHARED = 1n << 47n;
const HEAP = 1n << 20n;
const MAP = BigInt(TdvmcallSubfunction.MAP_GPA.number);
const ok: VmmReply = { r10: TdvmcallStatus.SUCCESS, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n };
const retry = (r11: bigint): VmmReply => ({ ...ok, r10: TdvmcallStatus.RETRY, r11 });

test('smoke: 300 operations from a fixed seed find nothing', () => {
  const r = runFuzz(guestTarget, { seed: 31n, steps: 300, minimiseMs: 0 });
  assert.equal(r.steps, 300);
  assert.deepEqual(r.findings.map((f) => `${f.invariant}: ${f.message}`), []);
  assert.ok((r.coverage.reached['guest convert-shared'] ?? 0) > 0);
  assert.ok((r.coverage.reached['guest get-quote'] ?? 0) > 0);
});

test('replay: the guest refuses a MapGPA RETRY outside its range and follows one inside it', () => {
  const shared: GuestAction = { op: 'convert-shared', a: HEAP, b: 0x3000n, replies: [retry(HEAP + 0x1000n), retry(SHARED | (HEAP + 0x1000n)), ok] };
  assert.equal(replay(guestTarget, 'td', [shared]).violation, undefined);
  const bad: GuestAction = { op: 'convert-private', a: HEAP, b: 0x2000n, replies: [retry(HEAP + 0x2000n)] };
  const cpuid: GuestAction = { op: 'cpuid', a: 0x4000_0000n, b: 0n, replies: [{ ...ok, r12: 0x1_2345_6789n, r13: 1n, r14: 2n, r15: 3n }] };
  const io: GuestAction = { op: 'io-in', a: 0x80n, b: 2n, replies: [{ ...ok, r11: 0xdead_beefn }] };
  const quote: GuestAction = { op: 'get-quote', a: 0n, b: 0n, replies: [ok, { ...ok, quoteStatus: GetQuoteStatus.GET_QUOTE_SUCCESS, quoteLength: 9000 }] };
  const r = replay(guestTarget, 'td', [shared, bad, cpuid, io, quote]);
  assert.equal(r.violation, undefined, r.violation?.message);
  assert.equal(r.step, 5);
});

const exits = (...e: [bigint, bigint, bigint, VmmReply][]): ExitLog[] => e.map(([subfunction, r12, r13, reply]) => ({ subfunction, r12, r13, reply }));

test('oracle: a library that follows a RETRY outside the range is caught', () => {
  const a: GuestAction = { op: 'convert-private', a: HEAP, b: 0x2000n, replies: [] };
  const log = exits([MAP, HEAP, 0x2000n, retry(HEAP + 0x5000n)]);
  assert.equal(checkGuestOutcome(a, log, { op: 'memory', result: { ok: false, kind: 'map_gpa_bad_retry', gpa: HEAP, nextGpa: HEAP + 0x5000n } }, undefined, SHARED), undefined);
  const v = checkGuestOutcome(a, log, { op: 'memory', result: { ok: true } }, undefined, SHARED);
  assert.equal(v?.invariant, Invariant.GUEST_REFUSES_BAD_REPLY);
  assert.match(v!.message, /the replies call for map_gpa_bad_retry, the guest reported ok/);
});

test('oracle: a library that does not resume where RETRY said, or retries forever, is caught', () => {
  const a: GuestAction = { op: 'convert-shared', a: HEAP, b: 0x3000n, replies: [] };
  const s = SHARED | HEAP;
  const skipped = exits([MAP, s, 0x3000n, retry(s + 0x1000n)], [MAP, s + 0x2000n, 0x1000n, ok]);
  assert.match(checkGuestOutcome(a, skipped, { op: 'memory', result: { ok: true } }, undefined, SHARED)!.message, /is not the remaining range/);
  const stuck = exits([MAP, s, 0x3000n, retry(s)], [MAP, s, 0x3000n, retry(s)], [MAP, s, 0x3000n, retry(s)]);
  assert.equal(checkGuestOutcome(a, stuck, { op: 'memory', result: { ok: false, kind: 'map_gpa_no_progress', gpa: s } }, undefined, SHARED), undefined);
  assert.match(checkGuestOutcome(a, stuck, { op: 'memory', result: { ok: true } }, undefined, SHARED)!.message, /call for map_gpa_no_progress/);
});

test('oracle: CPUID outside the hypervisor range must never reach the VMM; values are truncated', () => {
  const cpuid = BigInt(TdvmcallSubfunction.CPUID.number);
  const a: GuestAction = { op: 'cpuid', a: 7n, b: 0n, replies: [] };
  const forwarded = exits([cpuid, 7n, 0n, ok]);
  assert.match(checkGuestOutcome(a, forwarded, { op: 'cpuid', values: [0n, 0n, 0n, 0n] }, undefined, SHARED)!.message, /outside the hypervisor range but was forwarded/);
  const h: GuestAction = { op: 'cpuid', a: 0x4000_0001n, b: 0n, replies: [] };
  const answered = exits([cpuid, 0x4000_0001n, 0n, { ...ok, r12: 0xff_0000_0001n, r13: 2n, r14: 3n, r15: 4n }]);
  assert.equal(checkGuestOutcome(h, answered, { op: 'cpuid', values: [1n, 2n, 3n, 4n] }, undefined, SHARED), undefined);
  assert.match(checkGuestOutcome(h, answered, { op: 'cpuid', values: [0xff_0000_0001n, 2n, 3n, 4n] }, undefined, SHARED)!.message, /the guest used/);
});

test('oracle: IN keeps RAX above the access; a failed emulation must not yield a value or go on silently', () => {
  const io = BigInt(TdvmcallSubfunction.IO.number);
  const a: GuestAction = { op: 'io-in', a: 0x80n, b: 1n, replies: [] };
  const log = exits([io, 1n, 0n, { ...ok, r11: 0x1234n }]);
  const merged = (IN_CANARY & ~0xffn) | 0x34n;
  assert.equal(checkGuestOutcome(a, log, { op: 'value', value: 0x34n, rax: merged }, undefined, SHARED), undefined);
  assert.match(checkGuestOutcome(a, log, { op: 'value', value: 0x1234n, rax: merged }, undefined, SHARED)!.message, /expected 0x0000000000000034/);
  assert.match(checkGuestOutcome(a, log, { op: 'value', value: 0x34n, rax: 0x34n }, undefined, SHARED)!.message, /only its low 1 bytes may change/);
  const failed = exits([io, 1n, 0n, { ...ok, r10: TdvmcallStatus.INVALID_OPERAND }]);
  assert.match(checkGuestOutcome(a, failed, { op: 'value', value: 0n, rax: 0n }, undefined, SHARED)!.message, /failed the emulation but the guest used a value/);
  const out: GuestAction = { op: 'io-out', a: 0x80n, b: 1n, replies: [] };
  assert.match(checkGuestOutcome(out, failed, { op: 'done' }, undefined, SHARED)!.message, /as if it had succeeded/);
  // Panicking on the failure is what Linux does (#GP → die).
  assert.equal(checkGuestOutcome(out, failed, undefined, '#VE fault: OUT', SHARED), undefined);
});

test('oracle: a panic after SUCCESS, or where a failure should be reported, is caught', () => {
  const io = BigInt(TdvmcallSubfunction.IO.number);
  const out: GuestAction = { op: 'io-out', a: 0x80n, b: 1n, replies: [] };
  assert.match(checkGuestOutcome(out, exits([io, 1n, 1n, ok]), undefined, 'boom', SHARED)!.message, /panicked \("boom"\) although the VMM answered SUCCESS/);
  const conv: GuestAction = { op: 'convert-shared', a: HEAP, b: 0x1000n, replies: [] };
  assert.match(checkGuestOutcome(conv, [], undefined, 'no', SHARED)!.message, /panicked \("no"\) instead of reporting/);
});

test('oracle: GetQuote results follow the status and the header', () => {
  const s = SHARED | HEAP;
  const gq = BigInt(TdvmcallSubfunction.GET_QUOTE.number);
  const a: GuestAction = { op: 'get-quote', a: 0n, b: 0n, replies: [] };
  const withHeader = (status: bigint, len: number) => exits([MAP, s, 0x2000n, ok], [gq, s, 0x2000n, { ...ok, quoteStatus: status, quoteLength: len }]);
  const quote = (n: number) => ({ op: 'quote' as const, result: { ok: true as const, quote: new Uint8Array(n) } });
  assert.equal(checkGuestOutcome(a, withHeader(GetQuoteStatus.GET_QUOTE_SUCCESS, 100), quote(100), undefined, SHARED), undefined);
  assert.match(checkGuestOutcome(a, withHeader(GetQuoteStatus.GET_QUOTE_SUCCESS, 100), quote(99), undefined, SHARED)!.message, /quote of 99 bytes, the header says 100/);
  assert.match(checkGuestOutcome(a, withHeader(GetQuoteStatus.GET_QUOTE_SUCCESS, 9000), quote(9000), undefined, SHARED)!.message, /calls for bad_quote_length/);
  assert.match(checkGuestOutcome(a, withHeader(GetQuoteStatus.GET_QUOTE_ERROR, 0), quote(0), undefined, SHARED)!.message, /calls for quote/);
  assert.match(checkGuestOutcome(a, withHeader(GetQuoteStatus.GET_QUOTE_IN_FLIGHT, 0), quote(0), undefined, SHARED)!.message, /calls for timeout/);
});
