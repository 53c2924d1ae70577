import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TdxHost } from '../../src/host/tdx-host.ts';
import { HostError } from '../../src/host/errors.ts';
import { DEFAULT_MODULE_IDENTITY } from '../../src/module/identity.ts';
import { features0 } from '../../src/abi/module-features.ts';
import { TdxSoftwareStatus } from '../../src/abi/status.ts';
import { PamtPageType } from '../../src/abi/pamt.ts';
import { KVM_SUPPORTED_TD_ATTRS } from '../../src/abi/kvm.ts';
import { hostEnv, newPlatform } from './host-env.ts';

const errnoIs = (errno: string, re?: RegExp) => (e: unknown) => e instanceof HostError && e.errno === errno && (!re || re.test(e.message));

describe('TdxHost.bringUp (Linux bring-up sequence)', () => {
  it('issues SYS.INIT once, LP.INIT per LP, SYS.RD, SYS.CONFIG, KEY.CONFIG per package, TDMR.INIT until done', () => {
    const { host, platform, module } = hostEnv({ memorySize: 2n << 30n });
    const c = Object.fromEntries(host.sc.log.counts);
    assert.equal(c['TDH.SYS.INIT'], 1);
    assert.equal(c['TDH.SYS.LP.INIT'], platform.lps.length);
    assert.equal(c['TDH.SYS.CONFIG'], 1);
    assert.equal(c['TDH.SYS.KEY.CONFIG'], platform.packages.length);
    // 2 GiB of TDMR, 4 MiB of PAMT initialised per call.
    assert.equal(c['TDH.SYS.TDMR.INIT'], 512);
    assert.ok(c['TDH.SYS.RD']! >= 20);
    assert.deepEqual(module.pamt.ranges(), [{ base: 0n, size: 2n << 30n, initialized: 2n << 30n }]);
    // The first 1 MiB (not in a CMR) and the PAMT are reserved; every other page is free for TDs.
    const reserved = module.pamt.census().get(PamtPageType.PT_RSVD)!;
    const pamt = host.tdmrs[0]!.pamt4k.size + host.tdmrs[0]!.pamt2m.size + host.tdmrs[0]!.pamt1g.size;
    assert.equal(BigInt(reserved), ((1n << 20n) + pamt) / 4096n);
  });

  it('takes the first TDX KeyID as the global KeyID and hands the rest to TDs', () => {
    const { host, platform } = hostEnv({ mktmeKeyIds: 7, tdxKeyIds: 4 });
    assert.equal(platform.mktmeKeyIds, 7);
    assert.equal(host.globalKeyId, 8);
    assert.deepEqual([host.hkids.first, host.hkids.count], [9, 3]);
  });

  it('reads the global metadata KVM needs', () => {
    const { host } = hostEnv();
    const s = host.sysinfo;
    assert.deepEqual(s.version, { major: 1, minor: 5, update: 1 });
    assert.equal(s.features0, DEFAULT_MODULE_IDENTITY.features0);
    assert.equal(s.tdcsBaseSize, 6 * 4096);
    assert.equal(s.tdvpsBaseSize, 6 * 4096);
    assert.deepEqual(s.pamtEntrySize, { l4k: 16, l2m: 16, l1g: 16 });
    assert.equal(s.cpuidConfig.length, 12);
    assert.deepEqual(s.cpuidConfig[0]!.leaf, 1);
    assert.equal(s.cpuidConfig[0]!.subleaf, null);
    assert.deepEqual([s.cpuidConfig[1]!.leaf, s.cpuidConfig[1]!.subleaf], [4, 0]);
  });

  it('KVM_TDX_CAPABILITIES: SEPT_VE_DISABLE only, XFAM within FIXED0, GPAW reported as 0xFF', () => {
    const { host } = hostEnv();
    const caps = host.capabilities();
    assert.equal(caps.supportedAttributes, KVM_SUPPORTED_TD_ATTRS);
    assert.equal(caps.supportedXfam, host.sysinfo.xfamFixed0);
    const gpaw = caps.cpuid.find((c) => c.leaf === 0x8000_0008)!;
    assert.equal((gpaw.eax >>> 16) & 0xff, 0xff);
  });

  it('refuses a module without NO_RBP_MOD, and one without TOPOLOGY_ENUM (EINVAL)', () => {
    for (const [missing, re] of [
      ['NO_RBP_MOD', /frame pointer \(RBP\) clobber bug present/],
      ['TOPOLOGY_ENUM', /TOPOLOGY_ENUM/],
    ] as const) {
      const others = (['TDG_VP_RDWR', 'HOST_PRIORITY_LOCKS', 'NO_RBP_MOD', 'TOPOLOGY_ENUM'] as const).filter((b) => b !== missing);
      const { platform } = newPlatform({}, { ...DEFAULT_MODULE_IDENTITY, features0: features0(...others) });
      assert.throws(() => TdxHost.bringUp(platform), errnoIs('EINVAL', re));
    }
  });

  it('maps SEAMCALL instruction failures to Linux errno classes', () => {
    const none = newPlatform().platform;
    none.seamModule = undefined;
    assert.throws(() => TdxHost.bringUp(none), errnoIs('ENODEV', /module not loaded/));
    const gp = newPlatform().platform;
    gp.lps[0]!.seamEnabled = false;
    assert.throws(() => TdxHost.bringUp(gp), errnoIs('EOPNOTSUPP'));
    const ud = newPlatform().platform;
    ud.lps[1]!.vmxRoot = false;
    assert.throws(
      () => TdxHost.bringUp(ud),
      (e: unknown) => e instanceof HostError && e.errno === 'EACCES' && e.hwError === TdxSoftwareStatus.TDX_SEAMCALL_UD && /LP 1/.test(e.message),
    );
  });

  it('a second bring-up fails with the module status decoded (EIO)', () => {
    const { platform } = hostEnv();
    assert.throws(() => TdxHost.bringUp(platform), errnoIs('EIO', /TDH\.SYS\.INIT failed: 0x[0-9A-F]{16} TDX_/));
  });
});
