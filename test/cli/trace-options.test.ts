// `--trace` is shared by run, demo, conformance and fuzz --replay (src/cli/trace-options.ts): each
// writes a trace the validating reader accepts, in either format.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseJsonl } from '../../src/trace/jsonl.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tdxsim-trace-'));

function tdxsim(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
}

describe('--trace on conformance and fuzz --replay', () => {
  it('conformance --trace records the crossings of every case run', () => {
    const file = join(dir, 'conformance.jsonl');
    const r = tdxsim(['conformance', '--area', 'teardown', '--trace', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /trace: \d+ trace events written to .*conformance\.jsonl \(JSON lines\)/);
    const trace = parseJsonl(readFileSync(file, 'utf8'));
    assert.ok(trace.events.some((e) => e.kind === 'seamcall' && e.name === 'TDH.PHYMEM.PAGE.RECLAIM'));
  });

  it('fuzz --replay --trace --format chrome writes Chrome Trace Event JSON', () => {
    const file = join(dir, 'replay.json');
    const r = tdxsim(['fuzz', '--replay', 'test/fixtures/fuzz/module-reclaim-live-tdr.json', '--trace', file, '--format', 'chrome']);
    assert.ok(r.status === 0 || r.status === 1, r.stderr);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: { ph: string }[] };
    assert.ok(doc.traceEvents.some((e) => e.ph === 'X'));
    assert.ok(doc.traceEvents.some((e) => e.ph === 'M'));
  });

  it('a bad --format is a usage error', () => {
    const r = tdxsim(['conformance', '--area', 'teardown', '--trace', join(dir, 'x'), '--format', 'svg']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--format svg: the trace format must be jsonl or chrome/);
  });
});
