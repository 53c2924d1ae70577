import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameDecoder, encodeFrame, errorFrame, frameBuffer, isFrameError, type Frame, type FrameError } from '../../src/wire/frame.ts';
import { MESSAGES } from '../../src/abi/wire.ts';
import { E, T, helloPayload, rawFrame } from './helpers.ts';

function decodeAll(chunks: Buffer[]): (Frame | FrameError)[] {
  const d = new FrameDecoder();
  const out: (Frame | FrameError)[] = [];
  for (const c of chunks) {
    d.push(c);
    for (let f = d.next(); f !== undefined; f = d.next()) {
      // Frames are reused by the decoder: keep a copy.
      out.push(isFrameError(f) ? f : { ...f, data: Buffer.from(f.data.subarray(f.offset, f.offset + f.length)), offset: 0 });
      if (isFrameError(f)) return out;
    }
  }
  return out;
}

const only = (r: (Frame | FrameError)[]): Frame | FrameError => {
  assert.equal(r.length, 1);
  return r[0]!;
};

describe('FrameDecoder', () => {
  it('decodes a frame in one chunk: type, request id and payload', () => {
    const f = only(decodeAll([rawFrame(T.HELLO, 0xdeadbeef, helloPayload(2))]));
    assert.ok(!isFrameError(f));
    assert.equal(f.type, T.HELLO);
    assert.equal(f.requestId, 0xdeadbeef);
    assert.equal(f.spec.name, 'HELLO');
    assert.equal(f.length, 24);
    assert.deepEqual([...f.data.subarray(0, 6)], [1, 0, 0, 0, 2, 0]);
  });

  it('reassembles frames delivered one byte at a time, and several frames in one chunk', () => {
    const a = rawFrame(T.HELLO, 1, helloPayload(1));
    const b = rawFrame(T.PLATFORM_INFO, 2);
    const bytes = Buffer.concat([a, b, a]);
    const byByte = decodeAll([...bytes].map((x) => Buffer.from([x])));
    const together = decodeAll([bytes]);
    for (const r of [byByte, together]) {
      assert.deepEqual(r.map((f) => (isFrameError(f) ? 'error' : `${f.type}/${f.requestId}/${f.length}`)), ['1/1/24', '262/2/0', '1/1/24']);
    }
  });

  it('hands out payloads without copying when a frame lies inside one chunk', () => {
    const chunk = rawFrame(T.HELLO, 7, helloPayload(2));
    const d = new FrameDecoder();
    d.push(chunk);
    const f = d.next();
    assert.ok(f && !isFrameError(f));
    assert.equal(f.data, chunk);
    assert.equal(f.offset, 12);
    assert.equal(d.buffered, 0);
  });

  it('refuses a length below the header size at once (MALFORMED_FRAME), with request id 0 when the header is short', () => {
    const short = Buffer.alloc(4);
    short.writeUInt32LE(11, 0);
    assert.deepEqual(only(decodeAll([short])), { code: E.MALFORMED_FRAME, message: 'frame length 11 is below the 12-byte header', requestId: 0 });
  });

  it('refuses an oversized length before waiting for its payload (FRAME_TOO_LARGE), naming the request', () => {
    const f = only(decodeAll([rawFrame(T.HELLO, 42, new Uint8Array(0), 0, 12 + (1 << 20) + 1)]));
    assert.ok(isFrameError(f));
    assert.equal(f.code, E.FRAME_TOO_LARGE);
    assert.equal(f.requestId, 42);
  });

  it('accepts the largest frame the limit allows', () => {
    const data = Buffer.alloc(8 + 1024);
    data.writeUInt32LE(1, 0);
    data.writeUInt32LE(1024, 4);
    const f = only(decodeAll([rawFrame(T.ERROR, 3, data)]));
    assert.ok(!isFrameError(f));
    assert.equal(f.length, 1032);
  });

  it('refuses non-zero header flags (RESERVED_NOT_ZERO) and unknown types (UNKNOWN_TYPE)', () => {
    const flags = only(decodeAll([rawFrame(T.HELLO, 5, helloPayload(1), 1)]));
    assert.ok(isFrameError(flags));
    assert.equal(flags.code, E.RESERVED_NOT_ZERO);
    const unknown = only(decodeAll([rawFrame(0x0777, 6)]));
    assert.deepEqual(unknown, { code: E.UNKNOWN_TYPE, message: 'unknown message type 0x0777', requestId: 6 });
  });

  it('refuses a payload size the layout does not allow (BAD_PAYLOAD_LENGTH)', () => {
    const f = only(decodeAll([rawFrame(T.HELLO, 8, Buffer.alloc(23))]));
    assert.deepEqual(f, { code: E.BAD_PAYLOAD_LENGTH, message: 'HELLO payload is 23 bytes, expected 24', requestId: 8 });
    const tooLong = only(decodeAll([rawFrame(T.PLATFORM_INFO, 9, Buffer.alloc(1))]));
    assert.ok(isFrameError(tooLong));
    assert.equal(tooLong.code, E.BAD_PAYLOAD_LENGTH);
  });

  it('refuses a data length field that disagrees with the data carried', () => {
    const p = Buffer.alloc(16 + 8);
    p.writeUInt32LE(9, 8); // HOST_MEM_WRITE says 9 bytes, carries 8
    const f = only(decodeAll([rawFrame(0x0103, 10, p)]));
    assert.deepEqual(f, { code: E.BAD_PAYLOAD_LENGTH, message: 'HOST_MEM_WRITE declares 9 bytes of data but carries 8', requestId: 10 });
  });

  it('refuses non-zero reserved payload bytes (RESERVED_NOT_ZERO), naming the field', () => {
    const p = helloPayload(1);
    p[6] = 1;
    assert.deepEqual(only(decodeAll([rawFrame(T.HELLO, 11, p)])), { code: E.RESERVED_NOT_ZERO, message: 'HELLO.reserved0 must be zero', requestId: 11 });
  });

  it('stays failed after an error: nothing more comes out of the stream', () => {
    const d = new FrameDecoder();
    d.push(Buffer.concat([rawFrame(0x0777, 1), rawFrame(T.HELLO, 2, helloPayload(1))]));
    const first = d.next();
    assert.ok(first && isFrameError(first));
    d.push(rawFrame(T.HELLO, 3, helloPayload(1)));
    assert.equal(d.next(), first);
    assert.equal(d.error, first);
    assert.equal(d.buffered, 0);
  });

  it('waits for the rest of a frame (undefined) without failing', () => {
    const f = rawFrame(T.HELLO, 1, helloPayload(1));
    const d = new FrameDecoder();
    d.push(f.subarray(0, 3));
    assert.equal(d.next(), undefined);
    d.push(f.subarray(3, 20));
    assert.equal(d.next(), undefined);
    d.push(f.subarray(20));
    const got = d.next();
    assert.ok(got && !isFrameError(got));
  });
});

describe('frame encoding', () => {
  it('writes the header fields little-endian and zero flags', () => {
    const b = encodeFrame(0x8101, 0x01020304, new Uint8Array([9, 8, 7]));
    assert.deepEqual([...b], [15, 0, 0, 0, 0x01, 0x81, 0, 0, 4, 3, 2, 1, 9, 8, 7]);
    const z = frameBuffer(0x8204, 5, 4);
    assert.deepEqual([...z], [16, 0, 0, 0, 0x04, 0x82, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('builds ERROR frames the decoder accepts, cutting long messages to 1024 bytes', () => {
    const f = only(decodeAll([errorFrame(9, 'x'.repeat(5000), 77)]));
    assert.ok(!isFrameError(f));
    assert.equal(f.type, T.ERROR);
    assert.equal(f.requestId, 77);
    assert.equal(f.data.readUInt32LE(0), 9);
    assert.equal(f.data.readUInt32LE(4), 1024);
    assert.equal(f.length, 8 + 1024);
  });
});

/** Valid frames of every message with a fixed-size payload, for mutation. */
const VALID = [...MESSAGES.values()].map((s) => rawFrame(s.type, 1, Buffer.alloc(s.layout?.size ?? 0)));
const KNOWN_CODES = new Set<number>(Object.values(E));

describe('FrameDecoder fuzz (20,000 cases, fixed seed)', () => {
  it('never throws, and yields only well-formed frames or a known error', () => {
    const arbitraryStream = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      fc.record({
        base: fc.constantFrom(...VALID),
        flips: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 6 }),
        cut: fc.nat(),
        extra: fc.uint8Array({ maxLength: 40 }),
      }).map(({ base, flips, cut, extra }) => {
        const b = Buffer.concat([base, extra]);
        for (const f of flips) b[f.at % b.length] = f.value;
        return b.subarray(0, Math.max(1, b.length - (cut % 8)));
      }),
    );
    fc.assert(
      fc.property(arbitraryStream, fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }), (bytes, splits) => {
        const d = new FrameDecoder();
        let at = 0;
        let i = 0;
        while (at < bytes.length) {
          const n = splits[i++ % splits.length]!;
          d.push(Buffer.from(bytes.subarray(at, at + n)));
          at += n;
          for (let f = d.next(); f !== undefined; f = d.next()) {
            if (isFrameError(f)) {
              assert.ok(KNOWN_CODES.has(f.code), `code ${f.code}`);
              assert.equal(d.next(), f);
              return;
            }
            const spec = MESSAGES.get(f.type);
            assert.equal(f.spec, spec);
            const fixed = spec!.layout?.size ?? 0;
            assert.ok(f.length >= fixed && f.length <= fixed + spec!.maxTail);
            assert.ok(f.offset + f.length <= f.data.length);
          }
        }
      }),
      { seed: 0x7d5, numRuns: 20_000 },
    );
  });
});
