/**
 * Coverage gaps are found from the ABI tables, so a leaf with no case shows up by name.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { coverageGaps, coverageReport } from '../../src/conformance/coverage.ts';
import { ALL_CASES } from '../../src/conformance/suite.ts';
import { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';
import { TdvmcallSubfunction } from '../../src/abi/tdvmcall.ts';

describe('coverageGaps', () => {
  it('names each item missing a success or failure case', () => {
    const withoutSysInit = ALL_CASES.map((c) => ({ ...c, covers: c.covers.filter((x) => !(x.item.kind === 'leaf' && x.item.leaf === SeamcallLeaf.TDH_SYS_INIT)) }));
    assert.deepEqual(coverageGaps(withoutSysInit), ['TDH.SYS.INIT (success)', 'TDH.SYS.INIT (failure)']);
    const noIoFailure = ALL_CASES.map((c) => ({ ...c, covers: c.covers.filter((x) => !(x.item.kind === 'tdvmcall' && x.item.sub === TdvmcallSubfunction.IO && x.path === 'failure')) }));
    assert.deepEqual(coverageGaps(noIoFailure), ['TDVMCALL<Instruction.IO> (failure)']);
  });

  it('lists the covering cases per path', () => {
    const row = coverageReport(ALL_CASES).find((r) => r.key === 'TDH.SYS.INIT')!;
    assert.ok(row.success.includes('sys-init'));
    assert.ok(row.failure.includes('sys-init-attributes'));
  });
});
