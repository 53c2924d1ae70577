/**
 * A small simulated machine for the module and guest fuzz targets, built only through public
 * APIs: a Platform, a TdxModule loaded into it, host memory the fuzzer owns, and the real SEAMCALL
 * sequences (through `callLeaf`) that bring the module up and build TDs the way a host does
 * (facts tdx-module.md §5.1, §5.2; linux-tdx.md §1.4, §1.5).
 *
 * Memory map (2 GiB, 2 packages × 2 LPs, so per-package leaves and LP association both matter):
 *   [8 MiB, 64 MiB)   host pages the fuzzer writes (TDMR_INFO, TD_PARAMS, PAGE.ADD sources)
 *   [64 MiB, …)       the PAMT of the one TDMR
 *   [1 GiB, 2 GiB)    the TDMR: every page a TD can own comes from here
 *
 * A setup step that fails is not simulated input going wrong — it is the valid sequence failing,
 * a bug in the simulator — so it throws WorldSetupError, which the fuzz engine reports as a
 * finding.
 */
import { Platform } from '../platform/platform.ts';
import { PageAllocator } from '../platform/page-allocator.ts';
import { callLeaf, type LeafCallResult } from '../platform/leaf-call.ts';
import type { LogicalProcessor } from '../platform/processor.ts';
import { KEYID_NONE } from '../platform/memory.ts';
import { encodeBootPage, BOOT_PAGE_GPA } from '../platform/boot-image.ts';
import type { GuestProgram } from '../platform/guest-cpu.ts';
import { TdxModule } from '../module/module.ts';
import { DEFAULT_MODULE_IDENTITY } from '../module/identity.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import type { LeafDef, OperandValues } from '../abi/leaf.ts';
import { TdxStatus } from '../abi/status.ts';
import { hex64 } from '../abi/bitfield.ts';
import { GPA_AND_LEVEL, TDR_AND_SEPT_ADD_FLAGS } from '../abi/operands.ts';
import { PAGE_SIZE, PAMT_ENTRY_BYTES, SIZE_1G, SIZE_2M } from '../abi/pamt.ts';
import { TDCS_BASE_PAGES, TDVPS_BASE_PAGES } from '../abi/lifecycle.ts';
import { TDMR_INFO, encodeReservedAreas } from '../abi/tdmr.ts';
import { TD_PARAMS, TD_CONFIG_FLAGS, EPTP_CONTROLS_4LEVEL } from '../abi/td-params.ts';
import { NUM_CPUID_CONFIG } from '../abi/cpuid-config.ts';
import { TD_PARAMS_CPUID_ENTRY_SIZE, SHA384_SIZE } from '../abi/td-params.ts';
import { TdAttributesBit, XFAM_FIXED1 } from '../abi/td-config.ts';
import { levelSize } from '../abi/sept.ts';
import type { Tracer } from '../trace/tracer.ts';

const MiB = 1n << 20n;
const HOST_BASE = 8n * MiB;
const HOST_SIZE = 56n * MiB;
const PAMT_BASE = 64n * MiB;
const TDMR_BASE = SIZE_1G;
const TDMR_SIZE = SIZE_1G;
const MEMORY_SIZE = 2n * SIZE_1G;

export class WorldSetupError extends Error {
  override readonly name = 'WorldSetupError';
}

export interface World {
  readonly platform: Platform;
  readonly module: TdxModule;
  readonly lps: readonly LogicalProcessor[];
  /** TD pages: first-fit over the TDMR, so the same build always uses the same addresses. */
  readonly tdPages: PageAllocator;
  /** Host pages outside every TDMR. */
  readonly hostPages: PageAllocator;
  readonly tdmr: { readonly base: bigint; readonly size: bigint };
  /** Host page holding the array of TDMR_INFO addresses TDH.SYS.CONFIG takes. */
  readonly tdmrArray: bigint;
  readonly tdmrCount: bigint;
  /** The module's global private KeyID (the first TDX KeyID, as Linux chooses it). */
  readonly globalHkid: number;
}

/** PAMT bytes a TDMR of `size` needs at each 4K/2M/1G level, rounded up to pages. */
function pamtBytes(size: bigint, pageSize: bigint): bigint {
  const bytes = (size / pageSize) * BigInt(PAMT_ENTRY_BYTES);
  return ((bytes + PAGE_SIZE - 1n) / PAGE_SIZE) * PAGE_SIZE;
}

/**
 * A platform with a module loaded and the TDMR description written to host memory. With a
 * tracer, it becomes the platform's tracer: every crossing is recorded.
 */
export function createWorld(tracer?: Tracer): World {
  const platform = new Platform({ packages: 2, lpsPerPackage: 2, memorySize: MEMORY_SIZE });
  const module = new TdxModule(platform, DEFAULT_MODULE_IDENTITY);
  platform.loadModule(module);
  if (tracer) platform.tracer = tracer;
  const hostPages = new PageAllocator(HOST_BASE, HOST_SIZE);
  const p4k = pamtBytes(TDMR_SIZE, PAGE_SIZE);
  const p2m = pamtBytes(TDMR_SIZE, SIZE_2M);
  const p1g = pamtBytes(TDMR_SIZE, SIZE_1G);
  const info = hostPages.alloc4k();
  platform.memory.write(
    info,
    TDMR_INFO.encode({
      base: TDMR_BASE,
      size: TDMR_SIZE,
      pamt_4k_base: PAMT_BASE,
      pamt_4k_size: p4k,
      pamt_2m_base: PAMT_BASE + p4k,
      pamt_2m_size: p2m,
      pamt_1g_base: PAMT_BASE + p4k + p2m,
      pamt_1g_size: p1g,
      reserved_areas: encodeReservedAreas([]),
    }),
    KEYID_NONE,
  );
  const tdmrArray = hostPages.alloc4k();
  platform.memory.writeU64(tdmrArray, info, KEYID_NONE);
  return {
    platform,
    module,
    lps: platform.lps,
    tdPages: new PageAllocator(TDMR_BASE, TDMR_SIZE),
    hostPages,
    tdmr: { base: TDMR_BASE, size: TDMR_SIZE },
    tdmrArray,
    tdmrCount: 1n,
    globalHkid: platform.firstTdxKeyId,
  };
}

/** Issue a leaf that must succeed (part of a valid sequence). */
export function must<L extends LeafDef>(
  lp: LogicalProcessor,
  leaf: L,
  inputs: Partial<OperandValues<L['inputs']>>,
  what: string,
  version = 0,
): LeafCallResult<L> {
  const r = callLeaf(lp, leaf, inputs, { version });
  if (r.status !== TdxStatus.TDX_SUCCESS) throw new WorldSetupError(`${what} (${leaf.mnemonic}) failed: ${hex64(r.status)}`);
  return r;
}

/** The bring-up sequence: SYS.INIT, LP.INIT on every LP, SYS.CONFIG, KEY.CONFIG per package, TDMR.INIT. */
export function bringUp(w: World): void {
  const lp0 = w.lps[0]!;
  must(lp0, SeamcallLeaf.TDH_SYS_INIT, {}, 'module init');
  for (const lp of w.lps) must(lp, SeamcallLeaf.TDH_SYS_LP_INIT, {}, `LP ${lp.id} init`);
  must(lp0, SeamcallLeaf.TDH_SYS_CONFIG, { tdmrArray: w.tdmrArray, tdmrCount: w.tdmrCount, globalHkid: BigInt(w.globalHkid) }, 'TDMR config');
  for (const pkg of w.platform.packages) must(pkg.lps[0]!, SeamcallLeaf.TDH_SYS_KEY_CONFIG, {}, `package ${pkg.id} key`);
  for (;;) {
    const r = must(lp0, SeamcallLeaf.TDH_SYS_TDMR_INIT, { tdmrBase: w.tdmr.base }, 'TDMR init');
    if (r.outputs.nextToInit >= w.tdmr.base + w.tdmr.size) break;
  }
}

/** A valid 1024-byte TD_PARAMS: SEPT_VE_DISABLE, x87/SSE, 4-level EPT, NO_RBP_MOD, 2.5 GHz TSC. */
export function validTdParams(maxVcpus: number, attributes = 1n << BigInt(TdAttributesBit.SEPT_VE_DISABLE)): Uint8Array {
  const zero = new Uint8Array(SHA384_SIZE);
  return TD_PARAMS.encode({
    attributes,
    xfam: XFAM_FIXED1,
    max_vcpus: maxVcpus,
    num_l2_vms: 0,
    msr_config_ctls: 0,
    eptp_controls: EPTP_CONTROLS_4LEVEL,
    config_flags: TD_CONFIG_FLAGS.encode({ gpaw: 0, no_rbp_mod: 1 }),
    tsc_frequency: 100,
    mrconfigid: zero,
    mrowner: zero,
    mrownerconfig: zero,
    ia32_arch_capabilities_config: 0n,
    cpuid_config: new Uint8Array(NUM_CPUID_CONFIG * TD_PARAMS_CPUID_ENTRY_SIZE),
  });
}

/** Write `bytes` to a fresh host page (KeyID 0) and return its address. */
export function hostPage(w: World, bytes: Uint8Array): bigint {
  const pa = w.hostPages.alloc4k();
  w.platform.memory.write(pa, bytes, KEYID_NONE);
  return pa;
}

export function gpaLevel(gpa: bigint, level: number): bigint {
  return GPA_AND_LEVEL.encode({ level, gpa_page: gpa >> 12n });
}

export interface BuiltVcpu {
  readonly tdvpr: bigint;
  readonly tdcx: readonly bigint[];
  readonly lp: number;
}

export interface BuiltTd {
  readonly tdr: bigint;
  readonly hkid: number;
  readonly tdcs: readonly bigint[];
  readonly vcpus: BuiltVcpu[];
  /** Private pages added with PAGE.ADD, by GPA. */
  readonly pages: Map<bigint, bigint>;
  /** Secure-EPT pages added, by level-GPA key. */
  readonly septPages: bigint[];
}

export interface BuildTdOptions {
  readonly hkid: number;
  readonly maxVcpus?: number;
  /** The guest program every vCPU boots (registered under `programName`). */
  readonly program?: { readonly name: string; readonly run: GuestProgram };
  /** LP of each vCPU's TDH.VP.INIT (its associated LP). Default one vCPU on LP 0. */
  readonly vcpuLps?: readonly number[];
  /** Extra private pages (GPA → content) added and measured at build. */
  readonly pages?: ReadonlyMap<bigint, Uint8Array>;
  /** Stop before TDH.MR.FINALIZE (leave the TD in OP_STATE INITIALIZED). */
  readonly finalize?: boolean;
  readonly attributes?: bigint;
}

/**
 * Build a TD through the KVM sequence: MNG.CREATE, MNG.KEY.CONFIG per package, MNG.ADDCX × 6,
 * MNG.INIT, the boot page and extra pages (SEPT.ADD path, PAGE.ADD, MR.EXTEND), vCPUs
 * (VP.CREATE, VP.ADDCX × 5, VP.INIT on their LP) and MR.FINALIZE.
 */
export function buildTd(w: World, opts: BuildTdOptions): BuiltTd {
  const lp0 = w.lps[0]!;
  const tdr = w.tdPages.alloc4k();
  must(lp0, SeamcallLeaf.TDH_MNG_CREATE, { tdr, hkid: BigInt(opts.hkid) }, 'TD create');
  for (const pkg of w.platform.packages) must(pkg.lps[0]!, SeamcallLeaf.TDH_MNG_KEY_CONFIG, { tdr }, 'TD key');
  const tdcs = w.tdPages.allocMany(TDCS_BASE_PAGES);
  for (const page of tdcs) must(lp0, SeamcallLeaf.TDH_MNG_ADDCX, { page, tdr }, 'TDCS page');
  const lps = opts.vcpuLps ?? [0];
  const params = hostPage(w, validTdParams(Math.max(opts.maxVcpus ?? lps.length, lps.length), opts.attributes));
  must(lp0, SeamcallLeaf.TDH_MNG_INIT, { tdr, tdParams: params }, 'TD init');
  const td: BuiltTd = { tdr, hkid: opts.hkid, tdcs, vcpus: [], pages: new Map(), septPages: [] };
  const pages = new Map(opts.pages ?? []);
  if (opts.program) {
    w.platform.firmware.register(opts.program.name, () => opts.program!.run);
    pages.set(BOOT_PAGE_GPA, encodeBootPage({ program: opts.program.name, args: null }));
  }
  for (const [gpa, bytes] of pages) addPrivatePage(w, td, gpa, bytes);
  for (const lp of lps) td.vcpus.push(addVcpu(w, tdr, lp));
  if (opts.finalize ?? true) must(lp0, SeamcallLeaf.TDH_MR_FINALIZE, { tdr }, 'TD finalize');
  return td;
}

/** SEPT.ADD every missing level down to 1 for `gpa`, then PAGE.ADD and MR.EXTEND its 256-byte chunks. */
export function addPrivatePage(w: World, td: BuiltTd, gpa: bigint, bytes: Uint8Array): bigint {
  const lp0 = w.lps[0]!;
  const sept = w.module.td(td.tdr)?.sept;
  if (!sept) throw new WorldSetupError(`TD ${hex64(td.tdr)} has no Secure EPT`);
  for (let level = sept.maxLevel; level >= 1; level--) {
    const base = gpa & ~(levelSize(level) - 1n);
    const walk = sept.walk(base, level);
    if (walk.reached && walk.stateName !== 'FREE') continue;
    const page = w.tdPages.alloc4k();
    const tdrFlags = TDR_AND_SEPT_ADD_FLAGS.encode({ tdr_page: td.tdr >> 12n, allow_existing: 0 });
    must(lp0, SeamcallLeaf.TDH_MEM_SEPT_ADD, { gpaLevel: gpaLevel(base, level), tdrFlags, page }, `SEPT page level ${level}`);
    td.septPages.push(page);
  }
  const page = w.tdPages.alloc4k();
  const source = hostPage(w, bytes);
  must(lp0, SeamcallLeaf.TDH_MEM_PAGE_ADD, { gpaLevel: gpaLevel(gpa, 0), tdr: td.tdr, page, source }, `page ${hex64(gpa)}`);
  w.hostPages.free(source);
  td.pages.set(gpa, page);
  return page;
}

/** VP.CREATE, VP.ADDCX × 5 and VP.INIT, all on LP `lp` (which the vCPU becomes associated with). */
export function addVcpu(w: World, tdr: bigint, lp: number): BuiltVcpu {
  const cpu = w.lps[lp]!;
  const tdvpr = w.tdPages.alloc4k();
  must(cpu, SeamcallLeaf.TDH_VP_CREATE, { tdvpr, tdr }, 'vCPU create');
  const tdcx = w.tdPages.allocMany(TDVPS_BASE_PAGES - 1);
  for (const page of tdcx) must(cpu, SeamcallLeaf.TDH_VP_ADDCX, { page, tdvpr }, 'TDVPS page');
  must(cpu, SeamcallLeaf.TDH_VP_INIT, { tdvpr, initialRcx: 0n }, 'vCPU init');
  return { tdvpr, tdcx, lp };
}
