/**
 * Rating a quote against the collateral: which TCB level the platform, the TDX module and the QE
 * are at, and whether the QE is the one the QE identity describes.
 *
 * The algorithm is Intel's (SGX-TDX-DCAP-QuoteVerificationLibrary, as re-implemented publicly;
 * abi/dcap-collateral.ts names the sources):
 *   - QE identity: MRSIGNER and ISVPRODID equal, MISCSELECT and ATTRIBUTES equal under their
 *     masks, not a debug enclave; status = the first QE TCB level whose ISVSVN ≤ the report's.
 *   - TDX module: TEE_TCB_SVN[1] is the module's major version. If it is 0 the module is matched
 *     against `tdxModule` (MRSIGNERSEAM, SEAM attributes under the mask) and rates nothing;
 *     otherwise against the identity `TDX_<major>`, whose first level with ISVSVN ≤ TEE_TCB_SVN[0]
 *     gives the module's status.
 *   - Platform: the first TCB level whose SGX components are all ≤ the PCK certificate's CPUSVN
 *     components, whose PCESVN ≤ the certificate's, and whose TDX components are all ≤
 *     TEE_TCB_SVN — from component 2 on when the module has a major version (components 0 and 1
 *     were rated through the module identity), from component 0 otherwise.
 *   - The quote's status is the worst of the three. dcap-qvl does the same except that it
 *     compares all 16 TDX components and ignores the module identities; the collateral this
 *     project makes satisfies both readings.
 *
 * The collateral JSON is untrusted input (a file, a network response): it is checked against a
 * schema before use, and every function returns a verdict rather than throwing.
 */
import { z } from 'zod';
import {
  TCB_COMPONENT_COUNT,
  TCB_STATUSES,
  TD_QE_IDENTITY_ID,
  TDX_TCB_INFO_ID,
  TDX_TCB_INFO_VERSION,
  TEE_TCB_SVN_MODULE_SVN_INDEX,
  TEE_TCB_SVN_MODULE_VERSION_INDEX,
  tdxModuleIdentityId,
  type TcbStatus,
} from '../abi/dcap-collateral.ts';
import { SGX_ATTRIBUTES, SgxAttributeFlag } from '../abi/quote.ts';
import type { SgxExtensionValues } from './pck-extension.ts';
import type { TdReportBody } from './quote-codec.ts';
import type { ParsedQuote } from './quote-codec.ts';

const hexString = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), `${bytes * 2} hex digits`);
const svn = z.number().int().min(0).max(2 ** 16 - 1);
const status = z.enum(TCB_STATUSES);
const date = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO 8601 date');
const components = z.array(z.object({ svn })).length(TCB_COMPONENT_COUNT);

const moduleTcbLevel = z.object({ tcb: z.object({ isvsvn: svn }), tcbDate: date, tcbStatus: status, advisoryIDs: z.array(z.string()).optional() });

const TcbInfoSchema = z.object({
  id: z.literal(TDX_TCB_INFO_ID),
  version: z.literal(TDX_TCB_INFO_VERSION),
  issueDate: date,
  nextUpdate: date,
  fmspc: hexString(6),
  pceId: hexString(2),
  tcbType: z.number().int(),
  tcbEvaluationDataNumber: z.number().int(),
  tdxModule: z.object({ mrsigner: hexString(48), attributes: hexString(8), attributesMask: hexString(8) }),
  tdxModuleIdentities: z
    .array(z.object({ id: z.string(), mrsigner: hexString(48), attributes: hexString(8), attributesMask: hexString(8), tcbLevels: z.array(moduleTcbLevel) }))
    .optional(),
  tcbLevels: z
    .array(
      z.object({
        tcb: z.object({ sgxtcbcomponents: components, pcesvn: svn, tdxtcbcomponents: components }),
        tcbDate: date,
        tcbStatus: status,
        advisoryIDs: z.array(z.string()).optional(),
      }),
    )
    .min(1),
});
export type TcbInfo = z.infer<typeof TcbInfoSchema>;

const QeIdentitySchema = z.object({
  id: z.literal(TD_QE_IDENTITY_ID),
  version: z.union([z.literal(2), z.literal(3)]),
  issueDate: date,
  nextUpdate: date,
  tcbEvaluationDataNumber: z.number().int(),
  miscselect: hexString(4),
  miscselectMask: hexString(4),
  attributes: hexString(16),
  attributesMask: hexString(16),
  mrsigner: hexString(32),
  isvprodid: svn,
  tcbLevels: z.array(moduleTcbLevel).min(1),
});
export type QeIdentity = z.infer<typeof QeIdentitySchema>;

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly detail: string };

function parseJson<T>(text: string, schema: z.ZodType<T>, name: string): Parsed<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, detail: `${name} is not JSON: ${(err as Error).message}` };
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    return { ok: false, detail: `${name} is malformed at ${issue?.path.join('.') || '(top)'}: ${issue?.message ?? 'invalid'}` };
  }
  return { ok: true, value: r.data };
}

export const parseTcbInfo = (text: string): Parsed<TcbInfo> => parseJson(text, TcbInfoSchema, 'TCB Info');
export const parseQeIdentity = (text: string): Parsed<QeIdentity> => parseJson(text, QeIdentitySchema, 'QE Identity');

/** A rating: the status and the advisories that explain it. */
export interface Rating {
  readonly status: TcbStatus;
  readonly advisoryIds: readonly string[];
  readonly detail: string;
}

export type Verdict = ({ readonly ok: true } & Rating) | { readonly ok: false; readonly detail: string };

const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function maskedEqual(actual: Uint8Array, expected: Uint8Array, mask: Uint8Array): boolean {
  return actual.length === expected.length && actual.every((v, i) => (v & mask[i]!) === (expected[i]! & mask[i]!));
}

/** The worse of two statuses (by TCB_STATUSES order), with both advisory lists. */
export function mergeRatings(a: Rating, b: Rating): Rating {
  const worse = TCB_STATUSES.indexOf(b.status) > TCB_STATUSES.indexOf(a.status) ? b : a;
  return { status: worse.status, advisoryIds: [...new Set([...a.advisoryIds, ...b.advisoryIds])], detail: worse.detail };
}

/** Is `date` inside [issueDate, nextUpdate]? */
export function freshness(what: string, issueDate: string, nextUpdate: string, now: Date): string | undefined {
  if (now.getTime() < Date.parse(issueDate)) return `${what} is issued in the future (${issueDate})`;
  if (now.getTime() > Date.parse(nextUpdate)) return `${what} expired on ${nextUpdate}`;
  return undefined;
}

/** The QE report against the QE identity. */
export function evaluateQeIdentity(qeReport: ParsedQuote['qeReportBody'], identity: QeIdentity): Verdict {
  if (!bytesEqual(qeReport.mrsigner, fromHex(identity.mrsigner))) {
    return { ok: false, detail: `QE MRSIGNER ${toHex(qeReport.mrsigner)} is not the QE identity's ${identity.mrsigner.toUpperCase()}` };
  }
  if (qeReport.isv_prod_id !== identity.isvprodid) {
    return { ok: false, detail: `QE ISVPRODID ${qeReport.isv_prod_id} is not the QE identity's ${identity.isvprodid}` };
  }
  const misc = new Uint8Array(4);
  new DataView(misc.buffer).setUint32(0, qeReport.miscselect, true);
  if (!maskedEqual(misc, fromHex(identity.miscselect), fromHex(identity.miscselectMask))) {
    return { ok: false, detail: `QE MISCSELECT ${toHex(misc)} does not match ${identity.miscselect} under mask ${identity.miscselectMask}` };
  }
  if (!maskedEqual(qeReport.attributes, fromHex(identity.attributes), fromHex(identity.attributesMask))) {
    return { ok: false, detail: `QE ATTRIBUTES ${toHex(qeReport.attributes)} do not match ${identity.attributes} under mask ${identity.attributesMask}` };
  }
  if (SGX_ATTRIBUTES.read(qeReport.attributes, 'flags') & SgxAttributeFlag.DEBUG) return { ok: false, detail: 'the QE is a debug enclave' };
  const level = identity.tcbLevels.find((l) => qeReport.isv_svn >= l.tcb.isvsvn);
  if (!level) return { ok: false, detail: `QE ISVSVN ${qeReport.isv_svn} is below every level of the QE identity` };
  return { ok: true, status: level.tcbStatus, advisoryIds: level.advisoryIDs ?? [], detail: `QE ISVSVN ${qeReport.isv_svn}: ${level.tcbStatus}` };
}

/** The TDX module (TEE_TCB_SVN, MRSIGNERSEAM, SEAM attributes) against the TCB Info. */
export function evaluateTdxModule(body: TdReportBody, tcbInfo: TcbInfo): Verdict & { readonly rated?: boolean } {
  const major = body.tee_tcb_svn[TEE_TCB_SVN_MODULE_VERSION_INDEX] ?? 0;
  const moduleSvn = body.tee_tcb_svn[TEE_TCB_SVN_MODULE_SVN_INDEX] ?? 0;
  const check = (who: string, mrsigner: string, attributes: string, mask: string): string | undefined => {
    if (!bytesEqual(body.mrsignerseam, fromHex(mrsigner))) return `MRSIGNERSEAM ${toHex(body.mrsignerseam)} is not ${who}'s ${mrsigner.toUpperCase()}`;
    if (!maskedEqual(body.seam_attributes, fromHex(attributes), fromHex(mask))) {
      return `SEAM attributes ${toHex(body.seam_attributes)} do not match ${who}'s ${attributes} under mask ${mask}`;
    }
    return undefined;
  };
  if (major === 0) {
    const wrong = check('tdxModule', tcbInfo.tdxModule.mrsigner, tcbInfo.tdxModule.attributes, tcbInfo.tdxModule.attributesMask);
    if (wrong) return { ok: false, detail: wrong };
    return { ok: true, status: 'UpToDate', advisoryIds: [], detail: 'TDX module (no major version) matches tdxModule', rated: false };
  }
  const id = tdxModuleIdentityId(major);
  const identity = tcbInfo.tdxModuleIdentities?.find((m) => m.id.toUpperCase() === id);
  if (!identity) return { ok: false, detail: `TCB Info has no TDX module identity ${id} (TEE_TCB_SVN[1] = ${major})` };
  const wrong = check(id, identity.mrsigner, identity.attributes, identity.attributesMask);
  if (wrong) return { ok: false, detail: wrong };
  const level = identity.tcbLevels.find((l) => moduleSvn >= l.tcb.isvsvn);
  if (!level) return { ok: false, detail: `TDX module SVN ${moduleSvn} is below every level of ${id}` };
  return { ok: true, status: level.tcbStatus, advisoryIds: level.advisoryIDs ?? [], detail: `TDX module ${id} SVN ${moduleSvn}: ${level.tcbStatus}`, rated: true };
}

/** The platform (PCK TCB and TEE_TCB_SVN) against the TCB Info's levels. */
export function evaluatePlatformTcb(pck: SgxExtensionValues, body: TdReportBody, tcbInfo: TcbInfo): Verdict {
  const major = body.tee_tcb_svn[TEE_TCB_SVN_MODULE_VERSION_INDEX] ?? 0;
  const firstTdx = major > 0 ? TEE_TCB_SVN_MODULE_VERSION_INDEX + 1 : 0;
  const level = tcbInfo.tcbLevels.find(
    (l) =>
      pck.pceSvn >= l.tcb.pcesvn &&
      l.tcb.sgxtcbcomponents.every((c, i) => (pck.cpuSvnComponents[i] ?? 0) >= c.svn) &&
      l.tcb.tdxtcbcomponents.every((c, i) => i < firstTdx || (body.tee_tcb_svn[i] ?? 0) >= c.svn),
  );
  if (!level) {
    return {
      ok: false,
      detail: `no TCB level covers CPUSVN ${pck.cpuSvnComponents.join(',')} / PCESVN ${pck.pceSvn} / TEE_TCB_SVN ${toHex(body.tee_tcb_svn)}`,
    };
  }
  return { ok: true, status: level.tcbStatus, advisoryIds: level.advisoryIDs ?? [], detail: `platform TCB level of ${level.tcbDate}: ${level.tcbStatus}` };
}
