/**
 * The fuzz targets by name: `module` (a malicious host against the TDX module), `host` (a
 * malicious guest against the host VMM) and `guest` (a malicious VMM against the guest library).
 */
import type { TargetName } from '../case.ts';
import type { AnyTarget } from '../target.ts';
import { moduleTarget } from './module.ts';
import { hostTarget } from './host.ts';
import { guestTarget } from './guest.ts';

export const TARGETS: Readonly<Record<TargetName, AnyTarget>> = Object.freeze({
  module: moduleTarget,
  host: hostTarget,
  guest: guestTarget,
});

export function fuzzTarget(name: TargetName): AnyTarget {
  return TARGETS[name];
}
