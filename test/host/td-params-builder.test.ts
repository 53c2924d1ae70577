import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildTdParams, tscFrequencyUnits } from '../../src/host/td-params-builder.ts';
import { TD_PARAMS, decodeCpuidValues, EPTP_CONTROLS_4LEVEL, EPTP_CONTROLS_5LEVEL } from '../../src/abi/td-params.ts';
import { HostError } from '../../src/host/errors.ts';
import { hostEnv } from './host-env.ts';

const { host } = hostEnv({ packages: 1, lpsPerPackage: 1, memorySize: 1n << 30n });
const base = {
  attributes: 1n << 28n,
  xfam: 3n,
  maxVcpus: 1,
  gpaw: 48,
  tscKhz: 2_500_000,
  mrConfigId: new Uint8Array(48).fill(1),
  mrOwner: new Uint8Array(48).fill(2),
  mrOwnerConfig: new Uint8Array(48).fill(3),
  cpuid: [],
};

describe('buildTdParams (setup_tdparams)', () => {
  it('fills TD_PARAMS the way KVM does', () => {
    const p = TD_PARAMS.decode(
      buildTdParams({ ...base, cpuid: [{ leaf: 0x8000_0008, subleaf: null, eax: 0x30_3030, ebx: 0x200, ecx: 0, edx: 0 }] }, host.sysinfo, host.capabilities()),
    );
    assert.equal(p.attributes, 1n << 28n);
    assert.equal(p.xfam, 3n);
    assert.equal(p.max_vcpus, 1);
    assert.equal(p.eptp_controls, EPTP_CONTROLS_4LEVEL);
    assert.equal(p.config_flags, 1n << 2n); // NO_RBP_MOD only
    assert.equal(p.tsc_frequency, 100);
    assert.deepEqual(p.mrowner, new Uint8Array(48).fill(2));
    const values = decodeCpuidValues(p.cpuid_config);
    const gpaw = values.find((v) => v.leaf === 0x8000_0008)!;
    assert.equal(gpaw.eax, 0x3030); // EAX[23:16] cleared
    assert.equal(gpaw.ebx, 0x200);
  });
  it('GPAW 52: 5-level EPT and CONFIG_FLAGS.GPAW', () => {
    const p = TD_PARAMS.decode(buildTdParams({ ...base, gpaw: 52 }, host.sysinfo, host.capabilities()));
    assert.equal(p.eptp_controls, EPTP_CONTROLS_5LEVEL);
    assert.equal(p.config_flags, (1n << 2n) | 1n);
  });
  it('TSC in 25 MHz units', () => {
    assert.equal(tscFrequencyUnits(2_500_000), 100);
    assert.equal(tscFrequencyUnits(2_512_345), 100);
    assert.equal(tscFrequencyUnits(10_000_000), 400);
  });
  it('refuses what KVM refuses', () => {
    const caps = host.capabilities();
    const refuse = (req: Partial<typeof base>, re: RegExp) =>
      assert.throws(() => buildTdParams({ ...base, ...req }, host.sysinfo, caps), (e: unknown) => e instanceof HostError && e.errno === 'EINVAL' && re.test(e.message));
    refuse({ attributes: 1n }, /attributes/);
    refuse({ xfam: 1n << 3n }, /XFAM/);
    refuse({ gpaw: 57 }, /GPAW/);
    refuse({ mrConfigId: new Uint8Array(47) }, /MRCONFIGID must be 48 bytes/);
    refuse({ cpuid: [{ leaf: 0x7, subleaf: 5, eax: 0, ebx: 0, ecx: 0, edx: 0 }] as never }, /0x7\.5 is not configurable/);
  });
});
