/**
 * A TD as KVM runs it: the VM-scope half of arch/x86/kvm/vmx/tdx.c (facts linux-tdx.md §1.5).
 *
 *   create    KVM_TDX_INIT_VM: HKID, TDR + TDCS pages, TDH.MNG.CREATE under the global lock,
 *             TDH.MNG.KEY.CONFIG on one LP per package, TDH.MNG.ADDCX × (TDCS_BASE_SIZE / 4K),
 *             TDH.MNG.INIT with TD_PARAMS (an OPERAND_INVALID is EINVAL with `hw_error`, anything
 *             else EIO; either way the half-built TD is torn down), then TSC_OFFSET and
 *             TSC_MULTIPLIER read back with TDH.MNG.RD.
 *   vCPUs     KVM_CREATE_VCPU + KVM_TDX_INIT_VCPU (vcpu.ts).
 *   memory    KVM_TDX_INIT_MEM_REGION, KVM_SET_MEMORY_ATTRIBUTES and the fault/zap paths
 *             (vm-memory.ts).
 *   finalize  KVM_TDX_FINALIZE_VM: TDH.MR.FINALIZE; OPERAND_BUSY is EBUSY.
 *   destroy   TDH.VP.FLUSH of every vCPU on its LP (VCPU_NOT_ASSOCIATED is fine),
 *             TDH.MNG.VPFLUSHDONE, TDH.PHYMEM.CACHE.WB on one LP per package (resumed while
 *             INTERRUPTED_RESUMABLE, NO_HKID_READY_TO_WBCACHE counts as done) and
 *             TDH.MNG.KEY.FREEID under the global lock; then TDH.PHYMEM.PAGE.RECLAIM of every
 *             page the TD owns — private pages, S-EPT pages, TDCX and TDVPR pages, TDCS pages —
 *             and the TDR last, followed by TDH.PHYMEM.PAGE.WBINVD of the TDR under the *global*
 *             KeyID (the module wrote it with that key). Reclaimed pages are cleared and freed;
 *             a page the module refuses is leaked, as KVM leaks it.
 *
 * A SEAMCALL failure KVM treats as a bug (KVM_BUG_ON) kills the VM: every later vCPU run fails
 * with EIO, as `kvm_vm_dead()` makes it.
 */
import { TdAttributesBit } from '../abi/td-config.ts';
import { GPAW_48, eptLevels, sharedBit } from '../abi/gpa.ts';
import { KvmTdState, TDX_SEAMCALL_RETRIES } from '../abi/kvm.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { TdxStatus, statusCode } from '../abi/status.ts';
import { SHA384_SIZE } from '../abi/td-params.ts';
import { PAGE_SIZE } from '../abi/pamt.ts';
import { KEYID_NONE } from '../platform/memory.ts';
import type { LogicalProcessor } from '../platform/processor.ts';
import { leBytes } from '../platform/guest-cpu.ts';
import { HostError, mapSeamcallError } from './errors.ts';
import { FIRST_EXTERNAL_VECTOR } from '../abi/posted-interrupt.ts';
import type { Range } from './host-memory.ts';
import { GuestMemory, type MemoryOwner } from './vm-memory.ts';
import { buildTdParams } from './td-params-builder.ts';
import { IoBus } from './devices.ts';
import type { CpuidEntry } from './cpuid-table.ts';
import type { MsrFilter } from './msr-emulation.ts';
import type { TdAddressing } from './tdvmcall-args.ts';
import { fieldId } from './sysinfo.ts';
import { isOperandBusy } from './seamcall.ts';
import type { TdxHost } from './tdx-host.ts';
import { TdxVcpu, type VcpuOptions } from './vcpu.ts';

export interface VmConfig {
  /** TD ATTRIBUTES; default SEPT_VE_DISABLE (what Linux guests need). */
  readonly attributes?: bigint;
  /** XFAM; default the module's XFAM_FIXED1 (x87 and SSE). */
  readonly xfam?: bigint;
  /** vCPU limit (KVM_CAP_MAX_VCPUS); default and maximum: the number of logical processors. */
  readonly maxVcpus?: number;
  /** Guest physical address width: 48 (default) or 52. */
  readonly gpaw?: number;
  /** TSC frequency in kHz (KVM_SET_TSC_KHZ); default 2.5 GHz. */
  readonly tscKhz?: number;
  /** 48-byte software-defined measurements; default zeros. */
  readonly mrConfigId?: Uint8Array;
  readonly mrOwner?: Uint8Array;
  readonly mrOwnerConfig?: Uint8Array;
  /** CPUID configuration (only leaves the module can configure). */
  readonly cpuid?: readonly CpuidEntry[];
  /** Guest RAM: a memslot at GPA 0. */
  readonly memorySize: bigint;
  /** Extra memslots (e.g. firmware below 4 GiB); default: 2 MiB ending at 4 GiB. */
  readonly extraSlots?: readonly Range[];
  /** KVM_CAP_EXIT_HYPERCALL with KVM_HC_MAP_GPA_RANGE: MapGPA reaches userspace. Default true. */
  readonly exitOnMapGpa?: boolean;
  /** KVM_X86_SET_MSR_FILTER. */
  readonly msrFilter?: MsrFilter;
  /** In-kernel exits one run() may handle before returning `intr`; default 100000. */
  readonly maxInKernelExits?: number;
}

/** Default firmware memslot: the 2 MiB below 4 GiB, which holds the reset-vector page. */
export const FIRMWARE_SLOT: Range = { base: (4n << 30n) - (2n << 20n), size: 2n << 20n };
const DEFAULT_TSC_KHZ = 2_500_000;
const DEFAULT_MAX_IN_KERNEL_EXITS = 100_000;

export interface TeardownReport {
  /** Pages reclaimed from the TDX module and returned to the host. */
  readonly reclaimed: number;
  /** Pages the module refused to give back (leaked, as KVM leaks them). */
  readonly leaked: number;
}

export class TdxVm implements MemoryOwner {
  state: number = KvmTdState.TD_STATE_UNINITIALIZED;
  /** Set when the VM died (kvm_vm_dead): the error every later run reports. */
  dead: HostError | undefined;
  readonly vcpus: TdxVcpu[] = [];
  readonly kernelBus = new IoBus();
  readonly guest: GuestMemory;
  readonly addressing: TdAddressing;
  readonly eptLevels: number;
  readonly maxVcpus: number;
  tsc = { offset: 0n, multiplier: 0n };
  /** Host page standing for the shared EPT's root table (what SHARED_EPTP points at). */
  readonly sharedEptRoot: bigint;
  private tdcs: bigint[] = [];
  private tdrPage: bigint | undefined;
  private hkidAssigned = false;
  destroyed = false;

  private constructor(
    readonly host: TdxHost,
    readonly config: VmConfig,
    readonly hkid: number,
    maxVcpus: number,
  ) {
    const gpaw = config.gpaw ?? GPAW_48;
    this.addressing = { sharedBit: sharedBit(gpaw), gpaw };
    this.eptLevels = eptLevels(gpaw);
    this.maxVcpus = maxVcpus;
    this.guest = new GuestMemory(this, [{ base: 0n, size: config.memorySize }, ...(config.extraSlots ?? [FIRMWARE_SLOT])]);
    this.sharedEptRoot = host.memory.allocPage();
    host.platform.registerSharedEpt(this.sharedEptRoot, this.guest.sharedEpt);
  }

  get tdr(): bigint {
    if (this.tdrPage === undefined) throw new Error('TD has no TDR');
    return this.tdrPage;
  }
  get sc() {
    return this.host.sc;
  }
  get memory() {
    return this.host.memory;
  }
  get keyIdShift(): number {
    return this.host.platform.keyIdShift;
  }
  /** In-kernel exits one run() may handle before returning `intr`. */
  get maxInKernelExits(): number {
    return this.config.maxInKernelExits ?? DEFAULT_MAX_IN_KERNEL_EXITS;
  }
  isRunnable(): boolean {
    return this.state === KvmTdState.TD_STATE_RUNNABLE;
  }
  /** The LP VM-scope SEAMCALLs run on. */
  get lp(): LogicalProcessor {
    return this.host.platform.lps[0]!;
  }

  /** KVM_CREATE_VM + KVM_TDX_INIT_VM. */
  static create(host: TdxHost, config: VmConfig): TdxVm {
    const lps = host.platform.lps.length;
    const maxVcpus = config.maxVcpus ?? Math.min(lps, host.sysinfo.maxVcpusPerTd);
    if (!Number.isInteger(maxVcpus) || maxVcpus < 1 || maxVcpus > lps || maxVcpus > host.sysinfo.maxVcpusPerTd) {
      throw new HostError('EINVAL', `maxVcpus ${maxVcpus} must be 1..${Math.min(lps, host.sysinfo.maxVcpusPerTd)} (logical processors / MAX_VCPUS_PER_TD)`);
    }
    if (config.memorySize <= 0n || config.memorySize % PAGE_SIZE !== 0n) throw new HostError('EINVAL', 'memorySize must be a positive multiple of 4 KiB');
    const zero = new Uint8Array(SHA384_SIZE);
    const tdParams = buildTdParams(
      {
        attributes: config.attributes ?? 1n << BigInt(TdAttributesBit.SEPT_VE_DISABLE),
        xfam: config.xfam ?? host.sysinfo.xfamFixed1,
        maxVcpus,
        gpaw: config.gpaw ?? GPAW_48,
        tscKhz: config.tscKhz ?? DEFAULT_TSC_KHZ,
        mrConfigId: config.mrConfigId ?? zero,
        mrOwner: config.mrOwner ?? zero,
        mrOwnerConfig: config.mrOwnerConfig ?? zero,
        cpuid: config.cpuid ?? [],
      },
      host.sysinfo,
      host.capabilities(),
    );
    const vm = new TdxVm(host, config, host.hkids.alloc(), maxVcpus);
    vm.hkidAssigned = true;
    try {
      vm.initTd(tdParams);
    } catch (e) {
      vm.destroy();
      throw e;
    }
    return vm;
  }

  /** `__tdx_td_init` after the checks: the SEAMCALL sequence. */
  private initTd(tdParams: Uint8Array): void {
    const { sc, memory } = this;
    const tdr = memory.allocPage();
    const create = this.host.globalLock.with(() => sc.call(this.lp, SeamcallLeaf.TDH_MNG_CREATE, { tdr, hkid: BigInt(this.hkid) }));
    if (!create.ok) {
      memory.freePage(tdr);
      if (statusCode(create.status) === TdxStatus.TDX_RND_NO_ENTROPY) throw new HostError('EAGAIN', 'TDH.MNG.CREATE ran out of entropy', { status: create.status });
      throw mapSeamcallError(SeamcallLeaf.TDH_MNG_CREATE.mnemonic, create.status, {}, 'creating the TD');
    }
    this.tdrPage = tdr;
    for (const lp of this.host.packageLeaders()) sc.check(lp, SeamcallLeaf.TDH_MNG_KEY_CONFIG, { tdr }, `configuring the TD key on package ${lp.pkg.id}`);
    const pages = this.host.sysinfo.tdcsBaseSize / Number(PAGE_SIZE);
    for (let i = 0; i < pages; i++) {
      const page = memory.allocPage();
      const r = sc.call(this.lp, SeamcallLeaf.TDH_MNG_ADDCX, { page, tdr });
      if (!r.ok) {
        memory.freePage(page);
        throw mapSeamcallError(SeamcallLeaf.TDH_MNG_ADDCX.mnemonic, r.status, {}, `adding TDCS page ${i}`);
      }
      this.tdcs.push(page);
    }
    const paramsPage = memory.allocPage();
    try {
      memory.memory.write(paramsPage, tdParams, KEYID_NONE);
      const r = sc.call(this.lp, SeamcallLeaf.TDH_MNG_INIT, { tdr, tdParams: paramsPage });
      if (!r.ok) {
        const e = mapSeamcallError(SeamcallLeaf.TDH_MNG_INIT.mnemonic, r.status, r.outputs, 'initialising the TD from TD_PARAMS');
        // A user-supplied operand was refused: EINVAL with hw_error (KVM does not warn).
        if (statusCode(r.status) === TdxStatus.TDX_OPERAND_INVALID) throw new HostError('EINVAL', e.reason, e.details);
        throw e;
      }
    } finally {
      memory.freePage(paramsPage);
    }
    const rd = (name: string) => sc.check(this.lp, SeamcallLeaf.TDH_MNG_RD, { tdr, fieldId: fieldId(name) }, `reading ${name}`).outputs.value;
    this.tsc = { offset: rd('TSC_OFFSET'), multiplier: rd('TSC_MULTIPLIER') };
    this.state = KvmTdState.TD_STATE_INITIALIZED;
  }

  /** KVM_CREATE_VCPU + KVM_TDX_INIT_VCPU. */
  createVcpu(options: VcpuOptions = {}): TdxVcpu {
    this.checkAlive();
    if (this.state !== KvmTdState.TD_STATE_INITIALIZED) throw new HostError('EIO', 'vCPUs can only be created after KVM_TDX_INIT_VM and before KVM_TDX_FINALIZE_VM');
    if (this.vcpus.length >= this.maxVcpus) throw new HostError('EINVAL', `the VM already has its ${this.maxVcpus} vCPUs`);
    const lps = this.host.platform.lps;
    const vcpu = TdxVcpu.create(this, this.vcpus.length, lps[this.vcpus.length % lps.length]!, options);
    this.vcpus.push(vcpu);
    return vcpu;
  }

  /** KVM_TDX_INIT_MEM_REGION: add (and optionally measure) initial private pages. */
  initMemRegion(gpa: bigint, bytes: Uint8Array, options: { measure?: boolean } = {}): void {
    this.checkAlive();
    if (this.state !== KvmTdState.TD_STATE_INITIALIZED) throw new HostError('EINVAL', 'initial memory can only be added before KVM_TDX_FINALIZE_VM');
    if (bytes.length === 0 || bytes.length % Number(PAGE_SIZE) !== 0 || gpa % PAGE_SIZE !== 0n) {
      throw new HostError('EINVAL', 'KVM_TDX_INIT_MEM_REGION needs a non-empty, page-aligned range');
    }
    for (let off = 0; off < bytes.length; off += Number(PAGE_SIZE)) {
      this.guest.addInitialPage(this.lp, gpa + BigInt(off), bytes.subarray(off, off + Number(PAGE_SIZE)), options.measure ?? false);
    }
  }

  /** KVM_TDX_FINALIZE_VM. */
  finalize(): void {
    this.checkAlive();
    if (this.state !== KvmTdState.TD_STATE_INITIALIZED) throw new HostError('EINVAL', 'the TD is not in the INITIALIZED state');
    const r = this.sc.call(this.lp, SeamcallLeaf.TDH_MR_FINALIZE, { tdr: this.tdr });
    if (isOperandBusy(r.status)) throw new HostError('EBUSY', 'TDH.MR.FINALIZE found a busy operand', { status: r.status });
    if (!r.ok) throw mapSeamcallError(SeamcallLeaf.TDH_MR_FINALIZE.mnemonic, r.status, {}, 'finalizing the TD');
    this.state = KvmTdState.TD_STATE_RUNNABLE;
  }

  /** KVM_SET_MEMORY_ATTRIBUTES (GPA with the shared bit stripped). */
  setMemoryAttributes(gpa: bigint, size: bigint, toPrivate: boolean): void {
    this.checkAlive();
    this.guest.setAttributes(this.lp, gpa, size, toPrivate);
  }

  /** MRTD, read with TDH.MNG.RD (six 8-byte elements). */
  mrtd(): Uint8Array {
    const out = new Uint8Array(SHA384_SIZE);
    for (let i = 0; i < SHA384_SIZE / 8; i++) {
      const v = this.sc.check(this.lp, SeamcallLeaf.TDH_MNG_RD, { tdr: this.tdr, fieldId: fieldId('MRTD', i) }, 'reading MRTD').outputs.value;
      out.set(leBytes(v, 8), i * 8);
    }
    return out;
  }

  /**
   * An IPI a vCPU sent through the x2APIC ICR: post it to the vCPU with that x2APIC ID (= index).
   * A destination or vector no vCPU can take is the guest's mistake; the IPI is dropped.
   */
  deliverIpi(dest: bigint, vector: number): void {
    const target = dest < BigInt(this.vcpus.length) ? this.vcpus[Number(dest)] : undefined;
    if (!target || vector < FIRST_EXTERNAL_VECTOR) {
      this.host.warnings.warn(-1, 'ipi-dropped', 'guest', `IPI vector ${vector} to x2APIC ID ${dest} dropped: no such vCPU or an exception vector`);
      return;
    }
    target.postInterrupt(vector);
  }

  /** Mark the VM dead (kvm_vm_dead); returns the error runs will report. */
  kill(error: HostError): HostError {
    const dead = new HostError('EIO', error.reason, { ...error.details, vmDead: true });
    this.dead ??= dead;
    return this.dead;
  }

  checkAlive(): void {
    if (this.destroyed) throw new HostError('EIO', 'the VM has been destroyed');
    if (this.dead) throw this.dead;
  }

  /** Destroy the TD and reclaim every page (see the file comment). Safe to call twice. */
  destroy(): TeardownReport {
    let reclaimed = 0;
    let leaked = 0;
    if (this.destroyed) return { reclaimed, leaked };
    this.destroyed = true;
    this.host.vms.delete(this);
    const { sc, memory } = this;
    if (this.tdrPage === undefined) {
      if (this.hkidAssigned) this.host.hkids.free(this.hkid);
      this.freeHostPages();
      return { reclaimed, leaked };
    }
    const tdr = this.tdrPage;
    if (!this.releaseHkid(tdr)) {
      this.host.warnings.warn(-1, 'teardown-hkid', 'module', `HKID ${this.hkid} could not be freed: the TD's pages are leaked`);
      leaked = this.ownedPages().length + 1;
      this.freeHostPages();
      return { reclaimed, leaked };
    }
    const reclaim = (page: bigint): boolean => {
      const r = sc.call(this.lp, SeamcallLeaf.TDH_PHYMEM_PAGE_RECLAIM, { page });
      if (!r.ok) {
        leaked++;
        this.host.warnings.warn(-1, 'teardown-reclaim', 'module', mapSeamcallError(SeamcallLeaf.TDH_PHYMEM_PAGE_RECLAIM.mnemonic, r.status, r.outputs).message);
        return false;
      }
      reclaimed++;
      return true;
    };
    for (const page of this.ownedPages()) if (reclaim(page)) memory.clearAndFree(page);
    if (reclaim(tdr)) {
      const wb = sc.call(this.lp, SeamcallLeaf.TDH_PHYMEM_PAGE_WBINVD, { page: tdr | (BigInt(this.host.globalKeyId) << BigInt(this.keyIdShift)) });
      if (wb.ok) memory.clearAndFree(tdr);
      else this.host.warnings.warn(-1, 'teardown-wbinvd', 'module', mapSeamcallError(SeamcallLeaf.TDH_PHYMEM_PAGE_WBINVD.mnemonic, wb.status).message);
    }
    this.freeHostPages();
    return { reclaimed, leaked };
  }

  /** Forget the TD's pages and free what was always the host's (shared memory, descriptors). */
  private freeHostPages(): void {
    this.guest.privatePages.clear();
    this.guest.septPages.clear();
    for (const v of this.vcpus) v.releaseHostPages();
    this.tdcs = [];
    this.tdrPage = undefined;
    for (const gfn of [...this.guest.sharedPages.keys()]) this.guest.zapShared(gfn << 12n);
    this.memory.freePage(this.sharedEptRoot);
  }

  /** Every page the TD owns besides the TDR: private, S-EPT, vCPU (TDCX, TDVPR) and TDCS pages. */
  private ownedPages(): bigint[] {
    return [
      ...this.guest.privatePages.values(),
      ...this.guest.septPages.values(),
      ...this.vcpus.flatMap((v) => v.tdPages()),
      ...this.tdcs,
    ];
  }

  /** `tdx_mmu_release_hkid`: flush vCPUs, VPFLUSHDONE, CACHE.WB per package, KEY.FREEID. */
  private releaseHkid(tdr: bigint): boolean {
    const { sc } = this;
    for (const v of this.vcpus) v.flush();
    const done = sc.call(this.lp, SeamcallLeaf.TDH_MNG_VPFLUSHDONE, { tdr });
    // FLUSHVP_NOT_DONE (a vCPU is still associated) or any other failure: KVM gives up and
    // leaks the HKID and every page.
    if (!done.ok) {
      this.host.warnings.warn(-1, 'teardown-vpflushdone', 'module', mapSeamcallError(SeamcallLeaf.TDH_MNG_VPFLUSHDONE.mnemonic, done.status).message);
      return false;
    }
    return this.host.globalLock.with(() => {
      for (const lp of this.host.packageLeaders()) {
        let r = sc.call(lp, SeamcallLeaf.TDH_PHYMEM_CACHE_WB, { resume: 0n });
        for (let i = 1; i < TDX_SEAMCALL_RETRIES && statusCode(r.status) === TdxStatus.TDX_INTERRUPTED_RESUMABLE; i++) {
          r = sc.call(lp, SeamcallLeaf.TDH_PHYMEM_CACHE_WB, { resume: 1n });
        }
        if (!r.ok && statusCode(r.status) !== TdxStatus.TDX_NO_HKID_READY_TO_WBCACHE) {
          this.host.warnings.warn(-1, 'teardown-cache-wb', 'module', mapSeamcallError(SeamcallLeaf.TDH_PHYMEM_CACHE_WB.mnemonic, r.status).message);
        }
      }
      const free = sc.call(this.lp, SeamcallLeaf.TDH_MNG_KEY_FREEID, { tdr });
      if (!free.ok) return false;
      this.host.hkids.free(this.hkid);
      this.hkidAssigned = false;
      return true;
    });
  }
}
