/**
 * `tdxsim report decode FILE [--json]`: show what a TDREPORT_STRUCT (1024 bytes, from
 * TDG.MR.REPORT) says, field by field, or the TD report body of a quote.
 *
 * Accepted input, binary or as hex text: a TDREPORT_STRUCT (1024 bytes), a DCAP quote (its body
 * is decoded), or a bare TD report body (584 bytes TD 1.0, 648 bytes TD 1.5). For a TDREPORT the
 * two hashes REPORTMACSTRUCT carries are recomputed and shown as consistent or not; the MAC
 * itself can only be checked on the platform that made it (its key never leaves the CPU).
 *
 * Layouts: abi/tdreport.ts, abi/quote.ts. The body printer is shared with `quote verify`.
 */
import type { Command } from 'commander';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hex64 } from '../../abi/bitfield.ts';
import { QuoteBodyType, TD_REPORT10, TD_REPORT15, TEE_TCB_INFO_TEE_TCB_SVN2_OFFSET, TEE_TCB_SVN_SIZE } from '../../abi/quote.ts';
import { TD_ATTRIBUTES, TD_XFAM } from '../../abi/td-params.ts';
import { decodeTdReport, REPORT_TYPE_TDX, TDREPORT_STRUCT, TDREPORT_STRUCT_SIZE } from '../../abi/tdreport.ts';
import type { Bitfield } from '../../abi/bitfield.ts';
import { parseQuote, QuoteFormatError, type TdReportBody } from '../../attestation/quote-codec.ts';
import { UsageError } from '../errors.ts';

// ---------------------------------------------------------------------------------------------
// Input.

/**
 * Read a binary input file; a file of only hex digits (and whitespace) is read as hex. Errors
 * name the command, the file and what is wrong, for the user to fix.
 */
export function readBinaryInput(command: string, what: string, path: string): Uint8Array {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new UsageError(`${command}: cannot read ${what} '${path}': ${why}`);
  }
  const text = data.toString('latin1');
  if (data.length > 0 && /^[\s0-9a-fA-F]+$/.test(text)) {
    const digits = text.replace(/\s+/g, '');
    if (digits.length % 2 !== 0) throw new UsageError(`${command}: ${what} '${path}' looks like hex but has an odd number of digits (${digits.length})`);
    return new Uint8Array(Buffer.from(digits, 'hex'));
  }
  return new Uint8Array(data);
}

// ---------------------------------------------------------------------------------------------
// Formatting shared with `quote verify`.

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const u64le = (b: Uint8Array): bigint => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true);

/** Names of the set, non-reserved fields of a bitfield value. */
function flagNames(field: Bitfield, value: bigint): string[] {
  return field.fields.filter((f) => !f.name.startsWith('reserved') && (value & f.mask) !== 0n).map((f) => f.name.toUpperCase());
}

/** TD ATTRIBUTES with the names of its set bits. */
export function describeTdAttributes(value: bigint): string {
  const names = flagNames(TD_ATTRIBUTES, value);
  const reserved = TD_ATTRIBUTES.hasReservedBits(value) ? ['RESERVED BITS SET'] : [];
  return `${hex64(value)} (${[...names, ...reserved].join(', ') || 'none'})`;
}

/** XFAM with the names of its state components. */
export function describeXfam(value: bigint): string {
  return `${hex64(value)} (${flagNames(TD_XFAM, value).join(', ') || 'none'})`;
}

/** A TD report body as label/value rows, and as JSON. */
export function tdReportBodyRows(body: TdReportBody): Array<[string, string]> {
  const rows: Array<[string, string]> = [
    ['TEE_TCB_SVN', hex(body.tee_tcb_svn)],
    ['MRSEAM', hex(body.mrseam)],
    ['MRSIGNERSEAM', hex(body.mrsignerseam)],
    ['SEAMATTRIBUTES', hex64(u64le(body.seam_attributes))],
    ['TDATTRIBUTES', describeTdAttributes(u64le(body.td_attributes))],
    ['XFAM', describeXfam(u64le(body.xfam))],
    ['MRTD', hex(body.mrtd)],
    ['MRCONFIGID', hex(body.mrconfigid)],
    ['MROWNER', hex(body.mrowner)],
    ['MROWNERCONFIG', hex(body.mrownerconfig)],
    ['RTMR0', hex(body.rtmr0)],
    ['RTMR1', hex(body.rtmr1)],
    ['RTMR2', hex(body.rtmr2)],
    ['RTMR3', hex(body.rtmr3)],
    ['REPORTDATA', hex(body.reportdata)],
  ];
  if (body.tee_tcb_svn2) rows.push(['TEE_TCB_SVN2', hex(body.tee_tcb_svn2)]);
  if (body.mrservicetd) rows.push(['MRSERVICETD', hex(body.mrservicetd)]);
  return rows;
}

export function tdReportBodyJson(body: TdReportBody): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) out[k] = k === 'td_attributes' || k === 'xfam' || k === 'seam_attributes' ? hex64(u64le(v as Uint8Array)) : hex(v as Uint8Array);
  return out;
}

export function formatRows(rows: ReadonlyArray<readonly [string, string]>, indent = '  '): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v}`).join('\n');
}

// ---------------------------------------------------------------------------------------------
// TDREPORT_STRUCT.

const sha384 = (data: Uint8Array): Uint8Array => new Uint8Array(createHash('sha384').update(data).digest());

function partBytes(report: Uint8Array, name: 'tee_tcb_info' | 'tdinfo'): Uint8Array {
  const f = TDREPORT_STRUCT.field(name);
  return report.subarray(f.offset, f.offset + f.size);
}

/** A TDREPORT_STRUCT, decoded, with its internal hash consistency. */
export function decodeTdReportFile(report: Uint8Array) {
  const d = decodeTdReport(report);
  const tcbInfo = partBytes(report, 'tee_tcb_info');
  const teeTcbInfoHashOk = hex(sha384(tcbInfo)) === hex(d.reportMacStruct.tee_tcb_info_hash);
  const teeInfoHashOk = hex(sha384(partBytes(report, 'tdinfo'))) === hex(d.reportMacStruct.tee_info_hash);
  const svn2 = tcbInfo.slice(TEE_TCB_INFO_TEE_TCB_SVN2_OFFSET, TEE_TCB_INFO_TEE_TCB_SVN2_OFFSET + TEE_TCB_SVN_SIZE);
  return { ...d, teeTcbSvn2: svn2, teeTcbInfoHashOk, teeInfoHashOk };
}

function reportRows(r: ReturnType<typeof decodeTdReportFile>): string {
  const m = r.reportMacStruct;
  const t = r.teeTcbInfo;
  const i = r.tdInfo;
  const ok = (b: boolean): string => (b ? 'consistent' : 'MISMATCH: the part was altered after the report was made');
  return [
    'REPORTMACSTRUCT',
    formatRows([
      ['REPORTTYPE', `type 0x${m.report_type.toString(16)}${m.report_type === REPORT_TYPE_TDX ? ' (TDX)' : ''}, subtype ${m.report_subtype}, version ${m.report_version}`],
      ['CPUSVN', hex(m.cpusvn)],
      ['TEE_TCB_INFO_HASH', `${hex(m.tee_tcb_info_hash)} (${ok(r.teeTcbInfoHashOk)})`],
      ['TEE_INFO_HASH', `${hex(m.tee_info_hash)} (${ok(r.teeInfoHashOk)})`],
      ['REPORTDATA', hex(m.reportdata)],
      ['MAC', `${hex(m.mac)} (verifiable only on the platform that made it)`],
    ]),
    'TEE_TCB_INFO',
    formatRows([
      ['VALID', hex64(t.valid)],
      ['TEE_TCB_SVN', hex(t.tee_tcb_svn)],
      ['MRSEAM', hex(t.mrseam)],
      ['MRSIGNERSEAM', hex(t.mrsignerseam)],
      ['ATTRIBUTES', hex64(t.attributes)],
      ['TEE_TCB_SVN2', hex(r.teeTcbSvn2)],
    ]),
    'TDINFO_STRUCT',
    formatRows([
      ['ATTRIBUTES', describeTdAttributes(i.attributes)],
      ['XFAM', describeXfam(i.xfam)],
      ['MRTD', hex(i.mrtd)],
      ['MRCONFIGID', hex(i.mrconfigid)],
      ['MROWNER', hex(i.mrowner)],
      ['MROWNERCONFIG', hex(i.mrownerconfig)],
      ['RTMR0', hex(i.rtmr0)],
      ['RTMR1', hex(i.rtmr1)],
      ['RTMR2', hex(i.rtmr2)],
      ['RTMR3', hex(i.rtmr3)],
      ['SERVTD_HASH', hex(i.servtd_hash)],
    ]),
  ].join('\n');
}

function reportJson(r: ReturnType<typeof decodeTdReportFile>): unknown {
  const conv = (o: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v instanceof Uint8Array ? hex(v) : typeof v === 'bigint' ? hex64(v) : v]));
  return {
    kind: 'TDREPORT_STRUCT',
    reportMacStruct: conv(r.reportMacStruct),
    teeTcbInfo: { ...conv(r.teeTcbInfo), tee_tcb_svn2: hex(r.teeTcbSvn2) },
    tdInfo: conv(r.tdInfo),
    hashes: { teeTcbInfoHash: r.teeTcbInfoHashOk ? 'consistent' : 'mismatch', teeInfoHash: r.teeInfoHashOk ? 'consistent' : 'mismatch' },
  };
}

// ---------------------------------------------------------------------------------------------
// The command.

/** Decode `bytes` as one of the accepted inputs; the text to print, or the JSON. */
export function decodeReportInput(bytes: Uint8Array, path: string): { text: string; json: unknown } {
  if (bytes.length === TDREPORT_STRUCT_SIZE) {
    const r = decodeTdReportFile(bytes);
    return { text: `${path}: TDREPORT_STRUCT (${TDREPORT_STRUCT_SIZE} bytes)\n${reportRows(r)}`, json: reportJson(r) };
  }
  if (bytes.length === TD_REPORT10.size || bytes.length === TD_REPORT15.size) {
    const layout = bytes.length === TD_REPORT10.size ? TD_REPORT10 : TD_REPORT15;
    const body: TdReportBody = layout.decode(bytes);
    return {
      text: `${path}: TD report body ${layout.name} (${bytes.length} bytes)\n${formatRows(tdReportBodyRows(body))}`,
      json: { kind: layout.name, body: tdReportBodyJson(body) },
    };
  }
  let quote;
  try {
    quote = parseQuote(bytes);
  } catch (err) {
    const why = err instanceof QuoteFormatError ? ` (read as a quote it fails: ${err.message})` : '';
    throw new UsageError(
      `report decode: '${path}' is ${bytes.length} bytes: not a TDREPORT_STRUCT (${TDREPORT_STRUCT_SIZE}), a TD report body (${TD_REPORT10.size} or ${TD_REPORT15.size}) or a DCAP quote${why}`,
    );
  }
  const name = quote.bodyType === QuoteBodyType.TD_REPORT15 ? TD_REPORT15.name : TD_REPORT10.name;
  return {
    text: `${path}: DCAP quote v${quote.version}; its TD report body ${name} at offset ${quote.bodyOffset}\n${formatRows(tdReportBodyRows(quote.body))}`,
    json: { kind: 'quote', version: quote.version, bodyType: name, bodyOffset: quote.bodyOffset, body: tdReportBodyJson(quote.body) },
  };
}

export function registerReportCommand(program: Command): void {
  const report = program.command('report').description('Work with TDREPORT_STRUCTs (the output of TDG.MR.REPORT)');
  report
    .command('decode')
    .description('Decode a 1024-byte TDREPORT_STRUCT, a TD report body (584/648 bytes), or the body of a DCAP quote; binary or hex')
    .argument('<file>', 'the report (binary, or hex text)')
    .option('--json', 'print JSON (byte strings as hex)')
    .action((file: string, opts: { json?: boolean }) => {
      const out = decodeReportInput(readBinaryInput('report decode', 'report', file), file);
      console.log(opts.json ? JSON.stringify(out.json, null, 2) : out.text);
    });
}
