import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FIELD_ID } from '../../src/abi/operands.ts';
import {
  CPUID_VALUES_FIELD_BASE,
  METADATA_FIELDS,
  cpuidValuesFieldId,
  fieldIdInfo,
  makeFieldId,
  metadataCodeSpan,
  metadataFieldById,
  metadataFieldByName,
  type MetadataFieldDef,
} from '../../src/abi/metadata.ts';
import { TdxFeatures0Bit } from '../../src/abi/module-features.ts';
import { GPR_NAMES } from '../../src/abi/registers.ts';
import { TdCtlsBit } from '../../src/abi/td-config.ts';

const byName = (name: string): MetadataFieldDef => {
  const f = metadataFieldByName(name);
  assert.ok(f, `${name} missing`);
  return f;
};

describe('metadata table consistency', () => {
  it('has no duplicate names or ids', () => {
    const names = METADATA_FIELDS.map((f) => f.name);
    assert.equal(new Set(names).size, names.length);
    const ids = METADATA_FIELDS.map((f) => f.id);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('states context and element size as the id encodes them, with no reserved id bits', () => {
    const ctx = ['SYS', 'TD', 'VP'];
    for (const f of METADATA_FIELDS) {
      const d = FIELD_ID.decode(f.id);
      assert.equal(f.context, ctx[Number(d.context_code)], f.name);
      assert.equal(f.elementSize, 1 << Number(d.element_size_code), f.name);
      assert.equal(FIELD_ID.hasReservedBits(f.id), false, f.name);
      assert.ok(f.fields >= 1 && f.elementsPerField >= 1, f.name);
      assert.ok(f.doc.length > 0, f.name);
    }
  });

  it('never lets two entries of one context and class share a field code', () => {
    for (const a of METADATA_FIELDS) {
      for (const b of METADATA_FIELDS) {
        if (a === b || a.context !== b.context) continue;
        const da = FIELD_ID.decode(a.id);
        const db = FIELD_ID.decode(b.id);
        if (da.class_code !== db.class_code) continue;
        const a0 = Number(da.field_code);
        const b0 = Number(db.field_code);
        const overlap = a0 < b0 + metadataCodeSpan(b) && b0 < a0 + metadataCodeSpan(a);
        assert.equal(overlap, false, `${a.name} and ${b.name} overlap`);
      }
    }
  });

  it('is internally coherent about access', () => {
    for (const f of METADATA_FIELDS) {
      if (f.hostWriteMask !== undefined) assert.ok(f.hostWritable, `${f.name}: host mask without host write`);
      if (f.guestWriteMask !== undefined) assert.ok(f.guestWritable, `${f.name}: guest mask without guest write`);
      // SYS fields have no debug/production distinction.
      if (f.context === 'SYS') {
        assert.equal(f.debugReadable, f.hostReadable, f.name);
        assert.equal(f.debugWritable, f.hostWritable, f.name);
        assert.equal(f.hostWritable, false, `${f.name}: global metadata is read-only`);
        assert.equal(f.guestWritable, false, f.name);
      }
      // A debug TD's host can do at least what a production TD's host can.
      if (f.hostReadable) assert.ok(f.debugReadable, f.name);
      if (f.hostWritable) assert.ok(f.debugWritable, f.name);
    }
  });
});

describe('metadata ids from the facts (tdx-module.md §10.3, linux-tdx.md §1.4, §1.6, §2.1)', () => {
  it('names the SYS fields Linux reads with the ids Linux uses', () => {
    const expected: Record<string, bigint> = {
      MINOR_VERSION: 0x0800000100000003n,
      MAJOR_VERSION: 0x0800000100000004n,
      UPDATE_VERSION: 0x0800000100000005n,
      TDX_FEATURES0: 0x0a00000300000008n,
      MAX_TDMRS: 0x9100000100000008n,
      MAX_RESERVED_PER_TDMR: 0x9100000100000009n,
      PAMT_4K_ENTRY_SIZE: 0x9100000100000010n,
      PAMT_2M_ENTRY_SIZE: 0x9100000100000011n,
      PAMT_1G_ENTRY_SIZE: 0x9100000100000012n,
      TDR_BASE_SIZE: 0x9800000100000000n,
      TDCS_BASE_SIZE: 0x9800000100000100n,
      TDVPS_BASE_SIZE: 0x9800000100000200n,
      ATTRIBUTES_FIXED0: 0x1900000300000000n,
      ATTRIBUTES_FIXED1: 0x1900000300000001n,
      XFAM_FIXED0: 0x1900000300000002n,
      XFAM_FIXED1: 0x1900000300000003n,
      NUM_CPUID_CONFIG: 0x9900000100000004n,
      MAX_VCPUS_PER_TD: 0x9900000100000008n,
      CPUID_CONFIG_LEAVES: 0x9900000300000400n,
      CPUID_CONFIG_VALUES: 0x9900000300000500n,
      MODULE_HV: 0x8900000100000000n,
      LIFECYCLE_STATE: 0x8010000200000005n,
      OP_STATE: 0x9010000200000004n,
      ATTRIBUTES: 0x1110000300000000n,
      MRTD: 0x1310000300000000n,
      RTMR: 0x1310000300000040n,
      CONFIG_FLAGS: 0x1110000300000016n,
      TD_CTLS: 0x1110000300000017n,
      CPUID_VALUES: 0x9410000300000000n,
      VCPU_STATE: 0xa020000000000000n,
      VCPU_INDEX: 0xa020000200000002n,
    };
    for (const [name, id] of Object.entries(expected)) assert.equal(byName(name).id, id, name);
  });

  it('numbers the guest GPRs RAX..R15 as 0x1020000300000000 + index', () => {
    GPR_NAMES.forEach((reg, i) => assert.equal(byName(reg).id, 0x1020_0003_0000_0000n + BigInt(i), reg));
  });

  it('finds the TD execution-control and TDVPS fields KVM builds from class and field code', () => {
    // KVM: TDCS_EXEC(10/11) = class 17 | field, TDVPS_MANAGEMENT(11) = class 32 | 11,
    // TDVPS_STATE_NON_ARCH(0x100) = bit 63 | class 17 | 0x100; VMCS: class 0 | encoding.
    const kvm = (cls: number, code: number, nonArch = false): bigint =>
      (nonArch ? 1n << 63n : 0n) | (BigInt(cls) << 56n) | BigInt(code);
    assert.equal(metadataFieldById(kvm(17, 10), 'TD')?.name, 'TSC_OFFSET');
    assert.equal(metadataFieldById(kvm(17, 11), 'TD')?.name, 'TSC_MULTIPLIER');
    assert.equal(metadataFieldById(kvm(32, 11), 'VP')?.name, 'PEND_NMI');
    assert.equal(metadataFieldById(kvm(17, 0x100, true), 'VP')?.name, 'VCPU_STATE_DETAILS');
    assert.equal(metadataFieldById(kvm(0, 0x203c), 'VP')?.name, 'SHARED_EPTP');
    // The facts' spelling of SHARED_EPTP (no inc_size bit) names the same field.
    assert.equal(metadataFieldById(0x0020_0003_0000_203cn)?.name, 'SHARED_EPTP');
  });

  it("resolves Linux's short guest ids and the module's non-arch spellings to the same fields", () => {
    assert.equal(metadataFieldById(0x9100_0000_0000_0010n, 'TD')?.name, 'NOTIFY_ENABLES');
    assert.equal(metadataFieldById(0x9100_0000_0000_0019n, 'TD')?.name, 'TOPOLOGY_ENUM_CONFIGURED');
    assert.equal(metadataFieldById(0x9110_0003_0000_0016n)?.name, 'CONFIG_FLAGS');
    assert.equal(metadataFieldById(0x9110_0003_0000_0017n)?.name, 'TD_CTLS');
  });

  it('names the TDX_FEATURES0 and TD_CTLS bits', () => {
    assert.equal(byName('TDX_FEATURES0').bits, TdxFeatures0Bit);
    assert.equal(byName('TDX_FEATURES0').bits?.NO_RBP_MOD, 18);
    assert.equal(byName('TD_CTLS').bits, TdCtlsBit);
  });

  it('records the access Linux relies on', () => {
    // Host reads of global metadata and of TSC_OFFSET; guest read/write of TD_CTLS and
    // NOTIFY_ENABLES; host write of PEND_NMI and SHARED_EPTP; host read of VCPU_STATE_DETAILS.
    assert.ok(byName('TDX_FEATURES0').hostReadable);
    assert.ok(byName('TSC_OFFSET').hostReadable);
    assert.ok(byName('TD_CTLS').guestReadable && byName('TD_CTLS').guestWritable);
    assert.ok(byName('NOTIFY_ENABLES').guestWritable);
    assert.ok(byName('CONFIG_FLAGS').guestReadable && !byName('CONFIG_FLAGS').guestWritable);
    assert.ok(byName('PEND_NMI').hostWritable);
    assert.ok(byName('SHARED_EPTP').hostWritable);
    assert.ok(byName('VCPU_STATE_DETAILS').hostReadable);
    // And what it does not get: a production TD's GPRs and RTMRs are hidden from the host.
    assert.ok(!byName('RAX').hostReadable && byName('RAX').debugReadable);
    assert.ok(!byName('RTMR').hostReadable && byName('RTMR').guestReadable);
  });
});

describe('metadataFieldById', () => {
  it('finds elements inside multi-field and multi-element entries', () => {
    const rtmr = byName('RTMR');
    // RTMR2 element 5: field code 0x40 + 2*6 + 5.
    assert.equal(metadataFieldById(rtmr.id + 17n), rtmr);
    assert.equal(metadataFieldById(rtmr.id + 24n), undefined);
    const leaves = byName('CPUID_CONFIG_LEAVES');
    assert.equal(metadataFieldById(leaves.id + 11n), leaves);
    assert.equal(metadataFieldById(leaves.id + 12n), undefined);
    const values = byName('CPUID_CONFIG_VALUES');
    assert.equal(metadataFieldById(values.id + 23n), values);
  });

  it('uses the context of the leaf when given, not the id bits', () => {
    // ATTRIBUTES is TD class 0x11 field 0; with context SYS the same bits name nothing.
    assert.equal(metadataFieldById(0x1110_0003_0000_0000n, 'SYS'), undefined);
    assert.equal(metadataFieldById(0x1100_0003_0000_0000n, 'TD')?.name, 'ATTRIBUTES');
  });

  it('returns undefined for unknown ids and bad contexts', () => {
    assert.equal(metadataFieldById(0x3f00_0003_0000_0000n), undefined);
    assert.equal(metadataFieldById(0x0070_0000_0000_0000n), undefined);
  });
});

describe('fieldIdInfo', () => {
  it('decodes every part of an id', () => {
    const i = fieldIdInfo(0x9120_0003_0000_0100n);
    assert.equal(i.classCode, 0x11);
    assert.equal(i.context, 'VP');
    assert.equal(i.elementSize, 8);
    assert.equal(i.fieldCode, 0x100);
    assert.equal(i.nonArch, true);
    assert.equal(i.incSize, false);
    assert.equal(i.reservedBitsSet, false);
    assert.equal(i.field?.name, 'VCPU_STATE_DETAILS');
  });

  it('reports an unknown context code as a number and reserved bits as set', () => {
    const i = fieldIdInfo((7n << 52n) | (1n << 24n));
    assert.equal(i.context, 7);
    assert.equal(i.reservedBitsSet, true);
    assert.equal(i.field, undefined);
  });

  it('makeFieldId builds what fieldIdInfo decodes', () => {
    const id = makeFieldId({ classCode: 0x13, context: 'TD', elementSize: 8, fieldCode: 0x40 });
    assert.equal(id, byName('RTMR').id);
    assert.equal(makeFieldId({ classCode: 0, context: 'VP', elementSize: 8, fieldCode: 0x203c, incSize: true }), byName('SHARED_EPTP').id);
    assert.equal(makeFieldId({ classCode: 0x11, context: 'VP', elementSize: 8, fieldCode: 0x100, nonArch: true }), byName('VCPU_STATE_DETAILS').id);
  });
});

describe('cpuidValuesFieldId (Linux tdx_read_cpuid encoding)', () => {
  it('encodes leaf, sub-leaf and element into the field code', () => {
    // Leaf 7 sub-leaf 1, element 1: leaf 6:0 in 15:9, sub-leaf in 7:1, element in bit 0.
    assert.equal(cpuidValuesFieldId(7, 1, 1), CPUID_VALUES_FIELD_BASE | (7n << 9n) | (1n << 1n) | 1n);
    // No sub-leaf: bits 8:1 all ones (0x1FE).
    assert.equal(cpuidValuesFieldId(1, null, 0), CPUID_VALUES_FIELD_BASE | (1n << 9n) | 0x1fen);
    // Leaf bit 31 goes to bit 16.
    assert.equal(cpuidValuesFieldId(0x8000_0008, null, 0), CPUID_VALUES_FIELD_BASE | (1n << 16n) | (8n << 9n) | 0x1fen);
    assert.equal(metadataFieldById(cpuidValuesFieldId(0x8000_0008, null, 1))?.name, 'CPUID_VALUES');
  });

  it('refuses leaves and sub-leaves the encoding cannot hold', () => {
    assert.throws(() => cpuidValuesFieldId(0x80, null, 0), RangeError);
    assert.throws(() => cpuidValuesFieldId(4, 0x80, 0), RangeError);
  });
});
