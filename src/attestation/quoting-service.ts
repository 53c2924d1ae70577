/**
 * The simulated quoting service: the TD Quoting Enclave (TD QE) and the Provisioning
 * Certification Enclave (PCE) behind the host's GetQuote path, turning a TDREPORT_STRUCT into a
 * DCAP quote that any DCAP verifier given the simulated root CA and collateral accepts.
 *
 * For each TDREPORT it:
 *   1. checks the report as a QE does (tdreport-check.ts: size, MAC under the platform's report
 *      key, REPORTTYPE, the two hashes the MAC covers) and refuses a report that fails;
 *   2. copies the TD report body out of the TDREPORT (TD10, or TD15 for a v5 quote of type 3);
 *   3. writes the header (version, ECDSA-P256 key type, TEE type TDX, QE vendor ID, QE ID);
 *   4. signs header (+ v5 descriptor) + body with the attestation key (ECDSA P-256, SHA-256);
 *   5. makes the QE report: an SGX report of the QE whose REPORTDATA is SHA-256(attestation key ‖
 *      QE auth data) ‖ 32 zero bytes, signed by the PCK key, and appends the PCK chain (PEM).
 *
 * Differences from Intel's QE, all deliberate and documented: the vendor ID is tdxsim's own
 * (abi/quote.ts TDXSIM_QE_VENDOR_ID); the QE auth data holds digests of the header and body
 * (TDXSIM_QE_AUTH_DATA) so the verifier can say which region of a damaged quote changed, which
 * means the PCK key signs a fresh QE report for every quote (Intel's PCE certifies an attestation
 * key once and the QE reuses that QE report).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import {
  AttestationKeyType,
  ECDSA_P256_PUBLIC_KEY_SIZE,
  QE_ID_SIZE,
  QUOTE_HEADER_SIZE,
  QUOTE_USER_DATA_SIZE,
  QuoteBodyType,
  QuoteVersion,
  SGX_ATTRIBUTES,
  SGX_REPORT_BODY,
  TD_REPORT10,
  TD_REPORT15,
  TDXSIM_QE_AUTH_DATA,
  TDXSIM_QE_VENDOR_ID,
  TEE_TCB_INFO_TEE_TCB_SVN2_OFFSET,
  TEE_TCB_SVN_SIZE,
  TeeType,
  type QuoteBodyTypeNumber,
  type QuoteVersionNumber,
} from '../abi/quote.ts';
import { REPORTMACSTRUCT, TDINFO_STRUCT, TDREPORT_STRUCT, TEE_TCB_INFO } from '../abi/tdreport.ts';
import { checkTdReport, type ReportRejectionCode } from './tdreport-check.ts';
import { concat, encodeQuote, encodeSignedPart } from './quote-codec.ts';
import { pckCertChainPem, type SimulatedPki } from './pki.ts';
import type { QeTcb } from './tcb.ts';

/**
 * The answer to a quote request, in the shape the host's userspace expects from a quote service
 * (`QuoteOutcome` in src/host/userspace/quote-service.ts; this layer cannot import it, and
 * TypeScript's structural typing makes the two interchangeable). A refused report is an `error`
 * with the QE's reason, never an exception: the report came from outside the QE.
 */
export type QuoteOutcome =
  | { readonly ok: true; readonly quote: Uint8Array }
  | { readonly ok: false; readonly reason: 'unavailable' | 'error'; readonly code: ReportRejectionCode; readonly message: string };

/** The quote format to produce. */
export interface QuoteFormat {
  /** 4 (TD10 body at offset 48) or 5 (body descriptor, body at offset 54). Default 4. */
  readonly version?: QuoteVersionNumber;
  /** v5 only: TD_REPORT10 (2) or TD_REPORT15 (3). Default TD_REPORT15. */
  readonly bodyType?: QuoteBodyTypeNumber;
}

export interface QuotingServiceOptions {
  readonly pki: SimulatedPki;
  readonly qe: QeTcb;
  /** The platform's report key (Platform.reportKey): what the QE verifies REPORTMACSTRUCT with. */
  readonly reportKey: Uint8Array;
  /** The QE's attestation key (P-256 private key). Default: a fresh one. */
  readonly attestationKey?: KeyObject;
  readonly format?: QuoteFormat;
}

const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/** ECDSA P-256 / SHA-256, as the 64-byte r‖s a quote carries. */
function signP256(key: KeyObject, data: Uint8Array): Uint8Array {
  return new Uint8Array(sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }));
}

/** A P-256 public key as the 64 bytes X‖Y a quote carries. */
export function rawP256PublicKey(key: KeyObject): Uint8Array {
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new RangeError('the attestation key must be an EC P-256 key');
  const raw = concat(Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url'));
  if (raw.length !== ECDSA_P256_PUBLIC_KEY_SIZE) throw new RangeError('unexpected P-256 public key size');
  return raw;
}

/** Raw little-endian bytes of a TDREPORT field (attributes and XFAM go into the body unchanged). */
function rawField(report: Uint8Array, partOffset: number, field: { offset: number; size: number }): Uint8Array {
  return report.slice(partOffset + field.offset, partOffset + field.offset + field.size);
}

/** The TD report body (TD10 or TD15) of a checked TDREPORT_STRUCT. */
export function tdReportBody(report: Uint8Array, bodyType: QuoteBodyTypeNumber): Uint8Array {
  const macAt = TDREPORT_STRUCT.field('reportmacstruct').offset;
  const tcbAt = TDREPORT_STRUCT.field('tee_tcb_info').offset;
  const infoAt = TDREPORT_STRUCT.field('tdinfo').offset;
  const tcb = TEE_TCB_INFO.decode(report, tcbAt);
  const info = TDINFO_STRUCT.decode(report, infoAt);
  const td10 = {
    tee_tcb_svn: tcb.tee_tcb_svn,
    mrseam: tcb.mrseam,
    mrsignerseam: tcb.mrsignerseam,
    seam_attributes: rawField(report, tcbAt, TEE_TCB_INFO.field('attributes')),
    td_attributes: rawField(report, infoAt, TDINFO_STRUCT.field('attributes')),
    xfam: rawField(report, infoAt, TDINFO_STRUCT.field('xfam')),
    mrtd: info.mrtd,
    mrconfigid: info.mrconfigid,
    mrowner: info.mrowner,
    mrownerconfig: info.mrownerconfig,
    rtmr0: info.rtmr0,
    rtmr1: info.rtmr1,
    rtmr2: info.rtmr2,
    rtmr3: info.rtmr3,
    reportdata: REPORTMACSTRUCT.read(report, 'reportdata', macAt),
  };
  if (bodyType === QuoteBodyType.TD_REPORT10) return TD_REPORT10.encode(td10);
  return TD_REPORT15.encode({
    ...td10,
    tee_tcb_svn2: report.slice(tcbAt + TEE_TCB_INFO_TEE_TCB_SVN2_OFFSET, tcbAt + TEE_TCB_INFO_TEE_TCB_SVN2_OFFSET + TEE_TCB_SVN_SIZE),
    mrservicetd: info.servtd_hash,
  });
}

/** The QE authentication data tdxsim's QE writes: digests of the header and of the rest it signs. */
export function regionDigests(signedPart: Uint8Array): Uint8Array {
  const half = TDXSIM_QE_AUTH_DATA.field('header_digest').size;
  return TDXSIM_QE_AUTH_DATA.encode({
    header_digest: sha256(signedPart.subarray(0, QUOTE_HEADER_SIZE)).subarray(0, half),
    body_digest: sha256(signedPart.subarray(QUOTE_HEADER_SIZE)).subarray(0, half),
  });
}

export class QuotingService {
  /** How the host names this service in logs and the run story. */
  readonly name = 'tdxsim SIMULATED DCAP quoting service (TD QE + PCE; not Intel)';
  readonly version: QuoteVersionNumber;
  readonly bodyType: QuoteBodyTypeNumber;
  /** The attestation public key, X‖Y, as quotes carry it. */
  readonly attestationPublicKey: Uint8Array;
  private readonly attestationKey: KeyObject;
  private readonly pckKey: KeyObject;
  private readonly certChain: Uint8Array;
  private readonly reportKey: Uint8Array;
  private readonly qe: QeTcb;
  private readonly pki: SimulatedPki;

  constructor(options: QuotingServiceOptions) {
    const version = options.format?.version ?? QuoteVersion.V4;
    if (version !== QuoteVersion.V4 && version !== QuoteVersion.V5) throw new RangeError(`quote version ${String(version)} is not 4 or 5`);
    const bodyType = version === QuoteVersion.V4 ? QuoteBodyType.TD_REPORT10 : (options.format?.bodyType ?? QuoteBodyType.TD_REPORT15);
    if (bodyType !== QuoteBodyType.TD_REPORT10 && bodyType !== QuoteBodyType.TD_REPORT15) {
      throw new RangeError(`quote body type ${String(bodyType)} is not TD_REPORT10 (2) or TD_REPORT15 (3)`);
    }
    if (options.qe.qeId.length !== QE_ID_SIZE) throw new RangeError(`QE ID must be ${QE_ID_SIZE} bytes`);
    this.version = version;
    this.bodyType = bodyType;
    this.pki = options.pki;
    this.qe = options.qe;
    this.reportKey = options.reportKey;
    this.attestationKey = options.attestationKey ?? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    this.attestationPublicKey = rawP256PublicKey(this.attestationKey);
    this.pckKey = KeyObject.from(options.pki.pck.privateKey);
    this.certChain = new TextEncoder().encode(pckCertChainPem(options.pki));
  }

  /** Quote `report`, or say why it is refused. Never throws for bad input. */
  quote(report: Uint8Array): QuoteOutcome {
    const rejection = checkTdReport(report, this.reportKey);
    if (rejection) return { ok: false, reason: 'error', ...rejection };

    const userData = new Uint8Array(QUOTE_USER_DATA_SIZE);
    userData.set(this.qe.qeId);
    const signedPart = encodeSignedPart({
      version: this.version,
      bodyType: this.bodyType,
      header: {
        att_key_type: AttestationKeyType.ECDSA_P256,
        tee_type: TeeType.TDX,
        // QE SVN and PCE SVN are reserved in TDX quotes; the QE identity carries the QE's SVN.
        qe_svn: 0,
        pce_svn: 0,
        qe_vendor_id: TDXSIM_QE_VENDOR_ID,
        user_data: userData,
      },
      body: tdReportBody(report, this.bodyType),
    });
    const qeAuthData = regionDigests(signedPart);
    const qeReport = this.qeReport(qeAuthData);
    const quote = encodeQuote({
      signedPart,
      signature: signP256(this.attestationKey, signedPart),
      attestationKey: this.attestationPublicKey,
      qeReport,
      qeReportSignature: signP256(this.pckKey, qeReport),
      qeAuthData,
      certChain: this.certChain,
    });
    return { ok: true, quote };
  }

  /** The QE's own SGX report, binding the attestation key and `qeAuthData`. */
  private qeReport(qeAuthData: Uint8Array): Uint8Array {
    const attributes = SGX_ATTRIBUTES.encode({ flags: this.qe.attributesFlags, xfrm: this.qe.attributesXfrm });
    const reportData = new Uint8Array(SGX_REPORT_BODY.field('reportdata').size);
    reportData.set(sha256(this.attestationPublicKey, qeAuthData));
    return SGX_REPORT_BODY.encode({
      cpusvn: this.pki.platform.cpuSvn,
      miscselect: this.qe.miscSelect,
      attributes,
      mrenclave: this.qe.mrEnclave,
      mrsigner: this.qe.mrSigner,
      isv_prod_id: this.qe.isvProdId,
      isv_svn: this.qe.isvSvn,
      reportdata: reportData,
    });
  }

  /** The attestation private key as PKCS #8 PEM (to persist the QE's identity). */
  exportAttestationKey(): string {
    return this.attestationKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  }
}

/** Load an attestation key written by `exportAttestationKey`. */
export function importAttestationKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  rawP256PublicKey(key);
  return key;
}
