/**
 * A second opinion from code we did not write: `@phala/dcap-qvl` (pure JavaScript port of
 * Phala's Rust DCAP quote verification library), behind one small typed function.
 *
 * The library is used through `QuoteVerifier.newWithRootCa(rootCaDer).verify(quote, collateral,
 * nowSeconds)` (its `src/verify.js`), which parses the quote with its own parser, checks the PCK
 * chain, the collateral chains and signatures, the CRLs (by serial number), the QE report
 * signature and binding, the quote signature, the QE identity and the TCB level, and returns the
 * TCB status or throws. It never touches the network in this path (collateral is passed in).
 *
 * Differences from tdxsim's verifier worth knowing when the two disagree:
 *   - dcap-qvl additionally requires SEPT_VE_DISABLE in the TD attributes and a zero MRSERVICETD
 *     (TD15 bodies): Phala's policy, not Intel's.
 *   - It compares all 16 TDX TCB components against each TCB level and ignores the TDX module
 *     identities; Intel's algorithm (ours) skips components 0 and 1 when the module has a major
 *     version and rates them through `tdxModuleIdentities`.
 *   - It does not check CRL signatures, CRL dates, or the QE vendor ID.
 *   - Its PCK extension reader fails on a DER ENUMERATED (the SGX Type), so it reports an empty
 *     PPID for Intel-shaped certificates, ours included; verification is not affected.
 */
import dcapQvl from '@phala/dcap-qvl';
import type { TcbStatus } from '../abi/dcap-collateral.ts';
import type { Collateral } from './collateral.ts';
import { toCertificate } from './cert-chain.ts';
import type { X509Certificate } from './x509.ts';

export type DcapQvlResult =
  | {
      readonly ok: true;
      readonly status: TcbStatus;
      readonly advisoryIds: readonly string[];
      /** The body type dcap-qvl parsed: 'td10' or 'td15'. */
      readonly reportType: string;
    }
  | {
      readonly ok: false;
      /** dcap-qvl's message, with its cause when it gives one. */
      readonly error: string;
    };

/** Verify `quote` with dcap-qvl against `rootCa` and `collateral` at `now`. Never throws. */
export function verifyWithDcapQvl(
  quote: Uint8Array,
  options: { readonly rootCa: string | Uint8Array | X509Certificate; readonly collateral: Collateral; readonly now?: Date },
): DcapQvlResult {
  try {
    const rootDer = Buffer.from(toCertificate(options.rootCa).rawData);
    const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
    const verified = dcapQvl.QuoteVerifier.newWithRootCa(rootDer).verify(quote, { ...options.collateral }, nowSeconds);
    // dcap-qvl throws for statuses it deems invalid, so 'Unknown' should not come back; if it
    // does, it is not a verified quote.
    if (verified.status === 'Unknown') return { ok: false, error: 'dcap-qvl returned TCB status Unknown' };
    return { ok: true, status: verified.status, advisoryIds: [...verified.advisory_ids], reportType: verified.report.type };
  } catch (err) {
    const e = err as Error & { cause?: unknown };
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
    return { ok: false, error: `${e.message}${cause}` };
  }
}
