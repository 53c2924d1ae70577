import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FIELD_ID } from '../../src/abi/operands.ts';
import { TdxStatus } from '../../src/abi/status.ts';
import { MD_LIST_HEADER, metadataFieldByName } from '../../src/abi/metadata.ts';
import { NULL_FIELD_ID, readElement } from '../../src/module/md-access.ts';
import { dumpList } from '../../src/module/md-list.ts';
import type { MdBinding } from '../../src/module/md-fields.ts';
import { bringUp, createTd } from '../helpers/module-harness.ts';

const S = TdxStatus;
const id = (name: string): bigint => metadataFieldByName(name)!.id;

/** Values of a list, in order, and its sequence headers. */
function parse(list: Uint8Array): { headers: bigint[]; values: bigint[] } {
  const h = MD_LIST_HEADER.decode(list);
  assert.equal(h.list_buff_size, list.length);
  const dv = new DataView(list.buffer, list.byteOffset);
  const headers: bigint[] = [];
  const values: bigint[] = [];
  let at = MD_LIST_HEADER.size;
  for (let s = 0; s < h.num_sequences; s++) {
    const hdr = dv.getBigUint64(at, true);
    headers.push(hdr);
    at += 8;
    const n = (Number(FIELD_ID.get(hdr, 'last_element_in_field')) + 1) * (Number(FIELD_ID.get(hdr, 'last_field_in_sequence')) + 1);
    for (let i = 0; i < n; i++, at += 8) values.push(dv.getBigUint64(at, true));
  }
  assert.equal(at, list.length);
  return { headers, values };
}

describe('md-list: metadata list dumps', () => {
  const env = bringUp();
  const sys: MdBinding = { context: 'SYS', module: env.module };

  it('groups consecutive same-size fields into sequences', () => {
    const r = dumpList(sys, id('CPUID_CONFIG_LEAVES'), 4096);
    assert.equal(r.status, S.TDX_SUCCESS);
    assert.equal(r.nextFieldId, NULL_FIELD_ID);
    const { headers, values } = parse(r.list!);
    // CPUID_CONFIG_LEAVES (12 × 1 element), then CPUID_CONFIG_VALUES (12 × 2 elements).
    assert.equal(headers.length, 2);
    assert.equal(FIELD_ID.get(headers[0]!, 'last_field_in_sequence'), 11n);
    assert.equal(FIELD_ID.get(headers[0]!, 'last_element_in_field'), 0n);
    assert.equal(FIELD_ID.get(headers[1]!, 'field_code'), FIELD_ID.get(id('CPUID_CONFIG_VALUES'), 'field_code'));
    assert.equal(FIELD_ID.get(headers[1]!, 'last_field_in_sequence'), 11n);
    assert.equal(FIELD_ID.get(headers[1]!, 'last_element_in_field'), 1n);
    assert.equal(values.length, 12 + 24);
    assert.equal(values[12], readElement(sys, id('CPUID_CONFIG_VALUES'), 'hostRead').value);
  });

  it('stops with LIST_OVERFLOW at the first field that does not fit, and continues from there', () => {
    const all = parse(dumpList(sys, NULL_FIELD_ID, 4096).list!).values;
    const collected: bigint[] = [];
    let next = NULL_FIELD_ID;
    let rounds = 0;
    do {
      const r = dumpList(sys, next, 64);
      rounds++;
      assert.ok(r.list!.length <= 64);
      collected.push(...parse(r.list!).values);
      if (r.status === S.TDX_METADATA_LIST_OVERFLOW) assert.notEqual(r.nextFieldId, NULL_FIELD_ID);
      else assert.equal(r.status, S.TDX_SUCCESS);
      next = r.nextFieldId;
    } while (next !== NULL_FIELD_ID);
    assert.ok(rounds > 1);
    assert.deepEqual(collected, all);
  });

  it('writes no sequence when the next field does not fit, and nothing below the minimum size', () => {
    const t = createTd(env);
    const td: MdBinding = { context: 'TD', module: env.module, td: t.td };
    // MRTD is 6 elements (48 bytes): a 32-byte list holds only the header.
    const r = dumpList(td, id('MRTD'), 32);
    assert.equal(r.status, S.TDX_METADATA_LIST_OVERFLOW);
    assert.equal(r.nextFieldId, id('MRTD'));
    assert.deepEqual(parse(r.list!), { headers: [], values: [] });
    const tiny = dumpList(sys, id('MAX_TDMRS'), 31);
    assert.deepEqual(tiny, { status: S.TDX_METADATA_LIST_OVERFLOW, nextFieldId: id('MAX_TDMRS') });
  });

  it('skips an unreadable first field (an empty sequence)', () => {
    const t = createTd(env);
    const td: MdBinding = { context: 'TD', module: env.module, td: t.td };
    // TD_CTLS is not readable by the host of a production TD; the dump goes on from the next field.
    const r = dumpList(td, id('TD_CTLS'), 4096);
    assert.equal(r.status, S.TDX_SUCCESS);
    const { headers } = parse(r.list!);
    assert.equal(FIELD_ID.get(headers[0]!, 'field_code'), FIELD_ID.get(id('TOPOLOGY_ENUM_CONFIGURED'), 'field_code'));
  });
});
