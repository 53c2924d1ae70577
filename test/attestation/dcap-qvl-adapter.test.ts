import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { QUOTE_HEADER, SGX_REPORT_BODY, TD_REPORT10 } from '../../src/abi/quote.ts';
import { TD_ATTRIBUTES } from '../../src/abi/td-params.ts';
import { buildCollateral, type CollateralBundle } from '../../src/attestation/collateral.ts';
import { verifyWithDcapQvl } from '../../src/attestation/dcap-qvl-adapter.ts';
import { parseQuote } from '../../src/attestation/quote-codec.ts';
import { createSimulatedPki, type SimulatedPki } from '../../src/attestation/pki.ts';
import { QuotingService } from '../../src/attestation/quoting-service.ts';
import { simulatedTcb, type SimulatedTcb } from '../../src/attestation/tcb.ts';
import { verifyQuote } from '../../src/attestation/verify.ts';
import { buildTestReport, flipBit, TEST_REPORT_KEY, mustQuote } from './helpers.ts';

let tcb: SimulatedTcb;
let pki: SimulatedPki;
let bundle: CollateralBundle;
const quoteOf = (version: 4 | 5, bodyType: 2 | 3, report = buildTestReport()) =>
  mustQuote(new QuotingService({ pki, qe: tcb.qe, reportKey: TEST_REPORT_KEY, format: { version, bodyType } }), report);

before(async () => {
  tcb = simulatedTcb();
  pki = await createSimulatedPki(tcb.platform);
  bundle = await buildCollateral(pki, tcb);
});

const dcap = (q: Uint8Array, extra: { now?: Date; collateral?: CollateralBundle } = {}) =>
  verifyWithDcapQvl(q, { rootCa: (extra.collateral ?? bundle).rootCaPem, collateral: (extra.collateral ?? bundle).collateral, ...(extra.now && { now: extra.now }) });

describe('dcap-qvl (code we did not write) on simulated quotes', () => {
  it('accepts v4, v5/TD10 and v5/TD15 quotes, as our verifier does', async () => {
    for (const [version, bodyType, type] of [[4, 2, 'td10'], [5, 2, 'td10'], [5, 3, 'td15']] as const) {
      const q = quoteOf(version, bodyType);
      assert.deepEqual(dcap(q), { ok: true, status: 'UpToDate', advisoryIds: [], reportType: type });
      assert.equal((await verifyQuote(q, { rootCa: bundle.rootCaPem, collateral: bundle.collateral })).verified, true);
    }
  });

  it('agrees on an OutOfDate module', () => {
    const q = quoteOf(4, 2, buildTestReport({ teeTcbSvn: Uint8Array.of(0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) }));
    assert.deepEqual(dcap(q), { ok: true, status: 'OutOfDate', advisoryIds: [], reportType: 'td10' });
  });

  it('rejects one flipped bit in each region', () => {
    const q = quoteOf(5, 3);
    const r = parseQuote(q).regions;
    const qe = r['qe-report'].start + 6;
    const flips: Array<[string, number]> = [
      ['header (user data)', QUOTE_HEADER.field('user_data').offset + 3],
      ['body (MRTD)', 54 + TD_REPORT10.field('mrtd').offset + 5],
      ['body (REPORTDATA)', 54 + TD_REPORT10.field('reportdata').offset],
      ['signature (ECDSA)', r.signature.start + 4 + 10],
      ['signature (attestation key)', r.signature.start + 4 + 64 + 20],
      ['QE report', qe + SGX_REPORT_BODY.field('mrenclave').offset],
      ['QE report signature', qe + 384 + 10],
      ['QE auth data', qe + 384 + 64 + 2 + 7],
      ['certificates', r.certificates.start + 6 + 300],
    ];
    for (const [what, at] of flips) {
      const result = dcap(flipBit(q, at, 1));
      assert.equal(result.ok, false, what);
    }
    assert.match((dcap(flipBit(q, 54 + TD_REPORT10.field('mrtd').offset)) as { error: string }).error, /signature is invalid/);
    assert.match((dcap(flipBit(q, qe + 10)) as { error: string }).error, /Signature is invalid for qe_report/);
  });

  it('rejects against another root CA, and with expired collateral', async () => {
    const q = quoteOf(4, 2);
    const other = await createSimulatedPki(tcb.platform);
    const otherBundle = await buildCollateral(other, tcb);
    assert.equal(dcap(q, { collateral: { collateral: bundle.collateral, rootCaPem: otherBundle.rootCaPem } }).ok, false);
    const later = dcap(q, { now: new Date(Date.now() + 40 * 24 * 3600 * 1000) });
    assert.deepEqual(later, { ok: false, error: 'TCBInfo expired' });
  });

  it('rejects a revoked PCK certificate and a debug TD, as ours does', async () => {
    const revoked = await buildCollateral(pki, tcb, { revoke: { pck: true } });
    assert.deepEqual(dcap(quoteOf(4, 2), { collateral: revoked }), { ok: false, error: 'Certificate is revoked' });
    const debug = quoteOf(4, 2, buildTestReport({ td: { attributes: TD_ATTRIBUTES.encode({ debug: 1, sept_ve_disable: 1 }) } }));
    assert.deepEqual(dcap(debug), { ok: false, error: 'Debug mode is enabled' });
  });

  it('returns a failure, not an exception, for bytes that are not a quote', () => {
    const r = dcap(new Uint8Array(100));
    assert.equal(r.ok, false);
    assert.match((r as { error: string }).error, /^Failed to decode quote: /);
  });
});
