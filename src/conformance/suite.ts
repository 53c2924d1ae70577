/**
 * The whole suite: every area's cases, in area order.
 */
import type { ConformanceCase } from './case.ts';
import { BRING_UP_CASES } from './areas/bring-up.ts';
import { TD_BUILD_CASES } from './areas/td-build.ts';
import { METADATA_CASES } from './areas/metadata.ts';
import { SEPT_CASES } from './areas/sept.ts';
import { TEARDOWN_CASES, TEARDOWN_TD_CASES } from './areas/teardown.ts';
import { TDCALL_CASES } from './areas/tdcall.ts';
import { TDVMCALL_HOST_CASES } from './areas/tdvmcall-host.ts';
import { TDVMCALL_GUEST_CASES } from './areas/tdvmcall-guest.ts';
import { VE_CASES } from './areas/ve.ts';
import { MEMORY_CASES } from './areas/memory.ts';
import { ISOLATION_MODULE_CASES, ISOLATION_TD_CASES } from './areas/isolation.ts';
import { ATTESTATION_CASES } from './areas/attestation.ts';
import { VCPU_MODULE_CASES, VCPU_TD_CASES } from './areas/vcpu.ts';

export const ALL_CASES: readonly ConformanceCase[] = Object.freeze([...BRING_UP_CASES, ...TD_BUILD_CASES, ...SEPT_CASES, ...METADATA_CASES, ...VCPU_TD_CASES, ...VCPU_MODULE_CASES, ...TDCALL_CASES, ...TDVMCALL_HOST_CASES, ...TDVMCALL_GUEST_CASES, ...VE_CASES, ...MEMORY_CASES, ...ISOLATION_TD_CASES, ...ISOLATION_MODULE_CASES, ...ATTESTATION_CASES, ...TEARDOWN_CASES, ...TEARDOWN_TD_CASES]);
