/**
 * vCPU build and teardown leaves: TDH.VP.CREATE, TDH.VP.ADDCX, TDH.VP.INIT (versions 0 and 1) and
 * TDH.VP.FLUSH.
 *
 * A vCPU is built while the TD is INITIALIZED (before TDH.MR.FINALIZE): CREATE turns a free page
 * into the TDVPR, ADDCX adds the TDCX pages that complete its TDVPS (6 pages for an L1-only TD),
 * INIT gives it its VCPU_INDEX and reset register state, makes it READY and associates it with
 * the LP that ran INIT. FLUSH, run on that LP at teardown, dissociates it so that
 * TDH.MNG.VPFLUSHDONE can see that no LP still caches its state.
 *
 * Source: TDX module 1.5 `ac/tdh_vp_create.c`, `tdh_vp_addcx.c`, `tdh_vp_init.c` (version 1 and
 * the x2APIC-ID checks from the later tree that added it), `tdh_vp_flush.c`; `helpers.c`
 * (`associate_vcpu_initial`); facts tdx-module.md §4.4–4.5, §5.2 step 5, §6.5, §9.2.
 */
import { readOperands } from '../abi/leaf.ts';
import { OperandId, TdxStatus, withOperand } from '../abi/status.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { PamtPageSize, PamtPageType } from '../abi/pamt.ts';
import { LastTdExit, TdLifecycle, TDVPS_MAX_PAGES, VcpuState } from '../abi/lifecycle.ts';
import { Gpr } from '../abi/registers.ts';
import { RESET_VECTOR } from '../abi/gpa.ts';
import { U32_MASK } from '../abi/bitfield.ts';
import { tdFamilyModelStepping } from './td-cpuid.ts';
import type { SeamcallHandler, SeamcallHandlerTable } from './context.ts';
import { lockExplicitPage } from './hpa.ts';
import { withLocks } from './lock-scope.ts';
import type { TdxModule } from './module.ts';
import { checkTdcs } from './tdcs-check.ts';
import type { Td } from './td.ts';
import { lockTdr } from './td-state-check.ts';
import { Vcpu } from './vcpu.ts';
import { checkTdvpsPages, lockTdvpr } from './vcpu-operand.ts';

const L = SeamcallLeaf;
const OK = TdxStatus.TDX_SUCCESS;

/**
 * Give a TD a new 4K control page: zero it through the TD's key (so nothing the host left in it
 * survives, and the host reads only ciphertext from then on), record it in the PAMT as `type`
 * owned by the TD, and count it in TDR.CHLDCNT so the TDR cannot be reclaimed before it.
 */
function takeControlPage(module: TdxModule, td: Td, pa: bigint, type: typeof PamtPageType.PT_TDVPR | typeof PamtPageType.PT_TDCX): void {
  module.platform.memory.zeroPages(pa, 1, td.hkid);
  module.pamt.set(pa, PamtPageSize.PT_4KB, type, td.tdr);
  td.childCount++;
}

/** TDH.VP.CREATE (RCX = new TDVPR page, RDX = TDR): the page becomes a vCPU's TDVPR. */
const vpCreate: SeamcallHandler = ({ module, regs }) => {
  const { tdvpr, tdr } = readOperands(L.TDH_VP_CREATE.inputs, regs);
  return withLocks(module.locks, (scope) => {
    const owner = lockTdr(scope, module, tdr, 'shared', OperandId.RDX);
    if (!owner.ok) return owner.status;
    const td = owner.td;
    const state = checkTdcs(scope, module, td, 'TDH_VP_CREATE', true);
    if (state !== OK) return state;
    // The new page must be free: a page already in use by any TD or the module stays untouched.
    const page = lockExplicitPage(scope, module, tdvpr, OperandId.RCX, 'exclusive', PamtPageType.PT_NDA);
    if (!page.ok) return page.status;
    takeControlPage(module, td, tdvpr, PamtPageType.PT_TDVPR);
    module.vcpus.set(tdvpr, new Vcpu(tdvpr, td));
    return OK;
  });
};

/** TDH.VP.ADDCX (RCX = new TDCX page, RDX = TDVPR): add one page to an uninitialised vCPU's TDVPS. */
const vpAddcx: SeamcallHandler = ({ module, regs }) => {
  const { page, tdvpr } = readOperands(L.TDH_VP_ADDCX.inputs, regs);
  return withLocks(module.locks, (scope) => {
    const found = lockTdvpr(scope, module, tdvpr, { operand: OperandId.RDX, mode: 'exclusive', tdrMode: 'shared' });
    if (!found.ok) return found.status;
    const { vcpu, td } = found;
    const state = checkTdcs(scope, module, td, 'TDH_VP_ADDCX', true);
    if (state !== OK) return state;
    // Once TDH.VP.INIT ran, the TDVPS layout is fixed: its pages cannot change under a live vCPU.
    if (vcpu.state !== VcpuState.VCPU_UNINITIALIZED) return TdxStatus.TDX_VCPU_STATE_INCORRECT;
    if (1 + vcpu.tdcx.length >= TDVPS_MAX_PAGES) return TdxStatus.TDX_TDCX_NUM_INCORRECT;
    const cx = lockExplicitPage(scope, module, page, OperandId.RCX, 'exclusive', PamtPageType.PT_NDA);
    if (!cx.ok) return cx.status;
    // The module fills an L2 VM's MSR-bitmap pages with ones; tdxsim has no L2 VMs, so every
    // TDCX page is zeroed.
    takeControlPage(module, td, page, PamtPageType.PT_TDCX);
    vcpu.tdcx.push(page);
    return OK;
  });
};

/**
 * The guest's reset register image (`init_vcpu_gprs_and_registers`, facts §6.5): RBX = GPAW
 * (52 or 48), RCX = R8 = the host's RDX input, RDX = CPUID(1).EAX (family/model/stepping),
 * RSI = VCPU_INDEX, every other GPR and XMM 0, RIP = the reset vector.
 *
 * CPUID(1).EAX is the native value the module sampled at TDH.SYS.INIT (`cpuid_values`), not the
 * TD's configured CPUID: the simulated CPU's value stands in for the native one.
 */
function resetGuestRegisters(vcpu: Vcpu, td: Td, initialRcx: bigint, index: number): void {
  const regs = vcpu.cpu.regs;
  regs.gpr.fill(0n);
  regs.xmm.fill(0n);
  const fms = tdFamilyModelStepping(td.cpuidValues);
  regs.gpr[Gpr.RBX] = BigInt(td.gpaw);
  regs.gpr[Gpr.RCX] = initialRcx;
  regs.gpr[Gpr.R8] = initialRcx;
  regs.gpr[Gpr.RDX] = BigInt(fms >>> 0);
  regs.gpr[Gpr.RSI] = BigInt(index) & U32_MASK;
  vcpu.cpu.rip = RESET_VECTOR;
}

/**
 * TDH.VP.INIT (RCX = TDVPR, RDX = initial RCX; version 1 adds R8 = x2APIC ID). Version 1 takes
 * the TDR exclusively, because it reads and updates the TD-wide x2APIC ID list. Not modelled:
 * the module's first check, that IA32_TSC_ADJUST still has the value TDH.SYS.INIT sampled
 * (TDX_INCONSISTENT_MSR) — the simulated LPs have no TSC MSRs for a host to change.
 */
const vpInit: SeamcallHandler = ({ module, lp, regs, version }) => {
  const { tdvpr, initialRcx, x2apicId } = readOperands(L.TDH_VP_INIT.inputs, regs);
  return withLocks(module.locks, (scope) => {
    const tdrMode = version > 0 ? 'exclusive' : 'shared';
    const found = lockTdvpr(scope, module, tdvpr, { operand: OperandId.RCX, mode: 'exclusive', tdrMode });
    if (!found.ok) return found.status;
    const { vcpu, td } = found;
    const state = checkTdcs(scope, module, td, 'TDH_VP_INIT', true);
    if (state !== OK) return state;
    const pages = checkTdvpsPages(vcpu, td);
    if (pages !== OK) return pages;
    if (vcpu.state !== VcpuState.VCPU_UNINITIALIZED) return TdxStatus.TDX_VCPU_STATE_INCORRECT;
    // VCPU_INDEX is the next free slot; the TD cannot have more vCPUs than TD_PARAMS.MAX_VCPUS.
    const index = td.numVcpus;
    if (index >= td.maxVcpus) return TdxStatus.TDX_MAX_VCPUS_EXCEEDED;
    if (version > 0) {
      // x2APIC IDs are 32 bits, and unique within the TD: the topology the guest enumerates
      // through CPUID 0x1F must not give two vCPUs the same APIC.
      if (x2apicId > U32_MASK) return withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.R8);
      // vCPUs initialised by version 0 keep x2APIC ID 0 in the TDCS list, as in the module.
      if (td.vcpus.slice(0, index).some((v) => v.x2apicId === x2apicId)) {
        return withOperand(TdxStatus.TDX_X2APIC_ID_NOT_UNIQUE, x2apicId);
      }
      vcpu.x2apicId = x2apicId;
    } else {
      // No x2APIC ID given: the VMM has not configured the topology of every vCPU.
      td.topologyEnumConfigured = false;
    }
    // All checks passed.
    td.numVcpus++;
    vcpu.index = index;
    resetGuestRegisters(vcpu, td, initialRcx, index);
    vcpu.state = VcpuState.VCPU_READY;
    vcpu.lastTdExit = LastTdExit.ASYNC_FAULT;
    // `associate_vcpu_initial`: the new VMCS is current on this LP.
    vcpu.assocLp = lp.id;
    td.numAssocVcpus++;
    td.vcpus[index] = vcpu;
    return OK;
  });
};

/**
 * TDH.VP.FLUSH (RCX = TDVPR): write the vCPU's cached VMCS state back and dissociate it from this
 * LP. It takes no OP_STATE lock and runs in any OP_STATE, but needs the TD's keys (the flush
 * writes TD-private memory).
 */
const vpFlush: SeamcallHandler = ({ module, lp, regs }) => {
  const { tdvpr } = readOperands(L.TDH_VP_FLUSH.inputs, regs);
  return withLocks(module.locks, (scope) => {
    const found = lockTdvpr(scope, module, tdvpr, { operand: OperandId.RCX, mode: 'exclusive', tdrMode: 'shared' });
    if (!found.ok) return found.status;
    const { vcpu, td } = found;
    if (td.lifecycle !== TdLifecycle.TD_KEYS_CONFIGURED) return TdxStatus.TDX_TD_KEYS_NOT_CONFIGURED;
    const pages = checkTdvpsPages(vcpu, td);
    if (pages !== OK) return pages;
    // Only the LP that caches the vCPU's VMCS can flush it (VMCLEAR is per LP).
    if (vcpu.assocLp !== lp.id) return TdxStatus.TDX_VCPU_NOT_ASSOCIATED;
    vcpu.assocLp = -1;
    td.numAssocVcpus--;
    // The module forgets the last vCPU that ran here, so the next entry on this LP flushes.
    module.lpState[lp.id]!.lastVcpu = undefined;
    return OK;
  });
};

export const VP_HANDLERS: SeamcallHandlerTable = Object.freeze({
  [L.TDH_VP_CREATE.number]: vpCreate,
  [L.TDH_VP_ADDCX.number]: vpAddcx,
  [L.TDH_VP_INIT.number]: vpInit,
  [L.TDH_VP_FLUSH.number]: vpFlush,
});
