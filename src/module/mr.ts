/** Placeholder: filled by the engineer who owns the mr leaf family. */
import type { SeamcallHandlerTable } from './context.ts';

export const MR_HANDLERS: SeamcallHandlerTable = {};
