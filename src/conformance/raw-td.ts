/**
 * A TD built by hand, one SEAMCALL at a time, so a case can stop at any build step and probe the
 * leaf it is about (facts tdx-module.md §5.2): MNG.CREATE, MNG.KEY.CONFIG per package, MNG.ADDCX ×
 * TDCS_BASE_PAGES, MNG.INIT with TD_PARAMS (built by the host's TD_PARAMS builder, optionally
 * patched), VP.CREATE + VP.ADDCX + VP.INIT per vCPU, SEPT.ADD along a GPA's path, PAGE.ADD (and
 * MR.EXTEND), MR.FINALIZE.
 *
 * The helpers that a case uses as *setup* check each status and throw on failure — a setup
 * failure is reported as the case failing with that status, decoded. The leaf a case is about is
 * issued by the case itself with `m.call(...)`, so its full register image is examined.
 */
import { GPA_AND_LEVEL } from '../abi/operands.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { TDCS_BASE_PAGES, TDVPS_BASE_PAGES } from '../abi/lifecycle.ts';
import { TdAttributesBit } from '../abi/td-config.ts';
import { GPAW_48, eptLevels } from '../abi/gpa.ts';
import { SeptLevel } from '../abi/sept.ts';
import { PAGE_SIZE } from '../abi/pamt.ts';
import { MR_EXTEND_CHUNK_BYTES } from '../abi/measurement.ts';
import { SHA384_SIZE } from '../abi/td-params.ts';
import { TdxStatus } from '../abi/status.ts';
import { BOOT_PAGE_GPA, encodeBootPage } from '../platform/boot-image.ts';
import type { LeafDef, OperandValues } from '../abi/leaf.ts';
import type { LeafCallOptions, LeafCallResult } from '../platform/leaf-call.ts';
import { buildTdParams, type TdParamsRequest } from '../host/td-params-builder.ts';
import { CaseFailure } from './case.ts';
import { asStatus } from './expect.ts';
import type { Machine } from './machine.ts';

const DEFAULT_TSC_KHZ = 2_500_000;

/** GPA | level in the `page_info_api_input_t` form. */
export function gpaLevel(gpa: bigint, level: number = SeptLevel.PT): bigint {
  return GPA_AND_LEVEL.encode({ level, gpa_page: gpa >> 12n });
}

/** Issue a setup SEAMCALL; anything but TDX_SUCCESS fails the case, naming the step. */
export function must<L extends LeafDef>(
  m: Machine,
  leaf: L,
  inputs: Partial<OperandValues<L['inputs']>>,
  step: string,
  options: LeafCallOptions & { lp?: number } = {},
): LeafCallResult<L> {
  const r = m.call(leaf, inputs, options);
  if (r.status !== TdxStatus.TDX_SUCCESS) throw new CaseFailure([`setup: ${step}: ${leaf.mnemonic} returned ${asStatus(r.status)}`]);
  return r;
}

export interface RawVcpu {
  readonly tdvpr: bigint;
  readonly tdcx: bigint[];
  /** The LP TDH.VP.INIT ran on (the vCPU is associated with it). */
  readonly lp: number;
}

export class RawTd {
  readonly tdcs: bigint[] = [];
  readonly vcpus: RawVcpu[] = [];
  /** Private pages by GPA. */
  readonly pages = new Map<bigint, bigint>();
  /** Secure-EPT pages by `${level}:${gpa >> (12 + 9·level)}`. */
  readonly sept = new Map<string, bigint>();

  private constructor(
    readonly m: Machine,
    readonly tdr: bigint,
    readonly hkid: number,
    readonly gpaw: number,
  ) {}

  /** TDH.MNG.CREATE with a fresh TDR page and a free HKID. */
  static create(m: Machine, options: { gpaw?: number } = {}): RawTd {
    const tdr = m.page();
    const hkid = m.tdx.hkids.alloc();
    must(m, SeamcallLeaf.TDH_MNG_CREATE, { tdr, hkid: BigInt(hkid) }, 'creating the TD');
    return new RawTd(m, tdr, hkid, options.gpaw ?? GPAW_48);
  }

  /** Create, configure keys and add the TDCS pages: ready for TDH.MNG.INIT. */
  static uninitialized(m: Machine, options: { gpaw?: number } = {}): RawTd {
    const td = RawTd.create(m, options);
    td.configureKeys();
    td.addTdcs();
    return td;
  }

  /** Up to TDH.MNG.INIT: OP_STATE INITIALIZED, ready for vCPUs and pages. */
  static initialized(m: Machine, params: Partial<TdParamsRequest> = {}): RawTd {
    const td = RawTd.uninitialized(m, params.gpaw !== undefined ? { gpaw: params.gpaw } : {});
    const r = td.init(params);
    if (r.status !== TdxStatus.TDX_SUCCESS) throw new CaseFailure([`setup: TDH.MNG.INIT returned ${asStatus(r.status)}`]);
    return td;
  }

  /**
   * A finalised TD with `vcpus` vCPUs (vCPU i initialised on LP i) whose boot page names
   * `program` (a firmware-catalogue name); RUNNABLE.
   */
  static runnable(m: Machine, options: { vcpus?: number; program?: string; params?: Partial<TdParamsRequest> } = {}): RawTd {
    const td = RawTd.initialized(m, { maxVcpus: options.vcpus ?? 1, ...options.params });
    for (let i = 0; i < (options.vcpus ?? 1); i++) td.addVcpu(i);
    td.addPage(BOOT_PAGE_GPA, encodeBootPage({ program: options.program ?? 'idle', args: null }));
    must(m, SeamcallLeaf.TDH_MR_FINALIZE, { tdr: td.tdr }, 'finalizing');
    return td;
  }

  /** TDH.MNG.KEY.CONFIG on the first LP of every package. */
  configureKeys(): void {
    this.m.platform.packages.forEach((p, i) => must(this.m, SeamcallLeaf.TDH_MNG_KEY_CONFIG, { tdr: this.tdr }, `configuring the key on package ${i}`, { lp: p.lps[0]!.id }));
  }

  /** TDH.MNG.ADDCX of `count` fresh pages (default: the TDCS base size). */
  addTdcs(count = TDCS_BASE_PAGES): void {
    for (let i = 0; i < count; i++) {
      const page = this.m.page();
      must(this.m, SeamcallLeaf.TDH_MNG_ADDCX, { page, tdr: this.tdr }, `adding TDCS page ${i}`);
      this.tdcs.push(page);
    }
  }

  /** TD_PARAMS bytes: the host builder's defaults (SEPT_VE_DISABLE, XFAM_FIXED1, GPAW 48) plus `params`. */
  tdParams(params: Partial<TdParamsRequest> = {}): Uint8Array {
    const host = this.m.tdx;
    const zero = new Uint8Array(SHA384_SIZE);
    return buildTdParams(
      {
        attributes: 1n << BigInt(TdAttributesBit.SEPT_VE_DISABLE),
        xfam: host.sysinfo.xfamFixed1,
        maxVcpus: 1,
        gpaw: this.gpaw,
        tscKhz: DEFAULT_TSC_KHZ,
        mrConfigId: zero,
        mrOwner: zero,
        mrOwnerConfig: zero,
        cpuid: [],
        ...params,
      },
      host.sysinfo,
      host.capabilities(),
    );
  }

  /** TDH.MNG.INIT with TD_PARAMS from `params`, or with exactly `bytes`. */
  init(params: Partial<TdParamsRequest> | Uint8Array = {}): LeafCallResult<typeof SeamcallLeaf.TDH_MNG_INIT> {
    const bytes = params instanceof Uint8Array ? params : this.tdParams(params);
    const page = this.m.page();
    this.m.write(page, bytes);
    return this.m.call(SeamcallLeaf.TDH_MNG_INIT, { tdr: this.tdr, tdParams: page });
  }

  /** TDH.VP.CREATE, TDH.VP.ADDCX × (TDVPS pages − 1), TDH.VP.INIT, all on LP `lp`. */
  addVcpu(lp = 0): RawVcpu {
    const tdvpr = this.m.page();
    must(this.m, SeamcallLeaf.TDH_VP_CREATE, { tdvpr, tdr: this.tdr }, 'creating a vCPU', { lp });
    const tdcx: bigint[] = [];
    for (let i = 1; i < TDVPS_BASE_PAGES; i++) {
      const page = this.m.page();
      must(this.m, SeamcallLeaf.TDH_VP_ADDCX, { page, tdvpr }, `adding TDVPS page ${i}`, { lp });
      tdcx.push(page);
    }
    must(this.m, SeamcallLeaf.TDH_VP_INIT, { tdvpr, initialRcx: 0n }, 'initialising the vCPU', { lp });
    const v = { tdvpr, tdcx, lp };
    this.vcpus.push(v);
    return v;
  }

  /** TDH.MEM.SEPT.ADD for every missing non-leaf level above the 4K leaf of `gpa` (down to `downTo`). */
  septPath(gpa: bigint, downTo: number = SeptLevel.PD): void {
    for (let level = eptLevels(this.gpaw) - 1; level >= downTo; level--) {
      const key = `${level}:${gpa >> BigInt(12 + 9 * level)}`;
      if (this.sept.has(key)) continue;
      const page = this.m.page();
      must(this.m, SeamcallLeaf.TDH_MEM_SEPT_ADD, { gpaLevel: gpaLevel(gpa & ~((1n << BigInt(12 + 9 * level)) - 1n), level), tdrFlags: this.tdr, page }, `adding the level-${level} S-EPT page for 0x${gpa.toString(16)}`);
      this.sept.set(key, page);
    }
  }

  /** TDH.MEM.PAGE.ADD of one 4K page (S-EPT path added as needed), then MR.EXTEND if `measure`. */
  addPage(gpa: bigint, bytes: Uint8Array = new Uint8Array(Number(PAGE_SIZE)), measure = false): bigint {
    this.septPath(gpa);
    const src = this.m.page();
    const full = new Uint8Array(Number(PAGE_SIZE));
    full.set(bytes.subarray(0, full.length));
    this.m.write(src, full);
    const page = this.m.page();
    must(this.m, SeamcallLeaf.TDH_MEM_PAGE_ADD, { gpaLevel: gpaLevel(gpa), tdr: this.tdr, page, source: src }, `adding page 0x${gpa.toString(16)}`);
    this.pages.set(gpa, page);
    if (measure) {
      for (let off = 0n; off < PAGE_SIZE; off += BigInt(MR_EXTEND_CHUNK_BYTES)) {
        must(this.m, SeamcallLeaf.TDH_MR_EXTEND, { gpa: gpa + off, tdr: this.tdr }, `measuring 0x${(gpa + off).toString(16)}`);
      }
    }
    return page;
  }
}
