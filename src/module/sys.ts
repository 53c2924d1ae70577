/** Placeholder: filled by the engineer who owns the sys leaf family. */
import type { SeamcallHandlerTable } from './context.ts';

export const SYS_HANDLERS: SeamcallHandlerTable = {};
