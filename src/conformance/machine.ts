/**
 * Fixtures: a fresh simulated machine per case, built through public APIs only.
 *
 *   Machine.raw()  a platform with the TDX module loaded and nothing initialised: the bring-up
 *                  cases issue TDH.SYS.* themselves. Host buffers (TDMR_INFO, TD_PARAMS) come
 *                  from a page allocator over the memory a TDMR plan leaves to the host.
 *   Machine.up()   the same, brought up by the built-in host (TdxHost.bringUp: SYS.INIT,
 *                  LP.INIT, SYS.CONFIG, KEY.CONFIG, TDMR.INIT); pages come from the host's
 *                  allocator, so TDs the case builds by hand and VMs the host builds never share
 *                  a page.
 *
 * Every SEAMCALL goes through `callLeaf` on a logical processor, so what a case sees is exactly
 * what the module returned in the registers.
 */
import type { Tracer } from '../trace/tracer.ts';
import { Platform } from '../platform/platform.ts';
import type { LogicalProcessor } from '../platform/processor.ts';
import { PageAllocator } from '../platform/page-allocator.ts';
import { KEYID_NONE } from '../platform/memory.ts';
import { callLeaf, seamcalls, type LeafCallOptions, type LeafCallResult, type Seamcalls } from '../platform/leaf-call.ts';
import { TdxModule } from '../module/module.ts';
import { DEFAULT_MODULE_IDENTITY } from '../module/identity.ts';
import type { LeafDef, OperandValues } from '../abi/leaf.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { MAX_RESERVED_PER_TDMR, MAX_TDMRS, PAMT_ENTRY_SIZE } from '../abi/tdmr.ts';
import { TdxHost } from '../host/tdx-host.ts';
import { encodeTdmrInfo, planTdmrs, type TdmrPlan } from '../host/tdmr-plan.ts';
import { registerGuestPrograms } from '../guest/programs/index.ts';

export interface MachineOptions {
  /** Packages (default 1). */
  readonly packages?: number;
  /** Logical processors per package (default 2). */
  readonly lpsPerPackage?: number;
  /** Physical memory (default 1 GiB: one TDMR). */
  readonly memory?: bigint;
}

const DEFAULT_MEMORY = 1n << 30n;

/** The TDMR limits every TDX 1.5 module reports (facts tdx-module.md §10.2). */
const MODULE_TDMR_LIMITS = {
  maxTdmrs: MAX_TDMRS,
  maxReservedPerTdmr: MAX_RESERVED_PER_TDMR,
  pamtEntrySize: { l4k: PAMT_ENTRY_SIZE, l2m: PAMT_ENTRY_SIZE, l1g: PAMT_ENTRY_SIZE },
};

/**
 * Where the machines of a suite run send their trace events (`tdxsim conformance --trace`): every
 * machine built while it is set gets it as its platform's tracer, so one file holds the whole run,
 * case after case.
 */
let suiteTracer: Tracer | undefined;

export function setSuiteTracer(tracer: Tracer | undefined): void {
  suiteTracer = tracer;
}

export class Machine {
  private constructor(
    readonly platform: Platform,
    /** TDMRs and PAMTs over the CMRs, and the memory left to the host. */
    readonly plan: TdmrPlan,
    /** The built-in host, once it has brought the module up (Machine.up). */
    readonly host: TdxHost | undefined,
    private readonly rawPages: PageAllocator | undefined,
  ) {}

  private static platform(opts: MachineOptions): Platform {
    const platform = new Platform({ packages: opts.packages ?? 1, lpsPerPackage: opts.lpsPerPackage ?? 2, memorySize: opts.memory ?? DEFAULT_MEMORY });
    platform.loadModule(new TdxModule(platform, DEFAULT_MODULE_IDENTITY));
    registerGuestPrograms(platform.firmware);
    if (suiteTracer) platform.tracer = suiteTracer;
    return platform;
  }

  /** A machine whose module is loaded but not initialised. */
  static raw(opts: MachineOptions = {}): Machine {
    const platform = Machine.platform(opts);
    const plan = planTdmrs(platform.cmrs, MODULE_TDMR_LIMITS);
    const range = plan.hostRanges[0]!;
    return new Machine(platform, plan, undefined, new PageAllocator(range.base, range.size));
  }

  /** A machine the built-in host has brought up to SYS_READY with every TDMR initialised. */
  static up(opts: MachineOptions = {}): Machine {
    const platform = Machine.platform(opts);
    const host = TdxHost.bringUp(platform, { warnings: { sink: () => {} } });
    return new Machine(platform, planTdmrs(platform.cmrs, MODULE_TDMR_LIMITS), host, undefined);
  }

  /** The brought-up host (fails loudly if the case used a raw machine by mistake). */
  get tdx(): TdxHost {
    if (!this.host) throw new Error('this machine was not brought up (use Machine.up)');
    return this.host;
  }

  lp(i = 0): LogicalProcessor {
    const lp = this.platform.lps[i];
    if (!lp) throw new Error(`no logical processor ${i}`);
    return lp;
  }

  /** Typed SEAMCALLs on LP `i`. */
  tdh(i = 0): Seamcalls {
    return seamcalls(this.lp(i));
  }

  /** One SEAMCALL leaf on LP `lp` with named inputs (and optionally starting registers). */
  call<L extends LeafDef>(leaf: L, inputs: Partial<OperandValues<L['inputs']>> = {}, options: LeafCallOptions & { lp?: number } = {}): LeafCallResult<L> {
    return callLeaf(this.lp(options.lp ?? 0), leaf, inputs, options);
  }

  /** A zeroed 4K host page. */
  page(): bigint {
    if (this.host) return this.host.memory.allocPage();
    const pa = this.rawPages!.alloc4k();
    this.platform.memory.zeroPages(pa, 1, KEYID_NONE);
    return pa;
  }

  /** Write host memory with KeyID 0 (what the host's direct map does). */
  write(pa: bigint, bytes: Uint8Array): void {
    this.platform.memory.write(pa, bytes, KEYID_NONE);
  }

  read(pa: bigint, length: number): Uint8Array {
    return this.platform.memory.read(pa, length, KEYID_NONE);
  }

  /** The first private KeyID after the module's global one: what a raw TD may use. */
  get globalKeyId(): number {
    return this.platform.mktmeKeyIds + 1;
  }

  // ---- Raw bring-up (Machine.raw) ------------------------------------------------------------

  /** TDMR_INFO for every planned TDMR in host pages, and the PA array SYS.CONFIG takes. */
  tdmrInfoArray(): { array: bigint; count: bigint } {
    const array = this.page();
    this.plan.tdmrs.forEach((t, i) => {
      const pa = this.page();
      this.write(
        pa,
        encodeTdmrInfo(t),
      );
      this.platform.memory.writeU64(array + BigInt(8 * i), pa, KEYID_NONE);
    });
    return { array, count: BigInt(this.plan.tdmrs.length) };
  }

  /** SYS.INIT, then LP.INIT on every LP (statuses of each, in order). */
  initModule(): bigint[] {
    const out = [this.call(SeamcallLeaf.TDH_SYS_INIT, { attributes: 0n }).status];
    for (const lp of this.platform.lps) out.push(callLeaf(lp, SeamcallLeaf.TDH_SYS_LP_INIT).status);
    return out;
  }

  /** SYS.CONFIG with the planned TDMRs and the global KeyID. */
  configure(): LeafCallResult<typeof SeamcallLeaf.TDH_SYS_CONFIG> {
    const { array, count } = this.tdmrInfoArray();
    return this.call(SeamcallLeaf.TDH_SYS_CONFIG, { tdmrArray: array, tdmrCount: count, globalHkid: BigInt(this.globalKeyId) });
  }

  /** SYS.KEY.CONFIG on the first LP of every package. */
  configureKeys(): bigint[] {
    return this.platform.packages.map((p) => callLeaf(p.lps[0]!, SeamcallLeaf.TDH_SYS_KEY_CONFIG).status);
  }
}
