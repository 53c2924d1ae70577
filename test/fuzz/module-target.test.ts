/**
 * The `module` target: a bounded smoke run against the real module (no findings, the valid
 * sequences reach deep states), replay of concrete actions, and deliberately broken modules the
 * invariants must catch — one that leaks a TD's private data into a SEAMCALL output register,
 * one that changes a guest register the TD did not expose, one that throws.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gpr, type RegisterFile } from '../../src/abi/registers.ts';
import { LEAF_WORD } from '../../src/abi/operands.ts';
import { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';
import type { LogicalProcessor } from '../../src/platform/processor.ts';
import { runFuzz, replay } from '../../src/fuzz/engine.ts';
import { Coverage } from '../../src/fuzz/coverage.ts';
import { Invariant } from '../../src/fuzz/invariants.ts';
import { moduleTarget, ModuleEpisode } from '../../src/fuzz/targets/module.ts';
import { buildModuleWorld, SECRET_GPAS } from '../../src/fuzz/targets/module-world.ts';
import type { SeamcallAction } from '../../src/fuzz/targets/module-gen.ts';

const word = (leaf: { number: number }) => LEAF_WORD.encode({ leaf: leaf.number, version: 0 });

test('smoke: 2,000 steps from a fixed seed find nothing and reach the deep states', () => {
  const r = runFuzz(moduleTarget, { seed: 2025n, steps: 2000, minimiseMs: 0 });
  assert.equal(r.steps, 2000);
  assert.deepEqual(
    r.findings.map((f) => `${f.invariant}: ${f.message}`),
    [],
  );
  const outcomes = r.coverage.outcomes;
  for (const leaf of ['TDH.MNG.CREATE', 'TDH.MEM.SEPT.ADD', 'TDH.MEM.PAGE.AUG', 'TDH.VP.ENTER', 'TDH.PHYMEM.PAGE.RECLAIM']) {
    assert.ok((outcomes[`${leaf} → TDX_SUCCESS`] ?? 0) > 0, `${leaf} never succeeded`);
  }
  assert.ok(Object.keys(r.coverage.reached).length >= 40, 'most leaves are issued');
});

test('the same seed gives the same run', () => {
  const a = runFuzz(moduleTarget, { seed: 9n, steps: 300, minimiseMs: 0 });
  const b = runFuzz(moduleTarget, { seed: 9n, steps: 300, minimiseMs: 0 });
  assert.deepEqual(a.coverage, b.coverage);
  assert.equal(a.episodes, b.episodes);
});

test('replay runs concrete actions: TDH.SYS.INIT twice is refused the second time, cleanly', () => {
  const init: SeamcallAction = { kind: 'seamcall', lp: 0, regs: { rax: word(SeamcallLeaf.TDH_SYS_INIT) } };
  const r = replay(moduleTarget, 'loaded', [init, init]);
  assert.equal(r.violation, undefined);
  assert.equal(r.step, 2);
  assert.equal(r.coverage.outcomes['TDH.SYS.INIT → TDX_SUCCESS'], 1);
  assert.equal(r.coverage.outcomes['TDH.SYS.INIT → TDX_SYS_INIT_NOT_PENDING'], 1);
});

/** Put a broken module between the platform and the real one. */
function breakModule(world: ReturnType<typeof buildModuleWorld>, after: (lp: LogicalProcessor, regs: RegisterFile) => void): void {
  const inner = world.w.platform.seamModule!;
  world.w.platform.loadModule({
    get loaded() {
      return inner.loaded;
    },
    seamcall(lp, regs) {
      inner.seamcall(lp, regs);
      after(lp, regs);
    },
  });
}

test('broken module: TD private data in an output register is a no-plaintext-leak finding', () => {
  const world = buildModuleWorld('tds');
  const page = world.tds[0]!.pages.get(SECRET_GPAS[0]!)!;
  const hkid = world.tds[0]!.hkid;
  // After TDH.SYS.RD, "return" the first word of TD A's secret page in R9.
  breakModule(world, (_lp, regs) => {
    if (regs.gpr[Gpr.R9] === 0n) regs.gpr[Gpr.R9] = world.w.platform.memory.readU64(page, hkid);
  });
  const ep = new ModuleEpisode(world, new Coverage());
  const v = ep.step({ kind: 'seamcall', lp: 0, regs: { rax: word(SeamcallLeaf.TDH_SYS_RD), rdx: 0n } });
  assert.equal(v?.invariant, Invariant.NO_PLAINTEXT_LEAK);
  assert.match(v!.message, /SEAMCALL TDH\.SYS\.RD on LP 0 output: R9 holds TD secret/);
});

test('broken module: a VMM reply reaching an unexposed guest register is an unexposed-registers finding', () => {
  const world = buildModuleWorld('tds');
  const tdvpr = world.tds[0]!.vcpus[0]!.tdvpr;
  const vcpu = world.w.module.vcpu(tdvpr)!;
  const enter: SeamcallAction = { kind: 'seamcall', lp: 0, regs: { rax: word(SeamcallLeaf.TDH_VP_ENTER), rcx: tdvpr } };
  const ep = new ModuleEpisode(world, new Coverage());
  // First entry: the canary makes its first TDVMCALL. Healthy so far.
  assert.equal(ep.step(enter), undefined);
  // From now on the module "forgets" the exposure mask and copies the host's RSI into the guest.
  const inner = world.w.platform.seamModule!;
  world.w.platform.loadModule({
    get loaded() {
      return inner.loaded;
    },
    seamcall(lp, regs) {
      if (regs.gpr[Gpr.RAX] === word(SeamcallLeaf.TDH_VP_ENTER)) {
        const mask = vcpu.tdvmcallGprSelect;
        if (((mask >> BigInt(Gpr.RSI)) & 1n) === 0n) vcpu.cpu.regs.gpr[Gpr.RSI] = regs.gpr[Gpr.RSI]!;
        else vcpu.cpu.regs.gpr[Gpr.RBP] = regs.gpr[Gpr.RBP]!; // RBP is never exposed
      }
      inner.seamcall(lp, regs);
    },
  });
  const v = ep.step({ ...enter, regs: { ...enter.regs, rsi: 0xbad0n, rbp: 0xbad1n } });
  assert.equal(v?.invariant, Invariant.UNEXPOSED_REGISTERS);
  assert.match(v!.message, /canary TDVMCALL 1 .*unexposed (RSI|RBP) changed/);
});

test('broken module: an exception out of a SEAMCALL is a no-exception finding, not a crash', () => {
  const world = buildModuleWorld('ready');
  breakModule(world, () => {
    throw new TypeError('undefined is not a page');
  });
  const ep = new ModuleEpisode(world, new Coverage());
  const v = ep.step({ kind: 'seamcall', lp: 1, regs: { rax: word(SeamcallLeaf.TDH_SYS_RD), rdx: 0n } });
  assert.deepEqual(v, { invariant: Invariant.NO_EXCEPTION, message: 'SEAMCALL TDH.SYS.RD on LP 1 threw TypeError: undefined is not a page' });
});

test('broken module: a status no table defines is a status-defined finding', () => {
  const world = buildModuleWorld('ready');
  breakModule(world, (_lp, regs) => {
    regs.gpr[Gpr.RAX] = 0xc000_0777_0000_0000n;
  });
  const v = new ModuleEpisode(world, new Coverage()).step({ kind: 'seamcall', lp: 0, regs: { rax: word(SeamcallLeaf.TDH_SYS_RD) } });
  assert.equal(v?.invariant, Invariant.STATUS_DEFINED);
});

test('host memory actions: reading TD pages with host KeyIDs leaks nothing', () => {
  const world = buildModuleWorld('tds');
  const ep = new ModuleEpisode(world, new Coverage());
  const page = world.tds[0]!.pages.get(SECRET_GPAS[1]!)!;
  for (const keyId of [0, 1, world.w.platform.mktmeKeyIds]) {
    assert.equal(ep.step({ kind: 'host-read', pa: page + 8n, keyId, value: 0n }), undefined);
  }
  // A host write corrupts the line (integrity), the secret is gone for the TD too; no violation.
  assert.equal(ep.step({ kind: 'host-write', pa: page, keyId: 0, value: 1n }), undefined);
});
