/** Placeholder: filled by the engineer who owns the vp leaf family. */
import type { SeamcallHandlerTable } from './context.ts';

export const VP_HANDLERS: SeamcallHandlerTable = {};
