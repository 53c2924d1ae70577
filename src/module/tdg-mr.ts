/** Placeholder: filled by the engineer who owns the tdg-mr leaf family. */
import type { TdcallHandlerTable } from './context.ts';

export const TDG_MR_HANDLERS: TdcallHandlerTable = {};
