/**
 * What the guest library must have made of the hostile VMM's replies: an oracle written from the
 * GHCI and the Linux guest's documented behaviour (facts linux-tdx.md §6.2–6.4), independent of
 * the library's code. It reads the TDVMCALLs the guest actually made (as the VMM saw them), the
 * replies it got, and the outcome the library reported, and flags every reply the guest should
 * have refused but accepted, or vice versa (guest-refuses-bad-reply):
 *
 *   MapGPA conversion  each request covers exactly what remains of the range; SUCCESS ends it;
 *                      RETRY continues from R11, which must lie in [current start, end) — else
 *                      the conversion fails (map_gpa_bad_retry); three RETRYs without progress fail
 *                      it (map_gpa_no_progress); any other status fails it (map_gpa)
 *   GetQuote           the buffer is converted (as above), then GetQuote names it; a failed
 *                      status is a `vmm` failure; the header's status and out_len decide between
 *                      `quote`, `timeout`, `bad_quote_length` (longer than the buffer) and a quote of
 *                      exactly out_len bytes
 *   CPUID              only leaves 0x40000000–0x4FFFFFFF ever reach the VMM; its values are
 *                      truncated to 32 bits
 *   IN, MMIO read      the value is R11 masked to the access size; IN keeps RAX's upper bytes
 *   RDMSR              the value is R11
 *   #VE emulation      a failed status makes the guest panic (Linux: #GP → die); a successful one
 *                      never does. Operations that report failure by value never panic.
 */
import { hex64, U32_MASK } from '../../abi/bitfield.ts';
import { TdvmcallSubfunction } from '../../abi/tdvmcall.ts';
import { TdvmcallStatus } from '../../abi/tdvmcall-status.ts';
import { GetQuoteStatus, GET_QUOTE_HEADER_SIZE } from '../../abi/get-quote.ts';
import { CPUID_HYPERVISOR_FIRST, CPUID_HYPERVISOR_LAST } from '../../abi/cpuid.ts';
import { Invariant, violation, type Violation } from '../invariants.ts';
import { IN_CANARY, type GuestOutcome } from './guest-driver.ts';
import type { GuestAction, VmmReply } from './guest-ops.ts';

/** One TDVMCALL the guest made during the operation, as the VMM saw it, and the VMM's reply. */
export interface ExitLog {
  readonly subfunction: bigint;
  readonly r12: bigint;
  readonly r13: bigint;
  readonly reply: VmmReply;
}

const MAP_GPA = BigInt(TdvmcallSubfunction.MAP_GPA.number);
const GET_QUOTE = BigInt(TdvmcallSubfunction.GET_QUOTE.number);
const CPUID = BigInt(TdvmcallSubfunction.CPUID.number);
/** Linux's `max_retries_per_page`. */
const MAX_RETRIES = 3;
/** The quote buffer the library uses: 2 pages (attestation.ts default, as Linux). */
const QUOTE_BUFFER = 8192n;

const refused = (msg: string): Violation => violation(Invariant.GUEST_REFUSES_BAD_REPLY, msg);

type MapExpect = { kind: 'ok' | 'map_gpa' | 'map_gpa_bad_retry' | 'map_gpa_no_progress'; next: number } | { kind: 'violation'; v: Violation };

/** What a conversion of [start, end) must end as, given the exits from index `i` on. */
function expectMapGpa(exits: readonly ExitLog[], i: number, start: bigint, end: bigint): MapExpect {
  let cur = start;
  let retries = 0;
  while (retries < MAX_RETRIES) {
    const e = exits[i];
    if (!e) return { kind: 'violation', v: refused(`MapGPA of [${hex64(start)}, ${hex64(end)}) stopped at ${hex64(cur)} without a reason`) };
    if (e.subfunction !== MAP_GPA || e.r12 !== cur || e.r12 + e.r13 !== end) {
      return { kind: 'violation', v: refused(`MapGPA request ${hex64(e.r12)}+${hex64(e.r13)} (sub-function ${hex64(e.subfunction)}) is not the remaining range [${hex64(cur)}, ${hex64(end)})`) };
    }
    i++;
    const { r10, r11 } = e.reply;
    if (r10 === TdvmcallStatus.SUCCESS) return { kind: 'ok', next: i };
    if (r10 !== TdvmcallStatus.RETRY) return { kind: 'map_gpa', next: i };
    if (r11 < cur || r11 >= end) return { kind: 'map_gpa_bad_retry', next: i };
    if (r11 === cur) retries++;
    else {
      cur = r11;
      retries = 0;
    }
  }
  return { kind: 'map_gpa_no_progress', next: i };
}

/** Check one completed operation (`outcome`) or a guest panic against what the replies demand. */
export function checkGuestOutcome(a: GuestAction, exits: readonly ExitLog[], outcome: GuestOutcome | undefined, panicked: string | undefined, sharedBit: bigint): Violation | undefined {
  const emulated = a.op === 'cpuid' || a.op === 'rdmsr' || a.op === 'wrmsr' || a.op === 'io-in' || a.op === 'io-out' || a.op === 'mmio-read' || a.op === 'mmio-write';
  if (panicked !== undefined) {
    if (!emulated) return refused(`${a.op}: the guest panicked ("${panicked}") instead of reporting the VMM's failure`);
    const failed = exits.some((e) => e.reply.r10 !== TdvmcallStatus.SUCCESS);
    return failed ? undefined : refused(`${a.op}: the guest panicked ("${panicked}") although the VMM answered SUCCESS`);
  }
  if (!outcome) return undefined;
  switch (a.op) {
    case 'convert-shared':
    case 'convert-private':
      return checkConversion(a, exits, outcome, sharedBit);
    case 'get-quote':
      return checkQuote(exits, outcome, sharedBit);
    case 'cpuid':
      return checkCpuid(a, exits, outcome);
    case 'io-in':
    case 'mmio-read':
    case 'rdmsr':
      return checkValue(a, exits, outcome);
    default:
      return emulated && exits.some((e) => e.reply.r10 !== TdvmcallStatus.SUCCESS)
        ? refused(`${a.op}: the VMM failed the emulation but the guest went on as if it had succeeded`)
        : undefined;
  }
}

function checkConversion(a: GuestAction, exits: readonly ExitLog[], outcome: GuestOutcome, sharedBit: bigint): Violation | undefined {
  if (outcome.op !== 'memory') return undefined;
  const shared = a.op === 'convert-shared' ? sharedBit : 0n;
  const e = expectMapGpa(exits, 0, a.a | shared, (a.a + a.b) | shared);
  if (e.kind === 'violation') return e.v;
  const got = outcome.result.ok ? 'ok' : outcome.result.kind;
  // Converting to private ends with accepting the range, a module matter that may fail on its own.
  if (e.kind === 'ok' ? got === 'ok' || got === 'accept' : got === e.kind) return undefined;
  return refused(`${a.op} [${hex64(a.a)}, +${hex64(a.b)}): the replies call for ${e.kind}, the guest reported ${got}`);
}

function checkQuote(exits: readonly ExitLog[], outcome: GuestOutcome, sharedBit: bigint): Violation | undefined {
  if (outcome.op !== 'quote') return undefined;
  const r = outcome.result;
  if (!r.ok && (r.kind === 'no_memory' || r.kind === 'module')) return exits.length === 0 ? undefined : refused(`get-quote failed with ${r.kind} but still called the VMM`);
  const first = exits[0];
  if (!first) return refused(`get-quote reported ${r.ok ? 'a quote' : r.kind} without calling the VMM`);
  const start = first.r12;
  if ((start & sharedBit) === 0n || first.r13 !== QUOTE_BUFFER) return refused(`get-quote converted ${hex64(start)}+${hex64(first.r13)}, not a shared ${QUOTE_BUFFER}-byte buffer`);
  const m = expectMapGpa(exits, 0, start, start + QUOTE_BUFFER);
  if (m.kind === 'violation') return m.v;
  if (m.kind !== 'ok') return r.ok || r.kind !== 'memory' ? refused(`get-quote: converting the buffer should fail with ${m.kind}; the guest reported ${r.ok ? 'a quote' : r.kind}`) : undefined;
  const q = exits[m.next];
  if (!q || q.subfunction !== GET_QUOTE || q.r12 !== start || q.r13 !== QUOTE_BUFFER) return refused('get-quote: after converting the buffer the guest did not ask for a quote on it');
  const expected = expectQuote(q.reply);
  const got = r.ok ? 'ok' : r.kind;
  if (expected.kind !== got) return refused(`get-quote: the VMM's answer calls for ${expected.kind}, the guest reported ${got}`);
  if (r.ok && r.quote.length !== expected.length) return refused(`get-quote: quote of ${r.quote.length} bytes, the header says ${expected.length}`);
  return undefined;
}

function expectQuote(reply: VmmReply): { kind: string; length?: number } {
  if (reply.r10 !== TdvmcallStatus.SUCCESS) return { kind: 'vmm' };
  // Without a header write by the VMM the guest reads back what it wrote: SUCCESS, length 0.
  const status = reply.quoteStatus ?? GetQuoteStatus.GET_QUOTE_SUCCESS;
  const length = reply.quoteStatus === undefined ? 0 : (reply.quoteLength ?? 0);
  if (status === GetQuoteStatus.GET_QUOTE_IN_FLIGHT) return { kind: 'timeout' };
  if (status !== GetQuoteStatus.GET_QUOTE_SUCCESS) return { kind: 'quote' };
  if (BigInt(length) > QUOTE_BUFFER - BigInt(GET_QUOTE_HEADER_SIZE)) return { kind: 'bad_quote_length' };
  return { kind: 'ok', length };
}

function checkCpuid(a: GuestAction, exits: readonly ExitLog[], outcome: GuestOutcome): Violation | undefined {
  if (outcome.op !== 'cpuid') return undefined;
  const leaf = Number(a.a & U32_MASK);
  const hypervisor = leaf >= CPUID_HYPERVISOR_FIRST && leaf <= CPUID_HYPERVISOR_LAST;
  const asked = exits.filter((e) => e.subfunction === CPUID);
  if (!hypervisor && asked.length > 0) return refused(`CPUID leaf ${hex64(a.a)} is outside the hypervisor range but was forwarded to the VMM`);
  const e = asked[0];
  if (!e) return undefined; // answered by the module, or all zeros
  const want = [e.reply.r12, e.reply.r13, e.reply.r14, e.reply.r15].map((v) => v & U32_MASK);
  if (want.some((v, i) => v !== outcome.values[i])) {
    return refused(`CPUID ${hex64(a.a)}: VMM gave ${want.map(hex64).join(' ')}, the guest used ${outcome.values.map(hex64).join(' ')}`);
  }
  return undefined;
}

function checkValue(a: GuestAction, exits: readonly ExitLog[], outcome: GuestOutcome): Violation | undefined {
  if (outcome.op !== 'value') return undefined;
  const e = exits[exits.length - 1];
  if (!e) return undefined; // virtualised by the module (some MSRs): no VMM involved
  if (e.reply.r10 !== TdvmcallStatus.SUCCESS) return refused(`${a.op}: the VMM failed the emulation but the guest used a value`);
  const size = a.op === 'rdmsr' ? 8 : Number(a.b & 255n);
  const mask = (1n << BigInt(8 * size)) - 1n;
  const want = e.reply.r11 & mask;
  if (outcome.value !== want) return refused(`${a.op}: VMM answered ${hex64(e.reply.r11)}, the guest read ${hex64(outcome.value)} (expected ${hex64(want)})`);
  if (a.op === 'io-in' && outcome.rax !== ((IN_CANARY & ~mask) | want)) {
    return refused(`IN of ${size} bytes: RAX became ${hex64(outcome.rax)}; only its low ${size} bytes may change`);
  }
  return undefined;
}
