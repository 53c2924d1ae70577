/**
 * tdxsim's own DCAP quote verifier, with region-level error reporting.
 *
 * It runs every check it can and lists each with pass / fail / skip, so a user sees not only
 * whether a quote verifies but which part of it is wrong. The checks, in order (a check's region
 * is where the bytes it judges lie; `collateral` means the collateral, not the quote):
 *
 *   quote.format               header    the quote parses (version, TEE type, key type, sizes)
 *   header.qe-vendor           header    the QE vendor ID is tdxsim's or Intel's
 *   certificates.chain         certs     PCK leaf → Platform CA → the trusted root, current
 *   certificates.pck-extension certs     the leaf's SGX extension (FMSPC, CPUSVN, PCESVN, …)
 *   qe-report.signature        qe-report the PCK key signed the QE report
 *   signature.attestation-key  signature the attestation key is a point on P-256
 *   qe-report.binding          qe-report REPORTDATA = SHA-256(attestation key ‖ QE auth data)
 *   header.integrity           header    } tdxsim QEs only: the header and body digests in the
 *   body.integrity             body      } (now authenticated) QE auth data match the quote
 *   signature.quote            signature the attestation key signed header (+ descriptor) + body
 *   body.td-attributes         body      no reserved TD attribute set; no DEBUG unless allowed
 *   collateral.root-ca-crl     collateral signed by the root, current
 *   collateral.pck-crl         collateral issuer chain to the root; signed by the PCK CA, current
 *   certificates.revocation    certs     no certificate of the PCK chain is revoked
 *   collateral.tcb-info        collateral issuer chain, signature, dates, TDX v3, FMSPC/PCE-ID match
 *   collateral.qe-identity     collateral issuer chain, signature, dates, TD_QE
 *   qe-report.identity         qe-report the QE is the one the QE identity describes; QE status
 *   body.tdx-module            body      MRSIGNERSEAM/SEAM attributes match; module status
 *   tcb.platform               collateral a TCB level covers the PCK TCB and TEE_TCB_SVN
 *   tcb.status                 collateral the merged status is not Revoked
 *
 * The quote is verified when every check passes. The failure reported is the first failing
 * check; its region says which part of the quote changed. The ECDSA signature alone cannot tell
 * a changed header or body from a changed signature; tdxsim's QE therefore puts digests of the
 * header and body into the QE authentication data (abi/quote.ts TDXSIM_QE_AUTH_DATA), which the
 * PCK-signed QE report authenticates, and the two integrity checks use them. For a quote from
 * another QE those checks are skipped and a signature failure lists header, body and signature
 * as suspects.
 *
 * Everything the verifier reads is untrusted: nothing here throws for a bad quote or bad
 * collateral. A missing trust anchor or collateral is not an error either: the checks that need
 * them are skipped, and the quote is then not verified. Only a trust anchor that is not a
 * certificate at all throws (VerifierUsageError): that is the caller's mistake.
 */
import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { SgxExtensionOid } from '../abi/pck-cert.ts';
import { INTEL_QE_VENDOR_ID, QE_AUTH_DATA_SIZE_DEFAULT, QuoteBodyType, QUOTE_HEADER_SIZE, TDXSIM_QE_AUTH_DATA, TDXSIM_QE_VENDOR_ID } from '../abi/quote.ts';
import { TD_ATTRIBUTES } from '../abi/td-params.ts';
import type { TcbStatus } from '../abi/dcap-collateral.ts';
import { parsePemCertificates, publicKeyOf, revokedBy, toCertificate, verifyChain, verifyCrl } from './cert-chain.ts';
import type { Collateral } from './collateral.ts';
import { decodeSgxExtension, type SgxExtensionValues } from './pck-extension.ts';
import { parseQuote, QuoteFormatError, type ParsedQuote, type QuoteRegion } from './quote-codec.ts';
import {
  evaluatePlatformTcb,
  evaluateQeIdentity,
  evaluateTdxModule,
  freshness,
  mergeRatings,
  parseQeIdentity,
  parseTcbInfo,
  type QeIdentity,
  type Rating,
  type TcbInfo,
} from './tcb-evaluation.ts';
import type { X509Certificate, X509Crl } from './x509.ts';

export type CheckStatus = 'pass' | 'fail' | 'skip';
/** Where a check looks: a region of the quote, or the collateral. */
export type CheckRegion = QuoteRegion | 'collateral';

export interface VerificationCheck {
  readonly id: string;
  readonly region: CheckRegion;
  readonly status: CheckStatus;
  /** What was found (pass), what is wrong (fail), or why it did not run (skip). */
  readonly detail: string;
  /** A failure that cannot be pinned to one region lists every region it may be in. */
  readonly suspects?: readonly QuoteRegion[];
}

export interface QuoteVerification {
  /** True when every check passed. */
  readonly verified: boolean;
  readonly checks: readonly VerificationCheck[];
  /** The first failing check; undefined if none failed (the quote may still be unverified: skips). */
  readonly failure: VerificationCheck | undefined;
  /** One sentence: verified, or the first failure, or the first skip. */
  readonly summary: string;
  /** The parsed quote, if it parsed. */
  readonly quote: ParsedQuote | undefined;
  /** What the PCK certificate says about the platform, if it could be read. */
  readonly pck: SgxExtensionValues | undefined;
  /** The merged TCB status, when the collateral allowed rating the quote. */
  readonly tcbStatus: TcbStatus | undefined;
  readonly advisoryIds: readonly string[];
}

export interface VerifyOptions {
  /** The trusted root CA (PEM, DER or certificate). Without it nothing can be trusted. */
  readonly rootCa?: string | Uint8Array | X509Certificate;
  /** Collateral for revocation and TCB status. Without it those checks are skipped. */
  readonly collateral?: Collateral;
  /** Time to judge validity periods at. Default: now. */
  readonly now?: Date;
  /** Accept a debug TD (TD ATTRIBUTES.DEBUG). Default false: a debug TD's secrets are readable by its host. */
  readonly allowDebug?: boolean;
}

const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

/** A mistake in how verifyQuote was called (not in the quote or collateral it judges). */
export class VerifierUsageError extends Error {
  override readonly name = 'VerifierUsageError';
}

/** The list being built, with the order and the first failure kept. */
class Checks {
  readonly list: VerificationCheck[] = [];
  pass(id: string, region: CheckRegion, detail: string): true {
    this.list.push({ id, region, status: 'pass', detail });
    return true;
  }
  fail(id: string, region: CheckRegion, detail: string, suspects?: readonly QuoteRegion[]): false {
    this.list.push({ id, region, status: 'fail', detail, ...(suspects && { suspects }) });
    return false;
  }
  skip(id: string, region: CheckRegion, detail: string): false {
    this.list.push({ id, region, status: 'skip', detail });
    return false;
  }
  /** Record a pass when `problem` is undefined, else a failure. */
  expect(id: string, region: CheckRegion, problem: string | undefined, ok: string): boolean {
    return problem === undefined ? this.pass(id, region, ok) : this.fail(id, region, problem);
  }
}

/** Every check id, in order, with its region (for skipping the rest after a format failure). */
const CHECK_ORDER: ReadonlyArray<readonly [string, CheckRegion]> = [
  ['header.qe-vendor', 'header'],
  ['certificates.chain', 'certificates'],
  ['certificates.pck-extension', 'certificates'],
  ['qe-report.signature', 'qe-report'],
  ['signature.attestation-key', 'signature'],
  ['qe-report.binding', 'qe-report'],
  ['header.integrity', 'header'],
  ['body.integrity', 'body'],
  ['signature.quote', 'signature'],
  ['body.td-attributes', 'body'],
  ['collateral.root-ca-crl', 'collateral'],
  ['collateral.pck-crl', 'collateral'],
  ['certificates.revocation', 'certificates'],
  ['collateral.tcb-info', 'collateral'],
  ['collateral.qe-identity', 'collateral'],
  ['qe-report.identity', 'qe-report'],
  ['body.tdx-module', 'body'],
  ['tcb.platform', 'collateral'],
  ['tcb.status', 'collateral'],
];

/** ECDSA P-256 / SHA-256 over `data` with a 64-byte r‖s signature; false for any malformed input. */
function verifyP256(key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verifySignature('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/** The attestation key as a KeyObject; undefined if the 64 bytes are not a point on P-256. */
function attestationKeyObject(raw: Uint8Array): KeyObject | undefined {
  try {
    const x = Buffer.from(raw.subarray(0, 32)).toString('base64url');
    const y = Buffer.from(raw.subarray(32, 64)).toString('base64url');
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
  } catch {
    return undefined;
  }
}

/** Verify `quoteBytes`. Never throws for bad input. */
export async function verifyQuote(quoteBytes: Uint8Array, options: VerifyOptions = {}): Promise<QuoteVerification> {
  const now = options.now ?? new Date();
  // The trust anchor is the caller's, not the quote's: a bad one is the caller's mistake.
  let root: X509Certificate | undefined;
  try {
    root = options.rootCa === undefined ? undefined : toCertificate(options.rootCa);
  } catch (err) {
    throw new VerifierUsageError(`verifyQuote: rootCa is not an X.509 certificate (PEM, DER or parsed): ${(err as Error).message}`);
  }
  const c = new Checks();
  const done = (quote: ParsedQuote | undefined, pck: SgxExtensionValues | undefined, rating: Rating | undefined): QuoteVerification => {
    const failure = c.list.find((x) => x.status === 'fail');
    const skipped = c.list.find((x) => x.status === 'skip');
    const verified = !failure && !skipped;
    const summary = verified
      ? `verified: every check passed; TCB status ${rating?.status ?? 'unknown'}`
      : failure
        ? `NOT verified: ${failure.id} failed (${failure.suspects ? `region ${failure.suspects.join(' or ')}` : `region ${failure.region}`}): ${failure.detail}`
        : `NOT verified: ${skipped!.id} could not run: ${skipped!.detail}`;
    return { verified, checks: c.list, failure, summary, quote, pck, tcbStatus: rating?.status, advisoryIds: rating?.advisoryIds ?? [] };
  };

  // ---- Format ---------------------------------------------------------------------------------
  let quote: ParsedQuote;
  try {
    quote = parseQuote(quoteBytes);
    c.pass('quote.format', 'header', `DCAP quote v${quote.version}, TDX, ${quote.bodyType === QuoteBodyType.TD_REPORT15 ? 'TD 1.5' : 'TD 1.0'} body at offset ${quote.bodyOffset}, ${quoteBytes.length} bytes`);
  } catch (err) {
    if (!(err instanceof QuoteFormatError)) throw err;
    c.fail('quote.format', err.region, err.message);
    for (const [id, region] of CHECK_ORDER) c.skip(id, region, 'the quote does not parse');
    return done(undefined, undefined, undefined);
  }

  // ---- Header ---------------------------------------------------------------------------------
  const vendor = quote.header.qe_vendor_id;
  const tdxsimQe = equal(vendor, TDXSIM_QE_VENDOR_ID);
  c.expect(
    'header.qe-vendor',
    'header',
    tdxsimQe || equal(vendor, INTEL_QE_VENDOR_ID) ? undefined : `QE vendor ID ${hex(vendor)} is neither tdxsim's simulated QE nor Intel's`,
    tdxsimQe ? 'QE vendor: tdxsim SIMULATED QE (not Intel)' : "QE vendor: Intel's QE",
  );

  // ---- Certificates ---------------------------------------------------------------------------
  let chainCerts: X509Certificate[] = [];
  let chainTrusted = false;
  try {
    chainCerts = parsePemCertificates(new TextDecoder().decode(quote.certChain));
    if (!root) {
      c.skip('certificates.chain', 'certificates', 'no trusted root CA given: the chain cannot be anchored');
    } else if (chainCerts.length < 2) {
      c.fail('certificates.chain', 'certificates', `the PCK chain holds ${chainCerts.length} certificate(s); it needs the PCK leaf and its CA`);
    } else {
      const r = await verifyChain(chainCerts, root, now);
      chainTrusted = r.ok
        ? c.pass('certificates.chain', 'certificates', `${chainCerts.length} certificates: "${chainCerts[0]!.subject}" … up to the trusted root`)
        : c.fail('certificates.chain', 'certificates', r.detail);
    }
  } catch (err) {
    c.fail('certificates.chain', 'certificates', (err as Error).message);
  }
  const leaf = chainCerts[0];
  let pck: SgxExtensionValues | undefined;
  if (!leaf) {
    c.skip('certificates.pck-extension', 'certificates', 'no PCK certificate');
  } else {
    const ext = leaf.getExtension(SgxExtensionOid.SGX_EXTENSION);
    try {
      if (!ext) throw new Error('the PCK certificate has no SGX extension (1.2.840.113741.1.13.1)');
      pck = decodeSgxExtension(ext.value);
      c.pass('certificates.pck-extension', 'certificates', `FMSPC ${hex(pck.fmspc)}, PCESVN ${pck.pceSvn}, CPUSVN ${hex(pck.cpuSvn)}`);
    } catch (err) {
      c.fail('certificates.pck-extension', 'certificates', `SGX extension unreadable: ${(err as Error).message}`);
    }
  }

  // ---- QE report ------------------------------------------------------------------------------
  let qeReportAuthentic = false;
  if (!leaf) {
    c.skip('qe-report.signature', 'qe-report', 'no PCK certificate to check it with');
  } else {
    const pckKey = publicKeyOf(leaf);
    qeReportAuthentic = pckKey !== undefined && verifyP256(pckKey, quote.qeReport, quote.qeReportSignature)
      ? c.pass('qe-report.signature', 'qe-report', `the PCK key signed the QE report${chainTrusted ? '' : ' (but the PCK chain is not trusted)'}`)
      : c.fail('qe-report.signature', 'qe-report', 'the QE report signature does not verify with the PCK certificate\'s key: the QE report or its signature was altered');
  }

  // ---- Attestation key and its binding --------------------------------------------------------
  const attKey = attestationKeyObject(quote.attestationKey);
  c.expect('signature.attestation-key', 'signature', attKey ? undefined : 'the attestation key is not a point on P-256: it was altered', 'the attestation key is a P-256 public key');

  const digestsReadable = tdxsimQe && quote.qeAuthData.length === QE_AUTH_DATA_SIZE_DEFAULT;
  const digests = digestsReadable ? TDXSIM_QE_AUTH_DATA.decode(quote.qeAuthData) : undefined;
  const half = TDXSIM_QE_AUTH_DATA.field('header_digest').size;
  const headerMatches = digests && equal(sha256(quote.signedBytes.subarray(0, QUOTE_HEADER_SIZE)).subarray(0, half), digests.header_digest);
  const bodyMatches = digests && equal(sha256(quote.signedBytes.subarray(QUOTE_HEADER_SIZE)).subarray(0, half), digests.body_digest);

  let bound = false;
  if (!qeReportAuthentic) {
    c.skip('qe-report.binding', 'qe-report', 'the QE report is not authentic, so its REPORTDATA proves nothing');
  } else {
    const expected = new Uint8Array(quote.qeReportBody.reportdata.length);
    expected.set(sha256(quote.attestationKey, quote.qeAuthData));
    if (equal(expected, quote.qeReportBody.reportdata)) {
      bound = c.pass('qe-report.binding', 'qe-report', 'the QE report binds the attestation key and the QE authentication data');
    } else if (digests && headerMatches && bodyMatches) {
      // The auth data still describes this quote, so it is intact: the key changed.
      c.fail('qe-report.binding', 'signature', 'the attestation key is not the one the QE report certifies: the attestation key was altered');
    } else if (digests) {
      c.fail('qe-report.binding', 'qe-report', 'the QE authentication data is not what the QE report certifies: it was altered');
    } else {
      c.fail('qe-report.binding', 'qe-report', 'the QE report does not bind this attestation key and QE authentication data', ['signature', 'qe-report']);
    }
  }

  // ---- Which region changed (tdxsim QEs), then the quote signature ---------------------------
  const integrity = (id: string, region: 'header' | 'body', matches: boolean | undefined): void => {
    if (!digests) c.skip(id, region, 'not a tdxsim QE quote: no region digests to compare');
    else if (!bound) c.skip(id, region, 'the QE authentication data is not authenticated');
    else c.expect(id, region, matches ? undefined : `the ${region} is not what the QE signed: it was altered after quoting`, `the ${region} is what the QE signed`);
  };
  integrity('header.integrity', 'header', headerMatches);
  integrity('body.integrity', 'body', bodyMatches);

  if (!attKey) {
    c.skip('signature.quote', 'signature', 'no usable attestation key');
  } else if (verifyP256(attKey, quote.signedBytes, quote.signature)) {
    c.pass('signature.quote', 'signature', `the attestation key signed bytes 0..${quote.signedBytes.length - 1} (header and body)`);
  } else if (bound && headerMatches && bodyMatches) {
    c.fail('signature.quote', 'signature', 'the quote signature does not verify, while header and body are what the QE signed: the signature was altered');
  } else {
    c.fail('signature.quote', 'signature', 'the quote signature over header and body does not verify: the header, the body or the signature was altered', ['header', 'body', 'signature']);
  }

  // ---- TD attributes --------------------------------------------------------------------------
  const tdAttributes = new DataView(quote.body.td_attributes.buffer, quote.body.td_attributes.byteOffset).getBigUint64(0, true);
  c.expect(
    'body.td-attributes',
    'body',
    TD_ATTRIBUTES.hasReservedBits(tdAttributes)
      ? `TD ATTRIBUTES 0x${tdAttributes.toString(16)} set reserved bits`
      : TD_ATTRIBUTES.get(tdAttributes, 'debug') && !options.allowDebug
        ? 'the TD is a debug TD (ATTRIBUTES.DEBUG): its host can read and write its private state'
        : undefined,
    `TD ATTRIBUTES 0x${tdAttributes.toString(16)}${TD_ATTRIBUTES.get(tdAttributes, 'debug') ? ' (DEBUG, allowed)' : ''}`,
  );

  // ---- Collateral -----------------------------------------------------------------------------
  const rating = await checkCollateral(c, quote, chainCerts, pck, root, options.collateral, now);
  return done(quote, pck, rating);
}

/** The collateral checks and the TCB rating; returns the merged rating if it got that far. */
async function checkCollateral(
  c: Checks,
  quote: ParsedQuote,
  chainCerts: X509Certificate[],
  pck: SgxExtensionValues | undefined,
  root: X509Certificate | undefined,
  collateral: Collateral | undefined,
  now: Date,
): Promise<Rating | undefined> {
  const ids = CHECK_ORDER.slice(CHECK_ORDER.findIndex(([id]) => id === 'collateral.root-ca-crl'));
  if (!collateral || !root) {
    const why = !root ? 'no trusted root CA given' : 'no collateral given: revocation and TCB status are unknown';
    for (const [id, region] of ids) c.skip(id, region, why);
    return undefined;
  }

  // CRLs.
  const rootCrl = await verifyCrl(hexBytes(collateral.root_ca_crl), root, now, 'root CA CRL');
  let rootCrlValue: X509Crl | undefined;
  if (rootCrl.ok) {
    rootCrlValue = rootCrl.crl;
    c.pass('collateral.root-ca-crl', 'collateral', `signed by the root, next update ${rootCrl.crl.nextUpdate?.toISOString() ?? 'none'}`);
  } else {
    c.fail('collateral.root-ca-crl', 'collateral', rootCrl.detail);
  }
  let pckCrlValue: X509Crl | undefined;
  const pckCrlChain = await issuerChain(collateral.pck_crl_issuer_chain, root, now, 'PCK CRL issuer chain', { firstIsCa: true });
  if (!pckCrlChain.ok) {
    c.fail('collateral.pck-crl', 'collateral', pckCrlChain.detail);
  } else {
    const r = await verifyCrl(hexBytes(collateral.pck_crl), pckCrlChain.signer, now, 'PCK CRL');
    if (r.ok) {
      pckCrlValue = r.crl;
      c.pass('collateral.pck-crl', 'collateral', `signed by "${pckCrlChain.signer.subject}"`);
    } else {
      c.fail('collateral.pck-crl', 'collateral', r.detail);
    }
  }

  // Revocation of the quote's chain.
  if (!rootCrlValue || !pckCrlValue || chainCerts.length === 0) {
    c.skip('certificates.revocation', 'certificates', 'no verified CRLs to check against');
  } else {
    const revoked = [...revokedBy(pckCrlValue, chainCerts), ...revokedBy(rootCrlValue, [...chainCerts, root])];
    c.expect('certificates.revocation', 'certificates', revoked.length ? `revoked: ${revoked.map((s) => `"${s}"`).join(', ')}` : undefined, 'no certificate of the PCK chain is revoked');
  }
  const notRevoked = (cert: X509Certificate): string | undefined =>
    [rootCrlValue, pckCrlValue].some((crl) => crl && revokedBy(crl, [cert]).length > 0) ? `"${cert.subject}" is revoked` : undefined;

  // TCB Info and QE Identity: issuer chain, signature over the exact text, content, dates.
  const signedJson = async <T>(
    id: string,
    chainPem: string,
    text: string,
    signatureHex: string,
    name: string,
    parse: (t: string) => { ok: true; value: T } | { ok: false; detail: string },
    content: (v: T) => string | undefined,
  ): Promise<T | undefined> => {
    const chain = await issuerChain(chainPem, root, now, `${name} issuer chain`, { firstIsCa: false });
    if (!chain.ok) return void c.fail(id, 'collateral', chain.detail);
    const revoked = notRevoked(chain.signer);
    if (revoked) return void c.fail(id, 'collateral', `${name} signer ${revoked}`);
    const key = publicKeyOf(chain.signer);
    if (!key || !verifyP256(key, new TextEncoder().encode(text), hexBytes(signatureHex))) return void c.fail(id, 'collateral', `the ${name} signature does not verify with "${chain.signer.subject}"`);
    const parsed = parse(text);
    if (!parsed.ok) return void c.fail(id, 'collateral', parsed.detail);
    const wrong = content(parsed.value);
    if (wrong) return void c.fail(id, 'collateral', wrong);
    c.pass(id, 'collateral', `${name} signed by "${chain.signer.subject}"`);
    return parsed.value;
  };
  const tcbInfo = await signedJson<TcbInfo>('collateral.tcb-info', collateral.tcb_info_issuer_chain, collateral.tcb_info, collateral.tcb_info_signature, 'TCB Info', parseTcbInfo, (t) =>
    freshness('TCB Info', t.issueDate, t.nextUpdate, now) ??
    (pck && !equal(fromHex(t.fmspc), pck.fmspc) ? `TCB Info is for FMSPC ${t.fmspc}, the PCK certificate says ${hex(pck.fmspc).toUpperCase()}` : undefined) ??
    (pck && !equal(fromHex(t.pceId), pck.pceId) ? `TCB Info is for PCE-ID ${t.pceId}, the PCK certificate says ${hex(pck.pceId).toUpperCase()}` : undefined),
  );
  const qeIdentity = await signedJson<QeIdentity>(
    'collateral.qe-identity',
    collateral.qe_identity_issuer_chain,
    collateral.qe_identity,
    collateral.qe_identity_signature,
    'QE Identity',
    parseQeIdentity,
    (q) => freshness('QE Identity', q.issueDate, q.nextUpdate, now),
  );

  // Ratings.
  const qe = qeIdentity ? evaluateQeIdentity(quote.qeReportBody, qeIdentity) : undefined;
  if (!qe) c.skip('qe-report.identity', 'qe-report', 'no verified QE Identity');
  else if (qe.ok) c.pass('qe-report.identity', 'qe-report', qe.detail);
  else c.fail('qe-report.identity', 'qe-report', qe.detail);

  const module = tcbInfo ? evaluateTdxModule(quote.body, tcbInfo) : undefined;
  if (!module) c.skip('body.tdx-module', 'body', 'no verified TCB Info');
  else if (module.ok) c.pass('body.tdx-module', 'body', module.detail);
  else c.fail('body.tdx-module', 'body', module.detail);

  const platform = tcbInfo && pck ? evaluatePlatformTcb(pck, quote.body, tcbInfo) : undefined;
  if (!platform) c.skip('tcb.platform', 'collateral', tcbInfo ? 'no readable PCK certificate' : 'no verified TCB Info');
  else if (platform.ok) c.pass('tcb.platform', 'collateral', platform.detail);
  else c.fail('tcb.platform', 'collateral', platform.detail);

  if (!qe?.ok || !module?.ok || !platform?.ok) {
    c.skip('tcb.status', 'collateral', 'the QE, the TDX module and the platform must all be rated first');
    return undefined;
  }
  const merged = [qe, module, platform].reduce<Rating>((a, b) => mergeRatings(a, b), platform);
  c.expect('tcb.status', 'collateral', merged.status === 'Revoked' ? `TCB status Revoked (${merged.detail})` : undefined, `TCB status ${merged.status}${merged.advisoryIds.length ? ` (advisories ${merged.advisoryIds.join(', ')})` : ''}`);
  return merged;
}

function hexBytes(h: string): Uint8Array {
  return /^([0-9a-fA-F]{2})*$/.test(h) ? fromHex(h) : new Uint8Array(0);
}

/**
 * A collateral issuer chain (signer first, root last), parsed and verified to `root`. The signer
 * of TCB Info and QE Identity is an end entity; the PCK CRL's signer is a CA (`firstIsCa`).
 */
async function issuerChain(
  pem: string,
  root: X509Certificate,
  now: Date,
  name: string,
  options: { firstIsCa: boolean },
): Promise<{ ok: true; signer: X509Certificate } | { ok: false; detail: string }> {
  let certs: X509Certificate[];
  try {
    certs = parsePemCertificates(pem);
  } catch (err) {
    return { ok: false, detail: `${name}: ${(err as Error).message}` };
  }
  const r = await verifyChain(certs, root, now, options);
  return r.ok ? { ok: true, signer: certs[0]! } : { ok: false, detail: `${name}: ${r.detail}` };
}
