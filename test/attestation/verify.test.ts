import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { QUOTE_HEADER, SGX_REPORT_BODY, TD_REPORT10 } from '../../src/abi/quote.ts';
import { TD_ATTRIBUTES } from '../../src/abi/td-params.ts';
import { buildCollateral, type CollateralBundle } from '../../src/attestation/collateral.ts';
import { parseQuote, QUOTE_REGIONS, type QuoteRegion } from '../../src/attestation/quote-codec.ts';
import { createSimulatedPki, type SimulatedPki } from '../../src/attestation/pki.ts';
import { QuotingService } from '../../src/attestation/quoting-service.ts';
import { simulatedTcb, type SimulatedTcb } from '../../src/attestation/tcb.ts';
import { verifyQuote, VerifierUsageError, type QuoteVerification, type VerifyOptions } from '../../src/attestation/verify.ts';
import { buildTestReport, flipBit, TEST_REPORT_KEY, mustQuote } from './helpers.ts';

let tcb: SimulatedTcb;
let pki: SimulatedPki;
let bundle: CollateralBundle;
let service: QuotingService;
let quote: Uint8Array;

before(async () => {
  tcb = simulatedTcb();
  pki = await createSimulatedPki(tcb.platform);
  bundle = await buildCollateral(pki, tcb);
  service = new QuotingService({ pki, qe: tcb.qe, reportKey: TEST_REPORT_KEY, format: { version: 5, bodyType: 3 } });
  quote = mustQuote(service, buildTestReport());
});

const verifyWith = (q: Uint8Array, extra: Partial<VerifyOptions> = {}): Promise<QuoteVerification> =>
  verifyQuote(q, { rootCa: bundle.rootCaPem, collateral: bundle.collateral, ...extra });

const statusOf = (v: QuoteVerification, id: string) => v.checks.find((c) => c.id === id)?.status;

const ALL_CHECKS = [
  'quote.format', 'header.qe-vendor', 'certificates.chain', 'certificates.pck-extension', 'qe-report.signature',
  'signature.attestation-key', 'qe-report.binding', 'header.integrity', 'body.integrity', 'signature.quote',
  'body.td-attributes', 'collateral.root-ca-crl', 'collateral.pck-crl', 'certificates.revocation', 'collateral.tcb-info',
  'collateral.qe-identity', 'qe-report.identity', 'body.tdx-module', 'tcb.platform', 'tcb.status',
];

describe('verifier: a good quote', () => {
  it('passes every check, for v4, v5/TD10 and v5/TD15', async () => {
    for (const [version, bodyType] of [[4, 2], [5, 2], [5, 3]] as const) {
      const q = mustQuote(new QuotingService({ pki, qe: tcb.qe, reportKey: TEST_REPORT_KEY, format: { version, bodyType } }), buildTestReport());
      const v = await verifyWith(q);
      assert.deepEqual(v.checks.map((c) => c.id), ALL_CHECKS);
      assert.deepEqual(v.checks.filter((c) => c.status !== 'pass'), []);
      assert.equal(v.verified, true);
      assert.equal(v.failure, undefined);
      assert.equal(v.tcbStatus, 'UpToDate');
      assert.deepEqual(v.advisoryIds, []);
      assert.equal(v.summary, 'verified: every check passed; TCB status UpToDate');
      assert.deepEqual(v.pck?.fmspc, pki.platform.fmspc);
      assert.equal(v.quote?.version, version);
    }
  });

  it('rates a module with an older SVN OutOfDate, still verified', async () => {
    const q = mustQuote(service, buildTestReport({ teeTcbSvn: Uint8Array.of(0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) }));
    const v = await verifyWith(q);
    assert.equal(v.verified, true);
    assert.equal(v.tcbStatus, 'OutOfDate');
    assert.match(v.checks.find((c) => c.id === 'body.tdx-module')!.detail, /TDX module TDX_01 SVN 0: OutOfDate/);
  });
});

describe('verifier: one flipped bit in each region fails, naming the region', () => {
  const expectRegion = async (q: Uint8Array, id: string, region: QuoteRegion, detail: RegExp) => {
    const v = await verifyWith(q);
    assert.equal(v.verified, false);
    assert.equal(v.failure?.id, id);
    assert.equal(v.failure?.region, region);
    assert.equal(v.failure?.suspects, undefined);
    assert.match(v.failure!.detail, detail);
    assert.match(v.summary, new RegExp(`^NOT verified: ${id.replace('.', '\\.')} failed \\(region ${region}\\)`));
  };
  const at = () => parseQuote(quote).regions;

  it('header: the QE vendor ID, or a signed byte of the user data', async () => {
    await expectRegion(flipBit(quote, QUOTE_HEADER.field('qe_vendor_id').offset + 8), 'header.qe-vendor', 'header', /neither tdxsim's simulated QE nor Intel's/);
    await expectRegion(flipBit(quote, QUOTE_HEADER.field('user_data').offset + 3), 'header.integrity', 'header', /the header is not what the QE signed/);
  });

  it('body: a measurement', async () => {
    await expectRegion(flipBit(quote, 54 + TD_REPORT10.field('mrtd').offset + 5), 'body.integrity', 'body', /the body is not what the QE signed/);
    await expectRegion(flipBit(quote, 54 + TD_REPORT10.field('reportdata').offset), 'body.integrity', 'body', /the body is not what the QE signed/);
  });

  it('signature: the ECDSA signature, or the attestation key', async () => {
    const sig = at().signature.start + 4;
    await expectRegion(flipBit(quote, sig + 10), 'signature.quote', 'signature', /the signature was altered/);
    await expectRegion(flipBit(quote, sig + 64 + 20), 'signature.attestation-key', 'signature', /not a point on P-256/);
  });

  it('QE report: the report, or the QE authentication data', async () => {
    const qe = at()['qe-report'].start + 6;
    await expectRegion(flipBit(quote, qe + SGX_REPORT_BODY.field('mrenclave').offset), 'qe-report.signature', 'qe-report', /QE report signature does not verify/);
    await expectRegion(flipBit(quote, qe + 384 + 10), 'qe-report.signature', 'qe-report', /QE report signature does not verify/);
    await expectRegion(flipBit(quote, qe + 384 + 64 + 2 + 7), 'qe-report.binding', 'qe-report', /QE authentication data is not what the QE report certifies/);
  });

  it('certificates: a byte inside the PCK chain', async () => {
    const certs = at().certificates;
    await expectRegion(flipBit(quote, certs.start + 6 + 300, 1), 'certificates.chain', 'certificates', /does not verify|does not parse|not canonical base64/);
    await expectRegion(flipBit(quote, certs.end - 1, 4), 'certificates.chain', 'certificates', /text that is not a PEM certificate/);
  });

  it('anywhere: every 13th byte of the quote fails verification in the region that holds it', async () => {
    const regions = parseQuote(quote).regions;
    const regionOf = (offset: number): QuoteRegion => QUOTE_REGIONS.find((r) => offset >= regions[r].start && offset < regions[r].end)!;
    for (let offset = 0; offset < quote.length; offset += 13) {
      const v = await verifyWith(flipBit(quote, offset, offset % 8));
      assert.equal(v.verified, false, `byte ${offset}`);
      const named = v.failure?.suspects ?? [v.failure?.region];
      assert.ok(named.includes(regionOf(offset)), `byte ${offset} is in ${regionOf(offset)}, the verifier named ${named.join('|')}: ${v.failure?.detail}`);
    }
  });

  it('a quote from a QE without region digests: a signature failure lists header, body and signature as suspects', async () => {
    // Give the quote Intel's vendor ID and re-sign nothing: the vendor check passes, the digests
    // are not used, and the header change breaks the quote signature.
    const q = quote.slice();
    q.set(Uint8Array.of(0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07), QUOTE_HEADER.field('qe_vendor_id').offset);
    const v = await verifyWith(q);
    assert.equal(statusOf(v, 'header.qe-vendor'), 'pass');
    assert.equal(statusOf(v, 'header.integrity'), 'skip');
    assert.equal(v.failure?.id, 'signature.quote');
    assert.deepEqual(v.failure?.suspects, ['header', 'body', 'signature']);
  });
});

describe('verifier: trust anchor and collateral', () => {
  it('does not verify without a root CA or without collateral, and says why', async () => {
    const noRoot = await verifyQuote(quote);
    assert.equal(noRoot.verified, false);
    assert.equal(noRoot.failure, undefined);
    assert.equal(statusOf(noRoot, 'certificates.chain'), 'skip');
    assert.equal(statusOf(noRoot, 'signature.quote'), 'pass');
    assert.match(noRoot.summary, /^NOT verified: certificates\.chain could not run: no trusted root CA given/);
    const noCollateral = await verifyQuote(quote, { rootCa: bundle.rootCaPem });
    assert.equal(noCollateral.verified, false);
    assert.equal(statusOf(noCollateral, 'certificates.chain'), 'pass');
    assert.equal(statusOf(noCollateral, 'tcb.status'), 'skip');
    assert.match(noCollateral.summary, /no collateral given: revocation and TCB status are unknown/);
    assert.equal(noCollateral.tcbStatus, undefined);
  });

  it('throws only for a trust anchor that is not a certificate: the caller\'s mistake', async () => {
    await assert.rejects(verifyQuote(quote, { rootCa: 'not a certificate' }), (e: unknown) => e instanceof VerifierUsageError && /rootCa is not an X\.509 certificate/.test((e as Error).message));
  });

  it('fails the chain against another root CA', async () => {
    const other = await createSimulatedPki(tcb.platform);
    const v = await verifyWith(quote, { rootCa: other.rootCa.certificate });
    assert.equal(v.failure?.id, 'certificates.chain');
    assert.match(v.failure!.detail, /does not verify with the key of the trusted root/);
  });

  it('fails a revoked PCK certificate, and a revoked TCB signer', async () => {
    const revoked = await buildCollateral(pki, tcb, { revoke: { pck: true } });
    const v = await verifyQuote(quote, { rootCa: revoked.rootCaPem, collateral: revoked.collateral });
    assert.equal(v.failure?.id, 'certificates.revocation');
    assert.match(v.failure!.detail, /revoked: "CN=tdxsim SIMULATED SGX PCK Certificate/);
    const signer = await buildCollateral(pki, tcb, { revoke: { tcbSigning: true } });
    const w = await verifyQuote(quote, { rootCa: signer.rootCaPem, collateral: signer.collateral });
    assert.equal(w.failure?.id, 'collateral.tcb-info');
    assert.match(w.failure!.detail, /TCB Info signer "CN=tdxsim SIMULATED SGX TCB Signing .*" is revoked/);
  });

  it('fails expired collateral and certificates not yet valid', async () => {
    const later = new Date(Date.now() + 40 * 24 * 3600 * 1000);
    const v = await verifyWith(quote, { now: later });
    assert.equal(v.failure?.id, 'collateral.root-ca-crl');
    assert.match(v.failure!.detail, /root CA CRL expired/);
    assert.equal(statusOf(v, 'collateral.tcb-info'), 'fail');
    const before = new Date(Date.now() - 3 * 24 * 3600 * 1000);
    const w = await verifyWith(quote, { now: before });
    assert.equal(w.failure?.id, 'certificates.chain');
    assert.match(w.failure!.detail, /is not valid before/);
  });

  it('fails collateral whose signature or content was changed', async () => {
    const c = bundle.collateral;
    const sig = c.tcb_info_signature.replace(/^./, (d) => (d === '0' ? '1' : '0'));
    const v = await verifyWith(quote, { collateral: { ...c, tcb_info_signature: sig } });
    assert.equal(v.failure?.id, 'collateral.tcb-info');
    assert.match(v.failure!.detail, /TCB Info signature does not verify/);
    const w = await verifyWith(quote, { collateral: { ...c, qe_identity: c.qe_identity.replace('"isvprodid":2', '"isvprodid":3') } });
    assert.equal(w.failure?.id, 'collateral.qe-identity');
    const x = await verifyWith(quote, { collateral: { ...c, pck_crl: 'zz' } });
    assert.equal(x.failure?.id, 'collateral.pck-crl');
    assert.match(x.failure!.detail, /PCK CRL does not parse/);
  });

  it('rates against the collateral: a different QE, a different FMSPC, a signed module, no level', async () => {
    const otherQe = await buildCollateral(pki, { ...tcb, qe: { ...tcb.qe, mrSigner: new Uint8Array(32).fill(1) } });
    let v = await verifyQuote(quote, { rootCa: otherQe.rootCaPem, collateral: otherQe.collateral });
    assert.equal(v.failure?.id, 'qe-report.identity');
    assert.match(v.failure!.detail, /QE MRSIGNER [0-9A-F]{64} is not the QE identity's 0101/);

    const otherFmspc = await buildCollateral({ ...pki, platform: { ...pki.platform, fmspc: Uint8Array.of(0, 0x90, 0x6e, 0, 0, 0) } }, tcb);
    v = await verifyQuote(quote, { rootCa: otherFmspc.rootCaPem, collateral: otherFmspc.collateral });
    assert.equal(v.failure?.id, 'collateral.tcb-info');
    assert.match(v.failure!.detail, /TCB Info is for FMSPC 00906E000000, the PCK certificate says 00806F050000/);

    const signedModule = await buildCollateral(pki, { ...tcb, tdxModule: { ...tcb.tdxModule, mrSignerSeam: new Uint8Array(48).fill(7) } });
    v = await verifyQuote(quote, { rootCa: signedModule.rootCaPem, collateral: signedModule.collateral });
    assert.equal(v.failure?.id, 'body.tdx-module');
    assert.match(v.failure!.detail, /MRSIGNERSEAM 0{96} is not TDX_01's 0707/);

    const higher = await buildCollateral({ ...pki, platform: { ...pki.platform, pceSvn: 99 } }, tcb);
    const q = mustQuote(service, buildTestReport({ teeTcbSvn: Uint8Array.of(1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) }));
    v = await verifyQuote(q, { rootCa: higher.rootCaPem, collateral: higher.collateral });
    assert.equal(v.failure?.id, 'body.tdx-module');
    assert.match(v.failure!.detail, /no TDX module identity TDX_02/);
  });

  it('refuses a debug TD unless allowed, and reserved TD attributes always', async () => {
    const debugQuote = mustQuote(service, buildTestReport({ td: { attributes: TD_ATTRIBUTES.encode({ debug: 1, sept_ve_disable: 1 }) } }));
    const v = await verifyWith(debugQuote);
    assert.equal(v.failure?.id, 'body.td-attributes');
    assert.match(v.failure!.detail, /debug TD/);
    assert.equal((await verifyWith(debugQuote, { allowDebug: true })).verified, true);
    const reserved = mustQuote(service, buildTestReport({ td: { attributes: 1n << 40n } }));
    const w = await verifyWith(reserved, { allowDebug: true });
    assert.equal(w.failure?.id, 'body.td-attributes');
    assert.match(w.failure!.detail, /TD ATTRIBUTES 0x10000000000 set reserved bits/);
  });

  it('never throws, whatever it is given', async () => {
    for (const junk of [new Uint8Array(0), new Uint8Array(48), new Uint8Array(5000).fill(0xff), quote.subarray(0, 1000)]) {
      const v = await verifyWith(junk);
      assert.equal(v.verified, false);
      assert.equal(v.failure?.id, 'quote.format');
      assert.ok(v.checks.slice(1).every((c) => c.status === 'skip'));
    }
    const v = await verifyWith(quote, { collateral: { ...bundle.collateral, tcb_info: 'nonsense', tcb_info_issuer_chain: 'x', qe_identity_issuer_chain: '' } });
    assert.equal(v.verified, false);
    assert.equal(statusOf(v, 'collateral.tcb-info'), 'fail');
  });
});
