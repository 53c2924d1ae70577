/**
 * Replaying a TD's RTMR event log and comparing the result with the RTMRs a quote (or a
 * TDREPORT) reports: the check that the log a TD hands over is the log of what it measured.
 *
 * The log format is the guest kernel's (src/guest/event-log.ts, docs/event-log.md): JSON
 *   { "format": "tdxsim-rtmr-event-log", "version": 1, "hashAlgorithm": "sha384",
 *     "events": [ { "seq", "rtmrIndex", "mrIndex", "eventType", "eventTypeName", "digest", "data" } ] }
 * with one event per successful TDG.MR.RTMR.EXTEND, in order; `digest` is the 48 bytes extended
 * (hex) and `data` the event data they stand for (hex). Every logged event was extended, whatever
 * its type.
 *
 * Replay follows the module (tdg_mr_rtmr_extend.c; facts tdx-module.md §7.2): every RTMR starts as
 * 48 zero bytes and each event sets RTMR[rtmrIndex] = SHA-384(RTMR[rtmrIndex] ‖ digest). This is
 * a verifier's own implementation and imports nothing from the guest.
 *
 * The log comes from the party being verified: it is checked against a schema and for internal
 * consistency (sequence numbers, CC MR index) before it is replayed. A log whose replay matches
 * the quote's RTMRs shows which events the RTMRs stand for; events whose digest is not the
 * SHA-384 of their data extended bytes the log does not explain, and are listed.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { MEASUREMENT_DIGEST_BYTES } from '../abi/measurement.ts';
import { CC_MR_INDEX_OF_RTMR0, NUM_RTMRS } from '../abi/td-guest.ts';
import { TDINFO_STRUCT, TDREPORT_STRUCT } from '../abi/tdreport.ts';
import type { TdReportBody } from './quote-codec.ts';

/** `format` and `version` of the log. */
export const EVENT_LOG_FORMAT = 'tdxsim-rtmr-event-log';
export const EVENT_LOG_VERSION = 1;

const lowerHex = z.string().regex(/^([0-9a-f]{2})*$/, 'lower-case hex');

const EventSchema = z.object({
  seq: z.number().int().min(0),
  rtmrIndex: z.number().int().min(0).max(NUM_RTMRS - 1),
  mrIndex: z.number().int(),
  eventType: z.number().int().min(0).max(2 ** 32 - 1),
  eventTypeName: z.string().optional(),
  digest: lowerHex.length(MEASUREMENT_DIGEST_BYTES * 2, `${MEASUREMENT_DIGEST_BYTES * 2} hex digits (SHA-384)`),
  data: lowerHex,
});

const EventLogSchema = z.object({
  format: z.literal(EVENT_LOG_FORMAT),
  version: z.literal(EVENT_LOG_VERSION),
  hashAlgorithm: z.literal('sha384'),
  events: z.array(EventSchema),
});

export type EventLog = z.infer<typeof EventLogSchema>;
export type EventLogEvent = EventLog['events'][number];

export type EventLogParse = { readonly ok: true; readonly log: EventLog } | { readonly ok: false; readonly detail: string };

/** Parse and check an event log (JSON text). Never throws. */
export function parseEventLog(text: string): EventLogParse {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, detail: `not JSON: ${(err as Error).message}` };
  }
  const r = EventLogSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    return { ok: false, detail: `not a ${EVENT_LOG_FORMAT} v${EVENT_LOG_VERSION}: at ${issue?.path.join('.') || '(top)'}: ${issue?.message ?? 'invalid'}` };
  }
  for (const [i, e] of r.data.events.entries()) {
    // A gap or reordering means events were dropped or moved: the replay would not be the TD's.
    if (e.seq !== i) return { ok: false, detail: `event ${i} has seq ${e.seq}: events are missing or out of order` };
    if (e.mrIndex !== e.rtmrIndex + CC_MR_INDEX_OF_RTMR0) {
      return { ok: false, detail: `event ${i}: mrIndex ${e.mrIndex} is not RTMR${e.rtmrIndex}'s CC MR index ${e.rtmrIndex + CC_MR_INDEX_OF_RTMR0}` };
    }
  }
  return { ok: true, log: r.data };
}

export interface EventLogReplay {
  /** RTMR0..3 after replaying every event from zero. */
  readonly rtmrs: readonly Uint8Array[];
  /** Number of events per RTMR. */
  readonly eventsPerRtmr: readonly number[];
  /** `seq` of events whose digest is not SHA-384(data). */
  readonly unexplained: readonly number[];
}

const sha384 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha384');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** Replay a checked log from all-zero RTMRs. */
export function replayEventLog(log: EventLog): EventLogReplay {
  const rtmrs: Uint8Array[] = Array.from({ length: NUM_RTMRS }, () => new Uint8Array(MEASUREMENT_DIGEST_BYTES));
  const eventsPerRtmr = new Array<number>(NUM_RTMRS).fill(0);
  const unexplained: number[] = [];
  for (const e of log.events) {
    const digest = fromHex(e.digest);
    rtmrs[e.rtmrIndex] = sha384(rtmrs[e.rtmrIndex]!, digest);
    eventsPerRtmr[e.rtmrIndex]!++;
    if (!equal(sha384(fromHex(e.data)), digest)) unexplained.push(e.seq);
  }
  return { rtmrs, eventsPerRtmr, unexplained };
}

export interface RtmrComparison {
  readonly index: number;
  readonly replayed: Uint8Array;
  readonly reported: Uint8Array;
  readonly match: boolean;
}

/** Compare replayed RTMRs with reported ones, register by register. */
export function compareRtmrs(replayed: readonly Uint8Array[], reported: readonly Uint8Array[]): { match: boolean; registers: RtmrComparison[] } {
  const registers = replayed.map((r, index) => {
    const rep = reported[index] ?? new Uint8Array(0);
    return { index, replayed: r, reported: rep, match: equal(r, rep) };
  });
  return { match: registers.every((r) => r.match), registers };
}

/** RTMR0..3 of a quote's TD report body. */
export function rtmrsOfQuoteBody(body: TdReportBody): Uint8Array[] {
  return [body.rtmr0, body.rtmr1, body.rtmr2, body.rtmr3];
}

/** RTMR0..3 of a TDREPORT_STRUCT. */
export function rtmrsOfTdReport(report: Uint8Array): Uint8Array[] {
  const info = TDINFO_STRUCT.decode(report, TDREPORT_STRUCT.field('tdinfo').offset);
  return [info.rtmr0, info.rtmr1, info.rtmr2, info.rtmr3];
}
