/**
 * Simulated DCAP verification collateral: what a verifier fetches from Intel's PCS (or a PCCS) to
 * judge a quote, here made and signed by the simulated PKI.
 *
 *   TCB Info (TDX, v3)     the platform's TCB levels: SGX components + PCESVN (matched against the
 *                          PCK certificate) and TDX components (matched against the quote's
 *                          TEE_TCB_SVN), the TDX module identity (MRSIGNERSEAM, SEAM attributes,
 *                          module SVN levels); signed by the TCB Signing key
 *   QE Identity (TD_QE)    the QE's MRSIGNER, ISVPRODID, attributes, MISCSELECT and SVN levels;
 *                          signed by the TCB Signing key
 *   CRLs                   root CA CRL (signed by the root) and PCK CRL (signed by the Platform CA)
 *   issuer chains          PEM chains from each signer to the root
 *
 * The in-memory form is exactly the object `@phala/dcap-qvl` takes (`Collateral` in its typings,
 * binary values as hex strings), so the same collateral feeds both verifiers. Formats and field
 * names: abi/dcap-collateral.ts (Intel PCS API v4).
 *
 * The levels are made from the simulated TCB (tcb.ts): one `UpToDate` level at exactly the
 * platform's values and, where it differs, one `OutOfDate` level at zero, so a quote from a
 * platform that reports older SVNs is rated `OutOfDate` rather than rejected.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyObject, sign } from 'node:crypto';
import {
  TCB_TYPE_COMPONENT_WISE,
  TD_QE_ATTRIBUTES_MASK_HEX,
  TD_QE_IDENTITY_ID,
  TD_QE_IDENTITY_VERSION,
  TD_QE_MISCSELECT_MASK_HEX,
  TDX_MODULE_ATTRIBUTES_MASK_HEX,
  TDX_TCB_INFO_ID,
  TDX_TCB_INFO_VERSION,
  TEE_TCB_SVN_MODULE_SVN_INDEX,
  TEE_TCB_SVN_MODULE_VERSION_INDEX,
  tdxModuleIdentityId,
  type TcbStatus,
} from '../abi/dcap-collateral.ts';
import { SGX_ATTRIBUTES } from '../abi/quote.ts';
import { toCertificate } from './cert-chain.ts';
import { issueCrl, pckCrlIssuerChainPem, tcbSigningChainPem, type SimulatedPki } from './pki.ts';
import type { QeTcb, SimulatedTcb, TdxModuleTcb } from './tcb.ts';

/** Verification collateral, in `@phala/dcap-qvl`'s shape (hex strings for binary values). */
export interface Collateral {
  readonly pck_crl_issuer_chain: string;
  /** DER of the root CA CRL, hex. */
  readonly root_ca_crl: string;
  /** DER of the PCK (Platform CA) CRL, hex. */
  readonly pck_crl: string;
  readonly tcb_info_issuer_chain: string;
  /** The exact JSON text of `tcbInfo` the signature covers. */
  readonly tcb_info: string;
  /** ECDSA r‖s over `tcb_info`, hex. */
  readonly tcb_info_signature: string;
  readonly qe_identity_issuer_chain: string;
  /** The exact JSON text of `enclaveIdentity` the signature covers. */
  readonly qe_identity: string;
  readonly qe_identity_signature: string;
}

/** Collateral and the trust anchor it (and the quotes) chain to. */
export interface CollateralBundle {
  readonly collateral: Collateral;
  /** The simulated root CA certificate, PEM: what a verifier must be told to trust. */
  readonly rootCaPem: string;
}

export interface CollateralOptions {
  /** Issue date of everything. Default: now. */
  readonly now?: Date;
  /** Days until nextUpdate of TCB Info, QE Identity and CRLs. Default 30. */
  readonly validityDays?: number;
  /** `tcbEvaluationDataNumber` of TCB Info and QE Identity. Default 17. */
  readonly tcbEvaluationDataNumber?: number;
  /** Certificates to list as revoked (for testing verifiers). */
  readonly revoke?: { readonly pck?: boolean; readonly platformCa?: boolean; readonly tcbSigning?: boolean };
}

const DAY_MS = 24 * 60 * 60 * 1000;
const DEFAULT_VALIDITY_DAYS = 30;
const DEFAULT_TCB_EVALUATION_DATA_NUMBER = 17;

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const upperHex = (bytes: Uint8Array): string => hex(bytes).toUpperCase();
/** Intel's date format: ISO 8601 in UTC, whole seconds. */
const pcsDate = (d: Date): string => `${d.toISOString().slice(0, 19)}Z`;

/** One TCB level of a TDX TCB Info. */
function tcbLevel(cpuSvn: ArrayLike<number>, pceSvn: number, teeTcbSvn: ArrayLike<number>, tcbDate: string, tcbStatus: TcbStatus) {
  return {
    tcb: {
      sgxtcbcomponents: Array.from(cpuSvn, (svn) => ({ svn })),
      pcesvn: pceSvn,
      tdxtcbcomponents: Array.from(teeTcbSvn, (svn) => ({ svn })),
    },
    tcbDate,
    tcbStatus,
  };
}

/** The TDX TCB Info object (Intel PCS v4, version 3) for the simulated platform. */
export function tcbInfoObject(tcb: SimulatedTcb, issueDate: Date, nextUpdate: Date, tcbEvaluationDataNumber: number) {
  const { platform, tdxModule } = tcb;
  const upToDate = tcbLevel(platform.cpuSvn, platform.pceSvn, tdxModule.teeTcbSvn, pcsDate(issueDate), 'UpToDate');
  const floor = tcbLevel(new Uint8Array(platform.cpuSvn.length), 0, new Uint8Array(tdxModule.teeTcbSvn.length), pcsDate(new Date(issueDate.getTime() - 365 * DAY_MS)), 'OutOfDate');
  const levels = JSON.stringify(upToDate.tcb) === JSON.stringify(floor.tcb) ? [upToDate] : [upToDate, floor];
  const attributes = u64Hex(tdxModule.seamAttributes);
  const majorVersion = tdxModule.teeTcbSvn[TEE_TCB_SVN_MODULE_VERSION_INDEX] ?? 0;
  const moduleSvn = tdxModule.teeTcbSvn[TEE_TCB_SVN_MODULE_SVN_INDEX] ?? 0;
  return {
    id: TDX_TCB_INFO_ID,
    version: TDX_TCB_INFO_VERSION,
    issueDate: pcsDate(issueDate),
    nextUpdate: pcsDate(nextUpdate),
    fmspc: upperHex(platform.fmspc),
    pceId: upperHex(platform.pceId),
    tcbType: TCB_TYPE_COMPONENT_WISE,
    tcbEvaluationDataNumber,
    tdxModule: { mrsigner: upperHex(tdxModule.mrSignerSeam), attributes, attributesMask: TDX_MODULE_ATTRIBUTES_MASK_HEX },
    // One identity per module major version; only modules that report a major version use it.
    tdxModuleIdentities: majorVersion === 0 ? [] : [moduleIdentity(tdxModule, majorVersion, moduleSvn, issueDate)],
    tcbLevels: levels,
  };
}

function moduleIdentity(tdxModule: TdxModuleTcb, majorVersion: number, moduleSvn: number, issueDate: Date) {
  const levels: Array<{ tcb: { isvsvn: number }; tcbDate: string; tcbStatus: TcbStatus }> = [
    { tcb: { isvsvn: moduleSvn }, tcbDate: pcsDate(issueDate), tcbStatus: 'UpToDate' },
  ];
  if (moduleSvn > 0) levels.push({ tcb: { isvsvn: 0 }, tcbDate: pcsDate(new Date(issueDate.getTime() - 365 * DAY_MS)), tcbStatus: 'OutOfDate' });
  return {
    id: tdxModuleIdentityId(majorVersion),
    mrsigner: upperHex(tdxModule.mrSignerSeam),
    attributes: u64Hex(tdxModule.seamAttributes),
    attributesMask: TDX_MODULE_ATTRIBUTES_MASK_HEX,
    tcbLevels: levels,
  };
}

/** A u64 as its 8 little-endian bytes in hex: the byte order the report and TCB Info use. */
function u64Hex(value: bigint): string {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, value, true);
  return upperHex(b);
}

/** The TD QE identity object (Intel PCS v4, `enclaveIdentity`, version 2). */
export function qeIdentityObject(qe: QeTcb, issueDate: Date, nextUpdate: Date, tcbEvaluationDataNumber: number) {
  const misc = new Uint8Array(4);
  new DataView(misc.buffer).setUint32(0, qe.miscSelect, true);
  const attributes = SGX_ATTRIBUTES.encode({ flags: qe.attributesFlags, xfrm: qe.attributesXfrm });
  const levels: Array<{ tcb: { isvsvn: number }; tcbDate: string; tcbStatus: TcbStatus }> = [
    { tcb: { isvsvn: qe.isvSvn }, tcbDate: pcsDate(issueDate), tcbStatus: 'UpToDate' },
  ];
  if (qe.isvSvn > 0) levels.push({ tcb: { isvsvn: 0 }, tcbDate: pcsDate(new Date(issueDate.getTime() - 365 * DAY_MS)), tcbStatus: 'OutOfDate' });
  return {
    id: TD_QE_IDENTITY_ID,
    version: TD_QE_IDENTITY_VERSION,
    issueDate: pcsDate(issueDate),
    nextUpdate: pcsDate(nextUpdate),
    tcbEvaluationDataNumber,
    miscselect: upperHex(misc),
    miscselectMask: TD_QE_MISCSELECT_MASK_HEX,
    attributes: upperHex(attributes),
    attributesMask: TD_QE_ATTRIBUTES_MASK_HEX,
    mrsigner: upperHex(qe.mrSigner),
    isvprodid: qe.isvProdId,
    tcbLevels: levels,
  };
}

/** ECDSA P-256 / SHA-256 over the UTF-8 text, as hex r‖s (how PCS signs TCB Info and QE Identity). */
function signText(key: KeyObject, text: string): string {
  return hex(sign('sha256', Buffer.from(text, 'utf8'), { key, dsaEncoding: 'ieee-p1363' }));
}

/** Make and sign the collateral for `pki` and `tcb`. */
export async function buildCollateral(pki: SimulatedPki, tcb: SimulatedTcb, options: CollateralOptions = {}): Promise<CollateralBundle> {
  const now = options.now ?? new Date();
  const nextUpdate = new Date(now.getTime() + (options.validityDays ?? DEFAULT_VALIDITY_DAYS) * DAY_MS);
  const evaluation = options.tcbEvaluationDataNumber ?? DEFAULT_TCB_EVALUATION_DATA_NUMBER;
  const tcbSigningKey = KeyObject.from(pki.tcbSigning.privateKey);
  const tcbInfo = JSON.stringify(tcbInfoObject({ ...tcb, platform: pki.platform }, now, nextUpdate, evaluation));
  const qeIdentity = JSON.stringify(qeIdentityObject(tcb.qe, now, nextUpdate, evaluation));
  const revoke = options.revoke ?? {};
  const rootRevoked = [
    ...(revoke.platformCa ? [pki.platformCa.certificate.serialNumber] : []),
    ...(revoke.tcbSigning ? [pki.tcbSigning.certificate.serialNumber] : []),
  ];
  const rootCrl = await issueCrl(pki.rootCa, { thisUpdate: now, nextUpdate, revokedSerials: rootRevoked });
  const pckCrl = await issueCrl(pki.platformCa, { thisUpdate: now, nextUpdate, revokedSerials: revoke.pck ? [pki.pck.certificate.serialNumber] : [] });
  return {
    collateral: {
      pck_crl_issuer_chain: pckCrlIssuerChainPem(pki),
      root_ca_crl: hex(new Uint8Array(rootCrl.rawData)),
      pck_crl: hex(new Uint8Array(pckCrl.rawData)),
      tcb_info_issuer_chain: tcbSigningChainPem(pki),
      tcb_info: tcbInfo,
      tcb_info_signature: signText(tcbSigningKey, tcbInfo),
      qe_identity_issuer_chain: tcbSigningChainPem(pki),
      qe_identity: qeIdentity,
      qe_identity_signature: signText(tcbSigningKey, qeIdentity),
    },
    rootCaPem: pki.rootCa.certificate.toString('pem') + '\n',
  };
}

// ---------------------------------------------------------------------------------------------
// A collateral directory, laid out like the PCS responses it stands for.

/** File names in a collateral directory. */
export const CollateralFile = Object.freeze({
  ROOT_CA: 'root-ca.pem',
  TCB_INFO: 'tcb-info.json',
  TCB_INFO_ISSUER_CHAIN: 'tcb-info-issuer-chain.pem',
  QE_IDENTITY: 'qe-identity.json',
  QE_IDENTITY_ISSUER_CHAIN: 'qe-identity-issuer-chain.pem',
  ROOT_CA_CRL: 'root-ca-crl.der',
  PCK_CRL: 'pck-crl.der',
  PCK_CRL_ISSUER_CHAIN: 'pck-crl-issuer-chain.pem',
  README: 'README.txt',
} as const);

const README = `tdxsim SIMULATED DCAP collateral - NOT Intel's.

Every certificate, CRL and signature here comes from tdxsim's simulated PKI. It verifies
quotes made by tdxsim's simulated quoting service, and nothing else. Do not trust it for
real TDX platforms.

  root-ca.pem                    the simulated root CA: the trust anchor to give a verifier
  tcb-info.json                  {"tcbInfo":{...},"signature":"<hex>"}   (PCS: /tdx/certification/v4/tcb)
  tcb-info-issuer-chain.pem      TCB Signing certificate, root CA
  qe-identity.json               {"enclaveIdentity":{...},"signature":"<hex>"}   (PCS: /tdx/certification/v4/qe/identity)
  qe-identity-issuer-chain.pem   TCB Signing certificate, root CA
  root-ca-crl.der                CRL of the root CA
  pck-crl.der                    CRL of the PCK Platform CA
  pck-crl-issuer-chain.pem       Platform CA certificate, root CA
`;

/** Thrown when a collateral directory is incomplete or malformed; the message names the file. */
export class CollateralLoadError extends Error {
  override readonly name = 'CollateralLoadError';
}

/** Write `bundle` to `dir` (created if needed), one file per PCS response. */
export async function writeCollateral(dir: string, bundle: CollateralBundle): Promise<void> {
  const c = bundle.collateral;
  await mkdir(dir, { recursive: true });
  const files: Array<[string, string | Uint8Array]> = [
    [CollateralFile.ROOT_CA, bundle.rootCaPem],
    [CollateralFile.TCB_INFO, `{"tcbInfo":${c.tcb_info},"signature":"${c.tcb_info_signature}"}\n`],
    [CollateralFile.TCB_INFO_ISSUER_CHAIN, c.tcb_info_issuer_chain],
    [CollateralFile.QE_IDENTITY, `{"enclaveIdentity":${c.qe_identity},"signature":"${c.qe_identity_signature}"}\n`],
    [CollateralFile.QE_IDENTITY_ISSUER_CHAIN, c.qe_identity_issuer_chain],
    [CollateralFile.ROOT_CA_CRL, Buffer.from(c.root_ca_crl, 'hex')],
    [CollateralFile.PCK_CRL, Buffer.from(c.pck_crl, 'hex')],
    [CollateralFile.PCK_CRL_ISSUER_CHAIN, c.pck_crl_issuer_chain],
    [CollateralFile.README, README],
  ];
  for (const [name, data] of files) await writeFile(join(dir, name), data);
}

/**
 * Read a collateral directory back. The signed JSON texts are recovered exactly as
 * `writeCollateral` embedded them (compact JSON re-serialises to the same bytes). Throws
 * CollateralLoadError naming the file that is missing or malformed.
 */
export async function loadCollateral(dir: string): Promise<CollateralBundle> {
  const read = async (name: string): Promise<Buffer> => {
    const file = join(dir, name);
    try {
      return await readFile(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new CollateralLoadError(`${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`);
    }
  };
  const pem = async (name: string): Promise<string> => {
    const text = (await read(name)).toString('utf8');
    if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new CollateralLoadError(`${join(dir, name)}: no PEM certificate in it`);
    return text;
  };
  const rootCaPem = await pem(CollateralFile.ROOT_CA);
  try {
    toCertificate(rootCaPem);
  } catch (err) {
    throw new CollateralLoadError(`${join(dir, CollateralFile.ROOT_CA)}: not a valid certificate (${(err as Error).message})`);
  }
  const signedJson = async (name: string, member: string): Promise<{ text: string; signature: string }> => {
    const file = join(dir, name);
    let parsed: unknown;
    try {
      parsed = JSON.parse((await read(name)).toString('utf8'));
    } catch (err) {
      if (err instanceof CollateralLoadError) throw err;
      throw new CollateralLoadError(`${file}: not JSON (${(err as Error).message})`);
    }
    const obj = parsed as Record<string, unknown> | null;
    if (typeof obj !== 'object' || obj === null || typeof obj[member] !== 'object' || obj[member] === null) {
      throw new CollateralLoadError(`${file}: expected {"${member}":{…},"signature":"<hex>"}`);
    }
    if (typeof obj.signature !== 'string' || !/^[0-9a-fA-F]{128}$/.test(obj.signature)) {
      throw new CollateralLoadError(`${file}: "signature" must be 128 hex digits (ECDSA P-256 r‖s)`);
    }
    return { text: JSON.stringify(obj[member]), signature: obj.signature.toLowerCase() };
  };
  const tcbInfo = await signedJson(CollateralFile.TCB_INFO, 'tcbInfo');
  const qeIdentity = await signedJson(CollateralFile.QE_IDENTITY, 'enclaveIdentity');
  return {
    rootCaPem,
    collateral: {
      pck_crl_issuer_chain: await pem(CollateralFile.PCK_CRL_ISSUER_CHAIN),
      root_ca_crl: (await read(CollateralFile.ROOT_CA_CRL)).toString('hex'),
      pck_crl: (await read(CollateralFile.PCK_CRL)).toString('hex'),
      tcb_info_issuer_chain: await pem(CollateralFile.TCB_INFO_ISSUER_CHAIN),
      tcb_info: tcbInfo.text,
      tcb_info_signature: tcbInfo.signature,
      qe_identity_issuer_chain: await pem(CollateralFile.QE_IDENTITY_ISSUER_CHAIN),
      qe_identity: qeIdentity.text,
      qe_identity_signature: qeIdentity.signature,
    },
  };
}
