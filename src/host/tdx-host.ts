/**
 * The host's TDX bring-up, done the way Linux does it (arch/x86/virt/vmx/tdx/tdx.c and KVM's
 * tdx_bringup; facts linux-tdx.md §1.4, tdx-module.md §5.1), and the services every VM shares:
 * the KeyID allocator, the host page allocator, the global `tdx_lock`, the SEAMCALL helper.
 *
 * Bring-up, in order:
 *   1. KeyIDs from IA32_MKTME_KEYID_PARTITIONING (the Platform's MKTME/TDX split): the first TDX
 *      KeyID is the module's global KeyID, the rest are guest KeyIDs;
 *   2. TDH.SYS.INIT once, then TDH.SYS.LP.INIT on every logical processor;
 *   3. TDH.SYS.RD of the global metadata KVM needs, refusing a module without NO_RBP_MOD or
 *      TOPOLOGY_ENUM;
 *   4. TDMRs, PAMTs and reserved areas planned over the CMRs (tdmr-plan.ts), written as TDMR_INFO
 *      to host pages, and TDH.SYS.CONFIG with the array of their addresses and the global KeyID;
 *   5. WBINVD on every CPU (no caches are modelled, so there is nothing to write back), then
 *      TDH.SYS.KEY.CONFIG once per package, one package at a time;
 *   6. TDH.SYS.TDMR.INIT on each TDMR until the returned next-to-initialise address reaches its
 *      end.
 * Any failed step is a HostError whose errno follows `seamcall_prerr()` (ENODEV when no module
 * is loaded, and so on).
 */
import type { Platform } from '../platform/platform.ts';
import type { LogicalProcessor } from '../platform/processor.ts';
import { KEYID_NONE } from '../platform/memory.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { KVM_SUPPORTED_TD_ATTRS } from '../abi/kvm.ts';
import { HostError } from './errors.ts';
import { HkidAllocator } from './hkid.ts';
import { HostMemory } from './host-memory.ts';
import { Seamcaller, SeamcallLog } from './seamcall.ts';
import { checkFeatures, readSysInfo, type TdxSysInfo } from './sysinfo.ts';
import { encodeTdmrInfo, planTdmrs, type PlannedTdmr } from './tdmr-plan.ts';
import { WarningLimiter, type WarningOptions } from './warn.ts';
import { TdxVm, type VmConfig } from './vm.ts';
import type { CpuidEntry } from './cpuid-table.ts';
import { CPUID_80000008_EAX, CPUID_ADDRESS_SIZES_LEAF } from '../abi/cpuid.ts';

export interface TdxHostOptions {
  /** Rate limits and sink of host warnings. */
  readonly warnings?: WarningOptions;
}

/** KVM_TDX_CAPABILITIES: what userspace may ask of a TD on this host. */
export interface TdxCapabilities {
  readonly supportedAttributes: bigint;
  readonly supportedXfam: bigint;
  /** Configurable CPUID bits, with 0x80000008 EAX[23:16] reported as 0xFF (GPAW is chosen there). */
  readonly cpuid: readonly CpuidEntry[];
  /** GetTdVmCallInfo leaf 1 R11 bits KVM handles itself, and those it leaves to userspace. */
  readonly kernelTdvmcallinfo1R11: bigint;
  readonly userTdvmcallinfo1R11: bigint;
}

/**
 * The host's global TDX mutex (KVM's `tdx_lock`): taken around TDH.MNG.CREATE, TDH.PHYMEM.CACHE.WB
 * and TDH.MNG.KEY.FREEID, which "acquire the TDX module globally" and would otherwise fail with
 * OPERAND_BUSY when two VMs are created or destroyed at once. Here SEAMCALLs never overlap, so the
 * lock can never be contended; it still brackets those calls so a re-entrant use is caught.
 */
export class HostMutex {
  private held = false;

  with<T>(fn: () => T): T {
    if (this.held) throw new Error('tdx_lock taken recursively');
    this.held = true;
    try {
      return fn();
    } finally {
      this.held = false;
    }
  }
}

export class TdxHost {
  readonly sc: Seamcaller;
  readonly globalLock = new HostMutex();
  readonly warnings: WarningLimiter;
  readonly vms = new Set<TdxVm>();

  private constructor(
    readonly platform: Platform,
    readonly globalKeyId: number,
    readonly hkids: HkidAllocator,
    readonly sysinfo: TdxSysInfo,
    readonly tdmrs: readonly PlannedTdmr[],
    readonly memory: HostMemory,
    sc: Seamcaller,
    options: TdxHostOptions,
  ) {
    this.sc = sc;
    this.warnings = new WarningLimiter(options.warnings);
  }

  /** Bring the TDX module up and return the host. Throws HostError on any failure. */
  static bringUp(platform: Platform, options: TdxHostOptions = {}): TdxHost {
    const sc = new Seamcaller(new SeamcallLog());
    const lp0 = platform.lps[0]!;

    // 1. KeyID partitioning.
    if (platform.tdxKeyIds < 2) throw new HostError('EINVAL', `TDX needs at least 2 TDX KeyIDs, the platform has ${platform.tdxKeyIds}`);
    const globalKeyId = platform.mktmeKeyIds + 1;
    const hkids = new HkidAllocator(globalKeyId + 1, platform.tdxKeyIds - 1);

    // 2. SYS.INIT once, LP.INIT per LP.
    sc.check(lp0, SeamcallLeaf.TDH_SYS_INIT, { attributes: 0n }, 'initialising the TDX module');
    for (const lp of platform.lps) sc.check(lp, SeamcallLeaf.TDH_SYS_LP_INIT, {}, `initialising LP ${lp.id}`);

    // 3. Global metadata.
    const sysinfo = readSysInfo(sc, lp0);
    checkFeatures(sysinfo);

    // 4. TDMRs and PAMTs; SYS.CONFIG.
    const plan = planTdmrs(platform.cmrs, {
      maxTdmrs: sysinfo.maxTdmrs,
      maxReservedPerTdmr: sysinfo.maxReservedPerTdmr,
      pamtEntrySize: sysinfo.pamtEntrySize,
    });
    const memory = new HostMemory(platform.memory, plan.hostRanges);
    configTdmrs(sc, lp0, memory, plan.tdmrs, globalKeyId);

    // 5. Global key on each package.
    for (const pkg of platform.packages) {
      sc.check(pkg.lps[0]!, SeamcallLeaf.TDH_SYS_KEY_CONFIG, {}, `configuring the global key on package ${pkg.id}`);
    }

    // 6. Initialise every TDMR's PAMT.
    for (const t of plan.tdmrs) {
      for (;;) {
        const r = sc.check(lp0, SeamcallLeaf.TDH_SYS_TDMR_INIT, { tdmrBase: t.base }, `initialising TDMR at ${t.base.toString(16)}`);
        if (r.outputs.nextToInit >= t.base + t.size) break;
      }
    }
    return new TdxHost(platform, globalKeyId, hkids, sysinfo, plan.tdmrs, memory, sc, options);
  }

  /** KVM_TDX_CAPABILITIES. */
  capabilities(): TdxCapabilities {
    const s = this.sysinfo;
    const attrs = (KVM_SUPPORTED_TD_ATTRS & s.attributesFixed1) === s.attributesFixed1 ? KVM_SUPPORTED_TD_ATTRS & s.attributesFixed0 : 0n;
    // The simulated CPU supports every XSAVE component the module allows.
    const xfam = (s.xfamFixed0 & s.xfamFixed1) === s.xfamFixed1 ? s.xfamFixed0 : 0n;
    return {
      supportedAttributes: attrs,
      supportedXfam: xfam,
      cpuid: s.cpuidConfig.map((c) => ({
        leaf: c.leaf,
        subleaf: c.subleaf,
        ...c.values,
        eax: c.leaf === CPUID_ADDRESS_SIZES_LEAF ? Number(CPUID_80000008_EAX.set(BigInt(c.values.eax), 'guest_physical_address_bits', ALL_ONES_BYTE)) : c.values.eax,
      })),
      kernelTdvmcallinfo1R11: 0n,
      userTdvmcallinfo1R11: 0n,
    };
  }

  /** KVM_CREATE_VM(KVM_X86_TDX_VM) + KVM_TDX_INIT_VM. */
  createVm(config: VmConfig): TdxVm {
    const vm = TdxVm.create(this, config);
    this.vms.add(vm);
    return vm;
  }

  /** The LPs of each package, first LP first (where per-package SEAMCALLs run). */
  packageLeaders(): LogicalProcessor[] {
    return this.platform.packages.map((p) => p.lps[0]!);
  }
}

/** KVM reports CPUID(0x80000008).EAX[23:16] as all ones: userspace chooses the GPAW there. */
const ALL_ONES_BYTE = 0xffn;

/** Write TDMR_INFO and the PA array into host pages, TDH.SYS.CONFIG, then free them. */
function configTdmrs(sc: Seamcaller, lp: LogicalProcessor, memory: HostMemory, tdmrs: readonly PlannedTdmr[], globalKeyId: number): void {
  const pages: bigint[] = [];
  try {
    const array = memory.allocPage();
    pages.push(array);
    tdmrs.forEach((t, i) => {
      const pa = memory.allocPage();
      pages.push(pa);
      memory.memory.write(
        pa,
        encodeTdmrInfo(t),
        KEYID_NONE,
      );
      memory.memory.writeU64(array + BigInt(8 * i), pa, KEYID_NONE);
    });
    sc.check(lp, SeamcallLeaf.TDH_SYS_CONFIG, { tdmrArray: array, tdmrCount: BigInt(tdmrs.length), globalHkid: BigInt(globalKeyId) }, 'configuring TDMRs');
  } finally {
    for (const p of pages) memory.freePage(p);
  }
}
