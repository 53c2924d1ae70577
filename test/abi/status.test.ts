import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { U64_MASK } from '../../src/abi/bitfield.ts';
import {
  OperandId,
  STATUS_CLASSES,
  STATUS_CODE_MASK,
  STATUS_DETAILS_MASK,
  STATUS_LAYOUT,
  TdxSoftwareStatus,
  TdxStatus,
  isSuccessOrWarning,
  statusCode,
  withOperand,
} from '../../src/abi/status.ts';

const MODULE_CODES = Object.entries(TdxStatus).filter(([name]) => name !== 'UNINITIALIZE_ERROR');

describe('TdxStatus table', () => {
  it('has no duplicate values or names', () => {
    const values = Object.values(TdxStatus).map(statusCode);
    assert.equal(new Set(values).size, values.length);
    const names = Object.keys(TdxStatus);
    assert.equal(new Set(names).size, names.length);
  });

  it('stores every module code with bits 31:0 zero and reserved bits 59:48 zero', () => {
    for (const [name, v] of MODULE_CODES) {
      assert.equal(v & STATUS_DETAILS_MASK, 0n, name);
      assert.equal(STATUS_LAYOUT.get(v, 'reserved0'), 0n, name);
    }
  });

  it('gives every module code a known class', () => {
    for (const [name, v] of MODULE_CODES) {
      const cls = Number(STATUS_LAYOUT.get(v, 'class'));
      assert.ok(STATUS_CLASSES[cls] !== undefined, `${name}: class 0x${cls.toString(16)} has no name`);
    }
  });

  it('matches the facts for well-known codes (tdx-module.md §3.2)', () => {
    assert.equal(TdxStatus.TDX_SUCCESS, 0n);
    assert.equal(TdxStatus.TDX_OPERAND_INVALID, 0xc000010000000000n);
    assert.equal(TdxStatus.TDX_OPERAND_BUSY, 0x8000020000000000n);
    assert.equal(TdxStatus.TDX_SYS_NOT_READY, 0xc000050500000000n);
    assert.equal(TdxStatus.TDX_EPT_ENTRY_STATE_INCORRECT, 0xc0000b0d00000000n);
    assert.equal(TdxStatus.TDX_HOST_PRIORITY_BUSY_TIMEOUT, 0x9000020500000000n);
    // The module's value, with the fatal bit (Linux has the 1.0 value 0x4000000200000000).
    assert.equal(TdxStatus.TDX_NON_RECOVERABLE_TD, 0x6000000200000000n);
  });

  it('has bit 63 clear exactly for success and the warnings the facts list', () => {
    const warnings = new Set([
      'TDX_SUCCESS',
      'TDX_PAGE_ALREADY_FREE',
      'TDX_KEY_CONFIGURED',
      'TDX_NO_HKID_READY_TO_WBCACHE',
      'TDX_TDMR_ALREADY_INITIALIZED',
      'TDX_GPA_RANGE_ALREADY_BLOCKED',
      'TDX_PAGE_ALREADY_ACCEPTED',
      'TDX_ALREADY_WRITE_BLOCKED',
      'TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT',
      'TDX_METADATA_FIELD_SKIP',
      // Non-recoverable exits carry bit 62 (and 61) but not bit 63.
      'TDX_NON_RECOVERABLE_VCPU',
      'TDX_NON_RECOVERABLE_TD',
      'TDX_NON_RECOVERABLE_TD_NON_ACCESSIBLE',
      'TDX_NON_RECOVERABLE_TD_CORRUPTED_MD',
    ]);
    for (const [name, v] of MODULE_CODES) {
      const ok = name.startsWith('TDX_L2_EXIT_') || name.startsWith('TDX_TD_EXIT_') || name === 'TDX_PENDING_INTERRUPT' || warnings.has(name);
      assert.equal(isSuccessOrWarning(v), ok, name);
    }
  });
});

describe('software-defined status codes', () => {
  it('use class 0xFF with the error bit, which no module code uses', () => {
    for (const [name, v] of Object.entries(TdxSoftwareStatus)) {
      assert.equal(STATUS_LAYOUT.get(v, 'class'), 0xffn, name);
      assert.equal(STATUS_LAYOUT.get(v, 'error'), 1n, name);
    }
    for (const [name, v] of MODULE_CODES) assert.notEqual(STATUS_LAYOUT.get(v, 'class'), 0xffn, name);
  });

  it('have the values Linux uses (linux-tdx.md §3.2)', () => {
    assert.equal(TdxSoftwareStatus.TDX_SEAMCALL_VMFAILINVALID, 0x8000ff00ffff0000n);
    assert.equal(TdxSoftwareStatus.TDX_SEAMCALL_GP, 0x8000ff000000000dn);
    assert.equal(TdxSoftwareStatus.TDX_SEAMCALL_UD, 0x8000ff0000000006n);
    const values = Object.values(TdxSoftwareStatus);
    assert.equal(new Set(values).size, values.length);
  });
});

describe('operand IDs', () => {
  it('have no duplicate numbers or names, and RSP (4) is never an operand', () => {
    const ids = Object.values(OperandId);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(new Set(Object.keys(OperandId)).size, ids.length);
    assert.ok(!(ids as number[]).includes(4));
    assert.ok(!('RSP' in OperandId));
  });

  it('number the GPRs by architectural index and the rest as the facts give (§3.3)', () => {
    assert.equal(OperandId.RCX, 1);
    assert.equal(OperandId.R15, 15);
    assert.equal(OperandId.ATTRIBUTES, 64);
    assert.equal(OperandId.CPUID_CONFIG, 69);
    assert.equal(OperandId.TDR, 0x80);
    assert.equal(OperandId.SEPT_TREE, 146);
    assert.equal(OperandId.TD_EPOCH, 169);
    assert.equal(OperandId.KOT, 186);
    for (const v of Object.values(OperandId)) assert.ok(Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff);
  });
});

describe('status helpers', () => {
  it('withOperand adds the operand into bits 31:0 and statusCode strips it again', () => {
    const s = withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RDX);
    assert.equal(s, 0xc000010000000002n);
    assert.equal(statusCode(s), TdxStatus.TDX_OPERAND_INVALID);
    assert.equal(STATUS_LAYOUT.get(s, 'details_l2'), 2n);
    assert.equal(withOperand(0n, 0x1_0000_0001n), 1n);
  });

  it('the two masks split the 64 bits', () => {
    assert.equal(STATUS_CODE_MASK | STATUS_DETAILS_MASK, U64_MASK);
    assert.equal(STATUS_CODE_MASK & STATUS_DETAILS_MASK, 0n);
  });

  it('decodes the flag bits of a fatal TD exit', () => {
    const d = STATUS_LAYOUT.decode(TdxStatus.TDX_TD_FATAL);
    assert.equal(d.error, 1n);
    assert.equal(d.non_recoverable, 1n);
    assert.equal(d.fatal, 1n);
    assert.equal(d.class, 6n);
  });
});
