import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { SGX_REPORT_BODY, TDXSIM_QE_VENDOR_ID } from '../../src/abi/quote.ts';
import { parseQuote } from '../../src/attestation/quote-codec.ts';
import { createSimulatedPki, type SimulatedPki } from '../../src/attestation/pki.ts';
import {
  importAttestationKey,
  QuotingService,
  rawP256PublicKey,
  regionDigests,
  tdReportBody,
} from '../../src/attestation/quoting-service.ts';
import { simulatedTcb, type SimulatedTcb } from '../../src/attestation/tcb.ts';
import { buildTestReport, flipBit, TEST_REPORT_KEY, mustQuote } from './helpers.ts';

let tcb: SimulatedTcb;
let pki: SimulatedPki;
before(async () => {
  tcb = simulatedTcb({ qe: { qeId: new Uint8Array(16).fill(0x9e) } });
  pki = await createSimulatedPki(tcb.platform);
});

const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const jwkKey = (raw: Uint8Array) =>
  createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: Buffer.from(raw.subarray(0, 32)).toString('base64url'), y: Buffer.from(raw.subarray(32)).toString('base64url') }, format: 'jwk' });

describe('quoting service', () => {
  it('writes the header a TDX quote needs, with reserved fields zero', () => {
    const service = new QuotingService({ pki, qe: tcb.qe, reportKey: TEST_REPORT_KEY });
    const q = parseQuote(mustQuote(service, buildTestReport()));
    assert.deepEqual(q.header, {
      version: 4,
      att_key_type: 2,
      tee_type: 0x81,
      qe_svn: 0,
      pce_svn: 0,
      qe_vendor_id: TDXSIM_QE_VENDOR_ID,
      user_data: Uint8Array.of(...new Uint8Array(16).fill(0x9e), 0, 0, 0, 0),
    });
    assert.equal(new TextDecoder().decode(q.header.qe_vendor_id), 'tdxsim-SIMULATED');
  });

  it('copies the body out of the TDREPORT, and signs header + body with the attestation key', () => {
    const report = buildTestReport();
    for (const [version, bodyType] of [[4, 2], [5, 2], [5, 3]] as const) {
      const service = new QuotingService({ pki, qe: tcb.qe, reportKey: TEST_REPORT_KEY, format: { version, bodyType } });
      const bytes = mustQuote(service, report);
      const q = parseQuote(bytes);
      assert.equal(q.version, version);
      assert.equal(q.bodyType, bodyType);
      assert.deepEqual(bytes.subarray(q.bodyOffset, q.regions.body.end), tdReportBody(report, bodyType));
      assert.deepEqual(q.attestationKey, service.attestationPublicKey);
      assert.equal(verify('sha256', q.signedBytes, { key: jwkKey(q.attestationKey), dsaEncoding: 'ieee-p1363' }, q.signature), true);
    }
  });

  it('makes a QE report that binds the attestation key, signed by the PCK key', () => {
    const service = new QuotingService({ pki, qe: tcb.qe, reportKey: TEST_REPORT_KEY });
    const q = parseQuote(mustQuote(service, buildTestReport()));
    // SECS.ATTRIBUTES: flags INIT | MODE64BIT | PROVISIONKEY = 0x15, then XFRM 0xE7, little-endian.
    const attributes = Uint8Array.of(0x15, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0);
    assert.deepEqual(q.qeReportBody, {
      cpusvn: pki.platform.cpuSvn,
      miscselect: 0,
      isv_ext_prod_id: new Uint8Array(16),
      attributes,
      mrenclave: tcb.qe.mrEnclave,
      mrsigner: tcb.qe.mrSigner,
      config_id: new Uint8Array(64),
      isv_prod_id: 2,
      isv_svn: 4,
      config_svn: 0,
      isv_family_id: new Uint8Array(16),
      reportdata: Uint8Array.of(...sha256(q.attestationKey, q.qeAuthData), ...new Uint8Array(32)),
    });
    assert.equal(SGX_REPORT_BODY.reservedNonZero(q.qeReport), undefined);
    assert.deepEqual(q.qeAuthData, regionDigests(q.signedBytes));
    assert.deepEqual(q.qeAuthData.subarray(0, 16), sha256(q.signedBytes.subarray(0, 48)).subarray(0, 16));
    assert.deepEqual(q.qeAuthData.subarray(16), sha256(q.signedBytes.subarray(48)).subarray(0, 16));
    const pckKey = createPublicKey(pki.pck.certificate.toString('pem'));
    assert.equal(verify('sha256', q.qeReport, { key: pckKey, dsaEncoding: 'ieee-p1363' }, q.qeReportSignature), true);
  });

  it('refuses, without throwing, a report that fails the QE\'s checks, in the host\'s QuoteOutcome shape', () => {
    const service = new QuotingService({ pki, qe: tcb.qe, reportKey: TEST_REPORT_KEY });
    const other = buildTestReport({ reportKey: new Uint8Array(32).fill(3) });
    assert.deepEqual(service.quote(other), {
      ok: false,
      reason: 'error',
      code: 'report-mac',
      message: "REPORTMACSTRUCT.MAC does not verify under this platform's report key: the report was altered or made on another platform",
    });
    assert.equal((service.quote(flipBit(buildTestReport(), 600)) as { code: string }).code, 'tee-info-hash');
    assert.equal((service.quote(new Uint8Array(10)) as { code: string }).code, 'report-size');
    assert.equal((service.quote(undefined as unknown as Uint8Array) as { code: string }).code, 'report-size');
    assert.match(service.name, /SIMULATED .* not Intel/);
  });

  it('keeps its attestation key when exported and imported', () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const a = new QuotingService({ pki, qe: tcb.qe, reportKey: TEST_REPORT_KEY, attestationKey: key });
    const b = new QuotingService({ pki, qe: tcb.qe, reportKey: TEST_REPORT_KEY, attestationKey: importAttestationKey(a.exportAttestationKey()) });
    assert.deepEqual(b.attestationPublicKey, rawP256PublicKey(key));
    assert.throws(() => importAttestationKey(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()), /P-256/);
  });

  it('refuses a quote format that does not exist', () => {
    assert.throws(() => new QuotingService({ pki, qe: tcb.qe, reportKey: TEST_REPORT_KEY, format: { version: 3 as 4 } }), /quote version 3 is not 4 or 5/);
    assert.throws(() => new QuotingService({ pki, qe: tcb.qe, reportKey: TEST_REPORT_KEY, format: { version: 5, bodyType: 1 as 2 } }), /body type 1/);
  });
});
