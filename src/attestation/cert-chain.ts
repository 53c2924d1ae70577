/**
 * X.509 path checks for DCAP verification: a PEM chain (leaf first) up to a trusted root, and a
 * CRL from its issuer. Everything checked comes from outside the verifier (the quote, the
 * collateral), so nothing here throws for bad input: each function returns what it found wrong,
 * in words a user can act on.
 *
 * A chain is accepted when, for every certificate: its issuer name is the next certificate's
 * subject, its signature verifies with the next certificate's key, the next certificate is a CA,
 * and `now` lies in its validity period; the leaf is not a CA; and the chain ends at the trusted
 * root (the root's exact bytes, or a certificate the root signed). This is the RFC 5280 path
 * validation a DCAP verifier does, without policy or name-constraint processing (Intel's PKI uses
 * neither).
 */
import { X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import { BasicConstraintsExtension, X509Certificate, X509Crl } from './x509.ts';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Parse every PEM certificate in `text`, in order. Between and after the certificates only line
 * breaks and NUL padding may appear (Intel's QE NUL-terminates the chain). Each certificate
 * must be canonical: base64, broken into lines only, that re-encodes to itself (so no character
 * is ignored or carries unused bits), and DER that OpenSSL accepts as well as the ASN.1 parser.
 * Being this strict means no byte of a chain can change without the verifier noticing. Throws with the index of
 * a bad certificate, or says there is stray text.
 */
export function parsePemCertificates(text: string): X509Certificate[] {
  const stray = text.replace(PEM_CERTIFICATE, '').search(/[^\r\n\0]/);
  if (stray >= 0) throw new Error('the chain holds text that is not a PEM certificate');
  return [...text.matchAll(PEM_CERTIFICATE)].map((m, i) => {
    const base64 = m[0].replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/[\r\n]+/g, '');
    const der = Buffer.from(base64, 'base64');
    if (der.toString('base64') !== base64) throw new Error(`certificate ${i + 1} of the chain is not canonical base64`);
    const cached = parsed.get(base64);
    if (cached) return cached.cert;
    let cert: X509Certificate;
    let openssl: NodeX509Certificate;
    try {
      cert = new X509Certificate(new Uint8Array(der));
      openssl = new NodeX509Certificate(der);
    } catch (err) {
      throw new Error(`certificate ${i + 1} of the chain does not parse: ${(err as Error).message}`);
    }
    if (!openssl.raw.equals(der)) throw new Error(`certificate ${i + 1} of the chain has bytes after its DER encoding`);
    remember(base64, { cert, openssl });
    return cert;
  });
}

/**
 * Certificates already parsed, by their base64 DER. The same few certificates (root, CAs, PCK,
 * TCB signer) recur in every quote and collateral, and parsing — OpenSSL's especially — is most
 * of a verification's cost. A certificate is a function of its bytes, so reuse is safe; the map
 * is bounded so that a stream of distinct certificates cannot grow it without end.
 */
const parsed = new Map<string, { cert: X509Certificate; openssl: NodeX509Certificate }>();
const PARSED_LIMIT = 256;

function remember(base64: string, entry: { cert: X509Certificate; openssl: NodeX509Certificate }): void {
  if (parsed.size >= PARSED_LIMIT) parsed.delete(parsed.keys().next().value!);
  parsed.set(base64, entry);
}

/** OpenSSL's view of a certificate (cached by its DER). */
function opensslOf(cert: X509Certificate): NodeX509Certificate {
  const der = Buffer.from(cert.rawData);
  const base64 = der.toString('base64');
  const hit = parsed.get(base64);
  if (hit) return hit.openssl;
  const openssl = new NodeX509Certificate(der);
  remember(base64, { cert, openssl });
  return openssl;
}

/** Parse a trust anchor given as PEM text, DER bytes or a certificate. */
export function toCertificate(anchor: string | Uint8Array | X509Certificate): X509Certificate {
  if (anchor instanceof X509Certificate) return anchor;
  if (typeof anchor === 'string') {
    const [first] = parsePemCertificates(anchor);
    if (!first) throw new Error('the trusted root CA holds no PEM certificate');
    return first;
  }
  return new X509Certificate(new Uint8Array(anchor));
}

export type ChainResult =
  | { readonly ok: true; readonly certificates: readonly X509Certificate[] }
  | { readonly ok: false; readonly detail: string; readonly certificates: readonly X509Certificate[] };

function isCa(cert: X509Certificate): boolean {
  try {
    return cert.getExtension(BasicConstraintsExtension)?.ca === true;
  } catch {
    return false; // a malformed BasicConstraints extension makes no CA
  }
}

function same(a: X509Certificate, b: X509Certificate): boolean {
  const x = new Uint8Array(a.rawData);
  const y = new Uint8Array(b.rawData);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function validAt(cert: X509Certificate, now: Date): string | undefined {
  if (now < cert.notBefore) return `is not valid before ${cert.notBefore.toISOString()}`;
  if (now > cert.notAfter) return `expired on ${cert.notAfter.toISOString()}`;
  return undefined;
}

const describe = (cert: X509Certificate): string => `"${cert.subject}"`;

/**
 * Check that `certificates` (leaf first) chain to `root` at `now`. The first certificate must be
 * an end entity, unless `firstIsCa` (the issuer chain of a CRL starts with the CRL's CA).
 */
export async function verifyChain(
  certificates: readonly X509Certificate[],
  root: X509Certificate,
  now: Date,
  options: { readonly firstIsCa?: boolean } = {},
): Promise<ChainResult> {
  const fail = (detail: string): ChainResult => ({ ok: false, detail, certificates });
  const leaf = certificates[0];
  if (!leaf) return fail('the chain holds no certificate');
  if (options.firstIsCa ? !isCa(leaf) : isCa(leaf)) {
    return fail(options.firstIsCa ? `${describe(leaf)} signs a CRL but is not a CA` : `the leaf ${describe(leaf)} is a CA certificate; a CA must not sign end-entity data`);
  }
  // Walk up: each certificate must be issued by the next one; the last by the root (or be it).
  const path = same(certificates[certificates.length - 1]!, root) ? certificates : [...certificates, root];
  for (let i = 0; i < path.length; i++) {
    const cert = path[i]!;
    const invalid = validAt(cert, now);
    if (invalid) return fail(`${describe(cert)} ${invalid}`);
    const issuer = path[i + 1] ?? cert; // the root issues itself
    if (cert.issuer !== issuer.subject) {
      return fail(`${describe(cert)} names issuer "${cert.issuer}", but the next certificate is ${describe(issuer)}`);
    }
    if (!isCa(issuer)) return fail(`${describe(issuer)} issues ${describe(cert)} but is not a CA`);
    if (!signedBy(cert, issuer)) {
      const who = same(issuer, root) ? `the trusted root ${describe(root)}` : describe(issuer);
      return fail(`the signature on ${describe(cert)} does not verify with the key of ${who}`);
    }
  }
  return { ok: true, certificates };
}

export type CrlResult =
  | { readonly ok: true; readonly crl: X509Crl }
  | { readonly ok: false; readonly detail: string };

/**
 * CRLs already parsed and checked, by their DER and their issuer's DER: whether the signature
 * verifies is a function of those bytes (dates are checked on every use). Bounded like `parsed`.
 */
const crls = new Map<string, { crl: X509Crl; signed: boolean }>();

/** Parse a CRL (DER) and check it is `issuer`'s, signed by it, and current at `now`. */
export async function verifyCrl(der: Uint8Array, issuer: X509Certificate, now: Date, name: string): Promise<CrlResult> {
  const key = `${Buffer.from(der).toString('base64')}|${Buffer.from(issuer.rawData).toString('base64')}`;
  let entry = crls.get(key);
  if (!entry) {
    let crl: X509Crl;
    try {
      crl = new X509Crl(der);
    } catch (err) {
      return { ok: false, detail: `the ${name} does not parse: ${(err as Error).message}` };
    }
    let signed = false;
    try {
      signed = crl.issuer === issuer.subject && (await crl.verify({ publicKey: issuer }));
    } catch {
      signed = false;
    }
    entry = { crl, signed };
    if (crls.size >= PARSED_LIMIT) crls.delete(crls.keys().next().value!);
    crls.set(key, entry);
  }
  const { crl, signed } = entry;
  if (crl.issuer !== issuer.subject) return { ok: false, detail: `the ${name} is issued by "${crl.issuer}", not by ${describe(issuer)}` };
  if (!signed) return { ok: false, detail: `the signature on the ${name} does not verify with the key of ${describe(issuer)}` };
  if (now < crl.thisUpdate) return { ok: false, detail: `the ${name} is not valid before ${crl.thisUpdate.toISOString()}` };
  if (crl.nextUpdate && now > crl.nextUpdate) return { ok: false, detail: `the ${name} expired on ${crl.nextUpdate.toISOString()}` };
  return { ok: true, crl };
}

/** The certificates of `certificates` that a CRL lists, by subject. */
export function revokedBy(crl: X509Crl, certificates: readonly X509Certificate[]): string[] {
  return certificates.filter((c) => c.issuer === crl.issuer && crl.findRevoked(c) !== null).map((c) => c.subject);
}

/** Signature checks already done, by the two certificates' DER (a pure function of those bytes). */
const signatures = new Map<string, boolean>();

/** True if `issuer`'s key verifies the signature on `cert` (OpenSSL, over the exact TBS bytes). */
function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  const key = `${Buffer.from(cert.rawData).toString('base64')}|${Buffer.from(issuer.rawData).toString('base64')}`;
  const known = signatures.get(key);
  if (known !== undefined) return known;
  let ok: boolean;
  try {
    const issuerKey = publicKeyOf(issuer);
    ok = issuerKey !== undefined && opensslOf(cert).verify(issuerKey);
  } catch {
    ok = false;
  }
  if (signatures.size >= PARSED_LIMIT) signatures.delete(signatures.keys().next().value!);
  signatures.set(key, ok);
  return ok;
}

/**
 * A certificate's public key as a node:crypto KeyObject (for synchronous signature checks), or
 * undefined when OpenSSL cannot read the certificate (stricter than the ASN.1 parser above).
 */
export function publicKeyOf(cert: X509Certificate): KeyObject | undefined {
  try {
    return opensslOf(cert).publicKey;
  } catch {
    return undefined;
  }
}
