import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TD_REPORT10 } from '../../src/abi/quote.ts';
import { TcgEventType } from '../../src/abi/td-guest.ts';
import { eventDigest, RtmrEventLog } from '../../src/guest/event-log.ts';
import { replayEventLog, type EventLog } from '../../src/attestation/event-log.ts';
import { createQuotingInfrastructure, type QuotingInfrastructure } from '../../src/attestation/infrastructure.ts';
import { buildTestReport, flipBit, TEST_REPORT_KEY, mustQuote } from '../attestation/helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function tdxsim(args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'quote', 'verify', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

let dir: string;
let infra: QuotingInfrastructure;
let collateral: string;
let quoteFile: string;
let logFile: string;
let quote: Uint8Array;
const file = (name: string, data: Uint8Array | string): string => {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tdxsim-quote-cli-'));
  infra = await createQuotingInfrastructure({ reportKey: TEST_REPORT_KEY, format: { version: 5, bodyType: 3 } });
  collateral = join(dir, 'collateral');
  await infra.writeCollateral(collateral);
  // A TD that measured two events: the quote's RTMRs are the log's replay.
  const log = new RtmrEventLog();
  const data = new TextEncoder().encode('tdxsim test kernel');
  log.record(1, TcgEventType.EV_IPL, eventDigest(data), data);
  log.record(2, TcgEventType.EV_SEPARATOR, eventDigest(new Uint8Array(4)), new Uint8Array(4));
  logFile = file('event-log.json', JSON.stringify(log));
  const [rtmr0, rtmr1, rtmr2, rtmr3] = replayEventLog(log.toJSON() as EventLog).rtmrs;
  quote = mustQuote(infra.quotingService, buildTestReport({ td: { rtmr0, rtmr1, rtmr2, rtmr3 } }));
  quoteFile = file('quote.bin', quote);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('tdxsim quote verify', () => {
  it('verifies a good quote: decoded fields, every check PASS, exit 0', () => {
    const r = tdxsim([quoteFile, '--collateral', collateral]);
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], `${quoteFile}: tdxsim quote verification (a SIMULATED quoting infrastructure is not Intel's)`);
    for (const expected of [
      '  version         5 (TD report body at offset 54)',
      '  TEE type        TDX (0x81)',
      `  QE vendor ID    ${Buffer.from('tdxsim-SIMULATED').toString('hex')}`,
      '  TDATTRIBUTES    0x0000000010000000 (SEPT_VE_DISABLE)',
      '  XFAM            0x00000000000000E7 (X87, SSE, AVX, AVX512_KMASK, AVX512_ZMM_HI256, AVX512_HI16_ZMM)',
      `  REPORTDATA      ${Buffer.from(Uint8Array.from({ length: 64 }, (_, i) => i)).toString('hex')}`,
      `  RTMR0           ${'00'.repeat(48)}`,
      '  TCB status      UpToDate',
      'Result: VERIFIED (TCB status UpToDate)',
    ]) {
      assert.ok(lines.includes(expected), `missing line: ${expected}`);
    }
    const checks = lines.filter((l) => /^ {2}(PASS|FAIL|SKIP) {2}/.test(l));
    assert.equal(checks.length, 20);
    assert.ok(checks.every((l) => l.startsWith('  PASS  ')));
    assert.ok(lines.includes('  PASS  body.integrity              [body] the body is what the QE signed'));
  });

  it('names the region of a flipped bit and exits 1', () => {
    const tampered = file('tampered.bin', flipBit(quote, 54 + TD_REPORT10.field('mrtd').offset + 1));
    const r = tdxsim([tampered, '--collateral', collateral]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /\n {2}FAIL {2}body\.integrity {14}\[body\] the body is not what the QE signed: it was altered after quoting\n/);
    assert.match(r.stdout, /\nResult: NOT VERIFIED: body\.integrity failed \(region body\): the body is not what the QE signed: it was altered after quoting\n$/);
    assert.match(r.stdout, /TCB status {6}UpToDate \(as the quote claims; it is NOT verified\)/);
  });

  it('without --collateral it cannot verify: says so, exits 1', () => {
    const r = tdxsim([quoteFile]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^note: no --collateral DIR given, so there is no trusted root CA/);
    assert.match(r.stdout, /\n {2}SKIP {2}certificates\.chain +\[certificates\] no trusted root CA given/);
    assert.match(r.stdout, /Result: NOT VERIFIED: certificates\.chain could not run: no trusted root CA given/);
  });

  it('--json prints the decoded quote and every check', () => {
    const r = tdxsim([quoteFile, '--collateral', collateral, '--json']);
    assert.equal(r.status, 0);
    const out = JSON.parse(r.stdout);
    assert.equal(out.verified, true);
    assert.equal(out.tcbStatus, 'UpToDate');
    assert.equal(out.quote.version, 5);
    assert.equal(out.quote.teeType, 0x81);
    assert.equal(out.quote.bodyOffset, 54);
    assert.equal(out.quote.body.mrconfigid, '11'.repeat(48));
    assert.equal(out.quote.body.td_attributes, '0x0000000010000000');
    assert.equal(out.checks.length, 20);
    assert.deepEqual(out.checks[0], { id: 'quote.format', region: 'header', status: 'pass', detail: `DCAP quote v5, TDX, TD 1.5 body at offset 54, ${quote.length} bytes` });
  });

  it('accepts the quote as hex text', () => {
    const r = tdxsim([file('quote.hex', Buffer.from(quote).toString('hex') + '\n'), '--collateral', collateral]);
    assert.equal(r.status, 0);
  });

  it('--event-log: replays the log against the quote\'s RTMRs; a log that does not match fails', () => {
    const ok = tdxsim([quoteFile, '--collateral', collateral, '--event-log', logFile]);
    assert.equal(ok.status, 0);
    assert.match(ok.stdout, new RegExp(`\\nEvent log ${logFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: 2 events replayed from zero\\n {2}PASS {2}RTMR0 `));
    assert.match(ok.stdout, /Result: VERIFIED \(TCB status UpToDate\); the event log replays to the quote's RTMRs\n$/);
    const other = new RtmrEventLog();
    other.record(1, TcgEventType.EV_IPL, eventDigest(new Uint8Array(1)), new Uint8Array(1));
    const bad = tdxsim([quoteFile, '--collateral', collateral, '--event-log', file('other-log.json', JSON.stringify(other))]);
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /\n {2}FAIL {2}RTMR1 {2}replayed [0-9a-f]{96}, quote has [0-9a-f]{96}\n {2}FAIL {2}RTMR2 /);
    assert.match(bad.stdout, /Result: NOT VERIFIED: the event log does not replay to the quote's RTMRs\n$/);
    const malformed = tdxsim([quoteFile, '--collateral', collateral, '--event-log', file('bad-log.json', '{"format":"x"}')]);
    assert.equal(malformed.status, 2);
    assert.match(malformed.stderr, /quote verify: --event-log '.*bad-log\.json' is not a tdxsim RTMR event log: not a tdxsim-rtmr-event-log v1: at format/);
  });

  it('exits 2 for a missing file, a file that is not a quote, or a bad collateral directory', () => {
    const missing = tdxsim([join(dir, 'nope.bin'), '--collateral', collateral]);
    assert.equal(missing.status, 2);
    assert.equal(missing.stdout, '');
    assert.equal(missing.stderr.trim(), `tdxsim: quote verify: cannot read quote '${join(dir, 'nope.bin')}': no such file`);
    const garbage = tdxsim([file('garbage.bin', new Uint8Array(2000).fill(0xff)), '--collateral', collateral]);
    assert.equal(garbage.status, 2);
    assert.match(garbage.stderr, /quote verify: '.*garbage\.bin' is not a well-formed TDX DCAP quote: header at byte 0: version 65535 is not a TDX quote version \(4 or 5\)/);
    const report = tdxsim([file('report.bin', buildTestReport())]);
    assert.equal(report.status, 2);
    assert.match(report.stderr, /\(it is 1024 bytes: a TDREPORT\? try `tdxsim report decode`\)/);
    const truncated = tdxsim([file('truncated.bin', quote.subarray(0, 704)), '--collateral', collateral]);
    assert.equal(truncated.status, 2);
    assert.match(truncated.stderr, /not a well-formed TDX DCAP quote: signature at byte 702: the signature data length needs 4 bytes but the quote ends after 2/);
    const noCollateral = tdxsim([quoteFile, '--collateral', join(dir, 'missing-dir')]);
    assert.equal(noCollateral.status, 2);
    assert.match(noCollateral.stderr, /quote verify: --collateral .*missing-dir: .*missing-dir\/root-ca\.pem: no such file/);
  });
});
