/**
 * Test harness for vCPUs: build one the way KVM's KVM_TDX_INIT_VCPU does — TDH.VP.CREATE, five
 * TDH.VP.ADDCX (TDVPS = TDVPR + 5 TDCX for an L1-only TD), TDH.VP.INIT — on a chosen LP, through
 * real SEAMCALLs. Builds on module-harness.ts (`bringUp`, `createTd`).
 *
 *   const env = bringUp();
 *   const t = createTd(env, { maxVcpus: 2 });
 *   const v = createVcpu(env, t.tdr, { lp: 1, initialRcx: 0x1234n });   // VP.INIT on LP 1
 */
import { TDVPS_BASE_PAGES } from '../../src/abi/lifecycle.ts';
import type { Vcpu } from '../../src/module/vcpu.ts';
import { expectStatus, type ModuleEnv } from './module-harness.ts';

export interface CreateVcpuOptions {
  /** LP that runs the leaves (and so becomes the associated LP). Default 0. */
  lp?: number;
  /** TDH.VP.INIT RDX: the guest's initial RCX/R8. Default 0. */
  initialRcx?: bigint;
  /** TDH.VP.INIT version 1 with this x2APIC ID in R8 (default: version 0). */
  x2apicId?: bigint;
  /** TDCX pages to add (default 5: a complete L1-only TDVPS). */
  tdcxPages?: number;
  /** Stop after this step (default 'init'). */
  until?: 'create' | 'addcx' | 'init';
}

export interface CreatedVcpu {
  readonly tdvpr: bigint;
  readonly tdcx: bigint[];
  /** The module's vCPU object. */
  readonly vcpu: Vcpu;
}

/** TDH.VP.CREATE + TDH.VP.ADDCX × 5 + TDH.VP.INIT for the TD at `tdr`. */
export function createVcpu(env: ModuleEnv, tdr: bigint, opts: CreateVcpuOptions = {}): CreatedVcpu {
  const tdh = env.on(opts.lp ?? 0);
  const tdvpr = env.alloc.alloc4k();
  expectStatus(tdh.VP_CREATE({ tdvpr, tdr }), 'TDH.VP.CREATE');
  const done = (tdcx: bigint[]): CreatedVcpu => ({ tdvpr, tdcx, vcpu: env.module.vcpu(tdvpr)! });
  if (opts.until === 'create') return done([]);
  const tdcx = env.alloc.allocMany(opts.tdcxPages ?? TDVPS_BASE_PAGES - 1);
  for (const page of tdcx) expectStatus(tdh.VP_ADDCX({ page, tdvpr }), 'TDH.VP.ADDCX');
  if (opts.until === 'addcx') return done(tdcx);
  const version = opts.x2apicId === undefined ? 0 : 1;
  expectStatus(
    tdh.VP_INIT({ tdvpr, initialRcx: opts.initialRcx ?? 0n, x2apicId: opts.x2apicId ?? 0n }, { version }),
    'TDH.VP.INIT',
  );
  return done(tdcx);
}
