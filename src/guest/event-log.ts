/**
 * The guest's RTMR event log: one record per TDG.MR.RTMR.EXTEND, so a verifier can replay the
 * extends and compare the result with the RTMRs in a TDREPORT or quote. Modelled on the CC event
 * log (ACPI CCEL, TCG_PCR_EVENT2 records): each event names its measurement register, a TCG event
 * type, the SHA-384 digest that was extended and the event data that digest stands for. The JSON
 * form is documented in docs/event-log.md.
 *
 * RTMR semantics (TDX module `tdg_mr_rtmr_extend.c`; facts tdx-module.md §7.2): every RTMR starts
 * as 48 zero bytes and each extend sets RTMR = SHA-384(RTMR || 48 extended bytes).
 */
import { createHash } from 'node:crypto';
import { MEASUREMENT_DIGEST_BYTES } from '../abi/measurement.ts';
import { CC_MR_INDEX_OF_RTMR0, NUM_RTMRS, TcgEventType } from '../abi/td-guest.ts';

/** One extend as the log records it. */
export interface RtmrEvent {
  /** Position in the log, from 0. */
  readonly seq: number;
  /** RTMR index 0..3. */
  readonly rtmrIndex: number;
  /** CC measurement-register index (CCEL): RTMR i is i + 1 (0 is MRTD). */
  readonly mrIndex: number;
  /** TCG event type (TcgEventType). */
  readonly eventType: number;
  /** Its name, if it is one of TcgEventType. */
  readonly eventTypeName: string | undefined;
  /** The 48 bytes extended into the RTMR, as lower-case hex. */
  readonly digest: string;
  /** The event data the digest describes, as lower-case hex. */
  readonly data: string;
}

/** The serialised log (docs/event-log.md). */
export interface RtmrEventLogJson {
  readonly format: 'tdxsim-rtmr-event-log';
  readonly version: 1;
  readonly hashAlgorithm: 'sha384';
  readonly events: readonly RtmrEvent[];
}

export const EVENT_LOG_FORMAT = 'tdxsim-rtmr-event-log';

export class RtmrEventLog {
  readonly events: RtmrEvent[] = [];

  /** Record an extend of `digest` (48 bytes) into RTMR `rtmrIndex`. */
  record(rtmrIndex: number, eventType: number, digest: Uint8Array, data: Uint8Array): RtmrEvent {
    if (!Number.isInteger(rtmrIndex) || rtmrIndex < 0 || rtmrIndex >= NUM_RTMRS) throw new RangeError(`no RTMR ${rtmrIndex}`);
    if (digest.length !== MEASUREMENT_DIGEST_BYTES) throw new RangeError(`an RTMR digest is ${MEASUREMENT_DIGEST_BYTES} bytes`);
    const event: RtmrEvent = {
      seq: this.events.length,
      rtmrIndex,
      mrIndex: rtmrIndex + CC_MR_INDEX_OF_RTMR0,
      eventType,
      eventTypeName: Object.entries(TcgEventType).find(([, v]) => v === eventType)?.[0],
      digest: Buffer.from(digest).toString('hex'),
      data: Buffer.from(data).toString('hex'),
    };
    this.events.push(event);
    return event;
  }

  toJSON(): RtmrEventLogJson {
    return { format: EVENT_LOG_FORMAT, version: 1, hashAlgorithm: 'sha384', events: [...this.events] };
  }
}

/** The RTMR values a sequence of events produces, starting from all-zero RTMRs. */
export function replayRtmrs(events: readonly Pick<RtmrEvent, 'rtmrIndex' | 'digest'>[]): Uint8Array[] {
  const rtmrs = Array.from({ length: NUM_RTMRS }, () => new Uint8Array(MEASUREMENT_DIGEST_BYTES));
  for (const e of events) {
    const prev = rtmrs[e.rtmrIndex];
    if (!prev) throw new RangeError(`no RTMR ${e.rtmrIndex}`);
    rtmrs[e.rtmrIndex] = new Uint8Array(createHash('sha384').update(prev).update(Buffer.from(e.digest, 'hex')).digest());
  }
  return rtmrs;
}

/** SHA-384 of event data: the digest a measured event extends. */
export function eventDigest(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha384').update(data).digest());
}
