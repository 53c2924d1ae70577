import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegisterFile } from '../../src/abi/registers.ts';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';
import {
  decodeCpuid,
  decodeGetQuote,
  decodeGetTdVmCallInfo,
  decodeHlt,
  decodeIo,
  decodeMapGpa,
  decodeMmio,
  decodeRdmsr,
  decodeSetupEventNotify,
  decodeWrmsr,
  fatalErrorMessage,
  isPrivateGpa,
  mapGpaChunk,
  stripShared,
  type TdAddressing,
} from '../../src/host/tdvmcall-args.ts';

const A48: TdAddressing = { sharedBit: 1n << 47n, gpaw: 48 };
const A52: TdAddressing = { sharedBit: 1n << 51n, gpaw: 52 };
const S = A48.sharedBit;

const regs = (v: Parameters<typeof RegisterFile.from>[0]) => RegisterFile.from(v);

describe('decodeIo (Instruction.IO)', () => {
  it('accepts sizes 1/2/4 and directions 0/1; OUT data is masked to the size; port is 16-bit', () => {
    assert.deepEqual(decodeIo(regs({ R12: 1n, R13: 1n, R14: 0x3f8n, R15: 0x1241n })), {
      ok: true,
      value: { size: 1, write: true, port: 0x3f8, data: 0x41n },
    });
    assert.deepEqual(decodeIo(regs({ R12: 4n, R13: 0n, R14: 0x1_0070n, R15: 99n })), {
      ok: true,
      value: { size: 4, write: false, port: 0x70, data: 0n },
    });
  });
  for (const [size, dir] of [[0n, 0n], [3n, 1n], [8n, 0n], [1n, 2n], [2n, 1n << 63n]] as const) {
    it(`refuses size ${size} direction ${dir} with INVALID_OPERAND and no R11`, () => {
      const d = decodeIo(regs({ R12: size, R13: dir }));
      assert.equal(d.ok, false);
      if (!d.ok) {
        assert.equal(d.status, TdvmcallStatus.INVALID_OPERAND);
        assert.equal(d.r11, undefined);
      }
    });
  }
});

describe('decodeMmio (#VE.RequestMMIO)', () => {
  it('strips the shared bit; write data masked', () => {
    assert.deepEqual(decodeMmio(regs({ R12: 2n, R13: 1n, R14: S | 0xfeb0_0000n, R15: 0xabcdefn }), A48), {
      ok: true,
      value: { size: 2, write: true, gpa: 0xfeb0_0000n, data: 0xcdefn },
    });
  });
  it('refuses a private GPA, and one whose last byte is private', () => {
    for (const [gpa, size] of [[0x1000n, 4n], [(1n << 48n) - 2n, 4n], [U64(), 8n]] as const) {
      const d = decodeMmio(regs({ R12: size, R13: 0n, R14: gpa }), A48);
      assert.equal(d.ok, false, `gpa ${gpa}`);
      if (!d.ok) assert.equal(d.status, TdvmcallStatus.INVALID_OPERAND);
    }
  });
  it('refuses sizes other than 1/2/4/8 and directions other than 0/1', () => {
    assert.equal(decodeMmio(regs({ R12: 16n, R13: 0n, R14: S }), A48).ok, false);
    assert.equal(decodeMmio(regs({ R12: 8n, R13: 5n, R14: S }), A48).ok, false);
  });
});

function U64(): bigint {
  return (1n << 64n) - 4n; // shared bit set, but gpa + 8 - 1 wraps to a private GPA
}

describe('decodeMapGpa', () => {
  const refusal = (r: ReturnType<typeof decodeMapGpa>) => (r.ok ? undefined : { status: r.status, r11: r.r11 });
  it('accepts an aligned range, either direction', () => {
    assert.deepEqual(decodeMapGpa(regs({ R12: S | 0x20_0000n, R13: 0x40_0000n }), A48, true), {
      ok: true,
      value: { gpa: S | 0x20_0000n, size: 0x40_0000n, toPrivate: false },
    });
    const r = decodeMapGpa(regs({ R12: 0x1000n, R13: 0x1000n }), A48, true);
    assert.equal(r.ok && r.value.toPrivate, true);
  });
  it('SUBFUNC_UNSUPPORTED with R11 = gpa when userspace did not enable the exit', () => {
    assert.deepEqual(refusal(decodeMapGpa(regs({ R12: 0x5000n, R13: 0x1000n }), A48, false)), {
      status: TdvmcallStatus.SUBFUNC_UNSUPPORTED,
      r11: 0x5000n,
    });
  });
  it('INVALID_OPERAND with R11 = gpa: empty, wrapping, beyond GPAW, crossing the shared bit', () => {
    for (const [gpa, size] of [
      [0x1000n, 0n],
      [(1n << 64n) - 0x1000n, 0x2000n],
      [1n << 48n, 0x1000n],
      [S - 0x1000n, 0x2000n],
    ] as const) {
      assert.deepEqual(refusal(decodeMapGpa(regs({ R12: gpa, R13: size }), A48, true)), {
        status: TdvmcallStatus.INVALID_OPERAND,
        r11: gpa,
      }, `gpa ${gpa.toString(16)} size ${size.toString(16)}`);
    }
    // With GPAW 52, bit 48 is a legal private GPA.
    assert.equal(decodeMapGpa(regs({ R12: 1n << 48n, R13: 0x1000n }), A52, true).ok, true);
  });
  it('ALIGN_ERROR with R11 = gpa for an unaligned GPA or size', () => {
    assert.deepEqual(refusal(decodeMapGpa(regs({ R12: 0x1800n, R13: 0x1000n }), A48, true)), { status: TdvmcallStatus.ALIGN_ERROR, r11: 0x1800n });
    assert.deepEqual(refusal(decodeMapGpa(regs({ R12: 0x1000n, R13: 0x800n }), A48, true)), { status: TdvmcallStatus.ALIGN_ERROR, r11: 0x1000n });
  });
  it('chunks at 2 MB', () => {
    assert.deepEqual(mapGpaChunk(0x1000n, 0x50_0000n), { gpa: 0x1000n, size: 0x20_0000n });
    assert.deepEqual(mapGpaChunk(0x40_1000n, 0x50_0000n), { gpa: 0x40_1000n, size: 0xf_f000n });
  });
});

describe('GetQuote, SetupEventNotifyInterrupt, GetTdVmCallInfo', () => {
  it('GetQuote needs a shared GPA; size passes through unchecked (as in KVM)', () => {
    assert.deepEqual(decodeGetQuote(regs({ R12: S | 0x3000n, R13: 0x123n }), A48), { ok: true, value: { gpa: 0x3000n, size: 0x123n } });
    const d = decodeGetQuote(regs({ R12: 0x3000n, R13: 0x1000n }), A48);
    assert.equal(!d.ok && d.status, TdvmcallStatus.INVALID_OPERAND);
  });
  it('notify vector must be 32..255', () => {
    assert.equal(decodeSetupEventNotify(regs({ R12: 32n })).ok, true);
    assert.equal(decodeSetupEventNotify(regs({ R12: 255n })).ok, true);
    for (const v of [0n, 31n, 256n, 1n << 63n]) {
      const d = decodeSetupEventNotify(regs({ R12: v }));
      assert.equal(!d.ok && d.status, TdvmcallStatus.INVALID_OPERAND);
    }
  });
  it('GetTdVmCallInfo leaf 0 or 1 only', () => {
    assert.deepEqual(decodeGetTdVmCallInfo(regs({ R12: 1n })), { ok: true, value: { leaf: 1 } });
    const d = decodeGetTdVmCallInfo(regs({ R12: 2n }));
    assert.equal(!d.ok && d.status, TdvmcallStatus.INVALID_OPERAND);
  });
});

describe('CPUID, MSR, HLT, ReportFatalError', () => {
  it('truncates CPUID leaf/subleaf and MSR index to 32 bits', () => {
    assert.deepEqual(decodeCpuid(regs({ R12: (1n << 32n) | 0x4000_0000n, R13: 0xffff_ffff_0000_0001n })), { leaf: 0x4000_0000, subleaf: 1 });
    assert.deepEqual(decodeRdmsr(regs({ R12: (7n << 32n) | 0x1bn })), { index: 0x1b });
    assert.deepEqual(decodeWrmsr(regs({ R12: 0x277n, R13: 0xdead_beef_0000_0001n })), { index: 0x277, value: 0xdead_beef_0000_0001n });
  });
  it('HLT R12 != 0 means interrupts blocked', () => {
    assert.deepEqual(decodeHlt(regs({ R12: 0n })), { interruptsBlocked: false });
    assert.deepEqual(decodeHlt(regs({ R12: 2n })), { interruptsBlocked: true });
  });
  it('decodes the 64-byte message in GHCI register order, cut at NUL', () => {
    const text = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz!?';
    const b = new TextEncoder().encode(text);
    const word = (i: number) => new DataView(b.buffer).getBigUint64(i * 8, true);
    const r = regs({ R14: word(0), R15: word(1), RBX: word(2), RDI: word(3), RSI: word(4), R8: word(5), R9: word(6), RDX: word(7) });
    assert.equal(fatalErrorMessage(r), text);
    assert.equal(fatalErrorMessage(regs({ R14: 0x6968n })), 'hi');
    assert.equal(fatalErrorMessage(regs({})), '');
  });
  it('private/shared helpers', () => {
    assert.equal(isPrivateGpa(0x1000n, A48), true);
    assert.equal(isPrivateGpa(S | 0x1000n, A48), false);
    assert.equal(stripShared(S | 0x1000n, A48), 0x1000n);
    assert.equal(stripShared((1n << 51n) | 7n, A52), 7n);
  });
});
