import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import dcapQvl from '@phala/dcap-qvl';
import {
  CertificationDataType,
  QUOTE_V4_BODY_OFFSET,
  QUOTE_V5_BODY_OFFSET,
  QuoteBodyType,
  TD_REPORT10,
  TD_REPORT15,
  TDXSIM_QE_VENDOR_ID,
} from '../../src/abi/quote.ts';
import { parseQuote, QuoteFormatError, type QuoteRegion } from '../../src/attestation/quote-codec.ts';
import { createSimulatedPki, pckCertChainPem, type SimulatedPki } from '../../src/attestation/pki.ts';
import { QuotingService } from '../../src/attestation/quoting-service.ts';
import { simulatedTcb, type SimulatedTcb } from '../../src/attestation/tcb.ts';
import { buildTestReport, TD_VALUES, TEE_VALUES, TEST_REPORT_KEY, mustQuote } from './helpers.ts';

let tcb: SimulatedTcb;
let pki: SimulatedPki;
const quotes: Record<'v4' | 'v5td10' | 'v5td15', Uint8Array> = {} as never;
const report = buildTestReport();

before(async () => {
  tcb = simulatedTcb();
  pki = await createSimulatedPki(tcb.platform);
  const make = (version: 4 | 5, bodyType: 2 | 3) => mustQuote(new QuotingService({ pki, qe: tcb.qe, reportKey: TEST_REPORT_KEY, format: { version, bodyType } }), report);
  quotes.v4 = make(4, 2);
  quotes.v5td10 = make(5, 2);
  quotes.v5td15 = make(5, 3);
});

const u64le = (v: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
};

/** Every body field, with the value the test TDREPORT gives it. */
const EXPECTED_TD10: Record<string, Uint8Array> = {
  tee_tcb_svn: TEE_VALUES.tee_tcb_svn,
  mrseam: TEE_VALUES.mrseam,
  mrsignerseam: TEE_VALUES.mrsignerseam,
  seam_attributes: u64le(TEE_VALUES.attributes),
  td_attributes: u64le(TD_VALUES.attributes),
  xfam: u64le(TD_VALUES.xfam),
  mrtd: TD_VALUES.mrtd,
  mrconfigid: TD_VALUES.mrconfigid,
  mrowner: TD_VALUES.mrowner,
  mrownerconfig: TD_VALUES.mrownerconfig,
  rtmr0: TD_VALUES.rtmr0,
  rtmr1: TD_VALUES.rtmr1,
  rtmr2: TD_VALUES.rtmr2,
  rtmr3: TD_VALUES.rtmr3,
  reportdata: Uint8Array.from({ length: 64 }, (_, i) => i),
};

/** dcap-qvl's names for the same fields. */
const DCAP_NAMES: Record<string, string> = {
  tee_tcb_svn: 'teeTcbSvn', mrseam: 'mrSeam', mrsignerseam: 'mrSignerSeam', seam_attributes: 'seamAttributes',
  td_attributes: 'tdAttributes', xfam: 'xfam', mrtd: 'mrTd', mrconfigid: 'mrConfigId', mrowner: 'mrOwner',
  mrownerconfig: 'mrOwnerConfig', rtmr0: 'rtMr0', rtmr1: 'rtMr1', rtmr2: 'rtMr2', rtmr3: 'rtMr3', reportdata: 'reportData',
};

describe('quote layout', () => {
  it('puts every TD10 field at its documented offset: body at 48 in v4, at 54 in v5', () => {
    assert.equal(QUOTE_V4_BODY_OFFSET, 48);
    assert.equal(QUOTE_V5_BODY_OFFSET, 54);
    for (const [q, base] of [[quotes.v4, 48], [quotes.v5td10, 54], [quotes.v5td15, 54]] as const) {
      for (const f of TD_REPORT10.fields) {
        assert.deepEqual(q.subarray(base + f.offset, base + f.offset + f.size), EXPECTED_TD10[f.name], `${f.name} at ${base}+${f.offset}`);
      }
    }
    // TD15 adds TEE_TCB_SVN2 at 584 and MRSERVICETD at 600.
    assert.deepEqual(quotes.v5td15.subarray(54 + 584, 54 + 600), TEE_VALUES.tee_tcb_svn2);
    assert.deepEqual(quotes.v5td15.subarray(54 + 600, 54 + 648), new Uint8Array(48));
    assert.equal(TD_REPORT15.size, 648);
  });

  it('writes the v5 body descriptor: type then size', () => {
    const dv = (q: Uint8Array) => new DataView(q.buffer, q.byteOffset);
    assert.equal(dv(quotes.v5td10).getUint16(48, true), QuoteBodyType.TD_REPORT10);
    assert.equal(dv(quotes.v5td10).getUint32(50, true), 584);
    assert.equal(dv(quotes.v5td15).getUint16(48, true), QuoteBodyType.TD_REPORT15);
    assert.equal(dv(quotes.v5td15).getUint32(50, true), 648);
  });

  it('is parsed by dcap-qvl to the same header, body and signature data', () => {
    for (const [q, type] of [[quotes.v4, 'td10'], [quotes.v5td10, 'td10'], [quotes.v5td15, 'td15']] as const) {
      const theirs = dcapQvl.Quote.parse(q);
      const ours = parseQuote(q);
      assert.equal(theirs.header.version, ours.version);
      assert.equal(theirs.header.attestationKeyType, 2);
      assert.equal(theirs.header.teeType, 0x81);
      assert.deepEqual(new Uint8Array(theirs.header.qeVendorId), TDXSIM_QE_VENDOR_ID);
      assert.equal(theirs.report.type, type);
      const body = theirs.report.asTd10() as unknown as Record<string, Uint8Array>;
      for (const [name, expected] of Object.entries(EXPECTED_TD10)) {
        assert.deepEqual(new Uint8Array(body[DCAP_NAMES[name]!]!), expected, name);
        assert.deepEqual((ours.body as unknown as Record<string, Uint8Array>)[name], expected, name);
      }
      if (type === 'td15') {
        const td15 = theirs.report.asTd15() as unknown as { teeTcbSvn2: Uint8Array; mrServiceTd: Uint8Array };
        assert.deepEqual(new Uint8Array(td15.teeTcbSvn2), TEE_VALUES.tee_tcb_svn2);
        assert.deepEqual(ours.body.tee_tcb_svn2, TEE_VALUES.tee_tcb_svn2);
        assert.deepEqual(new Uint8Array(td15.mrServiceTd), new Uint8Array(48));
      }
      assert.equal(theirs.signedLength(), ours.signedBytes.length);
      const auth = theirs.authData.intoV3();
      assert.deepEqual(new Uint8Array(auth.ecdsaSignature), ours.signature);
      assert.deepEqual(new Uint8Array(auth.ecdsaAttestationKey), ours.attestationKey);
      assert.deepEqual(new Uint8Array(auth.qeReport), ours.qeReport);
      assert.deepEqual(new Uint8Array(auth.qeReportSignature), ours.qeReportSignature);
      assert.deepEqual(new Uint8Array(auth.qeAuthData), ours.qeAuthData);
      // Certification data type 6 nesting type 5, the PCK chain as PEM.
      assert.equal((theirs.authData.data as { certificationData: { certType: number } }).certificationData.certType, CertificationDataType.QE_REPORT_CERTIFICATION_DATA);
      assert.equal(auth.certificationData.certType, CertificationDataType.PCK_CERT_CHAIN);
      assert.equal(new TextDecoder().decode(theirs.rawCertChain()), pckCertChainPem(pki));
    }
  });

  it('lays the regions out back to back over the whole quote', () => {
    for (const q of Object.values(quotes)) {
      const { regions } = parseQuote(q);
      const order: QuoteRegion[] = ['header', 'body', 'signature', 'qe-report', 'certificates'];
      assert.equal(regions.header.start, 0);
      for (let i = 1; i < order.length; i++) assert.equal(regions[order[i]!].start, regions[order[i - 1]!].end);
      assert.equal(regions.certificates.end, q.length);
      assert.equal(regions.signature.end - regions.signature.start, 4 + 64 + 64);
    }
  });
});

describe('quote parser errors', () => {
  const expectFormat = (bytes: Uint8Array, region: QuoteRegion, offset: number, message: RegExp) =>
    assert.throws(
      () => parseQuote(bytes),
      (e: unknown) => e instanceof QuoteFormatError && e.region === region && e.offset === offset && message.test(e.message),
    );
  const patch = (q: Uint8Array, at: number, write: (dv: DataView) => void): Uint8Array => {
    const out = q.slice();
    write(new DataView(out.buffer, at));
    return out;
  };

  it('names the region and offset where the quote stops making sense', () => {
    const q = quotes.v5td15;
    const p = parseQuote(q);
    expectFormat(q.subarray(0, 20), 'header', 0, /quote header needs 48 bytes but the quote ends after 20/);
    expectFormat(patch(q, 0, (d) => d.setUint16(0, 3, true)), 'header', 0, /version 3 is not a TDX quote version/);
    expectFormat(patch(q, 2, (d) => d.setUint16(0, 3, true)), 'header', 2, /attestation key type 3/);
    // A v5 quote whose version says 4 (and the reverse) is read cleanly as the other version.
    expectFormat(patch(q, 0, (d) => d.setUint16(0, 4, true)), 'header', 0, /version 4 does not match the layout, which is that of a version 5 quote/);
    expectFormat(patch(quotes.v4, 0, (d) => d.setUint16(0, 5, true)), 'header', 0, /^header at byte 0: version 5 does not match the layout, which is that of a version 4 quote$/);
    expectFormat(patch(q, 4, (d) => d.setUint32(0, 0, true)), 'header', 4, /TEE type 0x0 is not TDX/);
    expectFormat(patch(q, 48, (d) => d.setUint16(0, 1, true)), 'body', 48, /body type 1 is not a TD report/);
    expectFormat(patch(q, 50, (d) => d.setUint32(0, 584, true)), 'body', 50, /body size 584 is not 648/);
    expectFormat(q.subarray(0, 300), 'body', 54, /TD_REPORT15 body needs 648 bytes/);
    const sigAt = p.regions.signature.start;
    expectFormat(patch(q, sigAt, (d) => d.setUint32(0, 10, true)), 'signature', sigAt, /signature data length says 10 bytes but \d+ follow/);
    expectFormat(q.subarray(0, q.length - 1), 'signature', sigAt, /signature data length says/);
    const qeAt = p.regions['qe-report'].start;
    expectFormat(patch(q, qeAt, (d) => d.setUint16(0, 5, true)), 'qe-report', qeAt, /certification data type 5 is not QE report certification data \(6\)/);
    const certAt = p.regions.certificates.start;
    expectFormat(patch(q, certAt, (d) => d.setUint16(0, 4, true)), 'certificates', certAt, /certification data type 4 is not a PCK certificate chain \(5\)/);
    expectFormat(patch(q, certAt + 2, (d) => d.setUint32(0, 1_000_000, true)), 'certificates', certAt + 2, /PCK certificate chain says 1000000 bytes but \d+ follow/);
    expectFormat(patch(q, qeAt + 2, (d) => d.setUint32(0, 100, true)), 'qe-report', qeAt + 2, /QE report certification data says 100 bytes but \d+ follow/);
    // A wrong QE auth data size lands the reader in the middle of the chain.
    const authAt = qeAt + 6 + 384 + 64;
    expectFormat(patch(q, authAt, (d) => d.setUint16(0, 40, true)), 'qe-report', authAt, /QE authentication data size 40 does not lead to the PCK certification data/);
    expectFormat(patch(q, authAt, (d) => d.setUint16(0, 60000, true)), 'qe-report', authAt + 2, /QE authentication data of 60000 bytes needs/);
  });
});
