import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WarningLimiter, formatWarning, type HostWarning } from '../../src/host/warn.ts';

describe('WarningLimiter (token bucket per vCPU per kind)', () => {
  it('lets a burst through, then suppresses and counts', () => {
    const seen: HostWarning[] = [];
    const w = new WarningLimiter({ burst: 2, refillEvery: 10, sink: (x) => seen.push(x) });
    assert.equal(w.warn(0, 'k', 'guest', 'a'), true);
    assert.equal(w.warn(0, 'k', 'guest', 'b'), true);
    assert.equal(w.warn(0, 'k', 'guest', 'c'), false);
    assert.equal(w.warn(0, 'k', 'guest', 'd'), false);
    assert.equal(w.dropped, 2);
    // Another vCPU and another kind have their own buckets.
    assert.equal(w.warn(1, 'k', 'guest', 'e'), true);
    assert.equal(w.warn(0, 'other', 'module', 'f'), true);
    // Ten exits later one token is back, and the warning reports what was suppressed.
    for (let i = 0; i < 10; i++) w.tick(0);
    assert.equal(w.warn(0, 'k', 'guest', 'g'), true);
    assert.equal(seen.at(-1)!.suppressed, 2);
    assert.equal(w.warn(0, 'k', 'guest', 'h'), false);
    assert.equal(seen.length, 5);
  });
  it('keeps a bounded log', () => {
    const w = new WarningLimiter({ burst: 1000, keep: 3 });
    for (let i = 0; i < 10; i++) w.warn(0, `k${i}`, 'guest', `m${i}`);
    assert.deepEqual(w.log.map((x) => x.message), ['m7', 'm8', 'm9']);
  });
  it('formats who is to blame', () => {
    assert.equal(
      formatWarning({ vcpu: 2, kind: 'io-size', culprit: 'guest', message: 'size 3', suppressed: 4 }),
      'vcpu 2 [guest bug] io-size: size 3 (4 similar suppressed)',
    );
    assert.equal(formatWarning({ vcpu: -1, kind: 'x', culprit: 'module', message: 'm', suppressed: 0 }), 'vm [TDX module bug] x: m');
    assert.match(formatWarning({ vcpu: 0, kind: 'x', culprit: 'vmm-policy', message: 'm', suppressed: 0 }), /VMM policy/);
  });
});
