import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { computeTdCpuid, tdFamilyModelStepping } from '../../src/module/td-cpuid.ts';
import { CPUID_CONFIGURABLE } from '../../src/abi/cpuid-config.ts';
import { SIMULATED_CPUID } from '../../src/abi/cpuid.ts';
import type { CpuidValue } from '../../src/module/td.ts';

const zeroConfig = (): CpuidValue[] =>
  CPUID_CONFIGURABLE.map((c) => ({ leaf: c.leaf, subleaf: c.subleaf, eax: 0, ebx: 0, ecx: 0, edx: 0 }));
const leaf1Index = SIMULATED_CPUID.findIndex((l) => l.leaf === 1);
const leaf7Index = SIMULATED_CPUID.findIndex((l) => l.leaf === 7 && l.subleaf === 0);

describe('TDCS.CPUID_VALUES (computeTdCpuid)', () => {
  it('keeps leaves the host cannot configure as the CPU reports them', () => {
    const values = computeTdCpuid(zeroConfig());
    assert.deepEqual(values[0], SIMULATED_CPUID[0]);
    assert.equal(values.length, SIMULATED_CPUID.length);
  });

  it('takes CPUID(1).EAX = 0 as the CPU’s own family/model/stepping', () => {
    const values = computeTdCpuid(zeroConfig());
    assert.equal(tdFamilyModelStepping(values), SIMULATED_CPUID[leaf1Index]!.eax);
  });

  it('lets the host hide an ALLOW_DIRECT feature but never invent one the CPU lacks', () => {
    const native = SIMULATED_CPUID[leaf7Index]!;
    const allow = CPUID_CONFIGURABLE[5]!.allowDirect.ebx; // CPUID(7,0) entry
    const cfg = zeroConfig();
    // Host sets every allowed bit: only those the CPU has survive.
    cfg[5] = { ...cfg[5]!, ebx: allow };
    assert.equal(computeTdCpuid(cfg)[leaf7Index]!.ebx, native.ebx >>> 0);
    // Host sets none: every allow-direct bit is hidden, the rest stays native.
    assert.equal(computeTdCpuid(zeroConfig())[leaf7Index]!.ebx, (native.ebx & ~allow) >>> 0);
  });

  it('takes CONFIG_DIRECT bits from the host as given', () => {
    const cfg = zeroConfig();
    const direct = CPUID_CONFIGURABLE[0]!.configDirect.ebx;
    cfg[0] = { ...cfg[0]!, ebx: direct };
    const native = SIMULATED_CPUID[leaf1Index]!;
    assert.equal(computeTdCpuid(cfg)[leaf1Index]!.ebx, ((native.ebx & ~direct) | direct) >>> 0);
  });
});
