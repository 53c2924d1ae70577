/** Placeholder: filled by the engineer who owns the phymem leaf family. */
import type { SeamcallHandlerTable } from './context.ts';

export const PHYMEM_HANDLERS: SeamcallHandlerTable = {};
