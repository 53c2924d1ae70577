import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ABI_SCHEMA_VERSION, ALL_BITFIELDS, ALL_LAYOUTS, buildAbiCatalog, type AbiCatalog } from '../../src/abi/catalog.ts';
import { Bitfield, hex64 } from '../../src/abi/bitfield.ts';
import type { LeafDef } from '../../src/abi/leaf.ts';
import { METADATA_FIELDS } from '../../src/abi/metadata.ts';
import * as Operands from '../../src/abi/operands.ts';
import { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';
import { OperandId, TdxSoftwareStatus, TdxStatus } from '../../src/abi/status.ts';
import { TdcallLeaf } from '../../src/abi/tdcall-leaves.ts';
import { TdvmcallSubfunction } from '../../src/abi/tdvmcall.ts';

const HEX64 = /^0x[0-9A-F]{16}$/;

/** Visit every value in a JSON tree with its path. */
function walk(value: unknown, path: string, visit: (v: unknown, path: string) => void): void {
  visit(value, path);
  if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`, visit));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) walk(v, `${path}.${k}`, visit);
  }
}

function assertUnique(what: string, values: readonly unknown[]): void {
  assert.equal(new Set(values).size, values.length, `${what} has duplicates`);
}

describe('buildAbiCatalog', () => {
  const cat: AbiCatalog = buildAbiCatalog();

  it('is plain JSON: it survives a stringify/parse round trip unchanged', () => {
    assert.deepEqual(JSON.parse(JSON.stringify(cat)), cat);
    walk(cat, 'cat', (v, path) => {
      assert.notEqual(typeof v, 'bigint', `${path} is a bigint`);
      assert.notEqual(v, undefined, `${path} is undefined`);
      if (typeof v === 'number') assert.ok(Number.isSafeInteger(v), `${path} = ${v} is not a safe integer`);
    });
  });

  it('is deterministic', () => {
    assert.deepEqual(buildAbiCatalog(), cat);
  });

  it('has schema version 1 and the module version', () => {
    assert.equal(cat.schemaVersion, 1);
    assert.equal(ABI_SCHEMA_VERSION, 1);
    assert.equal(cat.tdxModuleVersion, '1.5');
  });

  it('writes every 64-bit value as 0x + 16 upper-case hex digits', () => {
    const hexValues = [
      ...cat.statusCodes.map((s) => s.value),
      ...cat.softwareStatusCodes.map((s) => s.value),
      ...cat.metadataFields.map((m) => m.id),
      ...cat.bitfields.map((b) => b.reservedMask),
      ...cat.tdvmcall.statuses.map((s) => s.value),
      ...cat.getQuote.statuses.map((s) => s.value),
      cat.statusCodeMask,
      cat.tdConfig.attributesFixed0,
      cat.tdConfig.xfamFixed0,
      cat.gpa.resetVector,
      ...cat.gpa.widths.map((w) => w.sharedBit),
    ];
    for (const v of hexValues) assert.match(v, HEX64);
    assert.equal(cat.tdConfig.attributesFixed0, '0x8000000070000001');
    assert.equal(cat.tdConfig.xfamFixed0, '0x000000000006DBE7');
  });

  it('contains every leaf of both tables, in number order, with its register use', () => {
    const check = (json: AbiCatalog['seamcallLeaves'], table: Readonly<Record<string, LeafDef>>): void => {
      assert.equal(json.length, Object.keys(table).length);
      for (const [key, l] of Object.entries(table)) {
        const j = json.find((x) => x.key === key);
        assert.ok(j, `${key} missing`);
        assert.equal(j.mnemonic, l.mnemonic);
        assert.equal(j.number, l.number);
        assert.equal(j.maxVersion, l.maxVersion);
        assert.equal(j.implemented, l.implemented);
        assert.deepEqual(j.inputs.map((o) => `${o.reg}=${o.name}`), l.inputs.map((o) => `${o.reg}=${o.name}`));
        assert.deepEqual(j.outputs.map((o) => `${o.reg}=${o.name}`), l.outputs.map((o) => `${o.reg}=${o.name}`));
      }
      const numbers = json.map((l) => l.number);
      assert.deepEqual(numbers, [...numbers].sort((a, b) => a - b));
      assertUnique('leaf numbers', numbers);
    };
    check(cat.seamcallLeaves, SeamcallLeaf);
    check(cat.tdcallLeaves, TdcallLeaf);
  });

  it('attaches the bitfield of packed operands', () => {
    const accept = cat.tdcallLeaves.find((l) => l.mnemonic === 'TDG.MEM.PAGE.ACCEPT');
    const layout = accept?.inputs[0]?.layout;
    assert.equal(layout?.name, 'page_info_api_input_t');
    assert.deepEqual(layout?.fields.map((f) => [f.name, f.lsb, f.width]), [
      ['level', 0, 3],
      ['reserved0', 3, 9],
      ['gpa_page', 12, 40],
      ['reserved1', 52, 12],
    ]);
  });

  it('lists every status code, with its flags and class decoded', () => {
    assert.equal(cat.statusCodes.length, Object.keys(TdxStatus).length);
    assert.equal(cat.softwareStatusCodes.length, Object.keys(TdxSoftwareStatus).length);
    assertUnique('status names', cat.statusCodes.map((s) => s.name));
    const busy = cat.statusCodes.find((s) => s.name === 'TDX_OPERAND_BUSY');
    assert.deepEqual(busy, {
      name: 'TDX_OPERAND_BUSY',
      value: '0x8000020000000000',
      class: 2,
      className: 'busy',
      error: true,
      nonRecoverable: false,
      fatal: false,
      hostRecoverabilityHint: false,
    });
    const fatal = cat.statusCodes.find((s) => s.name === 'TDX_TD_FATAL');
    assert.ok(fatal?.error && fatal.nonRecoverable && fatal.fatal);
    for (const s of cat.statusCodes) assert.equal(s.value, hex64(TdxStatus[s.name as keyof typeof TdxStatus]));
  });

  it('lists the operand IDs, TDVMCALL sub-functions and metadata fields without duplicates', () => {
    assert.equal(cat.operandIds.length, Object.keys(OperandId).length);
    assertUnique('operand ids', cat.operandIds.map((o) => o.value));
    assert.equal(cat.tdvmcall.subfunctions.length, Object.keys(TdvmcallSubfunction).length);
    assertUnique('sub-function numbers', cat.tdvmcall.subfunctions.map((s) => s.number));
    assert.equal(cat.metadataFields.length, METADATA_FIELDS.length);
    assertUnique('metadata ids', cat.metadataFields.map((m) => m.id));
    const ctls = cat.metadataFields.find((m) => m.name === 'TD_CTLS');
    assert.equal(ctls?.id, '0x1110000300000017');
    assert.equal(ctls?.guestWriteMask, '0x0000000000000007');
    assert.deepEqual(ctls?.bits?.[0], { name: 'PENDING_VE_DISABLE', value: 0 });
  });

  it('includes every layout with its exact size, and every bitfield of operands.ts', () => {
    assert.equal(cat.layouts.length, ALL_LAYOUTS.length);
    const size = (n: string): number | undefined => cat.layouts.find((l) => l.name === n)?.size;
    assert.equal(size('TD_PARAMS'), 1024);
    assert.equal(size('TDREPORT_STRUCT'), 1024);
    assert.equal(size('REPORTMACSTRUCT'), 256);
    assert.equal(size('TEE_TCB_INFO'), 256);
    assert.equal(size('TDINFO_STRUCT'), 512);
    assert.equal(size('TDMR_INFO'), 320);
    assert.equal(size('TDSYSINFO_STRUCT'), 1024);
    for (const l of cat.layouts) {
      assert.equal(l.fields.reduce((a, f) => a + f.size, 0), l.size, l.name);
    }
    const operandExports = Object.entries(Operands).filter(([, v]) => (v as unknown) instanceof Bitfield).map(([k]) => k);
    for (const name of operandExports) assert.ok(cat.bitfields.some((b) => b.exportName === name), `${name} missing`);
    assert.equal(cat.bitfields.length, ALL_BITFIELDS.length);
    for (const b of cat.bitfields) assert.equal(b.fields.reduce((a, f) => a + f.width, 0), 64, b.exportName);
  });

  it('carries the enumerations the lead modules define', () => {
    const value = (list: { name: string; value: number }[], name: string): number | undefined => list.find((e) => e.name === name)?.value;
    assert.equal(value(cat.septStates, 'PENDING'), 2);
    assert.equal(value(cat.septStates, 'NL_MAPPED'), 0x84);
    assert.equal(value(cat.pamtPageTypes, 'PT_TDR'), 4);
    assert.equal(value(cat.lifecycle.opStates, 'RUNNABLE'), 2);
    assert.equal(value(cat.lifecycle.vcpuStates, 'VCPU_ACTIVE'), 4);
    assert.equal(value(cat.vmx.exitReasons, 'TDCALL'), 77);
    assert.equal(value(cat.tdxFeatures0, 'NO_RBP_MOD'), 18);
    assert.deepEqual(cat.gpa.widths.map((w) => w.sharedBit), ['0x0000800000000000', '0x0008000000000000']);
    assert.deepEqual(cat.tdConfig.eptpControlsValid, ['0x000000000000001E', '0x0000000000000026']);
    assert.equal(cat.cpuidConfig.length, 12);
    assert.equal(cat.cpuidConfig[9]?.leaf, 0x8000_0008);
    assert.equal(cat.cpuidConfig[9]?.subleaf, null);
    assert.equal(cat.report.type, 0x81);
    assert.equal(cat.report.macInputSize, 224);
  });
});
