/**
 * The simulated quoting infrastructure in one piece, for whoever wires attestation into a run
 * (the demo TD, `tdxsim run --quote-out/--collateral-out`): a quoting service the host's
 * userspace hands TDREPORTs to, the collateral and root CA a relying party needs, and a verifier
 * bound to both.
 *
 *   const infra = await createQuotingInfrastructure({ reportKey: platform.reportKey });
 *   const quote = infra.quotingService.quote(tdreport);
 *   const result = await infra.verify(quote);       // result.verified, result.checks, …
 *   await infra.writeCollateral('out/collateral');  // root-ca.pem + PCS-shaped files
 *
 * By default the PKI, the attestation key and the per-platform IDs are fresh for each
 * infrastructure. `save(dir)` writes them (certificates, private keys, tcb.json) and
 * `createQuotingInfrastructure({ loadFrom: dir })` reuses them, so quotes from several runs chain
 * to one root CA. The collateral is always issued fresh, dated now.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { buildCollateral, writeCollateral, type Collateral, type CollateralOptions } from './collateral.ts';
import { createSimulatedPki, loadPki, PkiLoadError, savePki, type SimulatedPki } from './pki.ts';
import { importAttestationKey, QuotingService, type QuoteFormat } from './quoting-service.ts';
import { simulatedTcb, type SimulatedTcb, type SimulatedTcbOptions } from './tcb.ts';
import { verifyQuote, type QuoteVerification } from './verify.ts';

export interface QuotingInfrastructureOptions {
  /** The platform's report key (Platform.reportKey): the QE verifies TDREPORT MACs with it. */
  readonly reportKey: Uint8Array;
  /** Overrides of the simulated TCB (ignored with `loadFrom`, which restores a saved one). */
  readonly tcb?: SimulatedTcbOptions;
  /** Quote version and body type. Default v4. */
  readonly format?: QuoteFormat;
  /** A directory `save` wrote: reuse its PKI, attestation key and TCB. */
  readonly loadFrom?: string;
  /** Options of the collateral (issue date, validity, revocations for tests). */
  readonly collateral?: CollateralOptions;
}

export interface QuotingInfrastructure {
  readonly quotingService: QuotingService;
  readonly collateral: Collateral;
  /** The simulated root CA, PEM: the trust anchor for the quotes and the collateral. */
  readonly rootCaPem: string;
  readonly pki: SimulatedPki;
  readonly tcb: SimulatedTcb;
  /** Verify a quote against this infrastructure's root CA and collateral (verify.ts). */
  verify(quote: Uint8Array, options?: { readonly now?: Date; readonly allowDebug?: boolean }): Promise<QuoteVerification>;
  /** Write the collateral and root CA to `dir` (collateral.ts: writeCollateral). */
  writeCollateral(dir: string): Promise<void>;
  /** Persist the PKI, the attestation key and the TCB to `dir` for `loadFrom`. */
  save(dir: string): Promise<void>;
}

const STATE_FILES = Object.freeze({ ATTESTATION_KEY: 'attestation-key.pem', TCB: 'tcb.json' } as const);

const hexBytes = z.string().regex(/^([0-9a-f]{2})*$/).transform((h) => new Uint8Array(Buffer.from(h, 'hex')));
const u64 = z.string().regex(/^0x[0-9a-f]{1,16}$/).transform((h) => BigInt(h));

/** tcb.json: the QE identity and TDX module TCB (the platform TCB lives in the PCK certificate). */
const SavedTcbSchema = z.object({
  qe: z.object({
    isvSvn: z.number().int(),
    isvProdId: z.number().int(),
    mrSigner: hexBytes,
    mrEnclave: hexBytes,
    attributesFlags: u64,
    attributesXfrm: u64,
    miscSelect: z.number().int(),
    qeId: hexBytes,
  }),
  tdxModule: z.object({ teeTcbSvn: hexBytes, mrSignerSeam: hexBytes, seamAttributes: u64 }),
});

function tcbJson(tcb: SimulatedTcb): string {
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  const u = (v: bigint): string => `0x${v.toString(16)}`;
  const { qe, tdxModule } = tcb;
  return JSON.stringify(
    {
      qe: { ...qe, mrSigner: hex(qe.mrSigner), mrEnclave: hex(qe.mrEnclave), attributesFlags: u(qe.attributesFlags), attributesXfrm: u(qe.attributesXfrm), qeId: hex(qe.qeId) },
      tdxModule: { teeTcbSvn: hex(tdxModule.teeTcbSvn), mrSignerSeam: hex(tdxModule.mrSignerSeam), seamAttributes: u(tdxModule.seamAttributes) },
    },
    null,
    2,
  );
}

async function loadState(dir: string): Promise<{ pki: SimulatedPki; tcb: SimulatedTcb; attestationKeyPem: string }> {
  const read = async (name: string): Promise<string> => {
    try {
      return await readFile(join(dir, name), 'utf8');
    } catch (err) {
      throw new PkiLoadError(`${join(dir, name)}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
  };
  const pki = await loadPki(dir);
  let saved;
  try {
    saved = SavedTcbSchema.parse(JSON.parse(await read(STATE_FILES.TCB)));
  } catch (err) {
    if (err instanceof PkiLoadError) throw err;
    throw new PkiLoadError(`${join(dir, STATE_FILES.TCB)}: not a saved TCB (${(err as Error).message})`);
  }
  // simulatedTcb checks the sizes and ranges of the restored values.
  const tcb = simulatedTcb({ platform: pki.platform, qe: saved.qe, tdxModule: saved.tdxModule });
  return { pki, tcb, attestationKeyPem: await read(STATE_FILES.ATTESTATION_KEY) };
}

/** Make (or restore) the infrastructure. */
export async function createQuotingInfrastructure(options: QuotingInfrastructureOptions): Promise<QuotingInfrastructure> {
  let pki: SimulatedPki;
  let tcb: SimulatedTcb;
  let quotingService: QuotingService;
  if (options.loadFrom !== undefined) {
    const state = await loadState(options.loadFrom);
    ({ pki, tcb } = state);
    let attestationKey;
    try {
      attestationKey = importAttestationKey(state.attestationKeyPem);
    } catch (err) {
      throw new PkiLoadError(`${join(options.loadFrom, STATE_FILES.ATTESTATION_KEY)}: not a P-256 private key (${(err as Error).message})`);
    }
    quotingService = new QuotingService({ pki, qe: tcb.qe, reportKey: options.reportKey, attestationKey, ...(options.format && { format: options.format }) });
  } else {
    tcb = simulatedTcb(options.tcb);
    pki = await createSimulatedPki(tcb.platform);
    quotingService = new QuotingService({ pki, qe: tcb.qe, reportKey: options.reportKey, ...(options.format && { format: options.format }) });
  }
  const bundle = await buildCollateral(pki, tcb, options.collateral);
  return {
    quotingService,
    collateral: bundle.collateral,
    rootCaPem: bundle.rootCaPem,
    pki,
    tcb,
    verify: (quote, opts = {}) => verifyQuote(quote, { rootCa: bundle.rootCaPem, collateral: bundle.collateral, ...opts }),
    writeCollateral: (dir) => writeCollateral(dir, bundle),
    save: async (dir) => {
      await savePki(pki, dir);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, STATE_FILES.ATTESTATION_KEY), quotingService.exportAttestationKey(), { mode: 0o600 });
      await writeFile(join(dir, STATE_FILES.TCB), tcbJson(tcb) + '\n');
    },
  };
}
