import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDemoTrace } from '../../scripts/make-fixture-trace.ts';
import { formatChromeTrace, toChromeTrace } from '../../src/trace/chrome.ts';
import { TraceFormatError } from '../../src/trace/jsonl.ts';
import { detectTraceKind, loadTrace } from '../../src/trace/load.ts';
import { loadTraceFile, TraceFileError } from '../../src/trace/load-file.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/traces/demo.jsonl', import.meta.url));
const HEADER = '{"format":"tdxsim-trace","version":1,"clock":"ns"}';

function refusal(text: string): string {
  const err = (() => {
    try {
      loadTrace(text, 'in.txt');
    } catch (e) {
      return e;
    }
    return assert.fail('accepted');
  })();
  assert.ok(err instanceof TraceFormatError);
  assert.equal(err.problems.length, 1);
  assert.equal(err.problems[0]!.line, 1);
  return err.problems[0]!.message;
}

describe('detectTraceKind', () => {
  it('tells the formats apart from their first bytes', () => {
    const chrome = formatChromeTrace(toChromeTrace(buildDemoTrace()));
    assert.equal(detectTraceKind(`${HEADER}\n`), 'jsonl');
    assert.equal(detectTraceKind(`\n\n  ${HEADER}\n`), 'jsonl');
    assert.equal(detectTraceKind(chrome), 'chrome-json');
    assert.equal(detectTraceKind('{\n  "traceEvents": []\n}'), 'chrome-json');
    assert.equal(detectTraceKind('[{"name":"x","ph":"X","ts":0}]'), 'chrome-json');
    assert.equal(detectTraceKind('[1, 2, 3]'), 'other-json');
    assert.equal(detectTraceKind('{"hello":"world"}'), 'other-json');
    assert.equal(detectTraceKind('\u001f\u008b\u0008\u0000'), 'gzip');
    assert.equal(detectTraceKind('\n\u0003\u0004binary'), 'binary');
    assert.equal(detectTraceKind(' \n\t'), 'empty');
    assert.equal(detectTraceKind('seq,time,kind'), 'text');
  });
});

describe('loadTrace', () => {
  it('loads a tdxsim trace with its source', () => {
    const t = loadTrace(`${HEADER}\n{"seq":1,"time":0,"duration":0,"kind":"page","party":"module","name":"p","data":{"gpa":"0x0000000000000000","from":"FREE","to":"MAPPED"}}\n`, 'a.jsonl');
    assert.equal(t.source, 'a.jsonl');
    assert.equal(t.events.length, 1);
    assert.equal(t.header.version, 1);
  });

  it('refuses the Chrome JSON export and says where to open it', () => {
    const msg = refusal(formatChromeTrace(toChromeTrace(buildDemoTrace())));
    assert.match(msg, /^this is a Chrome Trace Event JSON file, the format tdxsim exports for Perfetto: open it at https:\/\/ui\.perfetto\.dev\. /);
    assert.match(msg, /tdxsim reads its own JSON-lines trace: a first line \{"format":"tdxsim-trace","version":1,"clock":"ns"\}/);
  });

  it('refuses compressed, binary, empty and non-JSON text with a reason', () => {
    assert.match(refusal('\u001f\u008b\u0008'), /^this file is gzip-compressed: decompress it first \(gunzip\)\./);
    assert.match(refusal('\u0000\u0001'), /^this is a binary file/);
    assert.match(refusal(''), /^the file is empty\./);
    assert.match(refusal('hello'), /^this is not JSON\./);
    assert.match(refusal('[1,2]'), /^this is JSON without the tdxsim trace header/);
    assert.match(refusal('{\n"a": 1\n}'), /^this is JSON without the tdxsim trace header/);
  });

  it('JSON lines with a broken header are read, so the header problem is reported exactly', () => {
    assert.throws(
      () => loadTrace('{"format":"tdxsim-trace","version":1}\n', 'b.jsonl'),
      (err: unknown) => err instanceof TraceFormatError && err.problems[0]!.path === 'header.clock' && err.problems[0]!.line === 1,
    );
    assert.throws(
      () => loadTrace('{"seq":1,"time":0,"duration":0,"kind":"ve","party":"guest","name":"v"}\n', 'c.jsonl'),
      (err: unknown) => err instanceof TraceFormatError && /the header line is missing/.test(err.problems[0]!.message),
    );
  });

  it('a malformed line deep in a trace is reported with its line number', () => {
    const lines = readLines();
    const i = lines.findIndex((l, n) => n >= 40 && l.includes('"party":"host"'));
    lines[i] = lines[i]!.replace('"party":"host"', '"party":"hypervisor"');
    assert.throws(
      () => loadTrace(lines.join('\n'), 'd.jsonl'),
      (err: unknown) =>
        err instanceof TraceFormatError &&
        err.problems.length === 1 &&
        err.problems[0]!.line === i + 1 &&
        err.problems[0]!.path === 'party' &&
        err.message.startsWith(`d.jsonl is not a valid tdxsim trace:\n  line ${i + 1}: party: `),
    );
  });
});

function readLines(): string[] {
  return readFileSync(FIXTURE, 'utf8').split('\n');
}

describe('loadTraceFile', () => {
  it('loads the demo fixture', () => {
    const t = loadTraceFile(FIXTURE);
    assert.equal(t.source, FIXTURE);
    assert.equal(t.events.length, buildDemoTrace().length);
  });

  it('names the file and the reason when it cannot be read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tdxsim-load-'));
    try {
      assert.throws(() => loadTraceFile(join(dir, 'missing.jsonl')), new TraceFileError(`cannot read ${join(dir, 'missing.jsonl')}: no such file`));
      assert.throws(() => loadTraceFile(dir), new TraceFileError(`cannot read ${dir}: it is a directory, not a file`));
      const bad = join(dir, 'bad.jsonl');
      writeFileSync(bad, `${HEADER}\nnot json\n`);
      assert.throws(() => loadTraceFile(bad), (err: unknown) => err instanceof TraceFormatError && err.message.startsWith(`${bad} is not a valid tdxsim trace:\n  line 2: not valid JSON`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
