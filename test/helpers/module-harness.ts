/**
 * Test harness: a small platform with a TDX module brought up by the real SEAMCALL sequence, and
 * TDs created the way KVM creates them. Every step goes through SEAMCALL, so a test that uses the
 * harness also exercises the bring-up and build leaves.
 *
 *   const env = bringUp();                    // 2 packages × 2 LPs, 2 GiB, one 1 GiB TDMR
 *   const { td, tdr, tdcx, hkid } = createTd(env, { maxVcpus: 2 });
 *   env.tdh.MNG_RD({ tdr, fieldId })          // typed SEAMCALLs on LP 0; env.on(i) for LP i
 *
 * Memory map (default 2 GiB): host buffers (TDMR_INFO, TD_PARAMS, …) come from `env.shared`, an
 * allocator over [8 MiB, 64 MiB) outside every TDMR; the PAMT sits at 64 MiB, also outside; TD
 * pages come from `env.alloc`, an allocator over the TDMR [1 GiB, 2 GiB).
 */
import { encodeTdmrInfo } from '../../src/host/tdmr-plan.ts';
import { Platform, type PlatformConfig } from '../../src/platform/platform.ts';
import { PageAllocator } from '../../src/platform/page-allocator.ts';
import { seamcalls, type LeafCallResult, type Seamcalls } from '../../src/platform/leaf-call.ts';
import { TdxModule, type ModuleIdentity } from '../../src/module/module.ts';
import { DEFAULT_MODULE_IDENTITY } from '../../src/module/identity.ts';
import type { Td } from '../../src/module/td.ts';
import { TdxStatus } from '../../src/abi/status.ts';
import { hex64 } from '../../src/abi/bitfield.ts';
import type { LeafDef } from '../../src/abi/leaf.ts';
import type { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';
import { PAGE_SIZE, PAMT_ENTRY_BYTES, SIZE_1G, SIZE_2M } from '../../src/abi/pamt.ts';
import { TDCS_BASE_PAGES } from '../../src/abi/lifecycle.ts';
import {
  EPT_MEMORY_TYPE_WB,
  EPT_PWL_MINUS_1_4LEVEL,
  EPT_PWL_MINUS_1_5LEVEL,
  EPTP_CONTROLS,
  TdAttributesBit,
  XFAM_FIXED1,
  XfamBit,
} from '../../src/abi/td-config.ts';
import { TD_CONFIG_FLAGS, TD_PARAMS, TD_PARAMS_CPUID_ENTRY, TD_PARAMS_CPUID_ENTRY_SIZE } from '../../src/abi/td-params.ts';
import { NUM_CPUID_CONFIG } from '../../src/abi/cpuid-config.ts';
import type { CpuidRegs } from '../../src/abi/cpuid-config.ts';

const MiB = 1n << 20n;

/** A TDMR as the host describes it in TDMR_INFO. */
export interface TdmrSpec {
  base: bigint;
  size: bigint;
  /** PAMT ranges by level: 4K, 2M, 1G. */
  pamt4k: { base: bigint; size: bigint };
  pamt2m: { base: bigint; size: bigint };
  pamt1g: { base: bigint; size: bigint };
  reserved: { offset: bigint; size: bigint }[];
}

/** PAMT bytes a TDMR of `size` needs at each level, rounded up to 4K (as Linux computes them). */
export function pamtSizes(size: bigint): { pamt4k: bigint; pamt2m: bigint; pamt1g: bigint } {
  const need = (pageSize: bigint) => {
    const bytes = (size / pageSize) * BigInt(PAMT_ENTRY_BYTES);
    return ((bytes + PAGE_SIZE - 1n) / PAGE_SIZE) * PAGE_SIZE;
  };
  return { pamt4k: need(PAGE_SIZE), pamt2m: need(SIZE_2M), pamt1g: need(SIZE_1G) };
}

/** A TDMR with its three PAMTs laid out contiguously (4K, 2M, 1G) from `pamtBase`. */
export function tdmrWithPamt(base: bigint, size: bigint, pamtBase: bigint, reserved: TdmrSpec['reserved'] = []): TdmrSpec {
  const s = pamtSizes(size);
  return {
    base,
    size,
    pamt4k: { base: pamtBase, size: s.pamt4k },
    pamt2m: { base: pamtBase + s.pamt4k, size: s.pamt2m },
    pamt1g: { base: pamtBase + s.pamt4k + s.pamt2m, size: s.pamt1g },
    reserved,
  };
}

/** TDMR_INFO bytes for a TDMR (for tests that corrupt single fields). */
export function tdmrInfoBytes(t: TdmrSpec): Uint8Array {
  return encodeTdmrInfo(t);
}

export interface BringUpOptions {
  packages?: number;
  lpsPerPackage?: number;
  /** Physical memory; default 2 GiB. */
  memorySize?: bigint;
  /** TDMRs; default one 1 GiB TDMR at 1 GiB with its PAMT at 64 MiB. */
  tdmrs?: TdmrSpec[];
  identity?: ModuleIdentity;
  platform?: PlatformConfig;
  /** Stop after this bring-up step (default 'ready': everything, TDMRs initialised). */
  until?: 'loaded' | 'sysinit' | 'lpinit' | 'config' | 'keyconfig' | 'ready';
}

export interface ModuleEnv {
  readonly platform: Platform;
  readonly module: TdxModule;
  readonly lps: Platform['lps'];
  /** TD pages: an allocator over the (first) TDMR. */
  readonly alloc: PageAllocator;
  /** Host-shared buffers: an allocator outside every TDMR. */
  readonly shared: PageAllocator;
  /** Typed SEAMCALLs on LP 0. */
  readonly tdh: Seamcalls;
  /** Typed SEAMCALLs on LP `i`. */
  on(i: number): Seamcalls;
  readonly tdmrs: readonly TdmrSpec[];
  /** The module's global private HKID (the first TDX KeyID, as Linux chooses it). */
  readonly globalHkid: number;
  /** A private HKID not yet handed out by `nextHkid` (the next after the global one). */
  nextHkid(): number;
}

/** Throw (a test failure) unless a SEAMCALL returned `expected` (default TDX_SUCCESS). */
export function expectStatus<L extends LeafDef>(r: LeafCallResult<L>, what: string, expected: bigint = TdxStatus.TDX_SUCCESS): LeafCallResult<L> {
  if (r.status !== expected) throw new Error(`${what}: status ${hex64(r.status)}, expected ${hex64(expected)}`);
  return r;
}

/** Write bytes into host memory with KeyID 0 (how the host fills a shared buffer). */
export function writeHost(env: Pick<ModuleEnv, 'platform'>, pa: bigint, bytes: Uint8Array): void {
  env.platform.memory.write(pa, bytes, 0);
}

/** Build a platform, load a module, and bring it up with the real SEAMCALL sequence. */
export function bringUp(options: BringUpOptions = {}): ModuleEnv {
  const memorySize = options.memorySize ?? 2n << 30n;
  const platform = new Platform({
    packages: options.packages ?? 2,
    lpsPerPackage: options.lpsPerPackage ?? 2,
    memorySize,
    ...options.platform,
  });
  const module = new TdxModule(platform, options.identity ?? DEFAULT_MODULE_IDENTITY);
  platform.loadModule(module);
  const tdmrs = options.tdmrs ?? [tdmrWithPamt(SIZE_1G, SIZE_1G, 64n * MiB)];
  const globalHkid = platform.firstTdxKeyId;
  let hkidCursor = globalHkid + 1;
  const env: ModuleEnv = {
    platform,
    module,
    lps: platform.lps,
    alloc: new PageAllocator(tdmrs[0]!.base, tdmrs[0]!.size),
    shared: new PageAllocator(8n * MiB, 56n * MiB),
    tdh: seamcalls(platform.lps[0]!),
    on: (i) => seamcalls(platform.lps[i]!),
    tdmrs,
    globalHkid,
    nextHkid: () => hkidCursor++,
  };
  const until = options.until ?? 'ready';
  if (until === 'loaded') return env;

  expectStatus(env.tdh.SYS_INIT(), 'TDH.SYS.INIT');
  if (until === 'sysinit') return env;
  platform.lps.forEach((_, i) => expectStatus(env.on(i).SYS_LP_INIT(), `TDH.SYS.LP.INIT on LP ${i}`));
  if (until === 'lpinit') return env;

  configure(env, tdmrs, globalHkid);
  if (until === 'config') return env;
  for (const pkg of platform.packages) expectStatus(seamcalls(pkg.lps[0]!).SYS_KEY_CONFIG(), `TDH.SYS.KEY.CONFIG on package ${pkg.id}`);
  if (until === 'keyconfig') return env;
  for (const t of tdmrs) initTdmr(env, t.base, t.size);
  return env;
}

/**
 * Write TDMR_INFO entries and their pointer array to shared pages and issue TDH.SYS.CONFIG,
 * returning the result unchecked (for tests of its failures).
 */
export function sysConfig(env: ModuleEnv, tdmrs: readonly TdmrSpec[], globalHkid: bigint, lp = 0): LeafCallResult<typeof SeamcallLeaf.TDH_SYS_CONFIG> {
  const array = env.shared.alloc4k();
  const ptrs = new Uint8Array(8 * Math.max(tdmrs.length, 1));
  const pdv = new DataView(ptrs.buffer);
  tdmrs.forEach((t, i) => {
    const pa = env.shared.alloc4k();
    writeHost(env, pa, tdmrInfoBytes(t));
    pdv.setBigUint64(8 * i, pa, true);
  });
  writeHost(env, array, ptrs);
  return env.on(lp).SYS_CONFIG({ tdmrArray: array, tdmrCount: BigInt(tdmrs.length), globalHkid });
}

/** TDH.SYS.CONFIG that must succeed. */
export function configure(env: ModuleEnv, tdmrs: readonly TdmrSpec[], globalHkid: number): void {
  expectStatus(sysConfig(env, tdmrs, BigInt(globalHkid)), 'TDH.SYS.CONFIG');
}

/** The TDH.SYS.TDMR.INIT loop Linux runs: until the returned RDX reaches the TDMR's end. */
export function initTdmr(env: ModuleEnv, base: bigint, size: bigint): number {
  let calls = 0;
  for (;;) {
    const r = expectStatus(env.tdh.SYS_TDMR_INIT({ tdmrBase: base }), 'TDH.SYS.TDMR.INIT');
    calls++;
    if (r.outputs.nextToInit >= base + size) return calls;
  }
}

export interface TdParamsOptions {
  attributes?: bigint;
  xfam?: bigint;
  maxVcpus?: number;
  numL2Vms?: number;
  /** 52-bit GPAW (5-level EPT). */
  gpaw52?: boolean;
  /** Override EPTP_CONTROLS (default WB with the walk length GPAW needs). */
  eptpControls?: bigint;
  /** Override CONFIG_FLAGS (default GPAW per `gpaw52`, plus NO_RBP_MOD). */
  configFlags?: bigint;
  /** TSC frequency in 25 MHz units (default 100 = 2.5 GHz). */
  tscFrequency?: number;
  msrConfigCtls?: number;
  ia32ArchCapabilitiesConfig?: bigint;
  mrconfigid?: Uint8Array;
  mrowner?: Uint8Array;
  mrownerconfig?: Uint8Array;
  /** CPUID_CONFIG values by entry index. */
  cpuid?: Partial<Record<number, Partial<CpuidRegs>>>;
}

/** Default TD ATTRIBUTES: SEPT_VE_DISABLE, which Linux guests require. */
export const DEFAULT_ATTRIBUTES = 1n << BigInt(TdAttributesBit.SEPT_VE_DISABLE);
/** Default XFAM: x87, SSE, AVX. */
export const DEFAULT_XFAM = XFAM_FIXED1 | (1n << BigInt(XfamBit.AVX));

/** A valid TD_PARAMS (1024 bytes), with any field overridden. */
export function tdParamsBytes(opts: TdParamsOptions = {}): Uint8Array {
  const gpaw52 = opts.gpaw52 ?? false;
  const cpuid = new Uint8Array(NUM_CPUID_CONFIG * TD_PARAMS_CPUID_ENTRY_SIZE);
  for (const [i, regs] of Object.entries(opts.cpuid ?? {})) {
    TD_PARAMS_CPUID_ENTRY.encodeInto(cpuid, { eax: 0, ebx: 0, ecx: 0, edx: 0, ...regs }, Number(i) * TD_PARAMS_CPUID_ENTRY_SIZE);
  }
  const zero48 = new Uint8Array(48);
  return TD_PARAMS.encode({
    attributes: opts.attributes ?? DEFAULT_ATTRIBUTES,
    xfam: opts.xfam ?? DEFAULT_XFAM,
    max_vcpus: opts.maxVcpus ?? 4,
    num_l2_vms: opts.numL2Vms ?? 0,
    msr_config_ctls: opts.msrConfigCtls ?? 0,
    eptp_controls:
      opts.eptpControls ??
      EPTP_CONTROLS.encode({ memory_type: EPT_MEMORY_TYPE_WB, pwl_minus_1: gpaw52 ? EPT_PWL_MINUS_1_5LEVEL : EPT_PWL_MINUS_1_4LEVEL }),
    config_flags: opts.configFlags ?? TD_CONFIG_FLAGS.encode({ gpaw: gpaw52 ? 1 : 0, no_rbp_mod: 1 }),
    tsc_frequency: opts.tscFrequency ?? 100,
    mrconfigid: opts.mrconfigid ?? zero48,
    mrowner: opts.mrowner ?? zero48,
    mrownerconfig: opts.mrownerconfig ?? zero48,
    ia32_arch_capabilities_config: opts.ia32ArchCapabilitiesConfig ?? 0n,
    cpuid_config: cpuid,
  });
}

export interface CreateTdOptions extends TdParamsOptions {
  hkid?: number;
  /** Stop after this build step (default 'init': MNG.INIT done, OP_STATE INITIALIZED). */
  until?: 'create' | 'keyconfig' | 'addcx' | 'init';
  /** Exact TD_PARAMS bytes (overrides the field options). */
  tdParams?: Uint8Array;
}

export interface CreatedTd {
  /** The module's TD object. */
  readonly td: Td;
  readonly tdr: bigint;
  readonly tdcx: bigint[];
  readonly hkid: number;
  /** Host PA of the TD_PARAMS page (0 if MNG.INIT was not run). */
  readonly tdParams: bigint;
}

/** MNG.CREATE, MNG.KEY.CONFIG on one LP per package, 6 (+L2) × MNG.ADDCX, MNG.INIT. */
export function createTd(env: ModuleEnv, opts: CreateTdOptions = {}): CreatedTd {
  const hkid = opts.hkid ?? env.nextHkid();
  const tdr = env.alloc.alloc4k();
  expectStatus(env.tdh.MNG_CREATE({ tdr, hkid: BigInt(hkid) }), 'TDH.MNG.CREATE');
  const result = (tdcx: bigint[], tdParams = 0n): CreatedTd => ({ td: env.module.td(tdr)!, tdr, tdcx, hkid, tdParams });
  if (opts.until === 'create') return result([]);
  for (const pkg of env.platform.packages) expectStatus(seamcalls(pkg.lps[0]!).MNG_KEY_CONFIG({ tdr }), `TDH.MNG.KEY.CONFIG on package ${pkg.id}`);
  if (opts.until === 'keyconfig') return result([]);
  const tdcx = env.alloc.allocMany(TDCS_BASE_PAGES + (opts.numL2Vms ?? 0));
  for (const page of tdcx) expectStatus(env.tdh.MNG_ADDCX({ page, tdr }), 'TDH.MNG.ADDCX');
  if (opts.until === 'addcx') return result(tdcx);
  const tdParams = env.shared.alloc4k();
  writeHost(env, tdParams, opts.tdParams ?? tdParamsBytes(opts));
  expectStatus(env.tdh.MNG_INIT({ tdr, tdParams }), 'TDH.MNG.INIT');
  return result(tdcx, tdParams);
}

/**
 * TDH.PHYMEM.CACHE.WB on one LP per package, resuming (RCX = 1) while it reports
 * TDX_INTERRUPTED_RESUMABLE, as KVM does. Returns the number of calls per package.
 */
export function cacheWbAll(env: ModuleEnv): number[] {
  return env.platform.packages.map((pkg) => {
    const tdh = seamcalls(pkg.lps[0]!);
    let calls = 1;
    let r = tdh.PHYMEM_CACHE_WB({ resume: 0n });
    while (r.status === TdxStatus.TDX_INTERRUPTED_RESUMABLE) {
      r = tdh.PHYMEM_CACHE_WB({ resume: 1n });
      calls++;
    }
    if (r.status !== TdxStatus.TDX_SUCCESS && r.status !== TdxStatus.TDX_NO_HKID_READY_TO_WBCACHE) {
      throw new Error(`TDH.PHYMEM.CACHE.WB on package ${pkg.id}: status ${hex64(r.status)}`);
    }
    return calls;
  });
}

/**
 * Tear a TD down the KVM way (no vCPUs associated): VPFLUSHDONE, CACHE.WB on every package,
 * KEY.FREEID, then reclaim `pages` (its TDCX/TDVPR/private pages) and finally the TDR, returning
 * each page to the allocator it came from.
 */
export function teardownTd(env: ModuleEnv, td: Pick<CreatedTd, 'tdr'>, pages: readonly bigint[]): void {
  expectStatus(env.tdh.MNG_VPFLUSHDONE({ tdr: td.tdr }), 'TDH.MNG.VPFLUSHDONE');
  cacheWbAll(env);
  expectStatus(env.tdh.MNG_KEY_FREEID({ tdr: td.tdr }), 'TDH.MNG.KEY.FREEID');
  for (const page of [...pages, td.tdr]) {
    expectStatus(env.tdh.PHYMEM_PAGE_RECLAIM({ page }), `TDH.PHYMEM.PAGE.RECLAIM ${page.toString(16)}`);
    env.alloc.free(page);
  }
}
