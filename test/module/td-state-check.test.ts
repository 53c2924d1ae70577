import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTdBuildState, lockImplicitTdr, lockTdr } from '../../src/module/td-state-check.ts';
import { LockScope } from '../../src/module/lock-scope.ts';
import { LockKey } from '../../src/module/locks.ts';
import { TdxStatus, OperandId, withOperand } from '../../src/abi/status.ts';
import { TdLifecycle } from '../../src/abi/lifecycle.ts';
import { bringUp, createTd } from '../helpers/module-harness.ts';

describe('lockTdr', () => {
  test('resolves a TDR to its TD under the TDR lock; every failure names the operand', () => {
    const env = bringUp();
    const built = createTd(env);
    const scope = new LockScope(env.module.locks);
    const op = OperandId.RDX;
    const status = (pa: bigint) => {
      const r = lockTdr(scope, env.module, pa, 'shared', op);
      return r.ok ? r.td : r.status;
    };
    assert.equal(status(built.tdr + 8n), withOperand(TdxStatus.TDX_OPERAND_INVALID, op));
    assert.equal(status(env.shared.alloc4k()), withOperand(TdxStatus.TDX_OPERAND_ADDR_RANGE_ERROR, op));
    assert.equal(status(built.tdcx[0]!), withOperand(TdxStatus.TDX_PAGE_METADATA_INCORRECT, op));
    assert.equal(status(built.tdr), built.td);
    assert.equal(status(built.tdr), built.td, 'shared twice is fine');
    assert.equal(env.module.locks.acquire(LockKey.pamt(built.tdr >> 12n), 'exclusive'), 'busy');
    scope.releaseAll();
    const release = env.module.locks.hold(LockKey.pamt(built.tdr >> 12n), 'exclusive');
    assert.equal(status(built.tdr), withOperand(TdxStatus.TDX_OPERAND_BUSY, op));
    release();
    assert.ok(env.module.locks.idle());
  });

  test('lockImplicitTdr only locks; busy → OPERAND_BUSY|operand', () => {
    const env = bringUp();
    const built = createTd(env);
    const scope = new LockScope(env.module.locks);
    const r = lockImplicitTdr(scope, env.module, built.tdr, 'exclusive', OperandId.TDR);
    assert.ok(r.ok && r.td === built.td);
    const again = lockImplicitTdr(new LockScope(env.module.locks), env.module, built.tdr, 'shared', OperandId.TDR);
    assert.ok(!again.ok && again.status === 0x8000_0200_0000_0080n);
    scope.releaseAll();
    assert.ok(env.module.locks.idle());
  });
});

describe('checkTdBuildState', () => {
  test('fatal → keys → TDCS pages, in that order', () => {
    const env = bringUp();
    const created = createTd(env, { until: 'create' });
    const td = created.td;
    assert.equal(checkTdBuildState(env.module, td), 0x8000_0810_0000_0000n);
    td.fatal = true;
    assert.equal(checkTdBuildState(env.module, td), 0xe000_0604_0000_0000n);
    td.fatal = false;
    td.lifecycle = TdLifecycle.TD_KEYS_CONFIGURED;
    assert.equal(checkTdBuildState(env.module, td), 0xc000_0606_0000_0000n);
    td.tdcx.push(1n, 2n, 3n, 4n, 5n);
    assert.equal(checkTdBuildState(env.module, td), TdxStatus.TDX_TDCS_NOT_ALLOCATED);
    td.tdcx.push(6n);
    assert.equal(checkTdBuildState(env.module, td), TdxStatus.TDX_SUCCESS);
    for (const state of [TdLifecycle.TD_BLOCKED, TdLifecycle.TD_TEARDOWN, TdLifecycle.TD_HKID_ASSIGNED]) {
      td.lifecycle = state;
      assert.equal(checkTdBuildState(env.module, td), TdxStatus.TDX_TD_KEYS_NOT_CONFIGURED);
    }
  });
});
