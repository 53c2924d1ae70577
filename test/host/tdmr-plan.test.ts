import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planTdmrs, pamtSizes } from '../../src/host/tdmr-plan.ts';
import { HostError } from '../../src/host/errors.ts';

const G = 1n << 30n;
const M = 1n << 20n;
const limits = { maxTdmrs: 64, maxReservedPerTdmr: 16, pamtEntrySize: { l4k: 16, l2m: 16, l1g: 16 } };

describe('planTdmrs', () => {
  it('PAMT sizes per level: entries × 16 bytes, rounded up to 4K', () => {
    assert.deepEqual(pamtSizes(G, limits.pamtEntrySize), { l4k: 4n * M, l2m: 8192n, l1g: 4096n });
  });

  it('one 1G-aligned TDMR over a CMR; the hole below the CMR and the PAMT are reserved', () => {
    const p = planTdmrs([{ base: M, size: 2n * G - M }], limits);
    assert.equal(p.tdmrs.length, 1);
    const t = p.tdmrs[0]!;
    assert.deepEqual([t.base, t.size], [0n, 2n * G]);
    const pamt = 8n * M + 16384n + 4096n;
    assert.deepEqual(t.pamt4k, { base: 2n * G - pamt, size: 8n * M });
    assert.deepEqual(t.pamt2m, { base: 2n * G - pamt + 8n * M, size: 16384n });
    assert.deepEqual(t.pamt1g, { base: 2n * G - 4096n, size: 4096n });
    assert.deepEqual(t.reserved, [
      { offset: 0n, size: M },
      { offset: 2n * G - pamt, size: pamt },
    ]);
    assert.deepEqual(p.hostRanges, [{ base: M, size: 2n * G - M - pamt }]);
  });

  it('several CMRs: holes between them, one TDMR per 1G-aligned run, PAMTs from the top', () => {
    const p = planTdmrs(
      [
        { base: 0n, size: 512n * M },
        { base: G, size: G },
        { base: 3n * G + 256n * M, size: 256n * M },
      ],
      limits,
    );
    assert.deepEqual(p.tdmrs.map((t) => [t.base, t.size]), [
      [0n, G],
      [G, G],
      [3n * G, G],
    ]);
    // Hole [512M, 1G) in the first; the third holds all three PAMTs after its hole.
    assert.deepEqual(p.tdmrs[0]!.reserved, [{ offset: 512n * M, size: 512n * M }]);
    assert.equal(p.tdmrs[1]!.reserved.length, 0);
    const top = p.tdmrs[2]!.reserved;
    assert.equal(top[0]!.offset, 0n);
    assert.equal(top[0]!.size, 256n * M);
    assert.equal(top.at(-1)!.offset + top.at(-1)!.size, G);
    for (const t of p.tdmrs) for (const a of t.reserved) assert.equal(a.offset % 4096n, 0n);
  });

  it('ENOSPC when the module cannot take the layout', () => {
    assert.throws(() => planTdmrs([{ base: 0n, size: G }, { base: 2n * G, size: G }], { ...limits, maxTdmrs: 1 }), (e: unknown) => e instanceof HostError && e.errno === 'ENOSPC');
    const holes = Array.from({ length: 20 }, (_, i) => ({ base: BigInt(i) * 12n * M, size: 8n * M }));
    assert.throws(() => planTdmrs(holes, limits), (e: unknown) => e instanceof HostError && e.errno === 'ENOSPC' && /reserved areas/.test(e.message));
  });

  it('ENOMEM when no CMR has room for a PAMT', () => {
    const small = Array.from({ length: 4 }, (_, i) => ({ base: BigInt(i) * 8n * M, size: 4n * M }));
    assert.throws(() => planTdmrs(small, limits), (e: unknown) => e instanceof HostError && e.errno === 'ENOMEM');
  });
});
