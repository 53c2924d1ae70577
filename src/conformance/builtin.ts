/**
 * The built-in host and guest as conformance parties.
 *
 * The host adapter is the built-in exit path itself: `handleExit` classifies the TDVMCALL exit
 * and runs KVM's handler for its sub-function. The guest adapter is the built-in library; only
 * attestation needs a shim, building the `GuestKernel` the built-in calls take from the
 * AttestationEnv (a page pool over the scratch memory, the shared bit and GPAW).
 */
import { handleExit } from '../host/exits.ts';
import * as ghci from '../guest/ghci.ts';
import { installVeHandler } from '../guest/ve.ts';
import { acceptMemory, setMemoryPrivate, setMemoryShared } from '../guest/memory.ts';
import { extendRtmr, getQuote, getReport } from '../guest/attestation.ts';
import { GuestKernel } from '../guest/kernel.ts';
import { GuestPageAllocator } from '../guest/pages.ts';
import { TcgEventType } from '../abi/td-guest.ts';
import type { AttestationEnv, ConformanceGuest, ConformanceHost, ExitContext } from './interfaces.ts';

export const builtinHost: ConformanceHost = Object.freeze({
  name: 'built-in host (KVM-shaped)',
  // handleExit reads the exit registers from the vCPU, which is where the conformance loop keeps them.
  handleTdvmcall: (ctx: ExitContext) => handleExit(ctx.vcpu, ctx.status),
});

/** A GuestKernel over an AttestationEnv: one vCPU, no attributes, the scratch range as its pool. */
function kernelFor(env: AttestationEnv): GuestKernel {
  const gpaw = bitIndex(env.sharedBit) + 1;
  return new GuestKernel(env.cpu, gpaw, env.sharedBit, 0, 1, 1, 0n, new GuestPageAllocator(env.scratch.gpa, env.scratch.size));
}

function bitIndex(mask: bigint): number {
  return mask.toString(2).length - 1;
}

export const builtinGuest: ConformanceGuest = Object.freeze({
  name: 'built-in guest library',
  ghci,
  installVeHandler,
  acceptMemory,
  setMemoryShared,
  setMemoryPrivate,
  getReport: (env, reportData) => getReport(kernelFor(env), reportData),
  *extendRtmr(env, index, data48) {
    const res = yield* extendRtmr(kernelFor(env), index, data48, { eventType: TcgEventType.EV_IPL, data: data48 });
    return res.ok ? { ok: true as const } : res;
  },
  getQuote: (env, report) => getQuote(kernelFor(env), report),
} satisfies ConformanceGuest);
