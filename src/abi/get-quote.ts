/**
 * The GetQuote shared buffer (GHCI TDG.VP.VMCALL<GetQuote>, sub-function 0x10002).
 *
 * The guest puts a TDREPORT_STRUCT in a shared (unencrypted) buffer behind a 24-byte header and
 * passes R12 = the buffer's GPA, R13 = its size. The VMM (via the host's quoting service) replaces
 * the report with a quote: it writes `status` and `out_len` and the quote bytes after the header.
 * While the request is pending, `status` reads GET_QUOTE_IN_FLIGHT; the guest polls it or waits
 * for the SetupEventNotifyInterrupt vector.
 *
 * The buffer is shared memory, so everything in it is untrusted on both sides: the guest must
 * bound `out_len` by its buffer size, the host must bound `in_len` likewise.
 *
 * Source: Linux `drivers/virt/coco/tdx-guest/tdx-guest.c` (`struct tdx_quote_buf`,
 * GET_QUOTE_CMD_VER, GET_QUOTE_BUF_SIZE, GET_QUOTE_SUCCESS and GET_QUOTE_IN_FLIGHT); the two error
 * values come from the GHCI by way of Linux's `include/uapi/linux/tdx-guest.h` of the same era and
 * the 2026 "Return error for GetQuote failures" change to the driver. Facts linux-tdx.md §2.5, §4.3.
 */
import { defineLayout } from './layout.ts';

/** Header size: the quote data starts here. */
export const GET_QUOTE_HEADER_SIZE = 24;
/** `version` the guest writes: 1 (GET_QUOTE_CMD_VER). */
export const GET_QUOTE_BUFFER_VERSION = 1n;
/** Size of the shared buffer the Linux guest allocates: 8 KB (quote data plus certificates). */
export const GET_QUOTE_LINUX_BUFFER_SIZE = 8192;

/** GetQuote buffer header (`struct tdx_quote_buf` without its data). */
export const GET_QUOTE_HEADER = defineLayout('GET_QUOTE_HEADER', GET_QUOTE_HEADER_SIZE, [
  { name: 'version', offset: 0, size: 8, kind: 'u64', doc: 'format version, written by the guest (1)' },
  { name: 'status', offset: 8, size: 8, kind: 'u64', doc: 'GetQuoteStatus, written by the VMM' },
  { name: 'in_len', offset: 16, size: 4, kind: 'u32', doc: 'bytes of TDREPORT after the header, written by the guest' },
  { name: 'out_len', offset: 20, size: 4, kind: 'u32', doc: 'bytes of quote after the header, written by the VMM' },
]);

/** Values of the header's `status` field. */
export const GetQuoteStatus = Object.freeze({
  /** The quote is in the buffer. */
  GET_QUOTE_SUCCESS: 0x0000_0000_0000_0000n,
  /** The request is still being processed; poll again or wait for the notification vector. */
  GET_QUOTE_IN_FLIGHT: 0xffff_ffff_ffff_ffffn,
  /** The quoting service failed. */
  GET_QUOTE_ERROR: 0x8000_0000_0000_0000n,
  /** No quoting service is available to the VMM. */
  GET_QUOTE_SERVICE_UNAVAILABLE: 0x8000_0000_0000_0001n,
} as const);

export type GetQuoteStatusName = keyof typeof GetQuoteStatus;
