import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FIELD_ID } from '../../src/abi/operands.ts';
import { U64_MASK } from '../../src/abi/bitfield.ts';
import { TdxStatus } from '../../src/abi/status.ts';
import { METADATA_FIELDS, cpuidValuesFieldId, metadataFieldByName } from '../../src/abi/metadata.ts';
import { CPUID_ANY_SUBLEAF, SIMULATED_CPUID } from '../../src/abi/cpuid.ts';
import { NULL_PA } from '../../src/abi/vmx.ts';
import { TdAttributesBit } from '../../src/abi/td-config.ts';
import {
  FIELDS_WITHOUT_BEHAVIOUR,
  MD_REGISTRY,
  accessMask,
  findEntry,
  type MdBinding,
} from '../../src/module/md-fields.ts';
import {
  NULL_FIELD_ID,
  advance,
  checkSingleElementId,
  inContext,
  isNullFieldId,
  locate,
  nextElementId,
  readElement,
  writeElement,
} from '../../src/module/md-access.ts';
import { bringUp, createTd } from '../helpers/module-harness.ts';
import { createVcpu } from '../helpers/vcpu-harness.ts';

const S = TdxStatus;
const id = (name: string): bigint => metadataFieldByName(name)!.id;
const entryOf = (context: 'SYS' | 'TD' | 'VP', name: string) => MD_REGISTRY[context][findEntry(context, id(name))!]!;

function bindings(debug = false) {
  const env = bringUp();
  const attributes = debug ? 1n << BigInt(TdAttributesBit.DEBUG) : undefined;
  const t = createTd(env, { maxVcpus: 2, ...(attributes !== undefined && { attributes }) });
  const v = createVcpu(env, t.tdr);
  const sys: MdBinding = { context: 'SYS', module: env.module };
  const td: MdBinding = { context: 'TD', module: env.module, td: t.td };
  const vp: MdBinding = { context: 'VP', module: env.module, td: t.td, vcpu: v.vcpu };
  return { env, t, v, sys, td, vp };
}

describe('md-fields registry', () => {
  it('has a behaviour for every field of abi/metadata.ts', () => {
    assert.deepEqual(FIELDS_WITHOUT_BEHAVIOUR, []);
    const count = MD_REGISTRY.SYS.length + MD_REGISTRY.TD.length + MD_REGISTRY.VP.length;
    assert.equal(count, METADATA_FIELDS.length);
  });

  it('orders each context by class, then field code (TD VMCS first in VP context)', () => {
    for (const ctx of ['SYS', 'TD', 'VP'] as const) {
      const keys = MD_REGISTRY[ctx].map((e) => [e.classCode, e.baseCode] as const);
      for (let i = 1; i < keys.length; i++) {
        const [c0, f0] = keys[i - 1]!;
        const [c1, f1] = keys[i]!;
        assert.ok(c0 < c1 || (c0 === c1 && f0 < f1), `${ctx} entry ${i} out of order`);
      }
    }
    assert.equal(MD_REGISTRY.VP[0]!.def.name, 'POSTED_INTR_NV');
  });

  it('gives each caller the module table masks, cut to the element size', () => {
    const tdCtls = entryOf('TD', 'TD_CTLS');
    assert.equal(accessMask(tdCtls, 'hostRead', false), 0n);
    assert.equal(accessMask(tdCtls, 'hostRead', true), U64_MASK);
    assert.equal(accessMask(tdCtls, 'guestRead', false), U64_MASK);
    assert.equal(accessMask(tdCtls, 'guestWrite', false), 0x7n);
    assert.equal(accessMask(tdCtls, 'hostWrite', true), 0n);
    const notify = entryOf('TD', 'NOTIFY_ENABLES');
    assert.equal(accessMask(notify, 'hostRead', false), 0n);
    assert.equal(accessMask(notify, 'hostWrite', true), 1n);
    assert.equal(accessMask(notify, 'guestRead', false), 1n);
    const eptp = entryOf('VP', 'SHARED_EPTP');
    assert.equal(accessMask(eptp, 'hostRead', false), 0x000f_ffff_ffff_f000n);
    assert.equal(accessMask(eptp, 'hostRead', true), U64_MASK);
    assert.equal(accessMask(eptp, 'hostWrite', false), 0x000f_ffff_ffff_f000n);
    const pin = entryOf('VP', 'PIN_BASED_VM_EXEC_CONTROL');
    assert.equal(accessMask(pin, 'hostRead', false), 0x80n);
    assert.equal(accessMask(pin, 'hostRead', true), 0xffff_ffffn);
    const nv = entryOf('VP', 'POSTED_INTR_NV');
    assert.equal(accessMask(nv, 'hostWrite', false), 0xffffn);
    const rax = entryOf('VP', 'RAX');
    assert.equal(accessMask(rax, 'hostRead', false), 0n);
    assert.equal(accessMask(rax, 'hostWrite', true), U64_MASK);
    assert.equal(accessMask(entryOf('VP', 'RSP'), 'hostRead', true), 0n);
    // A read-only field has no write mask for anyone.
    const attrs = entryOf('TD', 'ATTRIBUTES');
    for (const a of ['hostWrite', 'guestWrite'] as const) {
      assert.equal(accessMask(attrs, a, false), 0n);
      assert.equal(accessMask(attrs, a, true), 0n);
    }
    assert.equal(accessMask(entryOf('SYS', 'MAX_TDMRS'), 'guestRead', false), 0n);
    assert.equal(accessMask(entryOf('SYS', 'MAJOR_VERSION'), 'guestRead', false), 0xffffn);
  });

  it('finds fields by class and field code only', () => {
    const maxTdmrs = id('MAX_TDMRS');
    const other = FIELD_ID.set(FIELD_ID.set(FIELD_ID.set(maxTdmrs, 'element_size_code', 3n), 'non_arch', 0n), 'inc_size', 1n);
    assert.equal(findEntry('SYS', other), findEntry('SYS', maxTdmrs));
    assert.equal(findEntry('SYS', FIELD_ID.set(maxTdmrs, 'class_code', 0x12n)), undefined);
    assert.equal(findEntry('SYS', FIELD_ID.set(maxTdmrs, 'field_code', 0x7n)), undefined);
    // The same id in another context names nothing there.
    assert.equal(findEntry('TD', maxTdmrs), undefined);
    // Linux's short ids: no context, element size 0.
    assert.equal(MD_REGISTRY.TD[findEntry('TD', 0x9100_0000_0000_0010n)!]!.def.name, 'NOTIFY_ENABLES');
    assert.equal(MD_REGISTRY.TD[findEntry('TD', 0x9100_0000_0000_0019n)!]!.def.name, 'TOPOLOGY_ENUM_CONFIGURED');
    assert.equal(MD_REGISTRY.VP[findEntry('VP', 0x0020_0003_0000_203cn)!]!.def.name, 'SHARED_EPTP');
  });

  it('encodes CPUID_VALUES field codes as KVM does, for every virtualised leaf', () => {
    const e = entryOf('TD', 'CPUID_VALUES');
    assert.equal(e.elements, SIMULATED_CPUID.length * 2);
    SIMULATED_CPUID.forEach((leaf, k) => {
      for (const element of [0, 1] as const) {
        const want = cpuidValuesFieldId(leaf.leaf, leaf.subleaf === CPUID_ANY_SUBLEAF ? null : leaf.subleaf, element);
        const code = Number(FIELD_ID.get(want, 'field_code'));
        assert.equal(e.codeOf(2 * k + element), code);
        assert.equal(e.elementOf(code), 2 * k + element);
      }
    });
  });
});

describe('md-access: FIELD_ID checks', () => {
  it('accepts a single-element id whatever its size, inc_size, write_mask_valid and context', () => {
    let x = id('MAX_TDMRS');
    x = FIELD_ID.set(x, 'element_size_code', 0n);
    x = FIELD_ID.set(x, 'inc_size', 1n);
    x = FIELD_ID.set(x, 'write_mask_valid', 1n);
    x = FIELD_ID.set(x, 'context_code', 7n);
    assert.equal(checkSingleElementId(x), S.TDX_SUCCESS);
  });

  it('refuses reserved bits and sequence fields', () => {
    const base = id('MAX_TDMRS');
    for (const f of ['reserved0', 'reserved1', 'reserved2', 'reserved3'] as const) {
      assert.equal(checkSingleElementId(base | FIELD_ID.field(f).mask), S.TDX_METADATA_FIELD_ID_INCORRECT, f);
    }
    assert.equal(checkSingleElementId(FIELD_ID.set(base, 'last_element_in_field', 1n)), S.TDX_METADATA_FIELD_ID_INCORRECT);
    assert.equal(checkSingleElementId(FIELD_ID.set(base, 'last_field_in_sequence', 1n)), S.TDX_METADATA_FIELD_ID_INCORRECT);
  });

  it('treats all ones, with any context, as the null id', () => {
    assert.ok(isNullFieldId(NULL_FIELD_ID));
    assert.ok(isNullFieldId(inContext(NULL_FIELD_ID, 'TD')));
    assert.ok(!isNullFieldId(NULL_FIELD_ID - 1n));
  });

  it('locates elements; a TD VMCS HIGH access and unknown CPUID leaves fail', () => {
    const { vp, td } = bindings();
    const shared = inContext(id('SHARED_EPTP'), 'VP');
    assert.ok(locate(vp, shared).ok);
    assert.deepEqual(locate(vp, shared + 1n), { ok: false, status: S.TDX_METADATA_FIELD_ID_INCORRECT });
    const rtmr2 = inContext(id('RTMR') + 13n, 'TD');
    const loc = locate(td, rtmr2);
    assert.ok(loc.ok && loc.cursor.elem === 13);
    // Leaf 0x3 is not virtualised; leaf 4 has sub-leaves, so "no sub-leaf" matches nothing.
    assert.deepEqual(locate(td, cpuidValuesFieldId(0x3, null, 0)), { ok: false, status: S.TDX_METADATA_FIELD_NOT_READABLE });
    assert.deepEqual(locate(td, cpuidValuesFieldId(0x4, null, 0)), { ok: false, status: S.TDX_METADATA_FIELD_NOT_READABLE });
    // A leaf without sub-leaves matches any sub-leaf encoding.
    assert.ok(locate(td, cpuidValuesFieldId(0x0, 5, 1)).ok);
    // CPUID field code bits 23:17 are reserved.
    assert.deepEqual(locate(td, cpuidValuesFieldId(0x0, null, 0) | (1n << 17n)), { ok: false, status: S.TDX_METADATA_FIELD_ID_INCORRECT });
  });
});

describe('md-access: reads, writes and walks', () => {
  it('masks a read with the caller read mask', () => {
    const { vp, v } = bindings();
    v.vcpu.sharedEptp = 0xabc_def0_1234_5fffn;
    const id0 = inContext(id('SHARED_EPTP'), 'VP');
    assert.equal(readElement(vp, id0, 'hostRead').value, 0xabc_def0_1234_5fffn & 0x000f_ffff_ffff_f000n);
    assert.deepEqual(readElement(vp, id0, 'guestRead'), { status: S.TDX_METADATA_FIELD_NOT_READABLE, value: 0n });
  });

  it('walks element by element inside a field, then from field to field', () => {
    const { td } = bindings();
    const mrtd = inContext(id('MRTD'), 'TD');
    const c0 = locate(td, mrtd);
    assert.ok(c0.ok);
    assert.equal(nextElementId(td, c0.cursor, 'hostRead'), mrtd + 1n);
    const last = locate(td, mrtd + 5n);
    assert.ok(last.ok);
    assert.equal(nextElementId(td, last.cursor, 'hostRead'), id('MRCONFIGID'));
    // The caller's own bits survive a step inside an entry (here a 1-byte size code).
    const odd = FIELD_ID.set(mrtd, 'element_size_code', 0n);
    const c1 = locate(td, odd);
    assert.ok(c1.ok);
    assert.equal(nextElementId(td, c1.cursor, 'hostRead'), odd + 1n);
    // The guest skips fields it cannot read: its first TD field is NUM_VCPUS.
    assert.equal(nextElementId(td, null, 'guestRead'), id('NUM_VCPUS'));
    assert.equal(nextElementId(td, null, 'hostRead'), id('LIFECYCLE_STATE'));
  });

  it('field-granularity walks land on first elements', () => {
    const { td } = bindings();
    const rtmr = locate(td, inContext(id('RTMR') + 2n, 'TD'));
    assert.ok(rtmr.ok);
    const next = advance(td, rtmr.cursor, 'field', 'guestRead');
    assert.equal(next?.elem, 6);
    assert.equal(next?.id, inContext(id('RTMR') + 6n, 'TD'));
  });

  it('writes only writable bits, and refuses changing others', () => {
    const { td, t } = bindings(true);
    const notify = inContext(id('NOTIFY_ENABLES'), 'TD');
    assert.deepEqual(writeElement(td, notify, 1n, 1n, 'hostWrite'), { status: S.TDX_SUCCESS, oldValue: 0n });
    assert.equal(t.td.notifyEnables, 1n);
    // Bit 1 is not writable: asking to set it fails, asking for its current value (0) is fine.
    assert.deepEqual(writeElement(td, notify, 2n, 3n, 'hostWrite'), { status: S.TDX_METADATA_FIELD_VALUE_NOT_VALID, oldValue: 0n });
    assert.deepEqual(writeElement(td, notify, 0n, U64_MASK, 'hostWrite'), { status: S.TDX_SUCCESS, oldValue: 1n });
    assert.equal(t.td.notifyEnables, 0n);
    assert.deepEqual(writeElement(td, notify, 1n, 0n, 'hostWrite'), { status: S.TDX_METADATA_FIELD_NOT_WRITABLE, oldValue: 0n });
  });

  it('treats an unwritten physical address (NULL_PA) as 0 outside the write mask', () => {
    const { vp, v, env } = bindings();
    const desc = inContext(id('POSTED_INTR_DESC_ADDR'), 'VP');
    assert.equal(v.vcpu.postedIntrDescAddr, NULL_PA);
    const pa = env.shared.alloc4k() + 0x40n;
    assert.deepEqual(writeElement(vp, desc, pa, U64_MASK, 'hostWrite'), { status: S.TDX_SUCCESS, oldValue: NULL_PA });
    assert.equal(v.vcpu.postedIntrDescAddr, pa);
    // Now the low bits are really 0: a misaligned address asks to change them.
    assert.equal(writeElement(vp, desc, pa + 8n, U64_MASK, 'hostWrite').status, S.TDX_METADATA_FIELD_VALUE_NOT_VALID);
  });
});
