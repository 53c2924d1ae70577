/**
 * Attestation from inside the TD, as Linux's tdx-guest driver (drivers/virt/coco/tdx-guest) and
 * `tdx_mcall_get_report0` / `tdx_mcall_extend_rtmr` / `tdx_hcall_get_quote`
 * (arch/x86/coco/tdx/tdx.c). Facts: tdx-module.md §7.2–7.3, linux-tdx.md §2.5, §6.2.
 *
 *   - getReport: TDG.MR.REPORT into a 1024-aligned private buffer, REPORTDATA from a 64-aligned
 *     one (both in one page: report at offset 0, REPORTDATA at offset 1024).
 *   - extendRtmr / measureEvent: TDG.MR.RTMR.EXTEND of 48 bytes from a 64-aligned private buffer;
 *     each successful extend is recorded in the kernel's RTMR event log.
 *   - getQuote: the GetQuote protocol. The buffer (header + TDREPORT) must be shared, because the
 *     VMM and its quoting service write the quote into it; so the pages are converted to shared,
 *     filled, handed over with TDG.VP.VMCALL<GetQuote>, polled until the header's status leaves
 *     GET_QUOTE_IN_FLIGHT, read, and converted back to private.
 *
 * Everything in the shared buffer is untrusted: the quote length the VMM writes is bounded by the
 * buffer before anything is read. Pages that cannot be converted back to private are retired,
 * never reused as private memory (they may still be mapped shared).
 */
import { GET_QUOTE_BUFFER_VERSION, GET_QUOTE_HEADER, GET_QUOTE_HEADER_SIZE, GetQuoteStatus, type GetQuoteStatusName } from '../abi/get-quote.ts';
import { MEASUREMENT_DIGEST_BYTES } from '../abi/measurement.ts';
import { SeptLevel, levelSize } from '../abi/sept.ts';
import { TdcallLeaf } from '../abi/tdcall-leaves.ts';
import { REPORTDATA_SIZE, TDREPORT_ALIGNMENT, TDREPORT_STRUCT_SIZE } from '../abi/tdreport.ts';
import type { TdvmcallStatusName } from '../abi/tdvmcall-status.ts';
import type { GuestGen } from '../platform/guest-cpu.ts';
import { eventDigest, type RtmrEvent } from './event-log.ts';
import * as ghci from './ghci.ts';
import type { GuestKernel } from './kernel.ts';
import { describeMemoryFailure, setMemoryPrivate, setMemoryShared, type MemoryFailure } from './memory.ts';
import { tdcall } from './tdcall.ts';

const PAGE = levelSize(SeptLevel.PT);

/** Why an attestation step failed. Each kind keeps its own failure domain. */
export type AttestationFailure =
  /** The TDX module refused the TDCALL (RAX). */
  | { readonly ok: false; readonly kind: 'module'; readonly leaf: string; readonly status: bigint }
  /** The kernel had no free pages for the buffer. */
  | { readonly ok: false; readonly kind: 'no_memory' }
  /** Converting the GetQuote buffer to shared failed. */
  | { readonly ok: false; readonly kind: 'memory'; readonly failure: MemoryFailure }
  /** The VMM refused TDG.VP.VMCALL<GetQuote> (R10). */
  | { readonly ok: false; readonly kind: 'vmm'; readonly status: bigint; readonly statusName: TdvmcallStatusName | undefined }
  /** The quoting service answered with an error status in the buffer header. */
  | { readonly ok: false; readonly kind: 'quote'; readonly status: bigint; readonly statusName: GetQuoteStatusName | undefined }
  /** The status stayed GET_QUOTE_IN_FLIGHT for every poll. */
  | { readonly ok: false; readonly kind: 'timeout'; readonly polls: number }
  /** The VMM claimed a quote longer than the buffer can hold. */
  | { readonly ok: false; readonly kind: 'bad_quote_length'; readonly outLen: number; readonly max: number };

export type AttestationResult<T> = ({ readonly ok: true } & T) | AttestationFailure;

export class AttestationUsageError extends Error {
  override readonly name = 'AttestationUsageError';
}

/** TDREPORT_STRUCT for `reportData` (64 bytes), from TDG.MR.REPORT. */
export function* getReport(kernel: GuestKernel, reportData: Uint8Array): GuestGen<AttestationResult<{ report: Uint8Array }>> {
  if (reportData.length !== REPORTDATA_SIZE) throw new AttestationUsageError(`REPORTDATA is ${REPORTDATA_SIZE} bytes, got ${reportData.length}`);
  const { cpu, pages } = kernel;
  const buf = pages.alloc();
  if (buf === undefined) return { ok: false, kind: 'no_memory' };
  try {
    const reportGpa = buf;
    const dataGpa = buf + BigInt(TDREPORT_ALIGNMENT);
    yield* cpu.write(dataGpa, reportData);
    const res = yield* tdcall(cpu, TdcallLeaf.TDG_MR_REPORT, { report: reportGpa, reportData: dataGpa, subtype: 0n });
    if (!res.ok) return { ok: false, kind: 'module', leaf: TdcallLeaf.TDG_MR_REPORT.mnemonic, status: res.status };
    return { ok: true, report: yield* cpu.read(reportGpa, TDREPORT_STRUCT_SIZE) };
  } finally {
    pages.free(buf);
  }
}

/** Extend RTMR `index` with 48 bytes and record the extend in the event log. */
export function* extendRtmr(
  kernel: GuestKernel,
  index: number,
  data48: Uint8Array,
  event: { readonly eventType: number; readonly data: Uint8Array },
): GuestGen<AttestationResult<{ event: RtmrEvent }>> {
  if (data48.length !== MEASUREMENT_DIGEST_BYTES) throw new AttestationUsageError(`RTMR extend data is ${MEASUREMENT_DIGEST_BYTES} bytes`);
  const { cpu, pages } = kernel;
  const buf = pages.alloc();
  if (buf === undefined) return { ok: false, kind: 'no_memory' };
  try {
    yield* cpu.write(buf, data48);
    const res = yield* tdcall(cpu, TdcallLeaf.TDG_MR_RTMR_EXTEND, { gpa: buf, index: BigInt(index) });
    if (!res.ok) return { ok: false, kind: 'module', leaf: TdcallLeaf.TDG_MR_RTMR_EXTEND.mnemonic, status: res.status };
    return { ok: true, event: kernel.eventLog.record(index, event.eventType, data48, event.data) };
  } finally {
    pages.free(buf);
  }
}

/** Measure `data` into RTMR `index`: extend with SHA-384(data) and log the event. */
export function* measureEvent(kernel: GuestKernel, index: number, eventType: number, data: Uint8Array): GuestGen<AttestationResult<{ event: RtmrEvent }>> {
  return yield* extendRtmr(kernel, index, eventDigest(data), { eventType, data });
}

export interface GetQuoteOptions {
  /** Buffer size in 4K pages (header + report in, header + quote out). Default 2 (8 KiB, as Linux). */
  readonly pages?: number;
  /** Reads of the status field before giving up. Default 100. */
  readonly maxPolls?: number;
}

/**
 * A quote for `report` (a TDREPORT_STRUCT) from the VMM's quoting service. The VMM may complete
 * the request before it resumes the guest (then the first poll sees it) or later (the guest keeps
 * polling, a bounded number of times; each poll is a read of shared memory).
 */
export function* getQuote(kernel: GuestKernel, report: Uint8Array, options: GetQuoteOptions = {}): GuestGen<AttestationResult<{ quote: Uint8Array }>> {
  if (report.length !== TDREPORT_STRUCT_SIZE) throw new AttestationUsageError(`a TDREPORT is ${TDREPORT_STRUCT_SIZE} bytes`);
  const count = options.pages ?? 2;
  const maxPolls = options.maxPolls ?? 100;
  if (!Number.isInteger(count) || count < 1) throw new AttestationUsageError(`GetQuote buffer needs ≥ 1 page, got ${count}`);
  const { pages, sharedBit } = kernel;
  const buf = pages.alloc(count);
  if (buf === undefined) return { ok: false, kind: 'no_memory' };
  const size = BigInt(count) * PAGE;
  const toShared = yield* setMemoryShared(kernel, buf, size);
  if (!toShared.ok) {
    pages.retire(buf); // partly converted: never reuse as private memory
    return { ok: false, kind: 'memory', failure: toShared };
  }
  const shared = buf | sharedBit;
  const result = yield* quoteExchange(kernel, shared, size, report, maxPolls);
  const back = yield* setMemoryPrivate(kernel, buf, size);
  if (back.ok) {
    pages.free(buf);
  } else {
    // The quote (if any) is still good; the pages are not, so they leave the pool for good.
    pages.retire(buf);
    kernel.warnings.push(`GetQuote buffer not converted back: ${describeMemoryFailure(back)}`);
  }
  return result;
}

/** Fill the shared buffer, issue GetQuote, poll, and read the quote out. */
function* quoteExchange(kernel: GuestKernel, shared: bigint, size: bigint, report: Uint8Array, maxPolls: number): GuestGen<AttestationResult<{ quote: Uint8Array }>> {
  const { cpu } = kernel;
  const header = GET_QUOTE_HEADER.encode({ version: GET_QUOTE_BUFFER_VERSION, status: GetQuoteStatus.GET_QUOTE_SUCCESS, in_len: report.length, out_len: 0 });
  yield* cpu.write(shared, header);
  yield* writeAcrossPages(kernel, shared + BigInt(GET_QUOTE_HEADER_SIZE), report);
  const res = yield* ghci.getQuote(cpu, shared, size);
  if (!res.ok) return { ok: false, kind: 'vmm', status: res.status, statusName: res.statusName };
  for (let poll = 0; poll < maxPolls; poll++) {
    const h = GET_QUOTE_HEADER.decode(yield* cpu.read(shared, GET_QUOTE_HEADER_SIZE));
    if (h.status === GetQuoteStatus.GET_QUOTE_IN_FLIGHT) continue;
    if (h.status !== GetQuoteStatus.GET_QUOTE_SUCCESS) return { ok: false, kind: 'quote', status: h.status, statusName: quoteStatusName(h.status) };
    const max = Number(size) - GET_QUOTE_HEADER_SIZE;
    if (h.out_len > max) return { ok: false, kind: 'bad_quote_length', outLen: h.out_len, max };
    return { ok: true, quote: yield* readAcrossPages(kernel, shared + BigInt(GET_QUOTE_HEADER_SIZE), h.out_len) };
  }
  return { ok: false, kind: 'timeout', polls: maxPolls };
}

/** Store `data` at `gpa` one page-bounded chunk at a time (a MOV never spans pages here). */
function* writeAcrossPages(kernel: GuestKernel, gpa: bigint, data: Uint8Array): GuestGen<void> {
  for (let off = 0; off < data.length; ) {
    const at = gpa + BigInt(off);
    const n = Math.min(data.length - off, Number(PAGE - (at % PAGE)));
    yield* kernel.cpu.write(at, data.subarray(off, off + n));
    off += n;
  }
}

function* readAcrossPages(kernel: GuestKernel, gpa: bigint, length: number): GuestGen<Uint8Array> {
  const out = new Uint8Array(length);
  for (let off = 0; off < length; ) {
    const at = gpa + BigInt(off);
    const n = Math.min(length - off, Number(PAGE - (at % PAGE)));
    out.set(yield* kernel.cpu.read(at, n), off);
    off += n;
  }
  return out;
}

function quoteStatusName(status: bigint): GetQuoteStatusName | undefined {
  return (Object.keys(GetQuoteStatus) as GetQuoteStatusName[]).find((k) => GetQuoteStatus[k] === status);
}

/** One line describing an attestation failure, for consoles and panics. */
export function describeAttestationFailure(f: AttestationFailure): string {
  switch (f.kind) {
    case 'module':
      return `${f.leaf}: status 0x${f.status.toString(16)}`;
    case 'no_memory':
      return 'no free guest pages';
    case 'memory':
      return describeMemoryFailure(f.failure);
    case 'vmm':
      return `GetQuote: VMM ${f.statusName ?? `0x${f.status.toString(16)}`}`;
    case 'quote':
      return `GetQuote: ${f.statusName ?? `status 0x${f.status.toString(16)}`}`;
    case 'timeout':
      return `GetQuote: still in flight after ${f.polls} polls`;
    case 'bad_quote_length':
      return `GetQuote: quote length ${f.outLen} > ${f.max}`;
  }
}
