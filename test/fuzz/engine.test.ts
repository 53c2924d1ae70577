/**
 * The fuzz loop with a toy target whose bug is known: a "lock" that breaks when action 7 follows
 * action 3 in one episode. The engine must find it, minimise the case to exactly those two
 * actions, count repeats of the same finding once, report exceptions while building a world, and
 * replay a saved case.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { runFuzz, replay, replayCase, signatureOf } from '../../src/fuzz/engine.ts';
import { decodeCase, encodeCase } from '../../src/fuzz/case.ts';
import { Invariant, violation } from '../../src/fuzz/invariants.ts';
import type { Coverage } from '../../src/fuzz/coverage.ts';
import type { Rng } from '../../src/fuzz/rng.ts';
import type { Episode, FuzzTarget } from '../../src/fuzz/target.ts';

type Toy = { readonly n: number };

/** Breaks when a 7 comes after a 3; "shut down" by a 0 (the episode ends). */
class ToyEpisode implements Episode<Toy> {
  private armed = false;
  live = true;
  constructor(private readonly coverage: Coverage) {}
  next(rng: Rng): Toy {
    return { n: rng.int(10) };
  }
  step(a: Toy) {
    this.coverage.hit(`n${a.n}`);
    if (a.n === 0) this.live = false;
    if (a.n === 3) this.armed = true;
    if (a.n === 7 && this.armed) return violation(Invariant.LOCKS_IDLE, `lock held after action ${a.n}`);
    return undefined;
  }
}

const toy = (openFails = false): FuzzTarget<Toy, string> => ({
  name: 'module',
  summary: 'toy',
  episodeLength: () => 20,
  chooseSetup: () => 'toy',
  open(_setup, coverage) {
    if (openFails) throw new Error('no memory for the PAMT');
    return new ToyEpisode(coverage);
  },
  setupSchema: z.literal('toy'),
  actionSchema: z.object({ n: z.number() }),
});

test('the engine finds the bug, minimises it to the two actions that matter, and counts repeats once', () => {
  const r = runFuzz(toy(), { seed: 1n, steps: 3000 });
  assert.equal(r.findings.length, 1);
  const f = r.findings[0]!;
  assert.equal(f.invariant, Invariant.LOCKS_IDLE);
  assert.ok(f.count > 1, `seen ${f.count} times`);
  assert.deepEqual(f.case.actions, [{ n: 3 }, { n: 7 }]);
  assert.equal(f.minimisation.complete, true);
  assert.ok(f.case.originalActions >= 2);
  assert.deepEqual(f.case.actions.length <= f.case.originalActions, true);
  assert.equal(f.case.path.worker, 0);
  assert.equal(f.case.path.step, f.case.originalActions - 1, 'the failing step is the last action kept');
  assert.equal(r.steps, 3000);
  assert.ok(r.episodes > 1, 'episodes end at their length, at a 0, or at a finding');
});

test('without minimisation the whole episode up to the failing step is kept', () => {
  const r = runFuzz(toy(), { seed: 1n, steps: 3000, minimiseMs: 0 });
  const f = r.findings[0]!;
  assert.equal(f.case.actions.length, f.case.originalActions);
  assert.deepEqual(f.case.actions.at(-1), { n: 7 });
});

test('a run is determined by its seed and worker stream', () => {
  const a = runFuzz(toy(), { seed: 5n, steps: 500, minimiseMs: 0 });
  const b = runFuzz(toy(), { seed: 5n, steps: 500, minimiseMs: 0 });
  const c = runFuzz(toy(), { seed: 5n, steps: 500, minimiseMs: 0, worker: 1 });
  assert.deepEqual(a.coverage, b.coverage);
  assert.deepEqual(a.findings.map((f) => f.case), b.findings.map((f) => f.case));
  assert.notDeepEqual(a.coverage, c.coverage);
});

test('a time budget ends the run', () => {
  const r = runFuzz(toy(), { seed: 2n, timeMs: 50, minimiseMs: 0 });
  assert.ok(r.steps > 0);
  assert.ok(r.elapsedMs < 2000);
});

test('a world that cannot be built is itself a finding', () => {
  const r = runFuzz(toy(true), { seed: 1n, steps: 3 });
  assert.equal(r.findings.length, 1);
  assert.equal(r.findings[0]!.invariant, Invariant.NO_EXCEPTION);
  assert.equal(r.findings[0]!.message, 'building the module world threw Error: no memory for the PAMT');
  assert.equal(r.findings[0]!.count, 3);
});

test('replay and replayCase reproduce a saved finding', () => {
  const f = runFuzz(toy(), { seed: 1n, steps: 3000 }).findings[0]!;
  const back = decodeCase(encodeCase(f.case));
  const r = replayCase(toy(), back);
  assert.equal(r.violation?.invariant, Invariant.LOCKS_IDLE);
  assert.equal(r.step, 1);
  assert.equal(replay(toy(), 'toy', [{ n: 7 }, { n: 3 }]).violation, undefined);
  assert.throws(() => replayCase(toy(), { ...back, actions: [{ n: 'x' }] }), /case action 0/);
});

test('signatures ignore numbers', () => {
  assert.equal(
    signatureOf(violation(Invariant.STATUS_DEFINED, 'SEAMCALL leaf 77 on LP 1 returned 0xC0000B0400000001')),
    signatureOf(violation(Invariant.STATUS_DEFINED, 'SEAMCALL leaf 12 on LP 0 returned 0x8000020000000000')),
  );
});
