/**
 * The identity the simulated TDX module reports (TDH.SYS.INFO, TDH.SYS.RD, TDG.SYS.RD).
 *
 * tdxsim models the TDX 1.5 module (facts tdx-module.md §0: release "TDX 1.5.01"), so it reports
 * major 1, minor 5, update 1. The build number and date name tdxsim's own model, not an Intel
 * build: nothing may treat them as a real release. TDX_FEATURES0 lists only what tdxsim
 * implements: TDG.VP.RD/WR, host-priority locks, NO_RBP_MOD (Linux refuses a module without it)
 * and TOPOLOGY_ENUM (KVM requires it); migration, TD preserving updates, service TDs and TD
 * partitioning are not modelled and so are not advertised.
 */
import { features0 } from '../abi/module-features.ts';
import type { ModuleIdentity } from './module.ts';

export const DEFAULT_MODULE_IDENTITY: ModuleIdentity = Object.freeze({
  majorVersion: 1,
  minorVersion: 5,
  updateVersion: 1,
  buildNumber: 1,
  buildDate: 20250101,
  features0: features0('TDG_VP_RDWR', 'HOST_PRIORITY_LOCKS', 'NO_RBP_MOD', 'TOPOLOGY_ENUM'),
});
