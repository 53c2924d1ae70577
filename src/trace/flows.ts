/**
 * Flow chains: which events belong to one round trip through the parties, so the exporters can
 * draw arrows along it.
 *
 * A chain is opened by a guest TDG.VP.VMCALL that exits, or by an asynchronous TD exit (EPT
 * violation, interrupt, …), and is keyed by the vCPU: the parties never pass a chain id to each
 * other (they cannot — host, guest and module do not import each other), but every emit point
 * knows which vCPU it is working for. Later events of that vCPU (TD exit, the host's handling,
 * the userspace exit and completion, TD entry) continue it; the TD entry closes a chain the module
 * opened, the guest's resume closes one the guest opened.
 *
 * The state is kept per tracer, beside it rather than in it, so the Tracer interface stays three
 * members and a tracer that is off never touches it.
 */
import type { LeafDef } from '../abi/leaf.ts';
import type { TdvmcallSubfunction } from '../abi/tdvmcall.ts';
import type { Tracer } from './tracer.ts';

/** What the events after the opening one need to know about the round trip. */
export interface ChainInfo {
  /** Opened by the guest's TDCALL: the guest's resume will close it. */
  readonly byGuest: boolean;
  /** GPRs the guest exposed to the VMM (TDG.VP.VMCALL RCX bits 15:0); 0 for an async exit. */
  readonly gprMask: bigint;
  /** Name of the opening event (`TDG.VP.VMCALL<MapGPA>`): the resume is named the same. */
  readonly name: string;
  /** The leaf that left the TD: its outputs are what the guest sees on resume. */
  readonly leaf: LeafDef;
  /** The GHCI sub-function requested, when known. */
  readonly sub?: TdvmcallSubfunction;
}

interface OpenChain extends ChainInfo {
  /** Chain id: the `seq` of the event that opened it. */
  readonly id: number;
}

const chains = new WeakMap<Tracer, Map<string, OpenChain>>();

function open(tracer: Tracer): Map<string, OpenChain> {
  let m = chains.get(tracer);
  if (!m) chains.set(tracer, (m = new Map()));
  return m;
}

/** Key of a vCPU across TDs. */
export function vcpuKey(td: string | undefined, vcpu: number | undefined): string {
  return `${td ?? '-'}/${vcpu ?? '-'}`;
}

/** Open a chain for a vCPU (replacing one left open, e.g. by a guest that never resumed). */
export function openChain(tracer: Tracer, key: string, id: number, info: ChainInfo): void {
  open(tracer).set(key, { ...info, id });
}

/** The chain open for a vCPU, if any. */
export function currentChain(tracer: Tracer, key: string): Readonly<OpenChain> | undefined {
  return chains.get(tracer)?.get(key);
}

export function closeChain(tracer: Tracer, key: string): void {
  chains.get(tracer)?.delete(key);
}
