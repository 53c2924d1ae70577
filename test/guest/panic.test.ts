import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegisterFile } from '../../src/abi/registers.ts';
import { decodeFatalError, fatalErrorMessageBytes, packFatalErrorMessage, panic } from '../../src/guest/panic.ts';
import { MockTdx } from '../helpers/mock-tdx.ts';

const MSG64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz!?';

test('the message is packed little-endian into R14, R15, RBX, RDI, RSI, R8, R9, RDX', () => {
  const mock = new MockTdx();
  mock.run((cpu) => panic(cpu, MSG64));
  const r = mock.tdvmcalls()[0]!.request.regs;
  assert.equal(r.RAX, 0n);
  assert.equal(r.RCX, 0xffccn);
  assert.equal(r.R10, 0n);
  assert.equal(r.R11, 0x10003n);
  assert.equal(r.R12, 0n, 'error code 0: a plain panic');
  assert.equal(r.R13, 0n, 'no extra data GPA');
  assert.equal(r.R14, 0x4847464544434241n); // "ABCDEFGH"
  assert.equal(r.R15, 0x504f4e4d4c4b4a49n); // "IJKLMNOP"
  assert.equal(r.RBX, 0x5857565554535251n); // "QRSTUVWX"
  assert.equal(r.RDI, 0x3534333231305a59n); // "YZ012345"
  assert.equal(r.RSI, 0x6463626139383736n); // "6789abcd"
  assert.equal(r.R8, 0x6c6b6a6968676665n); // "efghijkl"
  assert.equal(r.R9, 0x74737271706f6e6dn); // "mnopqrst"
  assert.equal(r.RDX, 0x3f217a7978777675n); // "uvwxyz!?"
  assert.deepEqual(mock.outcome, { kind: 'panic', panic: { errorCode: 0n, tdSpecificCode: 0n, message: MSG64 } });
});

test('a short message is NUL-padded, a long one cut at 64 bytes', () => {
  const short = packFatalErrorMessage('oops');
  assert.deepEqual(short, { R14: 0x73706f6fn, R15: 0n, RBX: 0n, RDI: 0n, RSI: 0n, R8: 0n, R9: 0n, RDX: 0n });
  const long = fatalErrorMessageBytes(MSG64 + 'tail');
  assert.equal(long.length, 64);
  assert.equal(new TextDecoder().decode(long), MSG64);
});

test('the error code goes to R12 bits 62:32 and decodes back', () => {
  const mock = new MockTdx();
  mock.run((cpu) => panic(cpu, 'bad config', 5n));
  const r = mock.tdvmcalls()[0]!.request.regs;
  assert.equal(r.R12, 5n << 32n);
  assert.deepEqual(mock.outcome, { kind: 'panic', panic: { errorCode: 5n << 32n, tdSpecificCode: 5n, message: 'bad config' } });
  assert.throws(() => new MockTdx().run((cpu) => panic(cpu, 'x', 1n << 31n)), RangeError);
});

test('if the VMM resumes the guest, it reports again, forever', () => {
  let reports = 0;
  const mock = new MockTdx({
    stopOnPanic: false,
    // A VMM that clobbers every exposed register and resumes, three times, then stops.
    vmm: () => (++reports < 3 ? { regs: { R10: 0n, R11: 0n, R12: 9n, R14: 0n, RBX: 0n, RDX: 0n } } : { stop: true }),
  });
  mock.run((cpu) => panic(cpu, 'still here'));
  const calls = mock.tdvmcalls();
  assert.equal(calls.length, 3);
  for (const c of calls) {
    assert.equal(c.name, 'ReportFatalError');
    assert.equal(c.request.regs.R12, 0n);
    const regs = RegisterFile.from(c.request.regs);
    assert.equal(decodeFatalError(regs).message, 'still here');
  }
});

test('decodeFatalError stops at the first NUL and reads UTF-8', () => {
  const regs = RegisterFile.from({ ...packFatalErrorMessage('TD ✓'), R12: 7n << 32n });
  assert.deepEqual(decodeFatalError(regs), { errorCode: 7n << 32n, tdSpecificCode: 7n, message: 'TD ✓' });
});
