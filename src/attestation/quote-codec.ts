/**
 * Writing and reading DCAP quotes (v4, and v5 with its body descriptor) for TDX, byte for byte as
 * abi/quote.ts lays them out.
 *
 * Parsing never trusts a length: every size field is checked against the bytes that remain, and
 * a malformed quote throws QuoteFormatError naming the region and offset where it stops making
 * sense. The regions are the parts a verifier checks separately:
 *
 *   header        bytes 0..47
 *   body          the v5 body descriptor (if any) and the TD report body
 *   signature     the signature-data length, the ECDSA quote signature, the attestation key
 *   qe-report     the QE report certification data: its type/size, the QE report, the QE
 *                 report signature, the QE authentication data
 *   certificates  the nested certification data: type/size and the PCK certificate chain (PEM)
 */
import {
  CERTIFICATION_DATA_HEADER,
  CERTIFICATION_DATA_HEADER_SIZE,
  CertificationDataType,
  ECDSA_P256_PUBLIC_KEY_SIZE,
  ECDSA_P256_SIGNATURE_SIZE,
  QE_AUTH_DATA_LEN_SIZE,
  QUOTE_BODY_DESCRIPTOR,
  QUOTE_BODY_DESCRIPTOR_SIZE,
  QUOTE_HEADER,
  QUOTE_HEADER_SIZE,
  QUOTE_SIGNATURE_DATA_HEAD,
  QUOTE_SIGNATURE_DATA_LEN_SIZE,
  QuoteBodyType,
  QuoteVersion,
  SGX_REPORT_BODY,
  SGX_REPORT_BODY_SIZE,
  TD_REPORT10,
  TD_REPORT15,
  AttestationKeyType,
  TeeType,
  type QuoteBodyTypeNumber,
  type QuoteVersionNumber,
} from '../abi/quote.ts';
import type { DecodedLayout, LayoutValues } from '../abi/layout.ts';

/** The parts of a quote a verifier checks separately. */
export const QUOTE_REGIONS = Object.freeze(['header', 'body', 'signature', 'qe-report', 'certificates'] as const);
export type QuoteRegion = (typeof QUOTE_REGIONS)[number];

/** A half-open byte range [start, end) of the quote. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** A quote that does not parse: where and why. */
export class QuoteFormatError extends Error {
  override readonly name = 'QuoteFormatError';
  constructor(
    readonly region: QuoteRegion,
    readonly offset: number,
    message: string,
  ) {
    super(`${region} at byte ${offset}: ${message}`);
  }
}

type TdReport10 = DecodedLayout<typeof TD_REPORT10.fields>;
type TdReport15 = DecodedLayout<typeof TD_REPORT15.fields>;

/** A TD report body: the TD10 fields, plus the two TD15 fields when the body is TD15. */
export type TdReportBody = TdReport10 & Partial<Pick<TdReport15, 'tee_tcb_svn2' | 'mrservicetd'>>;

export interface ParsedQuote {
  /** The whole quote. */
  readonly bytes: Uint8Array;
  readonly version: QuoteVersionNumber;
  readonly header: DecodedLayout<typeof QUOTE_HEADER.fields>;
  /** TD_REPORT10 (always for v4) or TD_REPORT15. */
  readonly bodyType: QuoteBodyTypeNumber;
  /** Offset of the TD report body: 48 (v4) or 54 (v5). */
  readonly bodyOffset: number;
  readonly body: TdReportBody;
  /** The bytes the quote signature covers: header, descriptor (v5) and body. */
  readonly signedBytes: Uint8Array;
  /** ECDSA r‖s (64 bytes). */
  readonly signature: Uint8Array;
  /** P-256 public key X‖Y (64 bytes). */
  readonly attestationKey: Uint8Array;
  /** The 384-byte QE report, raw (what the PCK signature covers) and decoded. */
  readonly qeReport: Uint8Array;
  readonly qeReportBody: DecodedLayout<typeof SGX_REPORT_BODY.fields>;
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
  /** The PCK certificate chain as the quote carries it (PEM text, possibly NUL-terminated). */
  readonly certChain: Uint8Array;
  /** Where each region lies. */
  readonly regions: Readonly<Record<QuoteRegion, ByteRange>>;
}

/** Size of the body for a body type. */
export function bodySize(bodyType: QuoteBodyTypeNumber): number {
  return bodyType === QuoteBodyType.TD_REPORT15 ? TD_REPORT15.size : TD_REPORT10.size;
}

/** Bounds-checked little-endian reads over the quote, failing with the region being read. */
class Cursor {
  offset = 0;
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(region: QuoteRegion, n: number, what: string): void {
    if (this.offset + n > this.bytes.length) {
      throw new QuoteFormatError(region, this.offset, `${what} needs ${n} bytes but the quote ends after ${this.bytes.length - this.offset}`);
    }
  }
  take(region: QuoteRegion, n: number, what: string): Uint8Array {
    this.need(region, n, what);
    const out = this.bytes.slice(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  u16(region: QuoteRegion, what: string): number {
    this.need(region, 2, what);
    const v = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return v;
  }
  u32(region: QuoteRegion, what: string): number {
    this.need(region, 4, what);
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }
}

/** Parse a TDX quote (v4 or v5). Throws QuoteFormatError. */
export function parseQuote(bytes: Uint8Array): ParsedQuote {
  const c = new Cursor(bytes);
  c.need('header', QUOTE_HEADER_SIZE, 'the quote header');
  const header = QUOTE_HEADER.decode(bytes);
  const headerFail = (field: Parameters<typeof QUOTE_HEADER.field>[0], message: string): never => {
    throw new QuoteFormatError('header', QUOTE_HEADER.field(field).offset, message);
  };
  if (header.version !== QuoteVersion.V4 && header.version !== QuoteVersion.V5) {
    headerFail('version', `version ${header.version} is not a TDX quote version (4 or 5)`);
  }
  if (header.tee_type !== TeeType.TDX) {
    headerFail('tee_type', `TEE type 0x${header.tee_type.toString(16)} is not TDX (0x81)`);
  }
  if (header.att_key_type !== AttestationKeyType.ECDSA_P256) {
    headerFail('att_key_type', `attestation key type ${header.att_key_type} is not ECDSA-256-with-P-256 (2)`);
  }
  const version = header.version as QuoteVersionNumber;
  try {
    return parseAfterHeader(bytes, header, version);
  } catch (err) {
    // A version that names the wrong layout makes the damage show up far from the header: if the
    // quote reads cleanly as the other version, the version field is what changed.
    if (!(err instanceof QuoteFormatError)) throw err;
    const other = version === QuoteVersion.V4 ? QuoteVersion.V5 : QuoteVersion.V4;
    try {
      parseAfterHeader(bytes, header, other);
    } catch {
      throw err;
    }
    headerFail('version', `version ${version} does not match the layout, which is that of a version ${other} quote`);
    throw err;
  }
}

/** Everything after the header, laid out as `version` says. */
function parseAfterHeader(bytes: Uint8Array, header: ParsedQuote['header'], version: QuoteVersionNumber): ParsedQuote {
  const c = new Cursor(bytes);
  c.offset = QUOTE_HEADER_SIZE;

  // Body: v4 carries a TD10 body at 48; v5 says what it carries in a descriptor first.
  const bodyStart = c.offset;
  let bodyType: QuoteBodyTypeNumber = QuoteBodyType.TD_REPORT10;
  if (version === QuoteVersion.V5) {
    c.need('body', QUOTE_BODY_DESCRIPTOR_SIZE, 'the v5 body descriptor');
    const d = QUOTE_BODY_DESCRIPTOR.decode(bytes, c.offset);
    if (d.body_type !== QuoteBodyType.TD_REPORT10 && d.body_type !== QuoteBodyType.TD_REPORT15) {
      throw new QuoteFormatError('body', c.offset, `body type ${d.body_type} is not a TD report (2 = TD 1.0, 3 = TD 1.5)`);
    }
    bodyType = d.body_type;
    if (d.body_size !== bodySize(bodyType)) {
      throw new QuoteFormatError('body', c.offset + QUOTE_BODY_DESCRIPTOR.field('body_size').offset, `body size ${d.body_size} is not ${bodySize(bodyType)}, the size of body type ${bodyType}`);
    }
    c.offset += QUOTE_BODY_DESCRIPTOR_SIZE;
  }
  const bodyOffset = c.offset;
  const bodyLayout = bodyType === QuoteBodyType.TD_REPORT15 ? TD_REPORT15 : TD_REPORT10;
  c.need('body', bodyLayout.size, `the ${bodyLayout.name} body`);
  const body: TdReportBody = bodyLayout.decode(bytes, bodyOffset);
  c.offset += bodyLayout.size;
  const bodyEnd = c.offset;

  // Signature data: its length, then the quote signature and the attestation key.
  const sigStart = c.offset;
  const sigDataLen = c.u32('signature', 'the signature data length');
  // The signature data ends the quote: a length that disagrees with what follows is itself the
  // damage (checked here, before the nested sizes are read against it).
  if (c.offset + sigDataLen !== bytes.length) {
    throw new QuoteFormatError('signature', sigStart, `the signature data length says ${sigDataLen} bytes but ${bytes.length - c.offset} follow`);
  }
  const sigDataEnd = c.offset + sigDataLen;
  c.need('signature', QUOTE_SIGNATURE_DATA_HEAD.size, 'the quote signature and attestation key');
  const signature = c.take('signature', ECDSA_P256_SIGNATURE_SIZE, 'the quote signature');
  const attestationKey = c.take('signature', ECDSA_P256_PUBLIC_KEY_SIZE, 'the attestation key');
  const qeStart = c.offset;

  // QE report certification data (type 6).
  const outer = readCertHeader(c, 'qe-report', 'QE report certification data');
  if (outer.type !== CertificationDataType.QE_REPORT_CERTIFICATION_DATA) {
    throw new QuoteFormatError('qe-report', outer.at, `certification data type ${outer.type} is not QE report certification data (6)`);
  }
  // It is the last thing in the signature data, so its size is known from the length above.
  const outerEnd = c.offset + outer.size;
  if (outerEnd !== sigDataEnd) {
    throw new QuoteFormatError('qe-report', outer.at + 2, `QE report certification data says ${outer.size} bytes but ${sigDataEnd - c.offset} follow`);
  }
  const qeReport = c.take('qe-report', SGX_REPORT_BODY_SIZE, 'the QE report');
  const qeReportSignature = c.take('qe-report', ECDSA_P256_SIGNATURE_SIZE, 'the QE report signature');
  const authLenAt = c.offset;
  const authLen = c.u16('qe-report', 'the QE authentication data size');
  const qeAuthData = c.take('qe-report', authLen, `QE authentication data of ${authLen} bytes`);
  const certStart = c.offset;

  // Nested certification data (type 5): the PCK certificate chain, which fills the rest. When
  // neither its type nor its size fits, the QE auth data size before it led here wrongly.
  const inner = readCertHeader(c, 'certificates', 'PCK certification data');
  const fits = c.offset + inner.size === outerEnd;
  if (inner.type !== CertificationDataType.PCK_CERT_CHAIN) {
    if (!fits) {
      throw new QuoteFormatError('qe-report', authLenAt, `the QE authentication data size ${authLen} does not lead to the PCK certification data`);
    }
    throw new QuoteFormatError('certificates', inner.at, `certification data type ${inner.type} is not a PCK certificate chain (5)`);
  }
  if (!fits) {
    throw new QuoteFormatError('certificates', inner.at + 2, `the PCK certificate chain says ${inner.size} bytes but ${outerEnd - c.offset} follow`);
  }
  const certChain = c.take('certificates', inner.size, `a PCK certificate chain of ${inner.size} bytes`);

  return {
    bytes,
    version,
    header,
    bodyType,
    bodyOffset,
    body,
    signedBytes: bytes.slice(0, bodyEnd),
    signature,
    attestationKey,
    qeReport,
    qeReportBody: SGX_REPORT_BODY.decode(qeReport),
    qeReportSignature,
    qeAuthData,
    certChain,
    regions: {
      header: { start: 0, end: QUOTE_HEADER_SIZE },
      body: { start: bodyStart, end: bodyEnd },
      signature: { start: sigStart, end: qeStart },
      'qe-report': { start: qeStart, end: certStart },
      certificates: { start: certStart, end: c.offset },
    },
  };
}

function readCertHeader(c: Cursor, region: QuoteRegion, what: string): { type: number; size: number; at: number } {
  const at = c.offset;
  c.need(region, CERTIFICATION_DATA_HEADER_SIZE, `the ${what} header`);
  const type = c.u16(region, `the ${what} type`);
  const size = c.u32(region, `the ${what} size`);
  return { type, size, at };
}

/** What the quote signature covers: the header and the body (and, in v5, the body descriptor). */
export interface SignedPartValues {
  readonly version: QuoteVersionNumber;
  /** v5 only (v4 always carries TD10). */
  readonly bodyType: QuoteBodyTypeNumber;
  /** Header fields; `version` is taken from above. */
  readonly header: LayoutValues<typeof QUOTE_HEADER.fields>;
  /** The encoded TD report body (584 or 648 bytes). */
  readonly body: Uint8Array;
}

/** Header, descriptor (v5) and body: the bytes the quote signature covers. */
export function encodeSignedPart(parts: SignedPartValues): Uint8Array {
  const bodyType = parts.version === QuoteVersion.V4 ? QuoteBodyType.TD_REPORT10 : parts.bodyType;
  if (parts.body.length !== bodySize(bodyType)) {
    throw new RangeError(`quote body is ${parts.body.length} bytes; body type ${bodyType} is ${bodySize(bodyType)}`);
  }
  const descriptor = parts.version === QuoteVersion.V5
    ? QUOTE_BODY_DESCRIPTOR.encode({ body_type: bodyType, body_size: parts.body.length })
    : new Uint8Array(0);
  return concat(QUOTE_HEADER.encode({ ...parts.header, version: parts.version }), descriptor, parts.body);
}

/** What follows the signed part; `encodeQuote` lays it out. */
export interface QuoteParts {
  /** From encodeSignedPart. */
  readonly signedPart: Uint8Array;
  readonly signature: Uint8Array;
  readonly attestationKey: Uint8Array;
  readonly qeReport: Uint8Array;
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
  readonly certChain: Uint8Array;
}

/** Lay out a whole quote. Sizes the ABI fixes are checked; they are the caller's to get right. */
export function encodeQuote(parts: QuoteParts): Uint8Array {
  const fixed: Array<[string, Uint8Array, number]> = [
    ['signature', parts.signature, ECDSA_P256_SIGNATURE_SIZE],
    ['attestationKey', parts.attestationKey, ECDSA_P256_PUBLIC_KEY_SIZE],
    ['qeReport', parts.qeReport, SGX_REPORT_BODY_SIZE],
    ['qeReportSignature', parts.qeReportSignature, ECDSA_P256_SIGNATURE_SIZE],
  ];
  for (const [name, v, size] of fixed) if (v.length !== size) throw new RangeError(`quote ${name} is ${v.length} bytes, not ${size}`);
  if (parts.qeAuthData.length >= 2 ** (8 * QE_AUTH_DATA_LEN_SIZE)) throw new RangeError('QE authentication data does not fit its u16 size');
  const authLen = new Uint8Array(QE_AUTH_DATA_LEN_SIZE);
  new DataView(authLen.buffer).setUint16(0, parts.qeAuthData.length, true);
  const inner = concat(
    CERTIFICATION_DATA_HEADER.encode({ cert_type: CertificationDataType.PCK_CERT_CHAIN, size: parts.certChain.length }),
    parts.certChain,
  );
  const qeCertData = concat(parts.qeReport, parts.qeReportSignature, authLen, parts.qeAuthData, inner);
  const sigData = concat(
    parts.signature,
    parts.attestationKey,
    CERTIFICATION_DATA_HEADER.encode({ cert_type: CertificationDataType.QE_REPORT_CERTIFICATION_DATA, size: qeCertData.length }),
    qeCertData,
  );
  const sigLen = new Uint8Array(QUOTE_SIGNATURE_DATA_LEN_SIZE);
  new DataView(sigLen.buffer).setUint32(0, sigData.length, true);
  return concat(parts.signedPart, sigLen, sigData);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
