import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTdParams, attributesValid, xfamValid, eptLevelsOf } from '../../src/module/td-params-check.ts';
import { tdParamsBytes, type TdParamsOptions } from '../helpers/module-harness.ts';
import { SIMULATED_CPUID } from '../../src/abi/cpuid.ts';
import { CPUID_CONFIGURABLE } from '../../src/abi/cpuid-config.ts';
import { TdxStatus, OperandId, withOperand } from '../../src/abi/status.ts';
import { TD_PARAMS } from '../../src/abi/td-params.ts';

const inv = (op: number) => withOperand(TdxStatus.TDX_OPERAND_INVALID, op);

/** The simulated CPU's CPUID(1).EAX, as the host may configure it. */
const nativeFms = (SIMULATED_CPUID.find((l) => l.leaf === 1)!.eax & CPUID_CONFIGURABLE[0]!.configDirect.eax) >>> 0;

function check(opts: TdParamsOptions, tdcx = 6, patch?: (b: Uint8Array) => void) {
  const bytes = tdParamsBytes(opts);
  patch?.(bytes);
  return checkTdParams(bytes, tdcx);
}

function status(opts: TdParamsOptions, tdcx = 6, patch?: (b: Uint8Array) => void): bigint {
  const r = check(opts, tdcx, patch);
  return r.ok ? TdxStatus.TDX_SUCCESS : r.status;
}

/** Set one byte of a reserved run of TD_PARAMS. */
const poke = (field: 'reserved0' | 'reserved1' | 'reserved2' | 'reserved3', at = 0) => (b: Uint8Array) => {
  b[TD_PARAMS.field(field).offset + at] = 1;
};

describe('checkTdParams', () => {
  test('the harness default is valid and decodes to the expected configuration', () => {
    const r = check({});
    assert.ok(r.ok);
    const c = r.config;
    assert.equal(c.attributes, 1n << 28n);
    assert.equal(c.xfam, 7n);
    assert.equal(c.maxVcpus, 4);
    assert.equal(c.numL2Vms, 0);
    assert.equal(c.eptpControls, 0x1en);
    assert.equal(c.eptLevels, 4);
    assert.equal(c.configFlags, 4n);
    assert.equal(c.gpaw, 48);
    assert.equal(c.tscFrequency, 100);
    assert.equal(c.tdCtls, 1n);
    assert.equal(c.ia32ArchCapabilitiesConfig, 0n);
    assert.equal(c.cpuidConfig.length, 12);
    assert.deepEqual(c.cpuidConfig[9], { leaf: 0x8000_0008, subleaf: null, eax: 0, ebx: 0, ecx: 0, edx: 0 });
  });

  test('ATTRIBUTES → OPERAND_INVALID|ATTRIBUTES (0x…40)', () => {
    assert.equal(status({ attributes: 1n << 1n }), 0xc000_0100_0000_0040n);
    assert.equal(status({ attributes: 1n << 62n }), inv(OperandId.ATTRIBUTES));
    // MIGRATABLE excludes DEBUG and PERFMON.
    assert.equal(status({ attributes: (1n << 29n) | 1n }), inv(OperandId.ATTRIBUTES));
    assert.equal(status({ attributes: (1n << 29n) | (1n << 63n) }), inv(OperandId.ATTRIBUTES));
    // KL (bit 31) is not allowed by this module's ATTRIBUTES_FIXED0.
    assert.equal(status({ attributes: 1n << 31n }), inv(OperandId.ATTRIBUTES));
    assert.equal(status({ attributes: (1n << 63n) | (1n << 30n) | 1n }), TdxStatus.TDX_SUCCESS);
    const plain = check({ attributes: 0n });
    assert.ok(plain.ok);
    assert.equal(plain.config.tdCtls, 0n, 'no SEPT_VE_DISABLE → no PENDING_VE_DISABLE');
  });

  test('XFAM → OPERAND_INVALID|XFAM (0x…41): required bits, unsupported bits, groups', () => {
    for (const xfam of [
      1n, // SSE missing
      3n | (1n << 3n), // MPX
      3n | (1n << 19n), // beyond the allowed set
      3n | 4n | (1n << 5n), // AVX-512 partly
      3n | (7n << 5n), // AVX-512 without AVX
      3n | (1n << 11n), // CET_U without CET_S
      3n | (1n << 17n), // AMX tile config without data
    ]) {
      assert.equal(status({ xfam }), 0xc000_0100_0000_0041n, xfam.toString(16));
    }
    assert.equal(status({ xfam: 0x0006_dbe7n }), TdxStatus.TDX_SUCCESS);
  });

  test('MAX_VCPUS 1..576 (0x…44), NUM_L2_VMS ≤ 3 (0x…47), TDCS pages for the L2 VMs', () => {
    assert.equal(status({ maxVcpus: 0 }), 0xc000_0100_0000_0044n);
    assert.equal(status({ maxVcpus: 577 }), inv(OperandId.MAX_VCPUS));
    assert.equal(status({ maxVcpus: 576 }), TdxStatus.TDX_SUCCESS);
    assert.equal(status({ numL2Vms: 4 }, 9), 0xc000_0100_0000_0047n);
    assert.equal(status({ numL2Vms: 2 }, 7), TdxStatus.TDX_TDCS_NOT_ALLOCATED);
    assert.equal(status({ numL2Vms: 3 }, 9), TdxStatus.TDX_SUCCESS);
  });

  test('CONFIG_FLAGS: undefined bits → OPERAND_INVALID|EXEC_CONTROLS (0x…42)', () => {
    assert.equal(status({ configFlags: 1n << 3n }), 0xc000_0100_0000_0042n);
    assert.equal(status({ configFlags: 7n, gpaw52: true }), TdxStatus.TDX_SUCCESS);
  });

  test('EPTP_CONTROLS → OPERAND_INVALID|EPTP_CONTROLS (0x…43)', () => {
    for (const eptpControls of [0x1fn, 0x16n, 0x2en, 0x5en, 0x1en | (1n << 12n), 0x1en | (1n << 8n), 0x1en | (1n << 63n)]) {
      assert.equal(status({ eptpControls }), 0xc000_0100_0000_0043n, eptpControls.toString(16));
    }
    // GPAW 52 needs a 5-level EPT; GPAW 48 may use either.
    assert.equal(status({ gpaw52: true, eptpControls: 0x1en }), inv(OperandId.EPTP_CONTROLS));
    const five = check({ eptpControls: 0x26n });
    assert.ok(five.ok);
    assert.equal(five.config.eptLevels, 5);
    assert.equal(five.config.gpaw, 48);
  });

  test('TSC_FREQUENCY 4..400 (0x…46)', () => {
    assert.equal(status({ tscFrequency: 3 }), 0xc000_0100_0000_0046n);
    assert.equal(status({ tscFrequency: 401 }), inv(OperandId.TSC_FREQUENCY));
    assert.equal(status({ tscFrequency: 4 }), TdxStatus.TDX_SUCCESS);
    assert.equal(status({ tscFrequency: 400 }), TdxStatus.TDX_SUCCESS);
  });

  test('reserved bytes and MSR_CONFIG_CTLS reserved bits → OPERAND_INVALID|RDX', () => {
    assert.equal(status({}, 6, poke('reserved0', 3)), 0xc000_0100_0000_0002n);
    assert.equal(status({}, 6, poke('reserved1', 37)), inv(OperandId.RDX));
    assert.equal(status({}, 6, poke('reserved2')), inv(OperandId.RDX));
    assert.equal(status({}, 6, poke('reserved3', 575)), inv(OperandId.RDX));
    assert.equal(status({ msrConfigCtls: 2 }), inv(OperandId.RDX));
  });

  test('CPUID_CONFIG (0x…45) with RCX = leaf | sub-leaf << 32', () => {
    const bad = check({ cpuid: { 5: { eax: 1 } } });
    assert.ok(!bad.ok);
    assert.equal(bad.status, 0xc000_0100_0000_0045n);
    assert.equal(bad.rcx, 0x0000_0000_0000_0007n);
    const noSub = check({ cpuid: { 9: { ebx: 0x100 } } });
    assert.ok(!noSub.ok);
    assert.equal(noSub.rcx, 0xffff_ffff_8000_0008n);
    // HLE without RTM.
    const tsx = check({ cpuid: { 5: { ebx: 1 << 4 } } });
    assert.ok(!tsx.ok);
    assert.equal(tsx.rcx, 7n);
    // Both, and other allowed bits, are accepted and stored.
    const good = check({ cpuid: { 5: { ebx: (1 << 4) | (1 << 11) }, 0: { eax: nativeFms } } });
    assert.ok(good.ok);
    assert.equal(good.config.cpuidConfig[5]!.ebx, (1 << 4) | (1 << 11));
    assert.equal(good.config.cpuidConfig[0]!.eax, nativeFms);
  });

  test('CPUID(1).EAX: a non-migratable TD may only use 0 or the CPU’s own family/model/stepping', () => {
    const otherFms = 0x0005_0654;
    const bad = check({ cpuid: { 0: { eax: otherFms } } });
    assert.ok(!bad.ok);
    assert.equal(bad.status, 0xc000_0100_0000_0045n);
    assert.equal(bad.rcx, 0xffff_ffff_0000_0001n);
    assert.ok(check({ cpuid: { 0: { eax: 0 } } }).ok);
    // A migratable TD may present another model (it may resume on a different CPU).
    assert.ok(check({ attributes: (1n << 28n) | (1n << 29n), cpuid: { 0: { eax: otherFms } } }).ok);
  });

  test('IA32_ARCH_CAPABILITIES_CONFIG (0x…48): needs MSR_CONFIG_CTLS bit 0, configurable bits only', () => {
    assert.equal(status({ ia32ArchCapabilitiesConfig: 1n << 4n }), 0xc000_0100_0000_0048n);
    assert.equal(status({ msrConfigCtls: 1, ia32ArchCapabilitiesConfig: 1n << 0n }), inv(OperandId.IA32_ARCH_CAPABILITIES_CONFIG));
    const ok = check({ msrConfigCtls: 1, ia32ArchCapabilitiesConfig: (1n << 4n) | (1n << 19n) | (1n << 20n) | (1n << 24n) });
    assert.ok(ok.ok);
    assert.equal(ok.config.ia32ArchCapabilitiesConfig, 0x0118_0010n);
  });

  test("the first failing field in the module's order is reported", () => {
    assert.equal(status({ xfam: 1n, maxVcpus: 0 }), inv(OperandId.XFAM));
    assert.equal(status({ attributes: 2n, xfam: 1n }), inv(OperandId.ATTRIBUTES));
    assert.equal(status({ tscFrequency: 0 }, 6, poke('reserved1')), inv(OperandId.TSC_FREQUENCY));
    assert.equal(status({ cpuid: { 2: { edx: 4 } } }, 6, poke('reserved3')), inv(OperandId.CPUID_CONFIG));
    assert.equal(status({ ia32ArchCapabilitiesConfig: 1n }, 6, poke('reserved3')), inv(OperandId.RDX));
    assert.equal(status({ numL2Vms: 1 }, 6, poke('reserved0')), TdxStatus.TDX_TDCS_NOT_ALLOCATED);
  });

  test('the rule helpers agree with the table values', () => {
    assert.ok(attributesValid(0x8000_0000_7000_0001n & ~(1n << 29n)));
    assert.ok(!attributesValid(0x8000_0000_7000_0001n));
    assert.ok(xfamValid(3n));
    assert.ok(!xfamValid(2n));
    assert.equal(eptLevelsOf(0x1en, false), 4);
    assert.equal(eptLevelsOf(0x26n, true), 5);
    assert.equal(eptLevelsOf(0x1en, true), 0);
  });
});
