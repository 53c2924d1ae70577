/**
 * `tdxsim quote verify FILE [--collateral DIR] [--event-log FILE] [--allow-debug] [--json]`:
 * decode a DCAP quote and say whether and why it verifies.
 *
 * It prints the quote (version, TEE type, the TD's measurements, attributes, XFAM, REPORTDATA,
 * the TDX module's TCB), every check of the verifier (attestation/verify.ts) with pass / fail /
 * skip and its region, the TCB status, and — with --event-log — the replay of the TD's RTMR event
 * log against the quote's RTMRs. The trusted root CA and the collateral come from a directory
 * written by `writeCollateral` (`tdxsim run --collateral-out`).
 *
 * Exit status: 0 verified; 1 not verified (a check failed, or could not run for lack of a root
 * CA or collateral); 2 a user error — a file missing, unreadable or not what it should be — with
 * a message saying what is wrong and where.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { TeeType } from '../../abi/quote.ts';
import { TDREPORT_STRUCT_SIZE } from '../../abi/tdreport.ts';
import { CollateralLoadError, loadCollateral, type CollateralBundle } from '../../attestation/collateral.ts';
import { compareRtmrs, parseEventLog, replayEventLog, rtmrsOfQuoteBody } from '../../attestation/event-log.ts';
import { parseQuote, QuoteFormatError, type ParsedQuote } from '../../attestation/quote-codec.ts';
import { verifyQuote, type QuoteVerification } from '../../attestation/verify.ts';
import { UsageError } from '../errors.ts';
import { formatRows, readBinaryInput, tdReportBodyJson, tdReportBodyRows } from './report.ts';

interface QuoteVerifyOptions {
  collateral?: string;
  eventLog?: string;
  allowDebug?: boolean;
  json?: boolean;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const COMMAND = 'quote verify';

async function readCollateralDir(dir: string): Promise<CollateralBundle> {
  try {
    return await loadCollateral(dir);
  } catch (err) {
    if (err instanceof CollateralLoadError) throw new UsageError(`${COMMAND}: --collateral ${dir}: ${err.message}`);
    throw err;
  }
}

/** The replay of an event log against the quote's RTMRs. */
interface EventLogResult {
  readonly file: string;
  readonly events: number;
  readonly match: boolean;
  readonly registers: ReadonlyArray<{ index: number; match: boolean; replayed: string; reported: string }>;
  readonly unexplained: readonly number[];
}

function replayAgainst(file: string, quote: ParsedQuote): EventLogResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`${COMMAND}: cannot read --event-log '${file}': ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const parsed = parseEventLog(text);
  if (!parsed.ok) throw new UsageError(`${COMMAND}: --event-log '${file}' is not a tdxsim RTMR event log: ${parsed.detail}`);
  const replay = replayEventLog(parsed.log);
  const cmp = compareRtmrs(replay.rtmrs, rtmrsOfQuoteBody(quote.body));
  return {
    file,
    events: parsed.log.events.length,
    match: cmp.match,
    registers: cmp.registers.map((r) => ({ index: r.index, match: r.match, replayed: hex(r.replayed), reported: hex(r.reported) })),
    unexplained: replay.unexplained,
  };
}

function quoteRows(q: ParsedQuote, v: QuoteVerification): Array<[string, string]> {
  return [
    ['version', `${q.version} (TD report body at offset ${q.bodyOffset})`],
    ['TEE type', q.header.tee_type === TeeType.TDX ? 'TDX (0x81)' : `0x${q.header.tee_type.toString(16)}`],
    ['QE vendor ID', hex(q.header.qe_vendor_id)],
    ...tdReportBodyRows(q.body),
    ['TCB status', v.tcbStatus === undefined ? 'unknown (not rated)' : v.verified ? v.tcbStatus : `${v.tcbStatus} (as the quote claims; it is NOT verified)`],
  ];
}

const STATUS_WORD = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP' } as const;

function textReport(file: string, v: QuoteVerification, log: EventLogResult | undefined, verified: boolean): string {
  const lines = [`${file}: tdxsim quote verification (a SIMULATED quoting infrastructure is not Intel's)`];
  if (v.quote) lines.push('Quote', formatRows(quoteRows(v.quote, v)));
  lines.push('Checks');
  const idWidth = Math.max(...v.checks.map((c) => c.id.length));
  for (const c of v.checks) {
    const where = c.suspects ? c.suspects.join('|') : c.region;
    lines.push(`  ${STATUS_WORD[c.status]}  ${c.id.padEnd(idWidth)}  [${where}] ${c.detail}`);
  }
  if (log) {
    lines.push(`Event log ${log.file}: ${log.events} events replayed from zero`);
    for (const r of log.registers) {
      lines.push(`  ${r.match ? 'PASS' : 'FAIL'}  RTMR${r.index}  ${r.match ? r.replayed : `replayed ${r.replayed}, quote has ${r.reported}`}`);
    }
    if (log.unexplained.length) lines.push(`  note: events ${log.unexplained.join(', ')} extend a digest that is not the SHA-384 of their data`);
  }
  const logProblem = log && !log.match ? 'the event log does not replay to the quote\'s RTMRs' : undefined;
  lines.push(
    verified
      ? `Result: VERIFIED (TCB status ${v.tcbStatus})${log ? '; the event log replays to the quote\'s RTMRs' : ''}`
      : `Result: NOT VERIFIED: ${v.verified ? logProblem : v.summary.replace(/^NOT verified: /, '')}`,
  );
  return lines.join('\n');
}

async function quoteVerify(file: string, opts: QuoteVerifyOptions): Promise<void> {
  const bytes = readBinaryInput(COMMAND, 'quote', file);
  // A file that is not a quote at all is the user's mistake (exit 2); say where it stops parsing.
  let quote: ParsedQuote;
  try {
    quote = parseQuote(bytes);
  } catch (err) {
    if (!(err instanceof QuoteFormatError)) throw err;
    const hint = bytes.length === TDREPORT_STRUCT_SIZE ? ` (it is ${TDREPORT_STRUCT_SIZE} bytes: a TDREPORT? try \`tdxsim report decode\`)` : '';
    throw new UsageError(`${COMMAND}: '${file}' is not a well-formed TDX DCAP quote: ${err.message}${hint}`);
  }
  const bundle = opts.collateral !== undefined ? await readCollateralDir(opts.collateral) : undefined;
  const log = opts.eventLog !== undefined ? replayAgainst(opts.eventLog, quote) : undefined;
  const v = await verifyQuote(bytes, {
    ...(bundle && { rootCa: bundle.rootCaPem, collateral: bundle.collateral }),
    allowDebug: opts.allowDebug === true,
  });
  const verified = v.verified && (log?.match ?? true);
  if (opts.json) {
    console.log(
      JSON.stringify(
        {
          file,
          verified,
          summary: v.summary,
          tcbStatus: v.tcbStatus ?? null,
          advisoryIds: v.advisoryIds,
          quote: v.quote && {
            version: v.quote.version,
            teeType: v.quote.header.tee_type,
            bodyOffset: v.quote.bodyOffset,
            qeVendorId: hex(v.quote.header.qe_vendor_id),
            body: tdReportBodyJson(v.quote.body),
          },
          checks: v.checks,
          ...(log && { eventLog: log }),
        },
        null,
        2,
      ),
    );
  } else {
    if (!bundle) console.log(`note: no --collateral DIR given, so there is no trusted root CA: the quote cannot be verified (only decoded and checked for consistency)`);
    console.log(textReport(file, v, log, verified));
  }
  process.exitCode = verified ? 0 : 1;
}

export function registerQuoteCommand(program: Command): void {
  const quote = program.command('quote').description('Work with DCAP quotes (v4/v5) of TDX TDs');
  quote
    .command('verify')
    .description('Decode a quote and verify it against a trusted root CA and collateral; exit 0 verified, 1 not verified, 2 bad input')
    .argument('<file>', 'the quote (binary, or hex text)')
    .option('--collateral <dir>', 'directory with root-ca.pem and the collateral (as `tdxsim run --collateral-out` writes it)')
    .option('--event-log <file>', "the TD's RTMR event log (JSON): replay it and compare with the quote's RTMRs")
    .option('--allow-debug', 'accept a debug TD (ATTRIBUTES.DEBUG set)')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: QuoteVerifyOptions) => quoteVerify(file, opts));
}
