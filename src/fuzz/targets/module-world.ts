/**
 * The world of one `module` fuzz episode: a machine with a real TDX module, in one of three
 * starting points, plus the pools of addresses the malicious host draws its operands from.
 *
 *   loaded   the module is loaded and nothing else: the host must (mis)drive bring-up itself
 *   ready    bring-up done (SYS_READY, TDMR initialised)
 *   tds      ready, plus TD A — finalised, one vCPU on LP 0 running the canary guest, two private
 *            data pages holding planted secrets — and TD B — initialised but not finalised, one
 *            vCPU on LP 1 — so run-time, build-time and cross-TD abuse are all one step away
 *
 * Pools: 32 free TDMR pages and two free 2M blocks (what a host would give a TD), host pages
 * outside every TDMR holding a valid TD_PARAMS and broken variants, a page-sized PAGE.ADD source,
 * and the TDMR_INFO array. Everything is allocated first-fit, so the same setup gives the same
 * addresses in every replay.
 */
import { TD_PARAMS } from '../../abi/td-params.ts';
import { TdAttributesBit } from '../../abi/td-config.ts';
import { bringUp, buildTd, createWorld, hostPage, validTdParams, type BuiltTd, type World } from '../world.ts';
import { MemoryWatch } from '../memory-watch.ts';
import { ModuleStateWatch, MrtdWatch, SecretWords } from '../invariants.ts';
import { canaryProgram, type CanaryState } from '../canary.ts';
import { Rng } from '../rng.ts';
import type { Tracer } from '../../trace/tracer.ts';

export const MODULE_SETUPS = ['loaded', 'ready', 'tds'] as const;
export type ModuleSetup = (typeof MODULE_SETUPS)[number];

/** GPAs of TD A's secret data pages. */
export const SECRET_GPAS: readonly bigint[] = Object.freeze([1n << 12n, 2n << 12n]);
const FREE_POOL_PAGES = 32;
const SECRET_SEED = 77n;

export interface ModuleWorld {
  readonly setup: ModuleSetup;
  readonly w: World;
  readonly secrets: SecretWords;
  readonly memoryWatch: MemoryWatch;
  readonly mrtd: MrtdWatch;
  readonly state: ModuleStateWatch;
  readonly canary: CanaryState;
  /** Free TDMR pages the host may hand to the module. */
  readonly freePages: readonly bigint[];
  /** Free, 2M-aligned TDMR blocks (for 2M PAGE.AUG). */
  readonly free2m: readonly bigint[];
  /** Host pages: a valid TD_PARAMS first, then broken variants. */
  readonly tdParams: readonly bigint[];
  /** Host page of arbitrary bytes (a PAGE.ADD source, a garbage TD_PARAMS or TDMR array). */
  readonly hostData: bigint;
  /** TDs built by the setup (empty unless `tds`). */
  readonly tds: readonly BuiltTd[];
}

/** Broken TD_PARAMS variants a host might send: each breaks one documented check. */
function tdParamsVariants(): Uint8Array[] {
  const valid = validTdParams(4);
  const edited = (edit: (b: Uint8Array) => void): Uint8Array => {
    const b = valid.slice();
    edit(b);
    return b;
  };
  const allOnes = (1n << 64n) - 1n;
  const debug = validTdParams(4, (1n << BigInt(TdAttributesBit.SEPT_VE_DISABLE)) | (1n << BigInt(TdAttributesBit.DEBUG)));
  return [
    valid,
    debug,
    edited((b) => TD_PARAMS.write(b, 'max_vcpus', 0)),
    edited((b) => TD_PARAMS.write(b, 'attributes', allOnes)),
    edited((b) => TD_PARAMS.write(b, 'xfam', allOnes)),
    edited((b) => TD_PARAMS.write(b, 'eptp_controls', 0n)),
    edited((b) => TD_PARAMS.write(b, 'config_flags', allOnes)),
    edited((b) => TD_PARAMS.write(b, 'tsc_frequency', 1)),
    edited((b) => TD_PARAMS.write(b, 'num_l2_vms', 255)),
    edited((b) => (b[TD_PARAMS.field('reserved3').offset] = 1)),
  ];
}

/** Build the episode's world. Throws WorldSetupError if a valid setup step fails. */
export function buildModuleWorld(setup: ModuleSetup, tracer?: Tracer): ModuleWorld {
  const w = createWorld(tracer);
  const secrets = new SecretWords();
  const memoryWatch = new MemoryWatch(w.platform, secrets);
  const canary: CanaryState = { violation: undefined, rounds: 0 };
  const tds: BuiltTd[] = [];
  memoryWatch.install();
  if (setup !== 'loaded') bringUp(w);
  if (setup === 'tds') {
    const a = buildTd(w, {
      hkid: w.globalHkid + 1,
      program: { name: 'fuzz-canary', run: canaryProgram(canary, secrets, 0) },
      pages: new Map(SECRET_GPAS.map((gpa) => [gpa, new Uint8Array(4096)])),
      vcpuLps: [0],
      maxVcpus: 2,
    });
    // The guest's private data: planted with the TD's key, as if the guest had written it.
    const rng = new Rng(SECRET_SEED);
    for (const gpa of SECRET_GPAS) memoryWatch.plant(a.pages.get(gpa)!, a.hkid, rng.u64());
    tds.push(a);
    tds.push(buildTd(w, { hkid: w.globalHkid + 2, vcpuLps: [1], maxVcpus: 2, finalize: false, pages: new Map([[0n, new Uint8Array(4096)]]) }));
  }
  const freePages = w.tdPages.allocMany(FREE_POOL_PAGES);
  const free2m = setup === 'loaded' ? [] : [w.tdPages.alloc2m(), w.tdPages.alloc2m()];
  const tdParams = tdParamsVariants().map((b) => hostPage(w, b));
  const data = new Uint8Array(4096);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + 11) & 255;
  const hostData = hostPage(w, data);
  const world: ModuleWorld = {
    setup,
    w,
    secrets,
    memoryWatch,
    mrtd: new MrtdWatch(),
    state: new ModuleStateWatch(),
    canary,
    freePages,
    free2m,
    tdParams,
    hostData,
    tds,
  };
  return world;
}
