/**
 * A TD vCPU as KVM runs it: KVM_CREATE_VCPU + KVM_TDX_INIT_VCPU, and KVM_RUN.
 *
 * Creation (`tdx_td_vcpu_init`; facts linux-tdx.md §1.5): TDH.VP.CREATE, TDH.VP.ADDCX ×
 * (TDVPS_BASE_SIZE / 4K − 1), TDH.VP.INIT version 1 with the initial guest RCX and the vCPU's
 * x2APIC ID (= its index), then the TDH.VP.WRs KVM makes: POSTED_INTR_NV = POSTED_INTR_VECTOR,
 * POSTED_INTR_DESC_ADDR = this vCPU's posted-interrupt descriptor, PIN_BASED_VM_EXEC_CONTROL bit 7,
 * and SHARED_EPTP = the VM's shared EPT root (`tdx_load_mmu_pgd`). Every vCPU-scope SEAMCALL runs on
 * the vCPU's own logical processor: TDH.VP.INIT associates the vCPU with it and the vCPU never
 * migrates here, so no TDH.VP.FLUSH is needed until teardown.
 *
 * run(): the registers of the last TD exit, with KVM's reply written into them, are what
 * TDH.VP.ENTER passes back to the guest (only RCX, the TDVPR, is set by the wrapper; facts §4.1).
 * Each exit is classified and handled (exits.ts); exits the kernel handles re-enter at once,
 * others return a KVM-shaped record (exit-records.ts). complete(reply) gives userspace's answer,
 * applied at the start of the next run(); without one, KVM's presets stand.
 */
import { KvmVcpuTdState, KvmExitReason } from '../abi/kvm.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { RegisterFile } from '../abi/registers.ts';
import { TdxStatus, statusCode } from '../abi/status.ts';
import { U64_MASK } from '../abi/bitfield.ts';
import { PIN_BASED_POSTED_INTR, POSTED_INTR_VECTOR, FIRST_EXTERNAL_VECTOR, LAST_VECTOR } from '../abi/posted-interrupt.ts';
import { CPUID_ADDRESS_SIZES_LEAF, CPUID_80000008_EAX } from '../abi/cpuid.ts';
import { PAGE_SIZE } from '../abi/pamt.ts';
import type { LogicalProcessor } from '../platform/processor.ts';
import { HostError, mapSeamcallError } from './errors.ts';
import { CpuidTable } from './cpuid-table.ts';
import { KvmMsrState } from './msr-emulation.ts';
import { PostedInterruptDescriptor } from './posted-interrupts.ts';
import { fieldId } from './sysinfo.ts';
import { REPLY_KINDS, type ExitRecord, type ExitReply } from './exit-records.ts';
import { handleExit } from './exits.ts';
import type { ExitAction } from './exit-action.ts';
import type { TdxVm } from './vm.ts';
import { traceExitToUser, traceUserReply, tracerOf } from './trace-points.ts';

export interface VcpuOptions {
  /** KVM_TDX_INIT_VCPU `data`: the guest's initial RCX (and R8). Default 0. */
  readonly initialRcx?: bigint;
}

/** The TDH.VP.WR mask of a 16-bit field. */
const MASK16 = (1n << 16n) - 1n;
/** Linear-address width KVM reports in CPUID(0x80000008).EAX[15:8]: 4-level paging. */
const LINEAR_ADDRESS_BITS = 48;
/** VCPU_STATE_DETAILS bit 0: a virtual interrupt is pending in the TD. */
const STATE_DETAILS_INTR_PENDING = 1n;

interface PendingExit {
  readonly record: ExitRecord;
  readonly complete?: (reply: ExitReply | undefined) => ExitAction;
}

export class TdxVcpu {
  state: number = KvmVcpuTdState.VCPU_TD_STATE_UNINITIALIZED;
  /** vp_enter_args: the registers the next TDH.VP.ENTER passes (and the last exit returned). */
  regs = new RegisterFile();
  readonly cpuid: CpuidTable;
  readonly msrs: KvmMsrState;
  readonly pi: PostedInterruptDescriptor;
  /** TD exits by VMX reason name, and records returned to userspace by kind. */
  readonly stats = { tdExits: new Map<string, number>(), userExits: new Map<string, number>(), entries: 0 };
  /** Set while the vCPU is halted (HLT with nothing to wake it). */
  halted: { readonly interruptsBlocked: boolean } | undefined;
  /** MapGPA progress (KVM's map_gpa_next / map_gpa_end). */
  mapGpa: { next: bigint; end: bigint } | undefined;
  private pending: PendingExit | undefined;
  /** The record run() returned last. */
  private lastRecord: ExitRecord | undefined;
  private reply: ExitReply | undefined;
  private readonly tdcx: bigint[] = [];
  private tdvpr: bigint | undefined;
  private piPage: bigint | undefined;

  private constructor(
    readonly vm: TdxVm,
    readonly index: number,
    readonly lp: LogicalProcessor,
  ) {
    const gpawEntry = {
      leaf: CPUID_ADDRESS_SIZES_LEAF,
      subleaf: null,
      eax: Number(CPUID_80000008_EAX.encode({ physical_address_bits: vm.addressing.gpaw, linear_address_bits: LINEAR_ADDRESS_BITS, guest_physical_address_bits: vm.addressing.gpaw })),
      ebx: 0,
      ecx: 0,
      edx: 0,
    };
    const user = vm.config.cpuid ?? [];
    this.cpuid = new CpuidTable(user.some((e) => e.leaf === CPUID_ADDRESS_SIZES_LEAF) ? user : [...user, gpawEntry]);
    this.msrs = new KvmMsrState(BigInt(index), index === 0, (dest, vector) => vm.deliverIpi(dest, vector));
    this.piPage = vm.memory.allocPage();
    this.pi = new PostedInterruptDescriptor(vm.memory.memory, this.piPage);
    this.pi.init(POSTED_INTR_VECTOR, BigInt(index));
  }

  /** KVM_CREATE_VCPU + KVM_TDX_INIT_VCPU. */
  static create(vm: TdxVm, index: number, lp: LogicalProcessor, options: VcpuOptions): TdxVcpu {
    const v = new TdxVcpu(vm, index, lp);
    const { sc, memory } = vm;
    const tdvpr = memory.allocPage();
    const created = sc.call(lp, SeamcallLeaf.TDH_VP_CREATE, { tdvpr, tdr: vm.tdr });
    if (!created.ok) {
      memory.freePage(tdvpr);
      v.releaseHostPages();
      throw mapSeamcallError(SeamcallLeaf.TDH_VP_CREATE.mnemonic, created.status, {}, `creating vCPU ${index}`);
    }
    v.tdvpr = tdvpr;
    const pages = vm.host.sysinfo.tdvpsBaseSize / Number(PAGE_SIZE) - 1;
    for (let i = 0; i < pages; i++) {
      const page = memory.allocPage();
      const r = sc.call(lp, SeamcallLeaf.TDH_VP_ADDCX, { page, tdvpr });
      if (!r.ok) {
        memory.freePage(page);
        throw mapSeamcallError(SeamcallLeaf.TDH_VP_ADDCX.mnemonic, r.status, {}, `adding TDCX page ${i} to vCPU ${index}`);
      }
      v.tdcx.push(page);
    }
    sc.check(lp, SeamcallLeaf.TDH_VP_INIT, { tdvpr, initialRcx: options.initialRcx ?? 0n, x2apicId: BigInt(index) }, `initialising vCPU ${index}`, { version: 1 });
    const wr = (name: string, value: bigint, mask: bigint) =>
      sc.check(lp, SeamcallLeaf.TDH_VP_WR, { tdvpr, fieldId: fieldId(name), value, mask }, `writing ${name} of vCPU ${index}`);
    wr('POSTED_INTR_NV', BigInt(POSTED_INTR_VECTOR), MASK16);
    wr('POSTED_INTR_DESC_ADDR', v.pi.pa, U64_MASK);
    wr('PIN_BASED_VM_EXEC_CONTROL', PIN_BASED_POSTED_INTR, PIN_BASED_POSTED_INTR);
    wr('SHARED_EPTP', vm.sharedEptRoot, U64_MASK);
    v.state = KvmVcpuTdState.VCPU_TD_STATE_INITIALIZED;
    return v;
  }

  get tdvprPa(): bigint {
    if (this.tdvpr === undefined) throw new Error('vCPU has no TDVPR');
    return this.tdvpr;
  }

  /** The TD-owned pages of this vCPU (reclaimed at teardown). */
  tdPages(): bigint[] {
    return this.tdvpr === undefined ? [...this.tdcx] : [...this.tdcx, this.tdvpr];
  }

  /** Free the host pages that were never the TD's (the posted-interrupt descriptor). */
  releaseHostPages(): void {
    if (this.piPage !== undefined) this.vm.memory.freePage(this.piPage);
    this.piPage = undefined;
    this.tdcx.length = 0;
    this.tdvpr = undefined;
  }

  /** TDH.VP.FLUSH on the vCPU's LP; VCPU_NOT_ASSOCIATED means there was nothing to flush. */
  flush(): void {
    if (this.tdvpr === undefined) return;
    const r = this.vm.sc.call(this.lp, SeamcallLeaf.TDH_VP_FLUSH, { tdvpr: this.tdvpr });
    if (!r.ok && statusCode(r.status) !== TdxStatus.TDX_VCPU_NOT_ASSOCIATED) {
      this.vm.host.warnings.warn(this.index, 'vp-flush', 'module', mapSeamcallError(SeamcallLeaf.TDH_VP_FLUSH.mnemonic, r.status).message);
    }
  }

  // ---- Interrupts ---------------------------------------------------------------------------

  /** Post an interrupt (an in-kernel device or userspace raising a vector); wakes a halted vCPU. */
  postInterrupt(vector: number): void {
    if (!Number.isInteger(vector) || vector < FIRST_EXTERNAL_VECTOR || vector > LAST_VECTOR) {
      throw new HostError('EINVAL', `interrupt vector ${vector} is outside ${FIRST_EXTERNAL_VECTOR}..${LAST_VECTOR}`);
    }
    this.pi.post(vector);
  }

  /**
   * Whether a halted vCPU can wake. A HLT with interrupts blocked (R12 ≠ 0) waits for an NMI only
   * (`tdx_interrupt_allowed()` is false), and NMIs are not modelled, so it never wakes. Otherwise
   * `tdx_protected_apic_has_interrupt()`: a posted interrupt, or a virtual interrupt the TD already
   * holds (VCPU_STATE_DETAILS bit 0, read with TDH.VP.RD).
   */
  hasInterrupt(interruptsBlocked: boolean): boolean {
    if (interruptsBlocked) return false;
    if (this.pi.pending()) return true;
    const r = this.vm.sc.call(this.lp, SeamcallLeaf.TDH_VP_RD, { tdvpr: this.tdvprPa, fieldId: fieldId('VCPU_STATE_DETAILS') });
    if (!r.ok) {
      this.vm.host.warnings.warn(this.index, 'vp-rd', 'module', mapSeamcallError(SeamcallLeaf.TDH_VP_RD.mnemonic, r.status).message);
      return false;
    }
    return (r.outputs.value & STATE_DETAILS_INTR_PENDING) !== 0n;
  }

  // ---- KVM_RUN ------------------------------------------------------------------------------

  /** Userspace's answer to the last exit record; applied at the next run(). */
  complete(reply: ExitReply): void {
    const p = this.pending;
    if (!p) {
      const last = this.lastRecord;
      if (last && !REPLY_KINDS.has(last.kind)) throw new HostError('EINVAL', `complete(${reply.kind}): a ${last.kind} exit takes no reply; call run() again`);
      throw new HostError('EINVAL', `complete(${reply.kind}): there is no exit waiting for a reply`);
    }
    if (!REPLY_KINDS.has(p.record.kind)) throw new HostError('EINVAL', `complete(${reply.kind}): a ${p.record.kind} exit takes no reply; call run() again`);
    if (reply.kind !== p.record.kind) throw new HostError('EINVAL', `complete(${reply.kind}): the pending exit is ${p.record.kind}, so the reply must be of kind ${p.record.kind}`);
    validateReply(p.record, reply);
    this.reply = reply;
  }

  /** KVM_RUN: enter the TD until an exit userspace must see. */
  run(): ExitRecord {
    const vm = this.vm;
    vm.checkAlive();
    if (!vm.isRunnable() || this.state !== KvmVcpuTdState.VCPU_TD_STATE_INITIALIZED) {
      throw new HostError('EINVAL', 'run() needs an initialised vCPU of a finalised TD (KVM_TDX_FINALIZE_VM)');
    }
    if (this.pending) {
      const p = this.pending;
      const reply = this.reply;
      this.pending = undefined;
      this.reply = undefined;
      const tracer = tracerOf(this.lp);
      if (tracer.enabled) traceUserReply(tracer, this, reply);
      const next = p.complete?.(reply) ?? { kind: 'resume' };
      const done = this.settle(next);
      if (done) return done;
    }
    if (this.halted) {
      if (!this.hasInterrupt(this.halted.interruptsBlocked)) return this.deliver({ kind: 'hlt', exitReason: KvmExitReason.HLT, interruptsBlocked: this.halted.interruptsBlocked });
      this.halted = undefined;
    }
    const budget = vm.maxInKernelExits;
    for (let n = 0; n < budget; n++) {
      // vp_enter_args live in the vCPU: TDH.VP.ENTER runs in them in place, as in KVM.
      const status = vm.sc.vpEnter(this.lp, this.regs, this.tdvprPa);
      this.stats.entries++;
      vm.host.warnings.tick(this.index);
      const done = this.settle(handleExit(this, status));
      if (done) return done;
    }
    return this.deliver({ kind: 'intr', exitReason: KvmExitReason.INTR });
  }

  /** Turn a handler's action into a record for userspace, or undefined to re-enter. */
  private settle(action: ExitAction): ExitRecord | undefined {
    switch (action.kind) {
      case 'resume':
        return undefined;
      case 'dead':
        throw this.vm.kill(action.error);
      case 'halt':
        if (this.hasInterrupt(action.interruptsBlocked)) return undefined;
        this.halted = { interruptsBlocked: action.interruptsBlocked };
        return this.deliver({ kind: 'hlt', exitReason: KvmExitReason.HLT, interruptsBlocked: action.interruptsBlocked });
      case 'user':
        this.pending = action.complete ? { record: action.record, complete: action.complete } : { record: action.record };
        return this.deliver(action.record);
    }
  }

  private deliver(record: ExitRecord): ExitRecord {
    const tracer = tracerOf(this.lp);
    if (tracer.enabled) traceExitToUser(tracer, this, record);
    this.lastRecord = record;
    this.stats.userExits.set(record.kind, (this.stats.userExits.get(record.kind) ?? 0) + 1);
    return record;
  }

  /** Count a TD exit by name (for the run story). */
  countTdExit(name: string): void {
    this.stats.tdExits.set(name, (this.stats.tdExits.get(name) ?? 0) + 1);
  }
}

/** A reply's data must fit the access the guest made. */
function validateReply(record: ExitRecord, reply: ExitReply): void {
  const fits = (v: bigint | undefined, bytes: number, what: string) => {
    if (v !== undefined && (v < 0n || v >> BigInt(8 * bytes) !== 0n)) {
      throw new HostError('EINVAL', `${what} 0x${v.toString(16)} does not fit the ${bytes}-byte access`);
    }
  };
  if (record.kind === 'io' && reply.kind === 'io') {
    if (record.direction === 'out' && reply.data !== undefined) throw new HostError('EINVAL', 'an OUT exit takes no data in its reply');
    fits(reply.data, record.size, 'IN data');
  } else if (record.kind === 'mmio' && reply.kind === 'mmio') {
    if (record.isWrite && reply.data !== undefined) throw new HostError('EINVAL', 'an MMIO write exit takes no data in its reply');
    fits(reply.data, record.len, 'MMIO read data');
  } else if (record.kind === 'tdx' && reply.kind === 'tdx') {
    fits(reply.ret, 8, 'tdx ret');
    const regs = [reply.r11, reply.r12, reply.r13, reply.r14];
    if (record.call !== 'get_tdvmcall_info' && regs.some((r) => r !== undefined)) {
      throw new HostError('EINVAL', `r11..r14 only apply to a GetTdVmCallInfo reply, not to ${record.call}`);
    }
    regs.forEach((r) => fits(r, 8, 'register value'));
  } else if (record.kind === 'hypercall' && reply.kind === 'hypercall') {
    fits(reply.ret, 8, 'hypercall ret');
  }
}
