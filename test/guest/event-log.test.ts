import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { TcgEventType } from '../../src/abi/td-guest.ts';
import { eventDigest, replayRtmrs, RtmrEventLog } from '../../src/guest/event-log.ts';

const sha384 = (...parts: Uint8Array[]) => {
  const h = createHash('sha384');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

test('an event records the RTMR, its CC MR index, the type, the digest and the data', () => {
  const log = new RtmrEventLog();
  const data = new TextEncoder().encode('cmdline');
  const e = log.record(2, TcgEventType.EV_IPL, eventDigest(data), data);
  assert.deepEqual(e, {
    seq: 0,
    rtmrIndex: 2,
    mrIndex: 3,
    eventType: 0xd,
    eventTypeName: 'EV_IPL',
    digest: Buffer.from(sha384(data)).toString('hex'),
    data: '636d646c696e65',
  });
  assert.equal(log.record(0, 0x1234, new Uint8Array(48), new Uint8Array()).eventTypeName, undefined);
  assert.deepEqual(log.toJSON(), { format: 'tdxsim-rtmr-event-log', version: 1, hashAlgorithm: 'sha384', events: log.events });
  assert.deepEqual(JSON.parse(JSON.stringify(log)).events[1].seq, 1);
});

test('replay chains SHA-384(RTMR || digest) per register from zeros', () => {
  const log = new RtmrEventLog();
  const d1 = eventDigest(Uint8Array.of(1));
  const d2 = eventDigest(Uint8Array.of(2));
  log.record(2, TcgEventType.EV_IPL, d1, Uint8Array.of(1));
  log.record(2, TcgEventType.EV_IPL, d2, Uint8Array.of(2));
  log.record(0, TcgEventType.EV_EVENT_TAG, d1, Uint8Array.of(1));
  const rtmrs = replayRtmrs(log.events);
  const zero = new Uint8Array(48);
  assert.deepEqual(rtmrs[2], sha384(sha384(zero, d1), d2));
  assert.deepEqual(rtmrs[0], sha384(zero, d1));
  assert.deepEqual(rtmrs[1], zero);
  assert.deepEqual(rtmrs[3], zero);
});

test('a bad RTMR index or digest length is refused', () => {
  const log = new RtmrEventLog();
  assert.throws(() => log.record(4, 0, new Uint8Array(48), new Uint8Array()), RangeError);
  assert.throws(() => log.record(0, 0, new Uint8Array(32), new Uint8Array()), RangeError);
  assert.throws(() => replayRtmrs([{ rtmrIndex: 5, digest: '' }]), RangeError);
});
