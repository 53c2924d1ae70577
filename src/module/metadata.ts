/** Placeholder: filled by the engineer who owns metadata access. */
import type { SeamcallHandlerTable, TdcallHandlerTable } from './context.ts';

export const METADATA_SEAMCALL_HANDLERS: SeamcallHandlerTable = {};
export const METADATA_TDCALL_HANDLERS: TdcallHandlerTable = {};
