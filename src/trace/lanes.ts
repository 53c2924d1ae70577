/**
 * How each event kind is drawn in a sequence diagram of the four parties: the lane the arrow
 * leaves and the lane it reaches (equal for work inside one party and for state changes).
 *
 * Read top to bottom, one TDG.VP.VMCALL round trip is: guest → module (tdcall), module → host
 * (td_exit), host (tdvmcall: the exit handler), host → userspace (user_exit), userspace → host
 * (user_complete), host → module (td_entry), module → guest (resume).
 */
import type { TraceEventKind, TraceParty } from './events.ts';

export interface Arrow {
  readonly from: TraceParty;
  readonly to: TraceParty;
}

export const ARROWS: Readonly<Record<TraceEventKind, Arrow>> = Object.freeze({
  seamcall: { from: 'host', to: 'module' },
  tdcall: { from: 'guest', to: 'module' },
  resume: { from: 'module', to: 'guest' },
  ve: { from: 'module', to: 'guest' },
  td_exit: { from: 'module', to: 'host' },
  td_entry: { from: 'host', to: 'module' },
  tdvmcall: { from: 'host', to: 'host' },
  user_exit: { from: 'host', to: 'userspace' },
  user_complete: { from: 'userspace', to: 'host' },
  page: { from: 'module', to: 'module' },
  measure: { from: 'module', to: 'module' },
});

/** The arrow of one event; a page change in the shared EPT is the host's. */
export function arrowOf(kind: TraceEventKind, party: TraceParty): Arrow {
  const a = ARROWS[kind];
  return a.from === a.to ? { from: party, to: party } : a;
}

export const PARTY_LABELS: Readonly<Record<TraceParty, string>> = Object.freeze({
  guest: 'TD guest',
  module: 'TDX module',
  host: 'host VMM',
  userspace: 'VMM userspace',
});
