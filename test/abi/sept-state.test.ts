import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  SEPT_LEAF_ALLOWED_STATES,
  SEPT_STATE_FLAGS,
  SEPTE_INIT_VALUE,
  SeptStateEncoding,
  septStateMask,
  septStateOf,
} from '../../src/abi/sept-state.ts';
import { SeptState, type SeptStateName } from '../../src/abi/sept.ts';

const D = 1n << 9n;
const IPAT = 1n << 6n;
const PS = 1n << 7n;
const TDEX = 1n << 53n;
const TDBW = 1n << 54n;
const TDB = 1n << 55n;
const TDP = 1n << 56n;

describe('SEPT state encodings', () => {
  test('the masks of the states tdxsim writes (sept_manager.h SEPT_STATE_*_MASK)', () => {
    assert.equal(septStateMask('FREE'), TDEX | TDBW | TDB);
    assert.equal(septStateMask('NL_MAPPED'), 0n);
    assert.equal(septStateMask('NL_BLOCKED'), TDB);
    assert.equal(septStateMask('MAPPED'), IPAT | PS);
    assert.equal(septStateMask('BLOCKED'), IPAT | PS | TDB);
    assert.equal(septStateMask('PENDING'), IPAT | PS | TDP);
    assert.equal(septStateMask('PENDING_BLOCKED'), IPAT | PS | TDP | TDB);
    assert.equal(septStateMask('EXPORTED_DIRTY'), IPAT | PS | TDEX | D);
    assert.equal(SEPTE_INIT_VALUE, TDEX | TDBW | TDB | (1n << 63n));
  });

  test('PENDING = MAPPED | TDP (what lets ACCEPT clear one bit)', () => {
    assert.equal(septStateMask('PENDING'), septStateMask('MAPPED') | TDP);
    assert.equal(septStateMask('PENDING_EXPORTED_DIRTY'), septStateMask('EXPORTED_DIRTY') | TDP);
  });

  test('every state decodes back from its mask, whatever the other bits', () => {
    for (const name of Object.keys(SeptStateEncoding) as SeptStateName[]) {
      assert.equal(septStateOf(septStateMask(name) | 0xfff_f000n | 0x7n), name);
    }
    assert.equal(septStateOf(D), undefined, 'an encoding the module never writes');
  });

  test('flags: public states and the sets the leaves test', () => {
    for (const name of Object.keys(SeptStateEncoding) as SeptStateName[]) assert.equal(SEPT_STATE_FLAGS[name].public, SeptState[name]);
    const names = (f: (n: SeptStateName) => boolean) => (Object.keys(SEPT_STATE_FLAGS) as SeptStateName[]).filter(f).sort();
    assert.deepEqual(names((n) => SEPT_STATE_FLAGS[n].anyBlocked), ['BLOCKED', 'NL_BLOCKED', 'PENDING_BLOCKED']);
    assert.deepEqual(names((n) => SEPT_STATE_FLAGS[n].pendingGuestAcceptable), ['PENDING', 'PENDING_EXPORTED_DIRTY']);
    assert.deepEqual(names((n) => SEPT_STATE_FLAGS[n].guestFullyAccessibleLeaf), ['EXPORTED_DIRTY', 'MAPPED']);
    assert.deepEqual(names((n) => !SEPT_STATE_FLAGS[n].tlbTrackingRequired), ['EXPORTED_BLOCKEDW', 'FREE', 'PENDING_EXPORTED_BLOCKEDW', 'REMOVED']);
    assert.deepEqual(
      (Object.keys(SEPT_STATE_FLAGS) as SeptStateName[]).map((n) => SEPT_STATE_FLAGS[n].index).sort((a, b) => a - b),
      Array.from({ length: 16 }, (_, i) => i),
    );
  });

  test('allowed states per leaf (tdx-module.md §4.7)', () => {
    assert.deepEqual(SEPT_LEAF_ALLOWED_STATES.TDH_MEM_RANGE_UNBLOCK, ['NL_BLOCKED', 'BLOCKED', 'PENDING_BLOCKED']);
    assert.deepEqual(SEPT_LEAF_ALLOWED_STATES.TDH_MEM_SEPT_REMOVE, ['NL_MAPPED', 'NL_BLOCKED']);
    assert.equal(SEPT_LEAF_ALLOWED_STATES.TDH_MEM_SEPT_RD!.length, 16);
  });
});
