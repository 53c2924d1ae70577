import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { REPORTMACSTRUCT, TDREPORT_STRUCT, tdreportOffset } from '../../src/abi/tdreport.ts';
import { checkTdReport, tdReportMac } from '../../src/attestation/tdreport-check.ts';
import { buildTestReport, flipBit, TEST_REPORT_KEY } from './helpers.ts';

const code = (report: Uint8Array, key = TEST_REPORT_KEY) => checkTdReport(report, key)?.code;

/** Re-MAC a report after changing REPORTMACSTRUCT, as a CPU with the key would. */
function remac(report: Uint8Array): Uint8Array {
  const out = report.slice();
  out.set(tdReportMac(TEST_REPORT_KEY, out), REPORTMACSTRUCT.field('mac').offset);
  return out;
}

describe('the QE\'s checks of a TDREPORT', () => {
  it('accepts a report MACed under the platform report key', () => {
    assert.equal(checkTdReport(buildTestReport(), TEST_REPORT_KEY), undefined);
  });

  it('refuses a report of the wrong size, or not a byte array', () => {
    assert.equal(code(new Uint8Array(1023)), 'report-size');
    assert.equal(code(new Uint8Array(1025)), 'report-size');
    assert.match(checkTdReport('x' as unknown as Uint8Array, TEST_REPORT_KEY)!.message, /1024 bytes, got string/);
  });

  it('refuses a report made under another key (another platform)', () => {
    const r = checkTdReport(buildTestReport({ reportKey: new Uint8Array(32).fill(1) }), TEST_REPORT_KEY);
    assert.equal(r?.code, 'report-mac');
    assert.match(r!.message, /does not verify under this platform's report key/);
  });

  it('refuses a change anywhere in REPORTMACSTRUCT bytes 0..223 or in the MAC itself', () => {
    const report = buildTestReport();
    for (const at of [0, 16, 40, 100, 130, 223, 224, 255]) assert.equal(code(flipBit(report, at)), 'report-mac', `byte ${at}`);
    // Bytes 224..255 are the MAC; 192..223 reserved bytes are MACed too.
    assert.equal(code(flipBit(report, 200)), 'report-mac');
  });

  it('refuses a change to TEE_TCB_INFO or TDINFO_STRUCT: the hashes the MAC covers no longer match', () => {
    const report = buildTestReport();
    assert.equal(code(flipBit(report, tdreportOffset('tee_tcb_info', 'mrseam'))), 'tee-tcb-info-hash');
    assert.equal(code(flipBit(report, 256 + 200)), 'tee-tcb-info-hash');
    assert.equal(code(flipBit(report, tdreportOffset('tdinfo', 'mrtd'))), 'tee-info-hash');
    assert.equal(code(flipBit(report, tdreportOffset('tdinfo', 'rtmr3') + 47)), 'tee-info-hash');
    assert.equal(code(flipBit(report, TDREPORT_STRUCT.size - 1)), 'tee-info-hash');
  });

  it('refuses a validly MACed report that is not a TD report', () => {
    const report = buildTestReport();
    const sgx = report.slice();
    sgx[0] = 0; // REPORTTYPE.TYPE = SGX
    assert.equal(code(remac(sgx)), 'report-type');
    const subtype = report.slice();
    subtype[1] = 1;
    assert.equal(code(remac(subtype)), 'report-type');
    const version = report.slice();
    version[2] = 2;
    assert.equal(code(remac(version)), 'report-type');
    version[2] = 1; // version 1 (service TDs bound) is a TD report
    assert.equal(code(remac(version)), undefined);
  });
});
