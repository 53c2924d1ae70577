import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SerialPort } from '../../../src/host/userspace/serial.ts';

const BASE = 0x3f8;

function out(s: SerialPort, text: string): void {
  for (const b of new TextEncoder().encode(text)) s.write(BASE, 1, BigInt(b));
}

describe('SerialPort (16550 at 0x3F8)', () => {
  it('collects lines, dropping CR', () => {
    const lines: string[] = [];
    const s = new SerialPort({ onLine: (l) => lines.push(l) });
    out(s, 'hello\r\nworld\npart');
    assert.deepEqual(s.lines, ['hello', 'world']);
    assert.deepEqual(lines, ['hello', 'world']);
    assert.equal(s.pendingText, 'part');
  });
  it('LSR reads transmitter-empty and never data-ready; IIR reads no interrupt', () => {
    const s = new SerialPort();
    assert.equal(s.read(BASE + 5, 1), 0x60n);
    assert.equal(s.read(BASE + 2, 1), 0x01n);
    assert.equal(s.read(BASE, 1), 0n);
  });
  it('holds LCR, scratch and the divisor latch; a 16-bit access spans two ports', () => {
    const s = new SerialPort();
    s.write(BASE + 7, 1, 0xa5n);
    assert.equal(s.read(BASE + 7, 1), 0xa5n);
    s.write(BASE + 3, 1, 0x80n); // DLAB
    s.write(BASE, 2, 0x0c01n); // divisor low then high
    assert.equal(s.read(BASE, 2), 0x0c01n);
    assert.deepEqual(s.lines, []);
    s.write(BASE + 3, 1, 0x03n);
    assert.equal(s.read(BASE + 1, 1), 0n); // IER, not the latch
    s.write(BASE, 2, 0x0a41n); // 'A' then IER = 0x0a
    assert.equal(s.pendingText, 'A');
    assert.equal(s.read(BASE + 1, 1), 0x0an);
  });
  it('bounds what a guest can make it store', () => {
    const s = new SerialPort({ maxLines: 2, maxLineBytes: 4 });
    out(s, 'abcdefgh\nxy\n');
    assert.deepEqual(s.lines, ['efgh', 'xy']);
    assert.equal(s.droppedLines, 1);
  });
});
