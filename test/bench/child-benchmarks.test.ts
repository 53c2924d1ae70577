/**
 * The benchmarks that run outside this process: lazy accept in a child with --expose-gc, the
 * instruction count under valgrind (its workload bundle, and the arithmetic on what callgrind
 * prints, with a stand-in valgrind), and the `npm run bench` command itself.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { lazyAccept } from '../../bench/lazy-accept.ts';
import { bundleWorkload, countInstructions, perRoundTrip } from '../../bench/callgrind.ts';

const run = promisify(execFile);
const MAIN = new URL('../../bench/main.ts', import.meta.url).pathname;

describe('lazy accept child', () => {
  test('accepts the pages in batches and gives no page backing', async () => {
    const r = await lazyAccept(2048, 1024);
    assert.equal(r.pages, 2048);
    assert.equal(r.batchRates.length, 2);
    assert.ok(r.batchRates.every((x) => Number.isFinite(x) && x > 0));
    assert.equal(r.residentAfter, r.residentBefore, 'accepted, never-written pages hold no data');
    assert.ok(Number.isFinite(r.rssGrowth) && Number.isFinite(r.heapGrowth));
  });
});

describe('instruction count', () => {
  test('the bundled workload is plain JavaScript that runs the TDVMCALL loop', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tdxsim-bench-test-'));
    try {
      const workload = await bundleWorkload(dir);
      assert.ok(workload.endsWith('.mjs'));
      await run(process.execPath, [workload, '10']);
      await assert.rejects(run(process.execPath, [workload, 'zero']), /usage/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('per round trip = (count(6N) − count(N)) / 5N from what callgrind prints', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tdxsim-bench-test-'));
    const path = process.env.PATH;
    try {
      // A stand-in valgrind: "collects" 1,000,000 + 2,000 × N instructions (N is its last argument).
      const fake = join(dir, 'valgrind');
      await writeFile(fake, '#!/bin/sh\nfor a; do n=$a; done\necho "==1== Collected : $((1000000 + 2000 * n))" >&2\n');
      await chmod(fake, 0o755);
      process.env.PATH = `${dir}:${path}`;
      assert.equal(await countInstructions('workload.mjs', 7, dir), 1_014_000);
      assert.equal(await perRoundTrip('workload.mjs', 100, dir), 2000);
    } finally {
      process.env.PATH = path;
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('npm run bench', () => {
  test('--json prints one object per result with the documented keys', async () => {
    // Exit status 1 says a target was not met, which tiny runs never meet: the JSON is printed anyway.
    const out = await run(process.execPath, ['--import', 'tsx', MAIN, '--tiny', '--json', '--only', 'userspace-exit,host-seamcall']).catch(
      (e: { code?: number; stdout?: string }) => {
        assert.equal(e.code, 1);
        return { stdout: e.stdout ?? '' };
      },
    );
    const stdout = out.stdout;
    const rows = JSON.parse(stdout) as Record<string, unknown>[];
    assert.deepEqual(
      rows.map((r) => r.name),
      ['userspace-exit', 'seamcall-mng-rd', 'seamcall-vp-rd'],
    );
    for (const r of rows) for (const k of ['name', 'measured', 'unit', 'target', 'goal', 'ratio', 'pass']) assert.ok(k in r, `${String(r.name)} has ${k}`);
  });

  test('--list names every benchmark; an unknown argument or name is an error', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', MAIN, '--list']);
    for (const name of ['tdvmcall-round-trip', 'tracing-cost', 'userspace-exit', 'host-seamcall', 'mrtd-build', 'lazy-accept', 'td-lifecycle', 'fuzz', 'wire', 'tdvmcall-instructions']) {
      assert.match(stdout, new RegExp(`^${name} `, 'm'));
    }
    await assert.rejects(run(process.execPath, ['--import', 'tsx', MAIN, '--bogus']), (e: { code?: number; stderr?: string }) => e.code === 2 && /unknown argument --bogus/.test(e.stderr ?? ''));
    await assert.rejects(run(process.execPath, ['--import', 'tsx', MAIN, '--only', 'nope']), (e: { code?: number; stderr?: string }) => e.code === 2 && /no benchmark named nope/.test(e.stderr ?? ''));
  });
});
