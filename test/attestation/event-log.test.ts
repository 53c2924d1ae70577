import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { TcgEventType } from '../../src/abi/td-guest.ts';
import { eventDigest, RtmrEventLog } from '../../src/guest/event-log.ts';
import {
  compareRtmrs,
  parseEventLog,
  replayEventLog,
  rtmrsOfQuoteBody,
  rtmrsOfTdReport,
  type EventLog,
} from '../../src/attestation/event-log.ts';
import { parseQuote } from '../../src/attestation/quote-codec.ts';
import { createQuotingInfrastructure } from '../../src/attestation/infrastructure.ts';
import { buildTestReport, TEST_REPORT_KEY, mustQuote } from './helpers.ts';

/** A log written by the guest kernel's own event-log code, as a TD would hand it over. */
function guestLog(): RtmrEventLog {
  const log = new RtmrEventLog();
  const text = (s: string) => new TextEncoder().encode(s);
  log.record(1, TcgEventType.EV_IPL, eventDigest(text('kernel cmdline: console=hvc0')), text('kernel cmdline: console=hvc0'));
  log.record(2, TcgEventType.EV_IPL, eventDigest(text('initrd sha384')), text('initrd sha384'));
  log.record(1, TcgEventType.EV_SEPARATOR, eventDigest(new Uint8Array(4)), new Uint8Array(4));
  // A raw extend: 48 bytes the data does not explain.
  log.record(3, TcgEventType.EV_EVENT_TAG, new Uint8Array(48).fill(0x77), text('application secret hash'));
  return log;
}

const sha384 = (...parts: Uint8Array[]) => {
  const h = createHash('sha384');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

describe('RTMR event log replay', () => {
  it('replays the guest\'s log from zero: RTMR = SHA-384(RTMR ‖ digest), per register', () => {
    const parsed = parseEventLog(JSON.stringify(guestLog()));
    assert.equal(parsed.ok, true);
    const replay = replayEventLog((parsed as { log: EventLog }).log);
    const zero = new Uint8Array(48);
    const d = (s: string) => eventDigest(new TextEncoder().encode(s));
    const rtmr1 = sha384(sha384(zero, d('kernel cmdline: console=hvc0')), eventDigest(new Uint8Array(4)));
    assert.deepEqual(replay.rtmrs, [zero, rtmr1, sha384(zero, d('initrd sha384')), sha384(zero, new Uint8Array(48).fill(0x77))]);
    assert.deepEqual(replay.eventsPerRtmr, [0, 2, 1, 1]);
    assert.deepEqual(replay.unexplained, [3]);
  });

  it('matches the RTMRs of a TDREPORT and of its quote, and finds a changed or missing event', async () => {
    const log = guestLog();
    const replay = replayEventLog((parseEventLog(JSON.stringify(log)) as { log: EventLog }).log);
    const [rtmr0, rtmr1, rtmr2, rtmr3] = replay.rtmrs;
    const report = buildTestReport({ td: { rtmr0, rtmr1, rtmr2, rtmr3 } });
    assert.equal(compareRtmrs(replay.rtmrs, rtmrsOfTdReport(report)).match, true);
    const infra = await createQuotingInfrastructure({ reportKey: TEST_REPORT_KEY, format: { version: 5 } });
    const body = parseQuote(mustQuote(infra.quotingService, report)).body;
    assert.equal(compareRtmrs(replay.rtmrs, rtmrsOfQuoteBody(body)).match, true);

    // An event dropped (and the rest renumbered so the log is well formed) no longer replays.
    const json = JSON.parse(JSON.stringify(log));
    json.events.splice(0, 1);
    json.events.forEach((e: { seq: number }, i: number) => (e.seq = i));
    const dropped = replayEventLog((parseEventLog(JSON.stringify(json)) as { log: EventLog }).log);
    const cmp = compareRtmrs(dropped.rtmrs, rtmrsOfQuoteBody(body));
    assert.equal(cmp.match, false);
    assert.deepEqual(cmp.registers.map((r) => r.match), [true, false, true, true]);

    const changed = JSON.parse(JSON.stringify(log));
    changed.events[1].digest = '00'.repeat(48);
    const cmp2 = compareRtmrs(replayEventLog((parseEventLog(JSON.stringify(changed)) as { log: EventLog }).log).rtmrs, rtmrsOfQuoteBody(body));
    assert.deepEqual(cmp2.registers.map((r) => r.match), [true, true, false, true]);
  });

  it('refuses a log that is not the guest\'s format, or is inconsistent, saying where', () => {
    const good = JSON.parse(JSON.stringify(guestLog()));
    const fails = (mutate: (j: Record<string, unknown> & { events: Array<Record<string, unknown>> }) => void, pattern: RegExp) => {
      const j = structuredClone(good);
      mutate(j);
      const r = parseEventLog(JSON.stringify(j));
      assert.equal(r.ok, false);
      assert.match((r as { detail: string }).detail, pattern);
    };
    assert.match((parseEventLog('{') as { detail: string }).detail, /^not JSON/);
    fails((j) => (j.format = 'ccel'), /at format/);
    fails((j) => (j.hashAlgorithm = 'sha256'), /at hashAlgorithm/);
    fails((j) => (j.events[0]!.rtmrIndex = 4), /at events\.0\.rtmrIndex/);
    fails((j) => (j.events[2]!.digest = 'ab'), /at events\.2\.digest: 96 hex digits/);
    fails((j) => (j.events[2]!.data = 'XYZ'), /at events\.2\.data: lower-case hex/);
    fails((j) => (j.events[1]!.seq = 5), /event 1 has seq 5: events are missing or out of order/);
    fails((j) => (j.events[0]!.mrIndex = 1), /event 0: mrIndex 1 is not RTMR1's CC MR index 2/);
  });

  it('replays an empty log to four zero RTMRs', () => {
    const r = replayEventLog({ format: 'tdxsim-rtmr-event-log', version: 1, hashAlgorithm: 'sha384', events: [] });
    assert.deepEqual(r.rtmrs, Array.from({ length: 4 }, () => new Uint8Array(48)));
  });
});
