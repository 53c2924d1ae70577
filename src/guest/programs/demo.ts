/**
 * `demo`: what the demo TD does, one step per line on the serial console —
 *   early init (TDG.VP.INFO, #VE handler, SEPT #VE policy, heap accepted);
 *   accept a private range (1G → 2M → 4K); convert a page to shared and back (MapGPA + accept);
 *   measure an event into RTMR2 (the RTMR an OS uses for its own measurements) and log it;
 *   get a TDREPORT for the given REPORTDATA and check it carries that REPORTDATA and the RTMR2
 *   the event log predicts; turn it into a quote with GetQuote; halt cleanly.
 * Any failure ends in ReportFatalError with a message saying which step failed.
 */
import { z } from 'zod';
import { TcgEventType } from '../../abi/td-guest.ts';
import { REPORTDATA_SIZE, tdreportOffset } from '../../abi/tdreport.ts';
import { MEASUREMENT_DIGEST_BYTES } from '../../abi/measurement.ts';
import type { GuestGen } from '../../platform/guest-cpu.ts';
import { describeAttestationFailure, getQuote, getReport, measureEvent, type AttestationFailure } from '../attestation.ts';
import { replayRtmrs } from '../event-log.ts';
import { earlyInit, haltForever, type GuestKernel } from '../kernel.ts';
import { acceptMemory, describeMemoryFailure, setMemoryPrivate, setMemoryShared, type MemoryResult } from '../memory.ts';
import { panic } from '../panic.ts';
import { defineProgram } from './define.ts';
import { DEFAULT_HEAP, gpaRange, hex, hexBytes } from './args.ts';

/** RTMR the demo measures into (Linux convention: RTMR2 for the OS and applications). */
const DEMO_RTMR = 2;
const PAGE = 4096n;

export const demo = defineProgram({
  name: 'demo',
  summary: 'accept memory, share a page and back, extend RTMR2, get a TDREPORT and a quote',
  args: z.strictObject({
    heap: gpaRange.default(DEFAULT_HEAP),
    accept: gpaRange.default({ gpa: 2n << 20n, size: 2n << 20n }),
    /** REPORTDATA, up to 64 bytes of hex, zero-padded. */
    reportData: hexBytes(REPORTDATA_SIZE).default(new TextEncoder().encode('tdxsim demo nonce')),
    event: z.string().max(256).default('tdxsim demo: measured event'),
    quote: z.boolean().default(true),
    quotePages: z.number().int().min(1).max(32).default(2),
  }),
  *run(cpu, args) {
    const k = yield* earlyInit(cpu, { heap: args.heap });
    const say = (line: string) => k.console.writeLine(line);
    yield* say(`tdxsim demo: vCPU ${k.vcpuIndex} of ${k.numVcpus}, GPAW ${k.gpaw}`);

    yield* check(k, 'accept', yield* acceptMemory(k, args.accept.gpa, args.accept.size));
    yield* say(`accepted ${hex(args.accept.size)} bytes at ${hex(args.accept.gpa)}`);

    const page = k.pages.alloc() ?? (yield* panic(cpu, 'demo: no free page'));
    yield* check(k, 'to shared', yield* setMemoryShared(k, page, PAGE));
    yield* check(k, 'to private', yield* setMemoryPrivate(k, page, PAGE));
    k.pages.free(page);
    yield* say(`page ${hex(page)} converted to shared and back`);

    const measured = yield* measureEvent(k, DEMO_RTMR, TcgEventType.EV_IPL, new TextEncoder().encode(args.event));
    if (!measured.ok) return yield* fail(k, 'RTMR', measured);
    yield* say(`RTMR${DEMO_RTMR} extended with ${measured.event.digest.slice(0, 16)}...`);

    const reportData = new Uint8Array(REPORTDATA_SIZE);
    reportData.set(args.reportData);
    const rep = yield* getReport(k, reportData);
    if (!rep.ok) return yield* fail(k, 'report', rep);
    const at = tdreportOffset('reportmacstruct', 'reportdata');
    if (!equal(rep.report.subarray(at, at + REPORTDATA_SIZE), reportData)) return yield* panic(cpu, 'demo: TDREPORT has the wrong REPORTDATA');
    const rtmrAt = tdreportOffset('tdinfo', 'rtmr2');
    const expected = replayRtmrs(k.eventLog.events)[DEMO_RTMR]!;
    if (!equal(rep.report.subarray(rtmrAt, rtmrAt + MEASUREMENT_DIGEST_BYTES), expected)) {
      return yield* panic(cpu, 'demo: RTMR2 does not match the event log');
    }
    yield* say('TDREPORT carries our REPORTDATA and the logged RTMR2');

    if (args.quote) {
      const q = yield* getQuote(k, rep.report, { pages: args.quotePages });
      if (!q.ok) return yield* fail(k, 'quote', q);
      yield* say(`quote: ${q.quote.length} bytes`);
    }
    yield* say('demo done');
    yield* haltForever(cpu);
  },
});

function* check(k: GuestKernel, step: string, res: MemoryResult): GuestGen<void> {
  if (!res.ok) yield* panic(k.cpu, `demo ${step}: ${describeMemoryFailure(res)}`);
}

function* fail(k: GuestKernel, step: string, f: AttestationFailure): GuestGen<never> {
  return yield* panic(k.cpu, `demo ${step}: ${describeAttestationFailure(f)}`);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
