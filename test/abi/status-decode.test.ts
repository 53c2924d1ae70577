import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { U32_MASK, U64_MASK } from '../../src/abi/bitfield.ts';
import { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';
import { TdcallLeaf } from '../../src/abi/tdcall-leaves.ts';
import { TdxSoftwareStatus, TdxStatus, statusCode, withOperand } from '../../src/abi/status.ts';
import {
  decodeExitReason,
  decodeLeafWord,
  decodeStatus,
  decodeTdvmcallStatus,
  formatDecodedStatus,
  formatLeafShort,
  formatLeafWord,
  formatStatusShort,
  formatTdvmcallStatus,
} from '../../src/abi/status-decode.ts';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';

describe('decodeStatus: golden values', () => {
  it('0xC0000B0B00000001 is PAGE_SIZE_MISMATCH at SEPT level 1 (2M), with the operand reading kept apart', () => {
    const d = decodeStatus(0xC0000B0B00000001n);
    assert.equal(d.name, 'TDX_PAGE_SIZE_MISMATCH');
    assert.equal(d.known, true);
    assert.equal(d.software, false);
    assert.equal(d.error, true);
    assert.equal(d.classId, 0x0b);
    assert.equal(d.className, 'Secure EPT');
    assert.equal(d.detailsL1, 0x0b);
    assert.equal(d.detailsL2, 1);
    assert.equal(d.detailsKind, 'septLevel');
    assert.deepEqual(d.level, { value: 1, name: '2M' });
    // The same bits read as an operand ID name RCX; that reading is reported, but not as `operand`.
    assert.deepEqual(d.detailsAsOperand, { id: 1, name: 'RCX' });
    assert.equal(d.operand, undefined);
    assert.equal(
      formatDecodedStatus(d),
      '0xC0000B0B00000001 TDX_PAGE_SIZE_MISMATCH (error, class 0x0B Secure EPT) level=2M (1) [read as an operand ID: RCX]',
    );
    assert.equal(formatStatusShort(d), 'TDX_PAGE_SIZE_MISMATCH level=2M');
  });

  it('0xC000010000000045 is OPERAND_INVALID on the TD_PARAMS field CPUID_CONFIG (69)', () => {
    const d = decodeStatus(0xC000010000000045n);
    assert.equal(d.name, 'TDX_OPERAND_INVALID');
    assert.equal(d.detailsKind, 'operand');
    assert.deepEqual(d.operand, { id: 69, name: 'CPUID_CONFIG' });
    assert.equal(d.nonRecoverable, true);
    assert.equal(formatDecodedStatus(d), '0xC000010000000045 TDX_OPERAND_INVALID (error, class 0x01 operand) operand=CPUID_CONFIG (69)');
    assert.equal(formatStatusShort(d), 'TDX_OPERAND_INVALID operand=CPUID_CONFIG');
  });

  it('0x8000FF00FFFF0000 is the software code TDX_SEAMCALL_VMFAILINVALID; its low bits are a marker, not an operand', () => {
    const d = decodeStatus(0x8000FF00FFFF0000n);
    assert.equal(d.name, 'TDX_SEAMCALL_VMFAILINVALID');
    assert.equal(d.software, true);
    assert.equal(d.known, true);
    assert.equal(d.classId, 0xff);
    assert.equal(d.detailsL2, 0xffff0000);
    assert.equal(d.detailsKind, 'vmfailMarker');
    assert.equal(d.operand, undefined);
  });

  it('0x8000FF000000000D is TDX_SEAMCALL_GP and 0x8000FF0000000006 is TDX_SEAMCALL_UD: trap vectors', () => {
    const gp = decodeStatus(0x8000FF000000000Dn);
    assert.equal(gp.name, 'TDX_SEAMCALL_GP');
    assert.equal(gp.software, true);
    assert.equal(gp.detailsKind, 'trapVector');
    assert.deepEqual(gp.trapVector, { value: 13, name: '#GP' });
    assert.equal(gp.operand, undefined);
    assert.equal(
      formatDecodedStatus(gp),
      '0x8000FF000000000D TDX_SEAMCALL_GP (error, software, class 0xFF software-defined (host SEAMCALL helper)) vector=#GP (13)',
    );
    const ud = decodeStatus(0x8000FF0000000006n);
    assert.equal(ud.name, 'TDX_SEAMCALL_UD');
    assert.deepEqual(ud.trapVector, { value: 6, name: '#UD' });
    assert.equal(ud.operand, undefined);
  });

  it('the bare TDX_SW_ERROR mask and other class-0xFF error values are software-defined', () => {
    const base = decodeStatus(0x8000FF0000000000n);
    assert.equal(base.name, 'TDX_SW_ERROR');
    assert.equal(base.detailsKind, 'none');
    // Linux ORs any SEAMCALL fault vector into TDX_SW_ERROR; #DF is not defined but still decodes.
    const df = decodeStatus(0x8000FF0000000008n);
    assert.equal(df.known, false);
    assert.equal(df.name, undefined);
    assert.equal(df.software, true);
    assert.deepEqual(df.trapVector, { value: 8, name: '#DF' });
    const big = decodeStatus(0x8000FF0012345678n);
    assert.equal(big.software, true);
    assert.equal(big.detailsKind, 'raw');
  });

  it('a code not in the table (0xC0007F0000000003) decodes with known=false, class 0x7F, flags and operand', () => {
    const d = decodeStatus(0xC0007F0000000003n);
    assert.equal(d.known, false);
    assert.equal(d.name, undefined);
    assert.equal(d.software, false);
    assert.equal(d.classId, 0x7f);
    assert.equal(d.className, 'unassigned');
    assert.equal(d.error, true);
    assert.equal(d.nonRecoverable, true);
    assert.equal(d.fatal, false);
    assert.equal(d.hostRecoverabilityHint, false);
    assert.equal(d.reservedBitsSet, false);
    assert.deepEqual(d.operand, { id: 3, name: 'RBX' });
    assert.equal(formatDecodedStatus(d), '0xC0007F0000000003 unknown status 0xC0007F00 (error, class 0x7F unassigned) operand=RBX (3)');
    assert.equal(formatStatusShort(d), 'unknown 0xC0007F00 class 0x7F operand=RBX');
  });

  it('an operand ID no table defines keeps its number and has no name', () => {
    const d = decodeStatus(withOperand(TdxStatus.TDX_OPERAND_INVALID, 200));
    assert.deepEqual(d.operand, { id: 200 });
    assert.match(formatDecodedStatus(d), /operand=unknown \(200\)$/);
  });

  it('details too large for an operand ID are shown raw, not as an operand', () => {
    const d = decodeStatus(withOperand(TdxStatus.TDX_METADATA_FIELD_ID_INCORRECT, 0x12345));
    assert.equal(d.detailsKind, 'raw');
    assert.equal(d.operand, undefined);
    assert.match(formatDecodedStatus(d), /details=0x00012345$/);
  });
});

describe('decodeStatus: warnings, flags and the other uses of bits 31:0', () => {
  it('TDX_PAGE_ALREADY_ACCEPTED is a warning (error=false) carrying a SEPT level', () => {
    const d = decodeStatus(0x00000B0A00000000n);
    assert.equal(d.name, 'TDX_PAGE_ALREADY_ACCEPTED');
    assert.equal(d.error, false);
    assert.deepEqual(d.level, { value: 0, name: '4K' });
    // Zero is "no operand" outside the operand class, so there is no operand reading to offer.
    assert.equal(d.detailsAsOperand, undefined);
    assert.match(formatDecodedStatus(d), /\(warning, class 0x0B Secure EPT\) level=4K \(0\)$/);
    const g1 = decodeStatus(0x00000B0A00000002n);
    assert.deepEqual(g1.level, { value: 2, name: '1G' });
    assert.deepEqual(g1.detailsAsOperand, { id: 2, name: 'RDX' });
  });

  it('every table code with bit 63 clear decodes with error=false, every other with error=true', () => {
    for (const [name, code] of Object.entries(TdxStatus)) {
      const d = decodeStatus(code);
      assert.equal(d.name, name);
      assert.equal(d.error, code >> 63n === 1n, name);
    }
  });

  it('every table code is found on bits 63:32 whatever bits 31:0 hold', () => {
    for (const [name, code] of Object.entries(TdxStatus)) {
      assert.equal(decodeStatus(statusCode(code) | 0x9an).name, name);
    }
    for (const [name, value] of Object.entries(TdxSoftwareStatus)) {
      assert.equal(decodeStatus(value).name, name);
    }
  });

  it('operand class: details 0 is RAX (a bad leaf word); elsewhere 0 means no operand', () => {
    assert.deepEqual(decodeStatus(0xC000010000000000n).operand, { id: 0, name: 'RAX' });
    const notReady = decodeStatus(0xC000050500000000n);
    assert.equal(notReady.name, 'TDX_SYS_NOT_READY');
    assert.equal(notReady.detailsKind, 'none');
    assert.equal(formatDecodedStatus(notReady), '0xC000050500000000 TDX_SYS_NOT_READY (error, class 0x05 system state)');
  });

  it('busy errors are recoverable (bit 62 clear) and name the contended object', () => {
    const d = decodeStatus(0x8000020000000092n);
    assert.equal(d.name, 'TDX_OPERAND_BUSY');
    assert.equal(d.nonRecoverable, false);
    assert.deepEqual(d.operand, { id: 0x92, name: 'SEPT_TREE' });
    assert.equal(formatDecodedStatus(d), '0x8000020000000092 TDX_OPERAND_BUSY (error, recoverable, class 0x02 busy) operand=SEPT_TREE (146)');
  });

  it('MSR codes carry an MSR address', () => {
    const d = decodeStatus(0xC0000921000001A0n);
    assert.equal(d.name, 'TDX_INCORRECT_MSR_VALUE');
    assert.equal(d.detailsKind, 'msr');
    assert.equal(d.msr, 0x1a0);
    assert.equal(d.operand, undefined);
    assert.match(formatDecodedStatus(d), /msr=0x1A0$/);
  });

  it('TD exit statuses carry a VMX exit reason', () => {
    const vmcall = decodeStatus(0x000000000000004Dn);
    assert.equal(vmcall.name, 'TDX_SUCCESS');
    assert.equal(vmcall.detailsKind, 'exitReason');
    assert.equal(vmcall.exitReason?.name, 'TDCALL');
    assert.equal(vmcall.exitReason?.basic, 77);
    assert.equal(formatDecodedStatus(vmcall), '0x000000000000004D TDX_SUCCESS (success, class 0x00 general) exit=TDCALL (77)');

    const dead = decodeStatus(0x6000000200000030n);
    assert.equal(dead.name, 'TDX_NON_RECOVERABLE_TD');
    assert.equal(dead.error, false);
    assert.equal(dead.nonRecoverable, true);
    assert.equal(dead.fatal, true);
    assert.equal(dead.exitReason?.name, 'EPT_VIOLATION');
    assert.equal(
      formatDecodedStatus(dead),
      '0x6000000200000030 TDX_NON_RECOVERABLE_TD (TD exit, non-recoverable, fatal, class 0x00 general) exit=EPT_VIOLATION (48)',
    );

    // Plain success is not dressed up as an exception exit.
    const ok = decodeStatus(0n);
    assert.equal(ok.detailsKind, 'none');
    assert.equal(formatDecodedStatus(ok), '0x0000000000000000 TDX_SUCCESS (success, class 0x00 general)');
  });

  it('fatal and host-recoverability-hint flags', () => {
    const fatal = decodeStatus(TdxStatus.TDX_TD_FATAL);
    assert.equal(fatal.fatal, true);
    assert.equal(fatal.nonRecoverable, true);
    const timeout = decodeStatus(TdxStatus.TDX_HOST_PRIORITY_BUSY_TIMEOUT);
    assert.equal(timeout.hostRecoverabilityHint, true);
    assert.equal(timeout.error, true);
    assert.equal(timeout.nonRecoverable, false);
  });

  it('reserved bits 59:48 are reported', () => {
    const d = decodeStatus(0xC001010000000001n);
    assert.equal(d.reservedBitsSet, true);
    assert.match(formatDecodedStatus(d), /reserved bits 59:48 set$/);
  });

  it('the all-ones sentinel is UNINITIALIZE_ERROR, not a software code', () => {
    const d = decodeStatus(U64_MASK);
    assert.equal(d.name, 'UNINITIALIZE_ERROR');
    assert.equal(d.software, false);
    assert.equal(d.className, 'reserved');
  });

  it('rejects values outside 0..2^64-1', () => {
    assert.throws(() => decodeStatus(-1n), RangeError);
    assert.throws(() => decodeStatus(1n << 64n), RangeError);
  });

  it('any 64-bit value decodes, and the decoded fields are the bits of the value', () => {
    // Fixed seed: the run is replayable; fast-check prints the counterexample on failure.
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: U64_MASK }), (v) => {
        const d = decodeStatus(v);
        assert.equal(BigInt(d.hex), v);
        assert.equal(d.detailsL2, Number(v & U32_MASK));
        assert.equal(d.detailsL1, Number((v >> 32n) & 0xffn));
        assert.equal(d.classId, Number((v >> 40n) & 0xffn));
        assert.equal(d.error, (v >> 63n) === 1n);
        assert.equal(d.known, d.name !== undefined);
        assert.equal(d.operand !== undefined, d.detailsKind === 'operand');
        assert.equal(d.level !== undefined, d.detailsKind === 'septLevel');
        assert.equal(typeof formatDecodedStatus(d), 'string');
      }),
      { seed: 20240611, numRuns: 2000 },
    );
  });
});

describe('decodeExitReason', () => {
  it('splits basic reason and flags', () => {
    assert.deepEqual(decodeExitReason(0x80000021), {
      value: 0x80000021,
      basic: 33,
      name: 'ENTRY_FAILURE_GUEST_STATE',
      failedVmentry: true,
      busLockPreempted: false,
      reservedBitsSet: false,
    });
    const lock = decodeExitReason(0x0400004d);
    assert.equal(lock.busLockPreempted, true);
    assert.equal(lock.name, 'TDCALL');
    assert.equal(decodeExitReason(0x00010000).reservedBitsSet, true);
    assert.equal(decodeExitReason(99).name, undefined);
  });
});

describe('decodeTdvmcallStatus', () => {
  it('names every GHCI status, and says which Linux lacks', () => {
    const expected = {
      SUCCESS: [0n, false, true],
      RETRY: [1n, false, true],
      INVALID_OPERAND: [0x8000000000000000n, true, true],
      GPA_INUSE: [0x8000000000000001n, true, false],
      ALIGN_ERROR: [0x8000000000000002n, true, true],
      SUBFUNC_UNSUPPORTED: [0x8000000000000003n, true, true],
    } as const;
    assert.deepEqual(Object.keys(TdvmcallStatus).sort(), Object.keys(expected).sort());
    for (const [key, [value, error, linux]] of Object.entries(expected)) {
      const d = decodeTdvmcallStatus(value);
      assert.equal(TdvmcallStatus[key as keyof typeof TdvmcallStatus], value);
      assert.equal(d.name, `TDVMCALL_STATUS_${key}`);
      assert.equal(d.known, true);
      assert.equal(d.error, error, key);
      assert.equal(d.definedByLinux, linux, key);
    }
    assert.equal(
      formatTdvmcallStatus(decodeTdvmcallStatus(0x8000000000000001n)),
      '0x8000000000000001 TDVMCALL_STATUS_GPA_INUSE (error; GHCI only, not defined by Linux)',
    );
    assert.equal(formatTdvmcallStatus(decodeTdvmcallStatus(1n)), '0x0000000000000001 TDVMCALL_STATUS_RETRY (not an error: call again)');
  });

  it('an undefined value still reports its error bit', () => {
    const d = decodeTdvmcallStatus(0x8000000000000009n);
    assert.equal(d.known, false);
    assert.equal(d.name, undefined);
    assert.equal(d.error, true);
    assert.equal(formatTdvmcallStatus(d), '0x8000000000000009 unknown TDVMCALL status (error)');
    assert.throws(() => decodeTdvmcallStatus(1n << 64n), RangeError);
  });
});

describe('decodeLeafWord', () => {
  it('0x0000000000010016 is TDH.VP.INIT version 1', () => {
    const d = decodeLeafWord(0x0000000000010016n, 'seamcall');
    assert.equal(d.leaf, 22);
    assert.equal(d.version, 1);
    assert.equal(d.name, 'TDH.VP.INIT');
    assert.equal(d.key, 'TDH_VP_INIT');
    assert.equal(d.implemented, true);
    assert.equal(d.reservedBitsSet, false);
    assert.equal(d.versionAccepted, true);
    assert.equal(d.valid, true);
    assert.equal(formatLeafWord(d), '0x0000000000010016 TDH.VP.INIT version 1 (SEAMCALL leaf 22)');
    assert.equal(formatLeafShort(d), 'TDH.VP.INIT v1');
  });

  it('reserved bits (31:24 or 63:32) make the word invalid', () => {
    for (const rax of [0x0000000001000016n, 0x0000000100000016n]) {
      const d = decodeLeafWord(rax, 'seamcall');
      assert.equal(d.name, 'TDH.VP.INIT');
      assert.equal(d.reservedBitsSet, true);
      assert.equal(d.valid, false);
      assert.match(formatLeafWord(d), /reserved bits 63:24 set/);
    }
  });

  it('a version above the leaf maximum is not accepted', () => {
    const d = decodeLeafWord(0x0000000000020016n, 'seamcall');
    assert.equal(d.versionAccepted, false);
    assert.equal(d.valid, false);
    assert.equal(formatLeafWord(d), '0x0000000000020016 TDH.VP.INIT version 2 (SEAMCALL leaf 22); version 2 not accepted (max 1)');
    const accept = decodeLeafWord(0x0000000000010006n, 'tdcall');
    assert.equal(accept.name, 'TDG.MEM.PAGE.ACCEPT');
    assert.equal(accept.versionAccepted, false);
  });

  it('an unknown leaf has no name and is not accepted', () => {
    const d = decodeLeafWord(0x0000000000000063n, 'seamcall');
    assert.equal(d.name, undefined);
    assert.equal(d.versionAccepted, false);
    assert.equal(d.valid, false);
    assert.equal(formatLeafWord(d), '0x0000000000000063 unknown SEAMCALL leaf 99 version 0');
    assert.equal(formatLeafShort(d), 'unknown SEAMCALL leaf 99');
  });

  it('the same number names different leaves in the two tables', () => {
    assert.equal(decodeLeafWord(0n, 'seamcall').name, 'TDH.VP.ENTER');
    assert.equal(decodeLeafWord(0n, 'tdcall').name, 'TDG.VP.VMCALL');
    assert.equal(decodeLeafWord(0x0000000000010007n, 'tdcall').name, 'TDG.VM.RD');
    assert.equal(decodeLeafWord(0x0000000000010007n, 'tdcall').valid, true);
  });

  it('every leaf in both tables is found by its number at its highest version', () => {
    for (const [table, kind] of [
      [SeamcallLeaf, 'seamcall'],
      [TdcallLeaf, 'tdcall'],
    ] as const) {
      for (const [key, def] of Object.entries(table)) {
        const d = decodeLeafWord(BigInt(def.number) | (BigInt(def.maxVersion) << 16n), kind);
        assert.equal(d.key, key);
        assert.equal(d.name, def.mnemonic);
        assert.equal(d.valid, true, key);
      }
    }
  });
});
