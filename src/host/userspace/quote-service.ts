/**
 * Answering TDG.VP.VMCALL<GetQuote> in userspace, the way QEMU does for KVM_EXIT_TDX(GetQuote)
 * (target/i386/kvm/tdx.c), with a pluggable quote generator.
 *
 * The guest's buffer is shared memory it controls, so every field is checked before use: the GPA
 * and size must be 4K-aligned (ALIGN_ERROR), the size non-zero and at most 128 KiB, the buffer
 * entirely shared guest RAM, the header's version 1 and its `in_len` inside the buffer
 * (INVALID_OPERAND otherwise). A quote that does not fit the buffer, or a generator failure, is
 * reported in the header's status (GET_QUOTE_ERROR / SERVICE_UNAVAILABLE) with the call itself
 * succeeding — the GHCI's split between "the VMM took the request" and "the quote worked".
 * Quotes are produced synchronously: the header reads SUCCESS (or an error) by the time the guest
 * resumes, and the notification vector, if the guest set one up, is raised right away.
 *
 * `SimulatedQuoteService` is a stand-in until real DCAP quotes exist: its "quote" is the TDREPORT
 * wrapped in an envelope whose magic says, in plain text, that it is simulated and not DCAP.
 */
import { GET_QUOTE_BUFFER_VERSION, GET_QUOTE_HEADER, GET_QUOTE_HEADER_SIZE, GetQuoteStatus } from '../../abi/get-quote.ts';
import { TDREPORT_STRUCT_SIZE, decodeTdReport, type DecodedTdReport } from '../../abi/tdreport.ts';
import { TdvmcallStatus } from '../../abi/tdvmcall-status.ts';
import { PAGE_SIZE } from '../../abi/pamt.ts';
import type { GetQuoteExitInfo } from '../exit-records.ts';
import type { GuestMemory } from '../vm-memory.ts';

/** QEMU's bound on a GetQuote buffer (TDX_GET_QUOTE_MAX_BUF_LEN). */
export const GET_QUOTE_MAX_BUF_LEN = 128 * 1024;

export type QuoteOutcome =
  | { readonly ok: true; readonly quote: Uint8Array }
  /** `unavailable`: no quoting service; `error`: the service failed. */
  | { readonly ok: false; readonly reason: 'unavailable' | 'error'; readonly message: string };

/** Turns a TDREPORT into a quote. Replace it to plug in a real quoting enclave. */
export interface QuoteService {
  readonly name: string;
  quote(tdReport: Uint8Array): QuoteOutcome;
}

/** Magic at the start of a simulated quote (32 bytes, NUL-padded). */
export const SIMULATED_QUOTE_MAGIC = 'TDXSIM-SIMULATED-QUOTE-NOT-DCAP';
const MAGIC_BYTES = 32;
const ENVELOPE_VERSION = 1;
/** Envelope header: magic, u32 version, u32 report length. */
export const SIMULATED_QUOTE_HEADER_BYTES = MAGIC_BYTES + 8;

export class SimulatedQuoteService implements QuoteService {
  readonly name = 'simulated (TDREPORT in a tdxsim envelope; not a DCAP quote)';

  quote(tdReport: Uint8Array): QuoteOutcome {
    if (tdReport.length !== TDREPORT_STRUCT_SIZE) {
      return { ok: false, reason: 'error', message: `expected a ${TDREPORT_STRUCT_SIZE}-byte TDREPORT, got ${tdReport.length} bytes` };
    }
    const out = new Uint8Array(SIMULATED_QUOTE_HEADER_BYTES + tdReport.length);
    out.set(new TextEncoder().encode(SIMULATED_QUOTE_MAGIC));
    const dv = new DataView(out.buffer);
    dv.setUint32(MAGIC_BYTES, ENVELOPE_VERSION, true);
    dv.setUint32(MAGIC_BYTES + 4, tdReport.length, true);
    out.set(tdReport, SIMULATED_QUOTE_HEADER_BYTES);
    return { ok: true, quote: out };
  }
}

/** The TDREPORT inside a simulated quote, or undefined if `quote` is not one. */
export function unwrapSimulatedQuote(quote: Uint8Array): Uint8Array | undefined {
  if (quote.length < SIMULATED_QUOTE_HEADER_BYTES) return undefined;
  const magic = new TextDecoder().decode(quote.subarray(0, SIMULATED_QUOTE_MAGIC.length));
  const dv = new DataView(quote.buffer, quote.byteOffset, quote.byteLength);
  const len = dv.getUint32(MAGIC_BYTES + 4, true);
  if (magic !== SIMULATED_QUOTE_MAGIC || dv.getUint32(MAGIC_BYTES, true) !== ENVELOPE_VERSION) return undefined;
  if (SIMULATED_QUOTE_HEADER_BYTES + len !== quote.length) return undefined;
  return quote.slice(SIMULATED_QUOTE_HEADER_BYTES);
}

export interface GetQuoteResult {
  /** TDVMCALL status for `tdx.get_quote.ret`. */
  readonly ret: bigint;
  /** Header status written back (absent when the buffer was refused outright). */
  readonly bufferStatus?: bigint;
  /** The TDREPORT the guest sent, decoded (for logs and the run story). */
  readonly report?: DecodedTdReport;
  readonly quoteBytes?: number;
  /** The quote handed to the guest (for `--quote-out` and verification by the VMM's user). */
  readonly quote?: Uint8Array;
  /** Why the request was refused or failed. */
  readonly problem?: string;
}

/** Serve one GetQuote exit against the guest's shared memory. Never throws for guest data. */
export function serveGetQuote(mem: GuestMemory, req: GetQuoteExitInfo, service: QuoteService | undefined): GetQuoteResult {
  const { gpa, size } = req;
  if (gpa % PAGE_SIZE !== 0n || size % PAGE_SIZE !== 0n) return { ret: TdvmcallStatus.ALIGN_ERROR, problem: 'buffer not 4K-aligned' };
  if (size === 0n || size > BigInt(GET_QUOTE_MAX_BUF_LEN)) return { ret: TdvmcallStatus.INVALID_OPERAND, problem: `buffer size ${size} outside 4K..128K` };
  const buf = mem.readShared(gpa, Number(size));
  if (!buf) return { ret: TdvmcallStatus.INVALID_OPERAND, problem: 'buffer is not shared guest RAM' };
  const hdr = GET_QUOTE_HEADER.decode(buf);
  const room = buf.length - GET_QUOTE_HEADER_SIZE;
  if (hdr.version !== GET_QUOTE_BUFFER_VERSION) return { ret: TdvmcallStatus.INVALID_OPERAND, problem: `header version ${hdr.version}` };
  if (hdr.in_len > room) return { ret: TdvmcallStatus.INVALID_OPERAND, problem: `in_len ${hdr.in_len} exceeds the buffer` };

  const report = buf.slice(GET_QUOTE_HEADER_SIZE, GET_QUOTE_HEADER_SIZE + hdr.in_len);
  const decoded = report.length === TDREPORT_STRUCT_SIZE ? decodeTdReport(report) : undefined;
  const write = (status: bigint, quote?: Uint8Array): GetQuoteResult => {
    const out = GET_QUOTE_HEADER.encode({ version: hdr.version, status, in_len: hdr.in_len, out_len: quote?.length ?? 0 });
    mem.writeShared(gpa, out);
    if (quote) mem.writeShared(gpa + BigInt(GET_QUOTE_HEADER_SIZE), quote);
    return {
      ret: TdvmcallStatus.SUCCESS,
      bufferStatus: status,
      ...(decoded && { report: decoded }),
      ...(quote && { quoteBytes: quote.length, quote }),
    };
  };
  if (!service) return { ...write(GetQuoteStatus.GET_QUOTE_SERVICE_UNAVAILABLE), problem: 'no quote service' };
  const q = service.quote(report);
  if (!q.ok) {
    const status = q.reason === 'unavailable' ? GetQuoteStatus.GET_QUOTE_SERVICE_UNAVAILABLE : GetQuoteStatus.GET_QUOTE_ERROR;
    return { ...write(status), problem: q.message };
  }
  if (q.quote.length > room) return { ...write(GetQuoteStatus.GET_QUOTE_ERROR), problem: `quote of ${q.quote.length} bytes does not fit in ${room}` };
  return write(GetQuoteStatus.GET_QUOTE_SUCCESS, q.quote);
}
