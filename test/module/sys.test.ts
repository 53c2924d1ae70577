import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bringUp,
  configure,
  expectStatus,
  initTdmr,
  pamtSizes,
  sysConfig,
  tdmrWithPamt,
  writeHost,
  type ModuleEnv,
  type TdmrSpec,
} from '../helpers/module-harness.ts';
import { TdxStatus, OperandId, withOperand } from '../../src/abi/status.ts';
import { SysState, KotState } from '../../src/abi/lifecycle.ts';
import { RegisterFile } from '../../src/abi/registers.ts';
import { LockKey } from '../../src/module/locks.ts';
import { PamtPageType, SIZE_1G, TDMR_INIT_CHUNK_BYTES } from '../../src/abi/pamt.ts';
import { TDSYSINFO_STRUCT, decodeSysInfoCpuidConfig } from '../../src/abi/tdsysinfo.ts';
import { CMR_INFO, MAX_CMRS } from '../../src/abi/tdmr.ts';
import { ATTRIBUTES_FIXED0, XFAM_FIXED0 } from '../../src/abi/td-config.ts';
import { CPUID_CONFIGURABLE } from '../../src/abi/cpuid-config.ts';
import { DEFAULT_MODULE_IDENTITY } from '../../src/module/identity.ts';

const MiB = 1n << 20n;
const S = TdxStatus;
const inv = (op: number) => withOperand(S.TDX_OPERAND_INVALID, op);
/** Registers full of junk, to check which ones a leaf writes and which it preserves. */
function junkRegs(): RegisterFile {
  const r = new RegisterFile();
  for (let i = 0; i < 16; i++) r.gpr[i] = 0x1111_0000_0000_0000n + BigInt(i);
  return r;
}

describe('TDH.SYS.INIT', () => {
  test('moves SYSINIT_PENDING → SYSINIT_DONE and zeroes RCX, RDX, R8–R10 only', () => {
    const env = bringUp({ until: 'loaded' });
    const regs = junkRegs();
    regs.set('RCX', 0n);
    const r = env.tdh.SYS_INIT({}, { regs });
    assert.equal(r.status, S.TDX_SUCCESS);
    assert.deepEqual(
      [r.regs.get('RCX'), r.regs.get('RDX'), r.regs.get('R8'), r.regs.get('R9'), r.regs.get('R10')],
      [0n, 0n, 0n, 0n, 0n],
    );
    assert.equal(r.regs.get('R11'), 0x1111_0000_0000_000bn);
    assert.equal(r.regs.get('RBX'), 0x1111_0000_0000_0003n);
    assert.equal(env.module.sysState, SysState.SYSINIT_DONE);
    assert.equal(env.module.numInitLps, 0);
  });

  test('non-zero RCX → OPERAND_INVALID|RCX, state unchanged, outputs zeroed', () => {
    const env = bringUp({ until: 'loaded' });
    const r = env.tdh.SYS_INIT({ attributes: 1n }, { regs: junkRegs() });
    assert.equal(r.status, 0xc000_0100_0000_0001n);
    assert.equal(r.outputs.detail0, 0n);
    assert.equal(r.outputs.detail4, 0n);
    assert.equal(env.module.sysState, SysState.SYSINIT_PENDING);
  });

  test('a second call → TDX_SYS_INIT_NOT_PENDING', () => {
    const env = bringUp({ until: 'sysinit' });
    assert.equal(env.tdh.SYS_INIT().status, S.TDX_SYS_INIT_NOT_PENDING);
  });

  test('global lock held → TDX_SYS_BUSY, and the lock is left as it was', () => {
    const env = bringUp({ until: 'loaded' });
    const release = env.module.locks.hold(LockKey.GLOBAL, 'shared');
    assert.equal(env.tdh.SYS_INIT().status, S.TDX_SYS_BUSY);
    release();
    assert.ok(env.module.locks.idle());
    assert.equal(env.module.sysState, SysState.SYSINIT_PENDING);
  });
});

describe('TDH.SYS.LP.INIT', () => {
  test('before SYS.INIT → TDX_SYS_LP_INIT_NOT_PENDING', () => {
    const env = bringUp({ until: 'loaded' });
    assert.equal(env.tdh.SYS_LP_INIT().status, S.TDX_SYS_LP_INIT_NOT_PENDING);
  });

  test('once per LP; a repeat → TDX_SYS_LP_INIT_DONE', () => {
    const env = bringUp({ until: 'sysinit' });
    assert.equal(env.on(1).SYS_LP_INIT().status, S.TDX_SUCCESS);
    assert.equal(env.on(1).SYS_LP_INIT().status, S.TDX_SYS_LP_INIT_DONE);
    assert.equal(env.module.numInitLps, 1);
    assert.equal(env.module.lpState[1]!.lpInit, true);
    assert.equal(env.module.lpState[0]!.lpInit, false);
  });

  test('global lock held exclusively → TDX_SYS_BUSY; shared holders do not block it', () => {
    const env = bringUp({ until: 'sysinit' });
    let release = env.module.locks.hold(LockKey.GLOBAL, 'exclusive');
    assert.equal(env.tdh.SYS_LP_INIT().status, S.TDX_SYS_BUSY);
    release();
    release = env.module.locks.hold(LockKey.GLOBAL, 'shared');
    assert.equal(env.tdh.SYS_LP_INIT().status, S.TDX_SUCCESS);
    release();
  });

  test('after SYS.CONFIG → TDX_SYS_LP_INIT_NOT_PENDING', () => {
    const env = bringUp({ until: 'config' });
    assert.equal(env.tdh.SYS_LP_INIT().status, S.TDX_SYS_LP_INIT_NOT_PENDING);
  });
});

describe('TDH.SYS.INFO', () => {
  function infoBuffers(env: ModuleEnv) {
    return { sysInfo: env.shared.alloc4k(), cmr: env.shared.alloc4k() };
  }

  test('writes TDSYSINFO_STRUCT and CMR_INFO; RDX = 1024, R9 = 32', () => {
    const env = bringUp({ until: 'lpinit' });
    const b = infoBuffers(env);
    const r = env.tdh.SYS_INFO({ sysInfo: b.sysInfo, sysInfoSize: 4096n, cmrArray: b.cmr, cmrEntries: 32n });
    assert.equal(r.status, S.TDX_SUCCESS);
    assert.equal(r.outputs.sysInfoSizeWritten, 1024n);
    assert.equal(r.outputs.cmrEntriesWritten, 32n);
    const info = TDSYSINFO_STRUCT.decode(env.platform.memory.read(b.sysInfo, 1024, 0));
    const id = DEFAULT_MODULE_IDENTITY;
    assert.equal(info.vendor_id, 0x8086);
    assert.equal(info.attributes, 0);
    assert.equal(info.major_version, id.majorVersion);
    assert.equal(info.minor_version, id.minorVersion);
    assert.equal(info.build_num, id.buildNumber);
    assert.equal(info.build_date, id.buildDate);
    assert.equal(info.sys_rd, 1);
    assert.equal(info.max_tdmrs, 64);
    assert.equal(info.max_reserved_per_tdmr, 16);
    assert.equal(info.pamt_entry_size, 16);
    assert.equal(info.tdcs_base_size, 6 * 4096);
    assert.equal(info.tdvps_base_size, 6 * 4096);
    assert.equal(info.tdvps_xfam_dependent_size, 0);
    assert.equal(info.attributes_fixed0, 0x8000_0000_7000_0001n);
    assert.equal(info.attributes_fixed0, ATTRIBUTES_FIXED0);
    assert.equal(info.attributes_fixed1, 0n);
    assert.equal(info.xfam_fixed0, 0x0006_dbe7n);
    assert.equal(info.xfam_fixed0, XFAM_FIXED0);
    assert.equal(info.xfam_fixed1, 3n);
    assert.equal(info.num_cpuid_config, 12);
    const cpuid = decodeSysInfoCpuidConfig(info.cpuid_config);
    assert.deepEqual(
      cpuid.map((c) => [c.leaf, c.subleaf]),
      CPUID_CONFIGURABLE.map((c) => [c.leaf, c.subleaf]),
    );
    // Leaf 1: CONFIG_DIRECT EAX/EBX, ALLOW_DIRECT ECX/EDX.
    assert.deepEqual([cpuid[0]!.eax, cpuid[0]!.ebx, cpuid[0]!.ecx, cpuid[0]!.edx], [0x0fff_3fff, 0x00ff_0000, 0x3104_4d88, 0xb844_0000]);
    assert.equal(TDSYSINFO_STRUCT.reservedNonZero(env.platform.memory.read(b.sysInfo, 1024, 0)), undefined);
    const cmrs = CMR_INFO.decodeArray(env.platform.memory.read(b.cmr, 512, 0), MAX_CMRS);
    assert.deepEqual(cmrs[0], { base: MiB, size: (2n << 30n) - MiB });
    assert.ok(cmrs.slice(1).every((c) => c.base === 0n && c.size === 0n));
  });

  test('on an LP without LP.INIT → TDX_SYS_LP_INIT_NOT_DONE, RDX = R9 = 0', () => {
    const env = bringUp({ until: 'sysinit' });
    const b = infoBuffers(env);
    const r = env.tdh.SYS_INFO({ sysInfo: b.sysInfo, sysInfoSize: 1024n, cmrArray: b.cmr, cmrEntries: 32n });
    assert.equal(r.status, S.TDX_SYS_LP_INIT_NOT_DONE);
    assert.equal(r.outputs.sysInfoSizeWritten, 0n);
    assert.equal(r.outputs.cmrEntriesWritten, 0n);
  });

  test('operand checks: RCX alignment/KeyID, RDX size, R8 alignment, R9 entries', () => {
    const env = bringUp({ until: 'lpinit' });
    const b = infoBuffers(env);
    const ok = { sysInfo: b.sysInfo, sysInfoSize: 1024n, cmrArray: b.cmr, cmrEntries: 32n };
    const privateKey = BigInt(env.platform.firstTdxKeyId) << BigInt(env.platform.keyIdShift);
    const cases: [Partial<typeof ok>, bigint][] = [
      [{ sysInfo: b.sysInfo + 512n }, inv(OperandId.RCX)],
      [{ sysInfo: b.sysInfo | privateKey }, inv(OperandId.RCX)],
      [{ sysInfo: 1n << 52n }, inv(OperandId.RCX)],
      [{ sysInfoSize: 1023n }, inv(OperandId.RDX)],
      [{ cmrArray: b.cmr + 256n }, inv(OperandId.R8)],
      [{ cmrEntries: 31n }, inv(OperandId.R9)],
    ];
    for (const [patch, status] of cases) {
      const r = env.tdh.SYS_INFO({ ...ok, ...patch });
      assert.equal(r.status, status, JSON.stringify(patch, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v)));
      assert.equal(r.outputs.sysInfoSizeWritten, 0n);
      assert.equal(r.outputs.cmrEntriesWritten, 0n);
    }
  });

  test('a shared (MKTME) KeyID in the output PA is accepted and used', () => {
    const env = bringUp({ until: 'lpinit' });
    const b = infoBuffers(env);
    const shared = 1n << BigInt(env.platform.keyIdShift);
    const r = env.tdh.SYS_INFO({ sysInfo: b.sysInfo | shared, sysInfoSize: 1024n, cmrArray: b.cmr, cmrEntries: 32n });
    assert.equal(r.status, S.TDX_SUCCESS);
    assert.equal(TDSYSINFO_STRUCT.read(env.platform.memory.read(b.sysInfo, 1024, 1), 'vendor_id'), 0x8086);
  });

  test('a bad CMR operand still leaves the TDSYSINFO buffer cleared (the module zeroes it first)', () => {
    const env = bringUp({ until: 'lpinit' });
    const b = infoBuffers(env);
    writeHost(env, b.sysInfo, new Uint8Array(1024).fill(0xaa));
    const r = env.tdh.SYS_INFO({ sysInfo: b.sysInfo, sysInfoSize: 1024n, cmrArray: b.cmr, cmrEntries: 1n });
    assert.equal(r.status, inv(OperandId.R9));
    assert.ok(env.platform.memory.read(b.sysInfo, 1024, 0).every((x) => x === 0));
  });
});

describe('TDH.SYS.CONFIG', () => {
  const base = SIZE_1G;
  const good = (): TdmrSpec => tdmrWithPamt(base, SIZE_1G, 64n * MiB);
  const config = (env: ModuleEnv, tdmrs: TdmrSpec[], hkid = BigInt(env.globalHkid)) => sysConfig(env, tdmrs, hkid).status;

  test('success: TDMRs installed, global HKID RESERVED, state SYSCONFIG_DONE', () => {
    const env = bringUp({ until: 'lpinit' });
    const r = sysConfig(env, [good()], BigInt(env.globalHkid));
    assert.equal(r.status, S.TDX_SUCCESS);
    assert.equal(env.module.sysState, SysState.SYSCONFIG_DONE);
    assert.equal(env.module.globalHkid, env.globalHkid);
    assert.equal(env.module.kot.state(env.globalHkid), KotState.HKID_RESERVED);
    assert.equal(env.module.tdmrs.length, 1);
    assert.equal(env.module.tdmrs[0]!.base, base);
    assert.deepEqual(env.module.pamt.ranges(), [{ base, size: SIZE_1G, initialized: 0n }]);
    assert.equal(config(env, [good()]), S.TDX_SYS_CONFIG_NOT_PENDING);
  });

  test('before every LP ran LP.INIT → TDX_SYS_CONFIG_NOT_PENDING', () => {
    const env = bringUp({ until: 'sysinit' });
    env.tdh.SYS_LP_INIT();
    assert.equal(config(env, [good()]), S.TDX_SYS_CONFIG_NOT_PENDING);
    assert.equal(env.module.sysState, SysState.SYSINIT_DONE);
  });

  test('global lock busy → TDX_SYS_BUSY', () => {
    const env = bringUp({ until: 'lpinit' });
    const release = env.module.locks.hold(LockKey.GLOBAL, 'shared');
    assert.equal(config(env, [good()]), S.TDX_SYS_BUSY);
    release();
  });

  test('register operands: array alignment/KeyID (RCX), count 1..64 (RDX), private HKID (R8)', () => {
    const env = bringUp({ until: 'lpinit' });
    const array = env.shared.alloc4k();
    const call = (tdmrArray: bigint, tdmrCount: bigint, globalHkid: bigint) =>
      env.tdh.SYS_CONFIG({ tdmrArray, tdmrCount, globalHkid }).status;
    const hk = BigInt(env.globalHkid);
    assert.equal(call(array + 256n, 1n, hk), inv(OperandId.RCX));
    assert.equal(call(array | (BigInt(env.platform.firstTdxKeyId) << BigInt(env.platform.keyIdShift)), 1n, hk), inv(OperandId.RCX));
    assert.equal(call(array, 0n, hk), inv(OperandId.RDX));
    assert.equal(call(array, 65n, hk), inv(OperandId.RDX));
    assert.equal(call(array, 1n, BigInt(env.platform.mktmeKeyIds)), inv(OperandId.R8));
    assert.equal(call(array, 1n, BigInt(env.platform.firstTdxKeyId + env.platform.tdxKeyIds)), inv(OperandId.R8));
    assert.equal(call(array, 1n, hk | (1n << 16n)), inv(OperandId.R8));
    assert.equal(env.module.sysState, SysState.SYSINIT_DONE);
    assert.equal(env.module.kot.state(env.globalHkid), KotState.HKID_FREE);
  });

  test('a TDMR_INFO pointer that is not 512-aligned → OPERAND_INVALID|RCX', () => {
    const env = bringUp({ until: 'lpinit' });
    const array = env.shared.alloc4k();
    const info = env.shared.alloc4k();
    const ptr = new Uint8Array(8);
    new DataView(ptr.buffer).setBigUint64(0, info + 64n, true);
    writeHost(env, array, ptr);
    assert.equal(env.tdh.SYS_CONFIG({ tdmrArray: array, tdmrCount: 1n, globalHkid: BigInt(env.globalHkid) }).status, inv(OperandId.RCX));
    // The module records the global HKID before it reads the TDMRs.
    assert.equal(env.module.kot.state(env.globalHkid), KotState.HKID_RESERVED);
    assert.equal(env.module.sysState, SysState.SYSINIT_DONE);
  });

  test('TDMR errors carry the TDMR index in bits 7:0', () => {
    const env = () => bringUp({ until: 'lpinit' });
    const second = tdmrWithPamt(4n * SIZE_1G, SIZE_1G, 80n * MiB);
    const big = { memorySize: 8n << 30n };
    // Base not 1G-aligned.
    assert.equal(config(env(), [{ ...good(), base: base + MiB }]), S.TDX_INVALID_TDMR | 0n);
    // Size 0.
    assert.equal(config(env(), [{ ...good(), size: 0n }]), S.TDX_INVALID_TDMR);
    // Above MAX_PA (second TDMR, index 1).
    const e8 = bringUp({ until: 'lpinit', ...big });
    assert.equal(config(e8, [good(), { ...second, base: 1n << 52n }]), S.TDX_INVALID_TDMR | 1n);
    // Out of order and overlapping.
    assert.equal(config(bringUp({ until: 'lpinit', ...big }), [second, good()]), S.TDX_NON_ORDERED_TDMR | 1n);
    assert.equal(config(bringUp({ until: 'lpinit', ...big }), [tdmrWithPamt(base, 2n * SIZE_1G, 64n * MiB), { ...second, base: 2n * SIZE_1G }]), S.TDX_NON_ORDERED_TDMR | 1n);
  });

  test('a TDMR over memory outside the CMRs → TDX_TDMR_OUTSIDE_CMRS; reserving the hole makes it valid', () => {
    // CMR starts at 1 MiB: a TDMR at 0 must reserve [0, 1 MiB).
    const t0 = tdmrWithPamt(0n, SIZE_1G, 0n);
    const pamtOff = 64n * MiB;
    const withPamtReserved = (reserved: TdmrSpec['reserved']) => ({ ...tdmrWithPamt(0n, SIZE_1G, pamtOff), reserved });
    const pamtBytes = t0.pamt4k.size + t0.pamt2m.size + t0.pamt1g.size;
    const pamtArea = { offset: pamtOff, size: pamtBytes };
    assert.equal(config(bringUp({ until: 'lpinit' }), [withPamtReserved([pamtArea])]), S.TDX_TDMR_OUTSIDE_CMRS | 0n);
    assert.equal(config(bringUp({ until: 'lpinit' }), [withPamtReserved([{ offset: 0n, size: MiB }, pamtArea])]), S.TDX_SUCCESS);
  });

  test('reserved areas: null then non-null, overlap, misalignment, outside the TDMR (details: TDMR | area << 8)', () => {
    const pamtInside = tdmrWithPamt(base, SIZE_1G, base + 512n * MiB);
    const pamtArea = { offset: 512n * MiB, size: 8n * MiB };
    const cases: [TdmrSpec['reserved'], bigint][] = [
      [[{ offset: 0n, size: 0n }, pamtArea], S.TDX_NON_ORDERED_RESERVED_IN_TDMR | (0n << 8n)],
      [[pamtArea, { offset: 0n, size: 4096n }], S.TDX_NON_ORDERED_RESERVED_IN_TDMR | (1n << 8n)],
      [[{ offset: 500n * MiB, size: 16n * MiB }, pamtArea], S.TDX_NON_ORDERED_RESERVED_IN_TDMR | (1n << 8n)],
      [[{ offset: 4096n, size: 100n }, pamtArea], S.TDX_INVALID_RESERVED_IN_TDMR | (0n << 8n)],
      [[pamtArea, { offset: SIZE_1G - 4096n, size: 8192n }], S.TDX_INVALID_RESERVED_IN_TDMR | (1n << 8n)],
      [[pamtArea, { offset: SIZE_1G, size: (1n << 64n) - SIZE_1G }], S.TDX_INVALID_RESERVED_IN_TDMR | (1n << 8n)],
    ];
    for (const [reserved, status] of cases) {
      assert.equal(config(bringUp({ until: 'lpinit' }), [{ ...pamtInside, reserved }]), status);
    }
  });

  test('PAMT checks: sizes (level in bits 15:8), CMRs, overlaps', () => {
    const lp = () => bringUp({ until: 'lpinit' });
    const g = good();
    // PAMT_4K too small: level 0.
    assert.equal(config(lp(), [{ ...g, pamt4k: { ...g.pamt4k, size: g.pamt4k.size - 4096n } }]), S.TDX_INVALID_PAMT | (0n << 8n));
    // PAMT_1G checked first: misaligned base → level 2.
    assert.equal(config(lp(), [{ ...g, pamt1g: { ...g.pamt1g, base: g.pamt1g.base + 8n } }]), S.TDX_INVALID_PAMT | (2n << 8n));
    // PAMT_2M with KeyID bits.
    const plat = lp().platform;
    const key = BigInt(plat.firstTdxKeyId) << BigInt(plat.keyIdShift);
    assert.equal(config(lp(), [{ ...g, pamt2m: { ...g.pamt2m, base: g.pamt2m.base | key } }]), S.TDX_INVALID_PAMT | (1n << 8n));
    // 4K PAMT overlapping the 2M PAMT: (i, PT_4KB, i).
    assert.equal(config(lp(), [{ ...g, pamt2m: { ...g.pamt2m, base: g.pamt4k.base } }]), S.TDX_PAMT_OVERLAP);
    // 2M PAMT overlapping the 1G PAMT: (0, PT_2MB, 0).
    assert.equal(config(lp(), [{ ...g, pamt1g: { ...g.pamt1g, base: g.pamt2m.base } }]), S.TDX_PAMT_OVERLAP | (1n << 8n));
    // PAMT in usable TDMR memory: (0, PT_4KB, 0).
    assert.equal(config(lp(), [tdmrWithPamt(base, SIZE_1G, base + 512n * MiB)]), S.TDX_PAMT_OVERLAP);
    // A PAMT below 1 MiB (no CMR there): only the 4K PAMT at 0 is outside.
    assert.equal(config(lp(), [tdmrWithPamt(base, SIZE_1G, 0n)]), S.TDX_PAMT_OUTSIDE_CMRS | (0n << 8n));
    // All three outside: the 1G PAMT is reported first.
    const low = { base: 0n, size: 4096n };
    assert.equal(config(lp(), [{ ...g, pamt1g: low, pamt2m: { base: 8192n, size: 8192n } }]), S.TDX_PAMT_OUTSIDE_CMRS | (2n << 8n));
  });

  test('two TDMRs: PAMTs must not overlap each other or the other TDMR (details: i | level << 8 | j << 16)', () => {
    const big = () => bringUp({ until: 'lpinit', memorySize: 4n << 30n });
    const t0 = tdmrWithPamt(base, SIZE_1G, 64n * MiB);
    const t1 = tdmrWithPamt(2n * SIZE_1G, SIZE_1G, 80n * MiB);
    assert.equal(config(big(), [t0, t1]), S.TDX_SUCCESS);
    assert.equal(config(big(), [t0, tdmrWithPamt(2n * SIZE_1G, SIZE_1G, 64n * MiB)]), S.TDX_PAMT_OVERLAP | 1n | (0n << 8n) | (0n << 16n));
    // TDMR 1's PAMT inside TDMR 0's usable memory: (1, PT_4KB, 0).
    assert.equal(config(big(), [t0, tdmrWithPamt(2n * SIZE_1G, SIZE_1G, base + 256n * MiB)]), S.TDX_PAMT_OVERLAP | 1n);
    // TDMR 0's PAMT inside TDMR 1's usable memory: reported as (0, PT_4KB, 1).
    const t0InT1 = tdmrWithPamt(base, SIZE_1G, 2n * SIZE_1G + 256n * MiB);
    assert.equal(config(big(), [t0InT1, t1]), S.TDX_PAMT_OVERLAP | (1n << 16n));
  });
});

describe('TDH.SYS.KEY.CONFIG', () => {
  test('once per package; the last package makes the module SYS_READY', () => {
    const env = bringUp({ until: 'config' });
    assert.equal(env.on(0).SYS_KEY_CONFIG().status, S.TDX_SUCCESS);
    assert.equal(env.module.sysState, SysState.SYSCONFIG_DONE);
    // LP 1 is on package 0 too.
    assert.equal(env.on(1).SYS_KEY_CONFIG().status, S.TDX_KEY_CONFIGURED);
    assert.equal(env.on(2).SYS_KEY_CONFIG().status, S.TDX_SUCCESS);
    assert.equal(env.module.sysState, SysState.SYS_READY);
    assert.equal(env.on(3).SYS_KEY_CONFIG().status, S.TDX_SYS_KEY_CONFIG_NOT_PENDING);
  });

  test('before SYS.CONFIG → TDX_SYS_KEY_CONFIG_NOT_PENDING', () => {
    const env = bringUp({ until: 'lpinit' });
    assert.equal(env.tdh.SYS_KEY_CONFIG().status, S.TDX_SYS_KEY_CONFIG_NOT_PENDING);
  });

  test('PCONFIG engine busy → OPERAND_BUSY|KET and the package can retry', () => {
    const env = bringUp({ until: 'config' });
    const release = env.module.locks.hold(LockKey.ket(0), 'exclusive');
    assert.equal(env.tdh.SYS_KEY_CONFIG().status, 0x8000_0200_0000_00bbn);
    release();
    assert.equal(env.tdh.SYS_KEY_CONFIG().status, S.TDX_SUCCESS);
  });

  test('global lock busy → TDX_SYS_BUSY', () => {
    const env = bringUp({ until: 'config' });
    const release = env.module.locks.hold(LockKey.GLOBAL, 'shared');
    assert.equal(env.tdh.SYS_KEY_CONFIG().status, S.TDX_SYS_BUSY);
    release();
  });

  test('programs the global key: memory written with the global HKID reads back only with it', () => {
    const env = bringUp({ until: 'keyconfig' });
    const pa = env.shared.alloc4k();
    env.platform.memory.write(pa, new Uint8Array(64).fill(7), env.globalHkid);
    assert.deepEqual(env.platform.memory.read(pa, 64, env.globalHkid), new Uint8Array(64).fill(7));
    assert.notDeepEqual(env.platform.memory.read(pa, 64, 0), new Uint8Array(64).fill(7));
  });
});

describe('TDH.SYS.TDMR.INIT', () => {
  test('before SYS_READY → TDX_SYS_NOT_READY', () => {
    const env = bringUp({ until: 'config' });
    assert.equal(env.tdh.SYS_TDMR_INIT({ tdmrBase: SIZE_1G }).status, S.TDX_SYS_NOT_READY);
  });

  test('4 MB per call; RDX = next address rounded down to 1 GB; then TDX_TDMR_ALREADY_INITIALIZED', () => {
    const env = bringUp({ until: 'keyconfig' });
    const first = env.tdh.SYS_TDMR_INIT({ tdmrBase: SIZE_1G });
    assert.equal(first.status, S.TDX_SUCCESS);
    assert.equal(first.outputs.nextToInit, SIZE_1G);
    assert.equal(env.module.pamt.ranges()[0]!.initialized, TDMR_INIT_CHUNK_BYTES);
    // Pages in the initialised chunk have PAMT entries; the next page does not yet.
    assert.equal(env.module.pamt.lookup(SIZE_1G + TDMR_INIT_CHUNK_BYTES - 4096n)?.type, PamtPageType.PT_NDA);
    assert.equal(env.module.pamt.lookup(SIZE_1G + TDMR_INIT_CHUNK_BYTES), undefined);
    const calls = initTdmr(env, SIZE_1G, SIZE_1G);
    assert.equal(calls + 1, Number(SIZE_1G / TDMR_INIT_CHUNK_BYTES));
    const again = env.tdh.SYS_TDMR_INIT({ tdmrBase: SIZE_1G }, { regs: RegisterFile.from({ RDX: 5n }) });
    assert.equal(again.status, 0x0000_0a03_0000_0000n);
    assert.equal(again.outputs.nextToInit, 0n);
  });

  test('the last call returns RDX = TDMR end', () => {
    const env = bringUp({ until: 'keyconfig' });
    let last = 0n;
    for (let i = 0; i < 256; i++) last = expectStatus(env.tdh.SYS_TDMR_INIT({ tdmrBase: SIZE_1G }), 'init').outputs.nextToInit;
    assert.equal(last, 2n * SIZE_1G);
  });

  test('bad base: unaligned, above MAX_PA, not a TDMR → OPERAND_INVALID|RCX with RDX = 0', () => {
    const env = bringUp({ until: 'keyconfig' });
    for (const tdmrBase of [SIZE_1G + 4096n, 1n << 52n, 0n, 2n * SIZE_1G]) {
      const r = env.tdh.SYS_TDMR_INIT({ tdmrBase }, { regs: RegisterFile.from({ RDX: 9n }) });
      assert.equal(r.status, 0xc000_0100_0000_0001n);
      assert.equal(r.outputs.nextToInit, 0n);
    }
  });

  test('TDMR mutex held → OPERAND_BUSY|RCX', () => {
    const env = bringUp({ until: 'keyconfig' });
    const release = env.module.locks.hold(LockKey.tdmr(SIZE_1G), 'exclusive');
    assert.equal(env.tdh.SYS_TDMR_INIT({ tdmrBase: SIZE_1G }).status, 0x8000_0200_0000_0001n);
    release();
    assert.equal(env.module.pamt.ranges()[0]!.initialized, 0n);
  });

  test('reserved areas (and the PAMT inside them) become PT_RSVD as they are initialised', () => {
    const pamtOff = 512n * MiB;
    const s = pamtSizes(SIZE_1G);
    const pamtBytes = s.pamt4k + s.pamt2m + s.pamt1g;
    const rsvdSize = ((pamtBytes + TDMR_INIT_CHUNK_BYTES - 1n) / TDMR_INIT_CHUNK_BYTES) * TDMR_INIT_CHUNK_BYTES;
    const hole = { offset: 4096n, size: 8192n };
    const tdmr = tdmrWithPamt(SIZE_1G, SIZE_1G, SIZE_1G + pamtOff, [hole, { offset: pamtOff, size: rsvdSize }]);
    const env = bringUp({ tdmrs: [tdmr] });
    const census = env.module.pamt.census();
    assert.equal(census.get(PamtPageType.PT_RSVD), Number((rsvdSize + hole.size) / 4096n));
    assert.equal(env.module.pamt.lookup(SIZE_1G + pamtOff)?.type, PamtPageType.PT_RSVD);
    assert.equal(env.module.pamt.lookup(SIZE_1G + 4096n)?.type, PamtPageType.PT_RSVD);
    assert.equal(env.module.pamt.lookup(SIZE_1G)?.type, PamtPageType.PT_NDA);
    assert.equal(env.module.pamt.lookup(SIZE_1G + pamtOff + rsvdSize)?.type, PamtPageType.PT_NDA);
  });
});

describe('TDH.SYS.LP.SHUTDOWN', () => {
  test('deprecated: succeeds in any state and changes nothing', () => {
    const env = bringUp({ until: 'loaded' });
    const r = env.tdh.SYS_LP_SHUTDOWN({}, { regs: junkRegs() });
    assert.equal(r.status, S.TDX_SUCCESS);
    assert.equal(r.regs.get('RCX'), 0x1111_0000_0000_0001n);
    assert.equal(env.module.sysState, SysState.SYSINIT_PENDING);
    const ready = bringUp();
    assert.equal(ready.tdh.SYS_LP_SHUTDOWN().status, S.TDX_SUCCESS);
  });
});

describe('full bring-up', () => {
  test('the harness sequence leaves the module SYS_READY with an initialised TDMR and no locks held', () => {
    const env = bringUp();
    assert.equal(env.module.sysState, SysState.SYS_READY);
    assert.deepEqual(env.module.pamt.ranges(), [{ base: SIZE_1G, size: SIZE_1G, initialized: SIZE_1G }]);
    assert.equal(env.module.pamt.census().size, 0);
    assert.ok(env.module.locks.idle());
    assert.deepEqual([...env.module.keyConfiguredPackages].sort(), [0, 1]);
  });
  test('configure() helper with a custom TDMR list', () => {
    const env = bringUp({ until: 'lpinit' });
    configure(env, [tdmrWithPamt(SIZE_1G, SIZE_1G, 64n * MiB)], env.globalHkid);
    assert.equal(env.module.sysState, SysState.SYSCONFIG_DONE);
  });
});
