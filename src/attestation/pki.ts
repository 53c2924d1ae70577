/**
 * The simulated Intel SGX/TDX provisioning PKI: the certificates a DCAP verifier walks from a
 * quote (and from the collateral) up to a trusted root.
 *
 *   Root CA (self-signed)
 *   ├── PCK Platform CA ── PCK certificate (leaf; carries the SGX extension; signs QE reports)
 *   └── TCB Signing certificate (leaf; signs TCB Info and QE Identity)
 *
 * This mirrors Intel's hierarchy (Intel SGX Root CA → Intel SGX PCK Platform CA → PCK
 * certificate; Intel SGX Root CA → Intel SGX TCB Signing). All keys are ECDSA P-256 and all
 * signatures ECDSA with SHA-256, as Intel's are. Every subject and issuer name says plainly that
 * the certificate is simulated and not Intel's, and the CRL distribution points are under the
 * reserved `.invalid` domain, so nothing here can be mistaken for, or resolved as, Intel's PKI.
 *
 * The PKI is generated fresh (random keys, random serial numbers) or loaded from a directory
 * where `savePki` left it, so that quotes from several runs chain to one root. CRLs are not part
 * of the PKI: they are issued with the collateral (collateral.ts), at the time it is built.
 *
 * Certificates and CRLs are made with @peculiar/x509 over node:crypto's WebCrypto.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import { SgxExtensionOid } from '../abi/pck-cert.ts';
import { decodeSgxExtension, encodeSgxExtension } from './pck-extension.ts';
import type { PlatformTcb } from './tcb.ts';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  CRLDistributionPointsExtension,
  Extension,
  KeyUsageFlags,
  KeyUsagesExtension,
  PemConverter,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
  X509CrlGenerator,
  type X509Crl,
} from './x509.ts';

/** Key generation: ECDSA on P-256. */
export const PKI_KEY_ALGORITHM = Object.freeze({ name: 'ECDSA', namedCurve: 'P-256' });
/** Signatures: ECDSA with SHA-256 (ecdsa-with-SHA256). */
export const PKI_SIGNING_ALGORITHM = Object.freeze({ name: 'ECDSA', hash: 'SHA-256' });

/** Subject names. Each says what it is, that it is simulated, and that it is not Intel's. */
export const PkiName = Object.freeze({
  ROOT_CA: 'CN=tdxsim SIMULATED SGX Root CA — not Intel, O=tdxsim simulator — not Intel Corporation',
  PLATFORM_CA: 'CN=tdxsim SIMULATED SGX PCK Platform CA — not Intel, O=tdxsim simulator — not Intel Corporation',
  PCK: 'CN=tdxsim SIMULATED SGX PCK Certificate — not Intel, O=tdxsim simulator — not Intel Corporation',
  TCB_SIGNING: 'CN=tdxsim SIMULATED SGX TCB Signing — not Intel, O=tdxsim simulator — not Intel Corporation',
} as const);

/** Where the CRLs would be published (never resolvable: `.invalid` is reserved, RFC 2606). */
export const CrlDistributionPoint = Object.freeze({
  ROOT_CA: 'https://tdxsim.invalid/sgx/certification/v4/rootcacrl',
  PLATFORM_CA: 'https://tdxsim.invalid/sgx/certification/v4/pckcrl?ca=platform',
} as const);

/** A certificate and the key pair it certifies. */
export interface CertifiedKey {
  readonly certificate: X509Certificate;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
}

export interface SimulatedPki {
  readonly rootCa: CertifiedKey;
  readonly platformCa: CertifiedKey;
  readonly pck: CertifiedKey;
  readonly tcbSigning: CertifiedKey;
  /** The platform the PCK certificate is issued for (as its SGX extension states). */
  readonly platform: PlatformTcb;
}

export interface PkiOptions {
  /** Start of every certificate's validity. Default: one day before now. */
  readonly notBefore?: Date;
  /** Validity in years of every certificate. Default 10. */
  readonly validityYears?: number;
}

/** Thrown when a PKI directory is incomplete or inconsistent; the message names the file. */
export class PkiLoadError extends Error {
  override readonly name = 'PkiLoadError';
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Generate a fresh PKI whose PCK certificate states `platform`. */
export async function createSimulatedPki(platform: PlatformTcb, options: PkiOptions = {}): Promise<SimulatedPki> {
  const notBefore = options.notBefore ?? new Date(Date.now() - DAY_MS);
  const notAfter = new Date(notBefore);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + (options.validityYears ?? 10));
  const validity = { notBefore, notAfter };

  const rootKeys = await generateKeyPair();
  const rootCert = await X509CertificateGenerator.createSelfSigned({
    name: PkiName.ROOT_CA,
    keys: rootKeys,
    signingAlgorithm: PKI_SIGNING_ALGORITHM,
    ...validity,
    extensions: [
      new BasicConstraintsExtension(true, 1, true),
      new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
      await SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
      await AuthorityKeyIdentifierExtension.create(rootKeys.publicKey),
      new CRLDistributionPointsExtension([CrlDistributionPoint.ROOT_CA]),
    ],
  });
  const rootCa: CertifiedKey = { certificate: rootCert, privateKey: rootKeys.privateKey, publicKey: rootKeys.publicKey };

  const platformCa = await issue(rootCa, PkiName.PLATFORM_CA, validity, CrlDistributionPoint.ROOT_CA, [
    new BasicConstraintsExtension(true, 0, true),
    new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
  ]);
  const pck = await issue(platformCa, PkiName.PCK, validity, CrlDistributionPoint.PLATFORM_CA, [
    new BasicConstraintsExtension(false, undefined, true),
    new KeyUsagesExtension(KeyUsageFlags.digitalSignature | KeyUsageFlags.nonRepudiation, true),
    new Extension(SgxExtensionOid.SGX_EXTENSION, false, encodeSgxExtension(platform)),
  ]);
  const tcbSigning = await issue(rootCa, PkiName.TCB_SIGNING, validity, CrlDistributionPoint.ROOT_CA, [
    new BasicConstraintsExtension(false, undefined, true),
    new KeyUsagesExtension(KeyUsageFlags.digitalSignature | KeyUsageFlags.nonRepudiation, true),
  ]);
  return { rootCa, platformCa, pck, tcbSigning, platform };
}

async function generateKeyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(PKI_KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** Issue a certificate for a fresh key, signed by `issuer`. */
async function issue(
  issuer: CertifiedKey,
  subject: string,
  validity: { notBefore: Date; notAfter: Date },
  crlDistributionPoint: string,
  extensions: Extension[],
): Promise<CertifiedKey> {
  const keys = await generateKeyPair();
  const certificate = await X509CertificateGenerator.create({
    subject,
    issuer: issuer.certificate.subjectName,
    publicKey: keys.publicKey,
    signingKey: issuer.privateKey,
    signingAlgorithm: PKI_SIGNING_ALGORITHM,
    ...validity,
    extensions: [
      ...extensions,
      await SubjectKeyIdentifierExtension.create(keys.publicKey),
      await AuthorityKeyIdentifierExtension.create(issuer.publicKey),
      new CRLDistributionPointsExtension([crlDistributionPoint]),
    ],
  });
  return { certificate, privateKey: keys.privateKey, publicKey: keys.publicKey };
}

/** A CRL signed by `issuer`, listing the certificates (by hex serial number) it revokes. */
export async function issueCrl(
  issuer: CertifiedKey,
  options: { thisUpdate: Date; nextUpdate: Date; revokedSerials?: readonly string[] },
): Promise<X509Crl> {
  return X509CrlGenerator.create({
    issuer: issuer.certificate.subjectName,
    thisUpdate: options.thisUpdate,
    nextUpdate: options.nextUpdate,
    signingKey: issuer.privateKey,
    signingAlgorithm: PKI_SIGNING_ALGORITHM,
    entries: (options.revokedSerials ?? []).map((serialNumber) => ({ serialNumber, revocationDate: options.thisUpdate })),
    extensions: [await AuthorityKeyIdentifierExtension.create(issuer.publicKey)],
  });
}

/** PEM of several certificates, one after the other. */
export function pemChain(...certificates: X509Certificate[]): string {
  return certificates.map((c) => c.toString('pem')).join('\n') + '\n';
}

/** The certification chain a quote carries (type 5): PCK leaf, Platform CA, root CA. */
export function pckCertChainPem(pki: SimulatedPki): string {
  return pemChain(pki.pck.certificate, pki.platformCa.certificate, pki.rootCa.certificate);
}

/** The issuer chain of TCB Info and QE Identity: TCB Signing, root CA. */
export function tcbSigningChainPem(pki: SimulatedPki): string {
  return pemChain(pki.tcbSigning.certificate, pki.rootCa.certificate);
}

/** The issuer chain of the PCK CRL: Platform CA, root CA. */
export function pckCrlIssuerChainPem(pki: SimulatedPki): string {
  return pemChain(pki.platformCa.certificate, pki.rootCa.certificate);
}

// ---------------------------------------------------------------------------------------------
// Persistence: one certificate PEM and one PKCS #8 private key PEM per certified key.

const PKI_FILES = Object.freeze({
  rootCa: 'root-ca',
  platformCa: 'platform-ca',
  pck: 'pck',
  tcbSigning: 'tcb-signing',
} as const);

type PkiKeyName = keyof typeof PKI_FILES;

/**
 * Write the PKI to `dir` (created if needed): `<name>.pem` (certificate) and `<name>.key.pem`
 * (private key, PKCS #8) for root-ca, platform-ca, pck and tcb-signing. The private keys are
 * simulated and worthless outside tdxsim, but they are private keys: the files are mode 0600.
 */
export async function savePki(pki: SimulatedPki, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const name of Object.keys(PKI_FILES) as PkiKeyName[]) {
    const key = pki[name];
    const base = join(dir, PKI_FILES[name]);
    await writeFile(`${base}.pem`, key.certificate.toString('pem') + '\n');
    const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key.privateKey);
    await writeFile(`${base}.key.pem`, PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n', { mode: 0o600 });
  }
}

/**
 * Load a PKI that `savePki` wrote. The platform is read back from the PCK certificate's SGX
 * extension, so the certificate stays the one source of truth. Throws PkiLoadError naming the
 * file that is missing, unreadable or does not match its key.
 */
export async function loadPki(dir: string): Promise<SimulatedPki> {
  const loaded: Partial<Record<PkiKeyName, CertifiedKey>> = {};
  for (const name of Object.keys(PKI_FILES) as PkiKeyName[]) loaded[name] = await loadCertifiedKey(join(dir, PKI_FILES[name]));
  const { rootCa, platformCa, pck, tcbSigning } = loaded as Record<PkiKeyName, CertifiedKey>;
  const ext = pck.certificate.getExtension(SgxExtensionOid.SGX_EXTENSION);
  if (!ext) throw new PkiLoadError(`${join(dir, PKI_FILES.pck)}.pem: the PCK certificate has no SGX extension`);
  let values;
  try {
    values = decodeSgxExtension(ext.value);
  } catch (err) {
    throw new PkiLoadError(`${join(dir, PKI_FILES.pck)}.pem: the SGX extension is malformed: ${(err as Error).message}`);
  }
  const platform: PlatformTcb = {
    cpuSvn: values.cpuSvn,
    pceSvn: values.pceSvn,
    pceId: values.pceId,
    fmspc: values.fmspc,
    ppid: values.ppid,
    platformInstanceId: values.platformInstanceId ?? new Uint8Array(values.ppid.length),
    sgxType: values.sgxType,
  };
  return { rootCa, platformCa, pck, tcbSigning, platform };
}

async function loadCertifiedKey(base: string): Promise<CertifiedKey> {
  const read = async (file: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw new PkiLoadError(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
  };
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(await read(`${base}.pem`));
  } catch (err) {
    if (err instanceof PkiLoadError) throw err;
    throw new PkiLoadError(`${base}.pem: not a PEM certificate (${(err as Error).message})`);
  }
  let privateKey: CryptoKey;
  try {
    privateKey = await webcrypto.subtle.importKey('pkcs8', PemConverter.decodeFirst(await read(`${base}.key.pem`)), PKI_KEY_ALGORITHM, true, ['sign']);
  } catch (err) {
    if (err instanceof PkiLoadError) throw err;
    throw new PkiLoadError(`${base}.key.pem: not a PKCS #8 P-256 private key (${(err as Error).message})`);
  }
  const publicKey = await certificate.publicKey.export(PKI_KEY_ALGORITHM, ['verify']);
  // The key file must belong to the certificate: sign a probe and check it with the certificate.
  const probe = new TextEncoder().encode('tdxsim PKI key check');
  const sig = await webcrypto.subtle.sign(PKI_SIGNING_ALGORITHM, privateKey, probe);
  if (!(await webcrypto.subtle.verify(PKI_SIGNING_ALGORITHM, publicKey, sig, probe))) {
    throw new PkiLoadError(`${base}.key.pem: the private key does not belong to the certificate in ${base}.pem`);
  }
  return { certificate, privateKey, publicKey };
}
