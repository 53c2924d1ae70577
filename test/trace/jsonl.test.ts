import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildDemoTrace, DEMO_TRACE_SOURCE } from '../../scripts/make-fixture-trace.ts';
import type { TraceEvent } from '../../src/trace/events.ts';
import { formatEventLine, formatJsonl, formatProblem, JsonlTracer, parseJsonl, traceHeader, TraceFormatError } from '../../src/trace/jsonl.ts';
import { traceSeamcall } from '../../src/trace/record.ts';
import { RegisterFile } from '../../src/abi/registers.ts';
import { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';

const FIXTURE = new URL('../fixtures/traces/demo.jsonl', import.meta.url);
const HEADER = JSON.stringify(traceHeader());

/** A minimal valid event line for building malformed traces. */
const ok = (seq: number, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ seq, time: seq * 10, duration: 10, kind: 'seamcall', party: 'host', name: 'TDH.SYS.INIT', ...extra });

function problemsOf(text: string, maxProblems?: number): TraceFormatError {
  try {
    parseJsonl(text, { source: 'x.jsonl', ...(maxProblems !== undefined && { maxProblems }) });
  } catch (err) {
    assert.ok(err instanceof TraceFormatError, `expected TraceFormatError, got ${String(err)}`);
    return err;
  }
  return assert.fail('the trace was accepted');
}

describe('JSON lines: writing and reading back', () => {
  it('round-trips the demo trace exactly, and writes it byte-identically again', () => {
    const events = buildDemoTrace();
    const text = formatJsonl(events, DEMO_TRACE_SOURCE);
    const parsed = parseJsonl(text);
    assert.deepEqual(parsed.header, { format: 'tdxsim-trace', version: 1, clock: 'ns', source: DEMO_TRACE_SOURCE });
    assert.deepEqual(parsed.events, events);
    assert.equal(formatJsonl(parsed.events, DEMO_TRACE_SOURCE), text);
  });

  it('the checked-in fixture is exactly what scripts/make-fixture-trace.ts writes (deterministic)', () => {
    assert.equal(readFileSync(FIXTURE, 'utf8'), formatJsonl(buildDemoTrace(), DEMO_TRACE_SOURCE));
  });

  it('writes keys in the documented order and leaves absent fields out', () => {
    const e: TraceEvent = { data: { a: 1 }, name: 'n', party: 'module', kind: 'page', duration: 0, time: 5, seq: 1 } as TraceEvent;
    assert.equal(formatEventLine(e), '{"seq":1,"time":5,"duration":0,"kind":"page","party":"module","name":"n","data":{"a":1}}');
  });

  it('JsonlTracer streams the same lines the batch writer produces', () => {
    let out = '';
    const t = new JsonlTracer((s) => (out += s), { source: 'unit test' });
    const r = new RegisterFile();
    traceSeamcall(t, 0, SeamcallLeaf.TDH_SYS_INIT, r, r);
    traceSeamcall(t, 1, SeamcallLeaf.TDH_SYS_LP_INIT, r, r);
    const { events } = parseJsonl(out);
    assert.deepEqual(events.map((e) => [e.seq, e.time, e.lp]), [[1, 0, 0], [2, 41_100, 1]]);
    assert.equal(out, formatJsonl(events, 'unit test'));
  });

  it('ignores blank lines and CRLF line ends', () => {
    const { events } = parseJsonl(`${HEADER}\r\n\r\n${ok(1)}\r\n   \n${ok(2)}`);
    assert.deepEqual(events.map((e) => e.seq), [1, 2]);
  });
});

describe('JSON lines: malformed input is reported by line and field', () => {
  it('a line that is not JSON', () => {
    const err = problemsOf(`${HEADER}\n${ok(1)}\n{"seq":2,\n${ok(3)}`);
    assert.equal(err.problems.length, 1);
    assert.equal(err.problems[0]!.line, 3);
    assert.match(err.problems[0]!.message, /^not valid JSON \(/);
  });

  it('a bad field names its path', () => {
    const err = problemsOf(`${HEADER}\n${ok(1, { status: { value: '0x0', error: false } })}`);
    assert.deepEqual(err.problems, [{ line: 2, path: 'status.value', message: 'expected "0x" and 16 upper-case hex digits' }]);
    assert.equal(formatProblem(err.problems[0]!), 'line 2: status.value: expected "0x" and 16 upper-case hex digits');
  });

  it('unknown fields, unknown registers, an unknown kind and a missing field', () => {
    const err = problemsOf(
      [
        HEADER,
        ok(1, { colour: 'red' }),
        ok(2, { in: { rzz: '0x0000000000000000' } }),
        ok(3, { kind: 'teleport' }),
        JSON.stringify({ seq: 4, time: 0, duration: 0, kind: 'tdcall', party: 'guest' }),
      ].join('\n'),
    );
    assert.deepEqual(err.problems, [
      { line: 2, message: 'unknown field "colour"' },
      { line: 3, path: 'in', message: 'unknown field "rzz"' },
      { line: 4, path: 'kind', message: 'expected one of seamcall, tdcall, tdvmcall, ve, td_exit, td_entry, resume, user_exit, user_complete, page, measure' },
      { line: 5, path: 'name', message: 'Invalid input: expected string, received undefined' },
    ]);
  });

  it('page and measure events must carry their data', () => {
    const err = problemsOf(
      [
        HEADER,
        ok(1, { kind: 'page', party: 'module', data: { from: 'FREE', to: 'LOST' } }),
        ok(2, { kind: 'measure', party: 'module', data: { register: 'MRTD', op: 'MR.FINALIZE', digest: 'AB' } }),
      ].join('\n'),
    );
    assert.deepEqual(err.problems.map((p) => [p.line, p.path]), [
      [2, 'data.gpa'],
      [2, 'data.to'],
      [3, 'data.digest'],
    ]);
    assert.equal(err.problems[2]!.message, 'expected 96 lower-case hex digits (48 bytes)');
  });

  it('sequence numbers must increase; flows must continue a chain an earlier line opened, named by its seq', () => {
    const err = problemsOf([HEADER, ok(1, { flowOut: 1 }), ok(3, { flowIn: 1 }), ok(2), ok(4, { flowIn: 9 }), ok(5, { flowOut: 4 })].join('\n'));
    assert.deepEqual(err.problems, [
      { line: 4, path: 'seq', message: 'seq 2 does not follow seq 3 (line 3): sequence numbers must increase' },
      { line: 5, path: 'flowIn', message: 'continues flow chain 9, which no earlier line opened (flowOut)' },
      { line: 6, path: 'flowOut', message: 'a chain is named by the seq of the event that opens it (5), not 4' },
    ]);
  });

  it('the header: missing, wrong, or from a newer tdxsim', () => {
    assert.match(problemsOf(ok(1)).problems[0]!.message, /^the header line is missing: a trace starts with \{"format":"tdxsim-trace"/);
    const wrong = problemsOf(`{"format":"other","version":1,"clock":"ns"}\n${ok(1)}`).problems;
    assert.deepEqual(wrong.map((p) => [p.line, p.path]), [[1, 'header.format']]);
    const newer = problemsOf(`{"format":"tdxsim-trace","version":2,"clock":"ns"}`).problems;
    assert.deepEqual(newer, [{ line: 1, path: 'header.version', message: 'this tdxsim reads trace format version 1; upgrade tdxsim to read newer traces' }]);
    assert.deepEqual(problemsOf('{"a":1}').problems, [
      { line: 1, message: 'not a tdxsim trace: the first line must be the header {"format":"tdxsim-trace","version":1,"clock":"ns"}' },
    ]);
  });

  it('an empty text', () => {
    assert.deepEqual(problemsOf('\n\n').problems, [{ line: 1, message: 'empty trace: expected a header line {"format":"tdxsim-trace",…} and events' }]);
  });

  it('lists at most maxProblems but counts them all, and says so in the message', () => {
    const lines = [HEADER, ...Array.from({ length: 30 }, (_v, i) => ok(i + 1, { time: -1 }))];
    const err = problemsOf(lines.join('\n'), 5);
    assert.equal(err.problems.length, 5);
    assert.equal(err.total, 30);
    assert.deepEqual(err.problems[0], { line: 2, path: 'time', message: 'expected a value ≥ 0' });
    assert.match(err.message, /^x\.jsonl is not a valid tdxsim trace:\n {2}line 2: time: expected a value ≥ 0\n/);
    assert.match(err.message, /… and 25 more$/);
  });
});
