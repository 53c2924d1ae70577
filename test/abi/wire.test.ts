import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  FRAME_HEADER,
  HELLO,
  MESSAGES,
  MessageType,
  REGISTER_FILE,
  SEAMCALL,
  SERVER_TYPE_BIT,
  EXCEPTION,
  EXCEPTION_DONE,
  fixedSize,
} from '../../src/abi/wire.ts';

describe('wire protocol tables', () => {
  it('gives every message type one spec, named after its MessageType entry', () => {
    assert.equal(MESSAGES.size, Object.keys(MessageType).length);
    for (const [name, type] of Object.entries(MessageType)) {
      const s = MESSAGES.get(type);
      assert.ok(s, name);
      assert.equal(s.name, name);
      assert.equal(s.type, type);
    }
  });

  it('marks server messages with bit 15, and answers every request with its type | 0x8000', () => {
    for (const s of MESSAGES.values()) {
      assert.equal((s.type & 0x8000) !== 0, s.sender === 'server', s.name);
      if (s.sender === 'server' || s.name === 'EXCEPTION_DONE') continue;
      const answer = MESSAGES.get(s.type | SERVER_TYPE_BIT);
      assert.ok(answer, `${s.name} has an answer`);
      assert.equal(answer.sender, 'server');
    }
    // EXCEPTION_DONE answers the server's EXCEPTION, the other way round.
    assert.equal(MessageType.EXCEPTION_DONE | SERVER_TYPE_BIT, MessageType.EXCEPTION);
  });

  it('has the byte sizes the protocol document gives', () => {
    assert.equal(FRAME_HEADER.size, 12);
    assert.equal(HELLO.size, 24);
    assert.equal(REGISTER_FILE.size, 384);
    assert.equal(SEAMCALL.size, 392);
    assert.equal(EXCEPTION.size, 152);
    assert.equal(EXCEPTION_DONE.size, 144);
    assert.equal(fixedSize(MESSAGES.get(0x0106)!), 0);
    assert.equal(MESSAGES.get(0x8000)!.maxTail, 1024);
    assert.equal(MESSAGES.get(0x0103)!.maxTail, 256 * 1024);
  });

  it('numbers the frame header fields as documented (length 0, type 4, flags 6, request id 8)', () => {
    assert.deepEqual(
      FRAME_HEADER.describe().fields.map((f) => [f.name, f.offset, f.size]),
      [['length', 0, 4], ['type', 4, 2], ['flags', 6, 2], ['request_id', 8, 4]],
    );
  });
});
