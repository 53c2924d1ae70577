import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TD_REPORT10 } from '../../src/abi/quote.ts';
import { tdreportOffset } from '../../src/abi/tdreport.ts';
import { createQuotingInfrastructure } from '../../src/attestation/infrastructure.ts';
import { parseQuote } from '../../src/attestation/quote-codec.ts';
import { decodeReportInput } from '../../src/cli/commands/report.ts';
import { UsageError } from '../../src/cli/errors.ts';
import { buildTestReport, flipBit, TEST_REPORT_KEY, mustQuote } from '../attestation/helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/attestation/tdreport.hex', import.meta.url));

function tdxsim(args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'report', 'decode', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

let dir: string;
const file = (name: string, data: Uint8Array | string): string => {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
};
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tdxsim-report-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('tdxsim report decode', () => {
  it('decodes a TDREPORT_STRUCT (the hex fixture) field by field', () => {
    // The fixture is buildTestReport() with the test key, as hex text.
    assert.deepEqual(new Uint8Array(Buffer.from(readFileSync(FIXTURE, 'utf8').replace(/\s+/g, ''), 'hex')), buildTestReport());
    const r = tdxsim([FIXTURE]);
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], `${FIXTURE}: TDREPORT_STRUCT (1024 bytes)`);
    for (const expected of [
      'REPORTMACSTRUCT',
      '  REPORTTYPE         type 0x81 (TDX), subtype 0, version 0',
      '  CPUSVN             00000000000000000000000000000000',
      `  REPORTDATA         ${Buffer.from(Uint8Array.from({ length: 64 }, (_, i) => i)).toString('hex')}`,
      'TEE_TCB_INFO',
      '  TEE_TCB_SVN   01010000000000000000000000000000',
      '  TEE_TCB_SVN2  01010000000000000000000000000007',
      '  ATTRIBUTES    0x0000000000000000',
      'TDINFO_STRUCT',
      '  ATTRIBUTES     0x0000000010000000 (SEPT_VE_DISABLE)',
      '  XFAM           0x00000000000000E7 (X87, SSE, AVX, AVX512_KMASK, AVX512_ZMM_HI256, AVX512_HI16_ZMM)',
      `  MRCONFIGID     ${'11'.repeat(48)}`,
      `  RTMR3          ${'a3'.repeat(48)}`,
      `  SERVTD_HASH    ${'00'.repeat(48)}`,
    ]) {
      assert.ok(lines.includes(expected), `missing line: ${expected}`);
    }
    assert.match(r.stdout, /TEE_TCB_INFO_HASH {2}[0-9a-f]{96} \(consistent\)/);
    assert.match(r.stdout, /MAC {16}[0-9a-f]{64} \(verifiable only on the platform that made it\)/);
  });

  it('--json gives the same fields as hex strings, and flags an altered part', () => {
    const altered = file('altered.bin', flipBit(buildTestReport(), tdreportOffset('tdinfo', 'mrowner')));
    const r = tdxsim(['--json', altered]);
    assert.equal(r.status, 0);
    const out = JSON.parse(r.stdout);
    assert.equal(out.kind, 'TDREPORT_STRUCT');
    assert.equal(out.reportMacStruct.report_type, 0x81);
    assert.equal(out.tdInfo.attributes, '0x0000000010000000');
    assert.equal(out.tdInfo.mrowner, '23' + '22'.repeat(47));
    assert.equal(out.teeTcbInfo.valid, '0x000001FFFFFFFFFF');
    assert.deepEqual(out.hashes, { teeTcbInfoHash: 'consistent', teeInfoHash: 'mismatch' });
    assert.match(tdxsim([altered]).stdout, /TEE_INFO_HASH .* \(MISMATCH: the part was altered after the report was made\)/);
  });

  it('decodes the body of a quote at the right offset, and a bare body', async () => {
    const infra = await createQuotingInfrastructure({ reportKey: TEST_REPORT_KEY, format: { version: 5, bodyType: 3 } });
    const quote = mustQuote(infra.quotingService, buildTestReport());
    const r = tdxsim([file('quote.bin', quote)]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /quote\.bin: DCAP quote v5; its TD report body TD_REPORT15 at offset 54\n/);
    assert.match(r.stdout, new RegExp(`\\n  MRCONFIGID +${'11'.repeat(48)}\\n`));
    assert.match(r.stdout, /\n {2}TEE_TCB_SVN2 +01010000000000000000000000000007\n/);
    const body = quote.slice(54, 54 + TD_REPORT10.size);
    const out = decodeReportInput(body, 'body.bin');
    assert.match(out.text, /^body\.bin: TD report body TD_REPORT10 \(584 bytes\)\n/);
    const quoteBody = (decodeReportInput(quote, 'q').json as { body: Record<string, string> }).body;
    const { tee_tcb_svn2: _svn2, mrservicetd: _servicetd, ...td10 } = quoteBody;
    assert.deepEqual(out.json, { kind: 'TD_REPORT10', body: td10 });
    assert.equal(td10.mrtd?.length, 96);
    assert.equal(parseQuote(quote).bodyOffset, 54);
  });

  it('exits 2 for a missing file or one of the wrong size, saying what it accepts', () => {
    const missing = tdxsim([join(dir, 'nope.bin')]);
    assert.equal(missing.status, 2);
    assert.equal(missing.stderr.trim(), `tdxsim: report decode: cannot read report '${join(dir, 'nope.bin')}': no such file`);
    const wrong = tdxsim([file('short.bin', new Uint8Array(100))]);
    assert.equal(wrong.status, 2);
    assert.match(wrong.stderr, /report decode: '.*short\.bin' is 100 bytes: not a TDREPORT_STRUCT \(1024\), a TD report body \(584 or 648\) or a DCAP quote \(read as a quote it fails: header at byte 0: version 0 is not a TDX quote version \(4 or 5\)\)/);
    const odd = tdxsim([file('odd.hex', 'abc')]);
    assert.equal(odd.status, 2);
    assert.match(odd.stderr, /looks like hex but has an odd number of digits \(3\)/);
    assert.throws(() => decodeReportInput(new Uint8Array(7), 'x'), UsageError);
  });
});
