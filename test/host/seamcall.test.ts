import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Platform } from '../../src/platform/platform.ts';
import { Gpr } from '../../src/abi/registers.ts';
import { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';
import { TdxStatus, OperandId, withOperand } from '../../src/abi/status.ts';
import { Seamcaller, isOperandBusy } from '../../src/host/seamcall.ts';
import { HostError } from '../../src/host/errors.ts';

/** A platform whose "module" answers from a script of statuses. */
function scripted(statuses: bigint[], lps = 1): { platform: Platform; calls: () => number } {
  const platform = new Platform({ packages: 1, lpsPerPackage: lps, memorySize: 1n << 30n });
  let n = 0;
  platform.loadModule({
    loaded: true,
    seamcall: (_lp, regs) => {
      regs.gpr[Gpr.RAX] = statuses[Math.min(n++, statuses.length - 1)]!;
    },
  });
  return { platform, calls: () => n };
}

describe('Seamcaller (Linux seamcall/sc_retry)', () => {
  it('retries TDX_RND_NO_ENTROPY until success', () => {
    const { platform, calls } = scripted([TdxStatus.TDX_RND_NO_ENTROPY, TdxStatus.TDX_RND_NO_ENTROPY, TdxStatus.TDX_SUCCESS]);
    const sc = new Seamcaller();
    const r = sc.call(platform.lps[0]!, SeamcallLeaf.TDH_SYS_INIT);
    assert.equal(r.status, TdxStatus.TDX_SUCCESS);
    assert.equal(calls(), 3);
    assert.equal(sc.log.count(SeamcallLeaf.TDH_SYS_INIT), 3);
  });
  it('gives up after RDRAND_RETRY_LOOPS (10) calls', () => {
    const { platform, calls } = scripted([TdxStatus.TDX_RND_NO_ENTROPY]);
    const r = new Seamcaller().call(platform.lps[0]!, SeamcallLeaf.TDH_SYS_INIT);
    assert.equal(r.status, TdxStatus.TDX_RND_NO_ENTROPY);
    assert.equal(calls(), 10);
  });
  it('does not retry anything else; check() turns failures into HostErrors', () => {
    const { platform, calls } = scripted([withOperand(TdxStatus.TDX_OPERAND_BUSY, OperandId.RCX)]);
    const sc = new Seamcaller();
    assert.throws(() => sc.check(platform.lps[0]!, SeamcallLeaf.TDH_SYS_INIT, {}, 'testing'), (e: unknown) => e instanceof HostError && e.errno === 'EIO' && /while testing/.test(e.message));
    assert.equal(calls(), 1);
    assert.equal(isOperandBusy(withOperand(TdxStatus.TDX_OPERAND_BUSY, OperandId.SEPT_TREE)), true);
    assert.equal(isOperandBusy(TdxStatus.TDX_OPERAND_INVALID), false);
  });
  it('keeps a bounded list of recent calls', () => {
    const { platform } = scripted([TdxStatus.TDX_SUCCESS], 2);
    const sc = new Seamcaller();
    sc.call(platform.lps[1]!, SeamcallLeaf.TDH_SYS_INIT);
    assert.deepEqual(sc.log.recent, [{ leaf: 'TDH.SYS.INIT', lp: 1, status: TdxStatus.TDX_SUCCESS }]);
    for (let i = 0; i < 100; i++) sc.call(platform.lps[0]!, SeamcallLeaf.TDH_SYS_LP_INIT);
    sc.call(platform.lps[1]!, SeamcallLeaf.TDH_SYS_INIT);
    const recent = sc.log.recent;
    assert.equal(recent.length, 64);
    assert.equal(sc.log.total, 102);
    // Oldest first: 63 LP.INITs, then the last SYS.INIT.
    assert.deepEqual(recent.at(-1), { leaf: 'TDH.SYS.INIT', lp: 1, status: TdxStatus.TDX_SUCCESS });
    assert.ok(recent.slice(0, 63).every((r) => r.leaf === 'TDH.SYS.LP.INIT' && r.lp === 0));
  });
});
