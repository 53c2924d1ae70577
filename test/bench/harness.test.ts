import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { measurePaired, measureRate, median, notMeasurable, result, sized, time, type BenchContext } from '../../bench/harness.ts';
import { formatJson, formatNumber, formatTable } from '../../bench/report.ts';

const tiny: BenchContext = { scale: 'tiny', log: () => undefined };

describe('bench harness', () => {
  test('median of odd and even counts, unsorted input left alone', () => {
    const xs = [5, 1, 3];
    assert.equal(median(xs), 3);
    assert.deepEqual(xs, [5, 1, 3]);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.throws(() => median([]), RangeError);
  });

  test('a >= target passes at ratio 1 and above, a <= target at 1 and below', () => {
    assert.deepEqual(result('a', 3, 'x', '>=', 2), { name: 'a', measured: 3, unit: 'x', target: 2, goal: '>=', ratio: 1.5, pass: true });
    assert.equal(result('a', 2, 'x', '>=', 2).pass, true);
    assert.equal(result('a', 1, 'x', '>=', 2).pass, false);
    assert.deepEqual(result('b', 1, 'ms', '<=', 4, 'why'), { name: 'b', measured: 1, unit: 'ms', target: 4, goal: '<=', ratio: 0.25, pass: true, note: 'why' });
    assert.equal(result('b', 5, 'ms', '<=', 4).pass, false);
  });

  test('a figure that cannot be measured has no number and no verdict', () => {
    assert.deepEqual(notMeasurable('c', 'x', '<=', 3, 'not wired'), { name: 'c', measured: null, unit: 'x', target: 3, goal: '<=', ratio: null, pass: null, note: 'not wired' });
  });

  test('measureRate runs the warm-up and every repetition with the requested size', () => {
    const calls: number[] = [];
    const rate = measureRate((n) => calls.push(n), { ops: 7, reps: 3, warmup: 2 });
    assert.deepEqual(calls, [7, 7, 7, 7, 7]);
    assert.ok(Number.isFinite(rate) && rate > 0);
  });

  test('measurePaired alternates the two loops and reports the ratio of their rates', () => {
    const order: string[] = [];
    const r = measurePaired(() => order.push('a'), () => order.push('b'), { ops: 1, reps: 2, warmup: 1 });
    assert.deepEqual(order, ['a', 'b', 'a', 'b', 'a', 'b']);
    assert.ok(r.a > 0 && r.b > 0 && r.ratio > 0);
  });

  test('time() measures seconds, sized() picks by scale', () => {
    assert.ok(time(() => undefined) >= 0);
    assert.equal(sized(tiny, 1000, 3), 3);
    assert.equal(sized({ ...tiny, scale: 'full' }, 1000, 3), 1000);
  });
});

describe('bench report', () => {
  const results = [result('fast', 2_500_000, 'calls/s', '>=', 2_000_000), result('slow', 40, 'ms', '<=', 20, 'too slow'), notMeasurable('later', 'x', '<=', 3, 'not wired yet')];

  test('numbers are grouped and rounded to what matters', () => {
    assert.equal(formatNumber(2_134_567.4), '2,134,567');
    assert.equal(formatNumber(12.345), '12.3');
    assert.equal(formatNumber(0.9534), '0.953');
  });

  test('the table has measured, target, ratio and a verdict per row, then the notes', () => {
    const lines = formatTable(results).split('\n');
    assert.match(lines[0]!, /benchmark\s+measured\s+target\s+ratio\s+verdict/);
    assert.match(lines[2]!, /^fast\s+2,500,000 calls\/s\s+>= 2,000,000 calls\/s\s+1\.25\s+pass$/);
    assert.match(lines[3]!, /^slow\s+40\.0 ms\s+<= 20\.0 ms\s+2\.00\s+SHORT$/);
    assert.match(lines[4]!, /^later\s+not measurable yet\s+<= 3\.00 x\s+-\s+n\/a$/);
    assert.ok(lines.includes('  slow: too slow'));
    assert.ok(lines.includes('  later: not wired yet'));
  });

  test('the JSON form lists exactly the documented keys', () => {
    const json = JSON.parse(formatJson(results)) as Record<string, unknown>[];
    assert.deepEqual(Object.keys(json[0]!), ['name', 'measured', 'unit', 'target', 'goal', 'ratio', 'pass']);
    assert.deepEqual(json[2], { name: 'later', measured: null, unit: 'x', target: 3, goal: '<=', ratio: null, pass: null, note: 'not wired yet' });
  });
});
