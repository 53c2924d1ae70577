/** Placeholder: filled by the engineer who owns the tdg-vp leaf family. */
import type { TdcallHandlerTable } from './context.ts';

export const TDG_VP_HANDLERS: TdcallHandlerTable = {};
