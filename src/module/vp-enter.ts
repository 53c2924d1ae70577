/** Placeholder: filled by the engineer who owns the vp-enter leaf family. */
import type { SeamcallHandlerTable } from './context.ts';

export const VP_ENTER_HANDLERS: SeamcallHandlerTable = {};
