import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { callLeaf, seamcalls } from '../../src/platform/leaf-call.ts';
import { Platform } from '../../src/platform/platform.ts';
import type { LogicalProcessor } from '../../src/platform/processor.ts';
import { Gpr, RegisterFile } from '../../src/abi/registers.ts';
import { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';
import { TdxStatus } from '../../src/abi/status.ts';
import { bringUp } from '../helpers/module-harness.ts';

/** A platform whose "module" records the registers it was called with and answers with `reply`. */
function recorder(reply: (regs: RegisterFile) => void) {
  const platform = new Platform({ memorySize: 1n << 24n });
  const seen: RegisterFile[] = [];
  platform.loadModule({
    loaded: true,
    seamcall(_lp: LogicalProcessor, regs: RegisterFile) {
      seen.push(regs.clone());
      reply(regs);
    },
  });
  return { lp: platform.lps[0]!, seen };
}

describe('callLeaf', () => {
  test('puts the leaf word in RAX and each named input in its register; reads outputs by name', () => {
    const { lp, seen } = recorder((regs) => {
      regs.gpr[Gpr.RAX] = 0n;
      regs.gpr[Gpr.RCX] = 5n;
      regs.gpr[Gpr.RDX] = 0x1234_5000n;
      regs.gpr[Gpr.R8] = 1n;
      regs.gpr[Gpr.R9] = 77n;
    });
    const r = callLeaf(lp, SeamcallLeaf.TDH_PHYMEM_PAGE_RDMD, { page: 0xabc_d000n });
    const sent = seen[0]!;
    assert.equal(sent.gpr[Gpr.RAX], 24n);
    assert.equal(sent.gpr[Gpr.RCX], 0xabc_d000n);
    for (let i = 2; i < 16; i++) assert.equal(sent.gpr[i], 0n, `GPR ${i} starts at 0`);
    assert.equal(r.status, TdxStatus.TDX_SUCCESS);
    assert.ok(r.ok);
    assert.deepEqual(r.outputs, { pageType: 5n, owner: 0x1234_5000n, pageSize: 1n, bepoch: 77n, reserved10: 0n, reserved11: 0n });
    assert.equal(r.regs.get('RDX'), 0x1234_5000n);
  });

  test('multi-register inputs go where the table says (TDH.MEM.PAGE.ADD: RCX, RDX, R8, R9)', () => {
    const { lp, seen } = recorder(() => undefined);
    callLeaf(lp, SeamcallLeaf.TDH_MEM_PAGE_ADD, { gpaLevel: 0x1000n, tdr: 0x2000n, page: 0x3000n, source: 0x4000n });
    const s = seen[0]!;
    assert.deepEqual([s.get('RAX'), s.get('RCX'), s.get('RDX'), s.get('R8'), s.get('R9')], [2n, 0x1000n, 0x2000n, 0x3000n, 0x4000n]);
  });

  test('version goes to RAX bits 23:16; a starting register file is copied, not modified', () => {
    const { lp, seen } = recorder((regs) => {
      regs.gpr[Gpr.RAX] = TdxStatus.TDX_KEY_CONFIGURED;
      regs.gpr[Gpr.R12] = 99n;
    });
    const start = RegisterFile.from({ R12: 5n, R13: 6n, RCX: 7n });
    const r = callLeaf(lp, SeamcallLeaf.TDH_MNG_RD, { tdr: 0x9000n }, { version: 1, regs: start });
    assert.equal(seen[0]!.get('RAX'), 0x1000bn);
    assert.equal(seen[0]!.get('RCX'), 0x9000n);
    assert.equal(seen[0]!.get('R13'), 6n);
    assert.equal(start.get('R12'), 5n);
    assert.equal(start.get('RCX'), 7n);
    assert.equal(r.regs.get('R12'), 99n);
    assert.equal(r.status, TdxStatus.TDX_KEY_CONFIGURED);
    assert.equal(r.ok, false, 'a warning is not ok');
  });

  test('SEAMCALL failures before the module (e.g. #UD) come back as the status', () => {
    const env = bringUp({ until: 'loaded' });
    env.lps[0]!.vmxRoot = false;
    const r = callLeaf(env.lps[0]!, SeamcallLeaf.TDH_SYS_INIT);
    assert.equal(r.status, 0x8000_ff00_0000_0006n);
    assert.equal(r.ok, false);
  });
});

describe('seamcalls', () => {
  test('one method per leaf of the table, named without TDH_', () => {
    const env = bringUp({ until: 'loaded' });
    const tdh = seamcalls(env.lps[0]!);
    const names = Object.keys(SeamcallLeaf).map((k) => k.replace(/^TDH_/, '')).sort();
    assert.deepEqual(Object.keys(tdh).sort(), names);
    assert.equal(typeof tdh.MNG_CREATE, 'function');
    assert.ok(Object.isFrozen(tdh));
  });

  test('methods issue the leaf on their LP with typed inputs and outputs', () => {
    const env = bringUp({ until: 'loaded' });
    assert.equal(env.on(2).SYS_INIT().status, TdxStatus.TDX_SUCCESS);
    assert.equal(env.lps[2]!.seamcalls, 1);
    assert.equal(env.on(3).SYS_LP_INIT().status, TdxStatus.TDX_SUCCESS);
    assert.equal(env.module.lpState[3]!.lpInit, true);
    assert.equal(env.module.lpState[0]!.lpInit, false);
    const r = env.on(3).SYS_INIT({ attributes: 1n });
    assert.equal(r.status, 0xc000_0100_0000_0001n);
    assert.equal(r.outputs.detail0, 0n);
  });

  test('a leaf the module does not model gets the module answer OPERAND_INVALID|RAX', () => {
    const env = bringUp();
    assert.equal(env.tdh.MEM_SEPT_WR().status, 0xc000_0100_0000_0000n);
    assert.equal(env.tdh.EXPORT_PAUSE().status, 0xc000_0100_0000_0000n);
  });
});
