/** Placeholder: filled by the engineer who owns the mng leaf family. */
import type { SeamcallHandlerTable } from './context.ts';

export const MNG_HANDLERS: SeamcallHandlerTable = {};
