import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SerialConsole } from '../../src/guest/console.ts';
import { installVeHandler } from '../../src/guest/ve.ts';
import { MockTdx } from '../helpers/mock-tdx.ts';

test('the console sends each UTF-8 byte to COM1 THR with a 1-byte OUT', () => {
  const mock = new MockTdx();
  installVeHandler(mock.cpu, { sharedBit: 1n << 47n });
  mock.run((cpu) => new SerialConsole(cpu).writeLine('hé'));
  const outs = mock.tdvmcalls().map((c) => [c.request.regs.R12, c.request.regs.R13, c.request.regs.R14, c.request.regs.R15]);
  assert.deepEqual(outs, [
    [1n, 1n, 0x3f8n, 0x68n],
    [1n, 1n, 0x3f8n, 0xc3n],
    [1n, 1n, 0x3f8n, 0xa9n],
    [1n, 1n, 0x3f8n, 0x0an],
  ]);
  assert.equal(mock.serialOutput(), 'hé\n');
});
