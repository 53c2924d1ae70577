import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bringUp, createTd } from '../helpers/module-harness.ts';
import { Gpr, RegisterFile, GPR_NAMES, type GprName } from '../../src/abi/registers.ts';
import { LEAF_WORD } from '../../src/abi/operands.ts';
import { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';
import { TdxStatus, TdxSoftwareStatus } from '../../src/abi/status.ts';
import { SysState } from '../../src/abi/lifecycle.ts';
import type { LeafDef } from '../../src/abi/leaf.ts';
import { callLeaf } from '../../src/platform/leaf-call.ts';
import type { LogicalProcessor } from '../../src/platform/processor.ts';

const INVALID_RAX = 0xc000_0100_0000_0000n;

function junkRegs(): RegisterFile {
  const r = new RegisterFile();
  for (let i = 0; i < 16; i++) r.gpr[i] = 0x4444_0000_0000_0000n + BigInt(i);
  for (let i = 0; i < 32; i++) r.xmm[i] = 0x5555_0000_0000_0000n + BigInt(i);
  return r;
}

/** SEAMCALL with a raw RAX and junk everywhere else. */
function raw(lp: LogicalProcessor, rax: bigint): RegisterFile {
  const regs = junkRegs();
  regs.gpr[Gpr.RAX] = rax;
  return lp.seamcall(regs);
}

function assertOnlyRaxChanged(after: RegisterFile): void {
  const before = junkRegs();
  for (let i = 1; i < 16; i++) assert.equal(after.gpr[i], before.gpr[i], GPR_NAMES[i]);
  assert.deepEqual(after.xmm, before.xmm);
}

describe('SEAMCALL dispatch: the leaf word', () => {
  test('reserved RAX bits 31:24 or 63:32 → OPERAND_INVALID|RAX = 0xC000010000000000, nothing else changes', () => {
    const env = bringUp();
    const leaf = BigInt(SeamcallLeaf.TDH_SYS_LP_SHUTDOWN.number);
    for (const rax of [leaf | (1n << 24n), leaf | (1n << 31n), leaf | (1n << 32n), leaf | (1n << 63n)]) {
      const r = raw(env.lps[0]!, rax);
      assert.equal(r.gpr[Gpr.RAX], INVALID_RAX);
      assertOnlyRaxChanged(r);
    }
  });

  test('unknown and undispatched leaf numbers → OPERAND_INVALID|RAX', () => {
    const env = bringUp();
    for (const n of [42, 46, 47, 100, 0xffff, SeamcallLeaf.TDH_EXPORT_MEM.number, SeamcallLeaf.TDH_MEM_SEPT_WR.number]) {
      const r = raw(env.lps[1]!, BigInt(n));
      assert.equal(r.gpr[Gpr.RAX], INVALID_RAX, `leaf ${n}`);
      assertOnlyRaxChanged(r);
    }
  });

  test("a version above the leaf's maximum → OPERAND_INVALID|RAX", () => {
    const env = bringUp();
    const cases: [LeafDef, number][] = [
      [SeamcallLeaf.TDH_SYS_LP_SHUTDOWN, 1],
      [SeamcallLeaf.TDH_MNG_CREATE, 1],
      [SeamcallLeaf.TDH_PHYMEM_PAGE_RDMD, 255],
      [SeamcallLeaf.TDH_MNG_RD, 2],
      [SeamcallLeaf.TDH_MEM_SEPT_ADD, 2],
    ];
    for (const [leaf, version] of cases) {
      const r = raw(env.lps[0]!, LEAF_WORD.encode({ leaf: leaf.number, version }));
      assert.equal(r.gpr[Gpr.RAX], INVALID_RAX, `${leaf.mnemonic} v${version}`);
      assertOnlyRaxChanged(r);
    }
  });
});

describe('SEAMCALL dispatch: module state gating', () => {
  test('before SYS_READY only the bring-up leaves run; others → TDX_SYS_NOT_READY (0xC000050500000000)', () => {
    const env = bringUp({ until: 'config' });
    const tdr = env.alloc.alloc4k();
    const r = callLeaf(env.lps[0]!, SeamcallLeaf.TDH_MNG_CREATE, { tdr, hkid: BigInt(env.nextHkid()) });
    assert.equal(r.status, 0xc000_0505_0000_0000n);
    for (const leaf of [SeamcallLeaf.TDH_PHYMEM_PAGE_RDMD, SeamcallLeaf.TDH_PHYMEM_CACHE_WB, SeamcallLeaf.TDH_SYS_TDMR_INIT, SeamcallLeaf.TDH_MNG_KEY_RECLAIMID]) {
      assert.equal(callLeaf(env.lps[0]!, leaf).status, TdxStatus.TDX_SYS_NOT_READY, leaf.mnemonic);
    }
    // Allowed before SYS_READY: they reach their handlers.
    assert.equal(callLeaf(env.lps[0]!, SeamcallLeaf.TDH_SYS_LP_SHUTDOWN).status, TdxStatus.TDX_SUCCESS);
    assert.equal(callLeaf(env.lps[0]!, SeamcallLeaf.TDH_SYS_INIT).status, TdxStatus.TDX_SYS_INIT_NOT_PENDING);
    assert.equal(callLeaf(env.lps[0]!, SeamcallLeaf.TDH_SYS_KEY_CONFIG).status, TdxStatus.TDX_SUCCESS);
  });

  test('after SYS_READY the bring-up leaves still dispatch (and fail on state)', () => {
    const env = bringUp();
    assert.equal(env.tdh.SYS_INIT().status, TdxStatus.TDX_SYS_INIT_NOT_PENDING);
    assert.equal(env.tdh.SYS_LP_INIT().status, TdxStatus.TDX_SYS_LP_INIT_NOT_PENDING);
    assert.equal(env.tdh.SYS_KEY_CONFIG().status, TdxStatus.TDX_SYS_KEY_CONFIG_NOT_PENDING);
  });

  test('after shutdown every leaf but TDH.SYS.LP.SHUTDOWN → TDX_SYS_SHUTDOWN', () => {
    const env = bringUp();
    env.module.sysState = SysState.SYS_SHUTDOWN;
    assert.equal(env.tdh.SYS_INFO().status, 0xc000_0506_0000_0000n);
    assert.equal(env.tdh.MNG_KEY_RECLAIMID().status, TdxStatus.TDX_SYS_SHUTDOWN);
    assert.equal(env.tdh.SYS_LP_SHUTDOWN().status, TdxStatus.TDX_SUCCESS);
    // The leaf word checks still come first.
    assert.equal(raw(env.lps[0]!, 1n << 40n).gpr[Gpr.RAX], INVALID_RAX);
  });
});

describe('SEAMCALL dispatch: register preservation', () => {
  test('every GPR a leaf does not list as an output comes back unchanged (and every XMM)', () => {
    const env = bringUp();
    const built = createTd(env);
    const page = env.alloc.alloc4k();
    const calls: [LeafDef, Partial<Record<string, bigint>>][] = [
      [SeamcallLeaf.TDH_PHYMEM_PAGE_RDMD, { page: built.tdr }],
      [SeamcallLeaf.TDH_PHYMEM_PAGE_RECLAIM, { page: built.tdcx[0]! }],
      [SeamcallLeaf.TDH_PHYMEM_PAGE_WBINVD, { page }],
      [SeamcallLeaf.TDH_MNG_KEY_CONFIG, { tdr: built.tdr }],
      [SeamcallLeaf.TDH_MNG_ADDCX, { page, tdr: built.tdr }],
      [SeamcallLeaf.TDH_SYS_TDMR_INIT, { tdmrBase: 1n << 30n }],
      [SeamcallLeaf.TDH_SYS_LP_SHUTDOWN, {}],
      [SeamcallLeaf.TDH_PHYMEM_CACHE_WB, { resume: 0n }],
    ];
    for (const [leaf, inputs] of calls) {
      const start = junkRegs();
      const r = callLeaf(env.lps[0]!, leaf, inputs, { regs: start });
      const expected = start.clone();
      for (const op of leaf.inputs) if (inputs[op.name] !== undefined) expected.gpr[Gpr[op.reg]] = inputs[op.name]!;
      const written = new Set<GprName>(['RAX', ...leaf.outputs.map((o) => o.reg)]);
      for (const name of GPR_NAMES) {
        if (!written.has(name)) assert.equal(r.regs.get(name), expected.get(name), `${leaf.mnemonic}: ${name}`);
      }
      assert.deepEqual(r.regs.xmm, start.xmm, `${leaf.mnemonic}: XMM`);
      assert.ok(r.status !== start.gpr[Gpr.RAX], `${leaf.mnemonic} wrote a status`);
    }
  });
});

describe('SEAMCALL before the module runs', () => {
  test('#UD outside VMX root, #GP without SEAM, VMfailInvalid without a loaded module: only RAX changes', () => {
    const env = bringUp();
    const lp = env.lps[0]!;
    const leaf = BigInt(SeamcallLeaf.TDH_SYS_LP_SHUTDOWN.number);
    lp.vmxRoot = false;
    let r = raw(lp, leaf);
    assert.equal(r.gpr[Gpr.RAX], 0x8000_ff00_0000_0006n);
    assert.equal(r.gpr[Gpr.RAX], TdxSoftwareStatus.TDX_SEAMCALL_UD);
    assertOnlyRaxChanged(r);
    lp.vmxRoot = true;
    lp.seamEnabled = false;
    r = raw(lp, leaf);
    assert.equal(r.gpr[Gpr.RAX], 0x8000_ff00_0000_000dn);
    assertOnlyRaxChanged(r);
    lp.seamEnabled = true;
    env.module.loaded = false;
    r = raw(lp, leaf);
    assert.equal(r.gpr[Gpr.RAX], 0x8000_ff00_ffff_0000n);
    assertOnlyRaxChanged(r);
    env.module.loaded = true;
    const none = bringUp({ until: 'loaded' });
    none.platform.seamModule = undefined;
    assert.equal(raw(none.lps[0]!, leaf).gpr[Gpr.RAX], TdxSoftwareStatus.TDX_SEAMCALL_VMFAILINVALID);
    // Other LPs are unaffected by one LP's mode.
    lp.vmxRoot = false;
    assert.equal(raw(env.lps[1]!, leaf).gpr[Gpr.RAX], TdxStatus.TDX_SUCCESS);
  });

  test('SEAMCALLs that reach the module are counted per LP', () => {
    const env = bringUp({ until: 'loaded' });
    const lp = env.lps[3]!;
    const leaf = BigInt(SeamcallLeaf.TDH_SYS_LP_SHUTDOWN.number);
    raw(lp, leaf);
    lp.vmxRoot = false;
    raw(lp, leaf);
    assert.equal(lp.seamcalls, 1);
  });
});
