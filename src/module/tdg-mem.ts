/** Placeholder: filled by the engineer who owns the tdg-mem leaf family. */
import type { TdcallHandlerTable } from './context.ts';

export const TDG_MEM_HANDLERS: TdcallHandlerTable = {};
