/** Placeholder: filled by the engineer who owns the mem leaf family. */
import type { SeamcallHandlerTable } from './context.ts';

export const MEM_HANDLERS: SeamcallHandlerTable = {};
