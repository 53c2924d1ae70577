/**
 * The metadata field registry: for every field of src/abi/metadata.ts, where its value lives in
 * the simulator's state (the module, the TD's TDR/TDCS, the vCPU's TDVPS and TD VMCS), how a
 * write is checked and applied, and the read/write masks each kind of caller gets.
 *
 * Masks (`md_get_rd_wr_mask` in the module's `metadata_generic.c`): a host accessing a production
 * TD gets the production masks, a host accessing a debug TD (ATTRIBUTES.DEBUG) the debug masks,
 * the guest its own; SYS fields have one host mask. Every mask is cut to the element size. A read
 * returns `value & read mask`; a write changes only `write mask & caller's mask`. The access
 * flags and narrow masks are the module's tables (abi/metadata.ts documents their provenance);
 * the values behind them and the special write rules are documented per field below, each naming
 * the module source or saying where tdxsim assumes.
 *
 * Source: TDX module 1.5 `src/common/metadata_handlers/metadata_{generic,sys,td,vp}.c` and the
 * `include/auto_gen/*_fields_lookup.c` tables; facts tdx-module.md §10.3, linux-tdx.md §1.4–1.6.
 */
import {
  CPUID_VALUES_FIELD_BASE,
  METADATA_FIELDS,
  metadataCodeSpan,
  type MetadataContext,
  type MetadataFieldDef,
} from '../abi/metadata.ts';
import { FIELD_ID } from '../abi/operands.ts';
import { U64_MASK } from '../abi/bitfield.ts';
import { TdxStatus, withOperand } from '../abi/status.ts';
import { PAGE_SIZE, PAMT_ENTRY_BYTES } from '../abi/pamt.ts';
import { TDCS_BASE_PAGES, TDVPS_BASE_PAGES, MAX_VCPUS_PER_TD } from '../abi/lifecycle.ts';
import { MAX_RESERVED_PER_TDMR, MAX_TDMRS } from '../abi/tdmr.ts';
import { TDX_VENDOR_ID_INTEL } from '../abi/tdsysinfo.ts';
import {
  ATTRIBUTES_FIXED0,
  ATTRIBUTES_FIXED1,
  CONFIG_FLAGS_FIXED0,
  CONFIG_FLAGS_FIXED1,
  ConfigFlagsBit,
  HP_LOCK_TIMEOUT_MAX_US,
  HP_LOCK_TIMEOUT_MIN_US,
  TdAttributesBit,
  XFAM_FIXED0,
  XFAM_FIXED1,
} from '../abi/td-config.ts';
import { TD_CTLS } from '../abi/td-params.ts';
import { CPUID_CONFIGURABLE, CPUID_NO_SUBLEAF, NUM_CPUID_CONFIG, cpuidConfigurableBits, cpuidLeafSubleaf } from '../abi/cpuid-config.ts';
import { CPUID_ANY_SUBLEAF, SIMULATED_CPUID, type SimulatedCpuidLeaf } from '../abi/cpuid.ts';
import { TdcsPageIndex } from '../abi/tdcs.ts';
import { NULL_PA, POSTED_INTR_NV_INIT, POSTED_INTR_NV_MAX, TdVmcsField } from '../abi/vmx.ts';
import { PI_DESC_BYTES, PIN_BASED_POSTED_INTR } from '../abi/posted-interrupt.ts';
import { GPR_NAMES } from '../abi/registers.ts';
import { isSharedHpa } from './hpa.ts';
import type { TdxModule } from './module.ts';
import type { Td } from './td.ts';
import type { Vcpu } from './vcpu.ts';

/** What a metadata access reaches: the module, and for TD/VP context the TD and the vCPU. */
export type MdBinding =
  | { readonly context: 'SYS'; readonly module: TdxModule }
  | { readonly context: 'TD'; readonly module: TdxModule; readonly td: Td }
  | { readonly context: 'VP'; readonly module: TdxModule; readonly td: Td; readonly vcpu: Vcpu };

type Bound<C extends MetadataContext> = Extract<MdBinding, { context: C }>;

/** Who accesses: the host VMM (TDH.*.RD/WR) or the guest (TDG.*.RD/WR). */
export type MdAccess = 'hostRead' | 'hostWrite' | 'guestRead' | 'guestWrite';

const OK = TdxStatus.TDX_SUCCESS;
const VALUE_NOT_VALID = TdxStatus.TDX_METADATA_FIELD_VALUE_NOT_VALID;

interface Behaviour<C extends MetadataContext> {
  /** The element's stored value (`elem` counts elements across the entry's fields). */
  readonly read: (b: Bound<C>, elem: number) => bigint;
  /**
   * Store `value` (the old value with the writable bits replaced); returns a status. Fields
   * without `write` are never written: their write masks are 0 for every caller.
   */
  readonly write?: (b: Bound<C>, elem: number, value: bigint, combinedMask: bigint) => bigint;
  /** A physical-address field: it holds NULL_PA until first written (`attributes.hpa`). */
  readonly physicalAddress?: boolean;
}

const bool = (x: boolean): bigint => (x ? 1n : 0n);
const bit = (value: bigint, n: number): boolean => ((value >> BigInt(n)) & 1n) === 1n;

/** Little-endian 64-bit element `i` of a SHA-384 measurement (6 elements of 8 bytes). */
function measurementElement(bytes: Uint8Array, i: number): bigint {
  let v = 0n;
  for (let j = 7; j >= 0; j--) v = (v << 8n) | BigInt(bytes[i * 8 + j] ?? 0);
  return v;
}

/** Pack two 32-bit CPUID registers into one element: `hi` in bits 63:32, `lo` in 31:0. */
const pair = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

// ---------------------------------------------------------------------------------------------
// SYS context (global_sys_fields_lookup.c; values as `md_sys_get_first_element_val_and_ptr`).

const SYS_FIELDS: Readonly<Record<string, Behaviour<'SYS'>>> = {
  VENDOR_ID: { read: () => BigInt(TDX_VENDOR_ID_INTEL) },
  BUILD_DATE: { read: (b) => BigInt(b.module.identity.buildDate) },
  BUILD_NUM: { read: (b) => BigInt(b.module.identity.buildNumber) },
  MINOR_VERSION: { read: (b) => BigInt(b.module.identity.minorVersion) },
  MAJOR_VERSION: { read: (b) => BigInt(b.module.identity.majorVersion) },
  UPDATE_VERSION: { read: (b) => BigInt(b.module.identity.updateVersion) },
  // Assumption: tdxsim does not support TD-preserving module updates, so it reports handoff
  // version 0 (the module reports its build constant TDX_MODULE_HV).
  MODULE_HV: { read: () => 0n },
  // A production module: SYS_ATTRIBUTES bit 31 (debug module) clear.
  SYS_ATTRIBUTES: { read: () => 0n },
  NUM_TDX_FEATURES: { read: () => 1n },
  TDX_FEATURES0: { read: (b) => b.module.identity.features0 },
  MAX_TDMRS: { read: () => BigInt(MAX_TDMRS) },
  MAX_RESERVED_PER_TDMR: { read: () => BigInt(MAX_RESERVED_PER_TDMR) },
  // All three PAMT levels use the same 16-byte entry (sizeof(pamt_entry_t)).
  PAMT_4K_ENTRY_SIZE: { read: () => BigInt(PAMT_ENTRY_BYTES) },
  PAMT_2M_ENTRY_SIZE: { read: () => BigInt(PAMT_ENTRY_BYTES) },
  PAMT_1G_ENTRY_SIZE: { read: () => BigInt(PAMT_ENTRY_BYTES) },
  // sizeof(tdr_t): the TDR is one page.
  TDR_BASE_SIZE: { read: () => PAGE_SIZE },
  TDCS_BASE_SIZE: { read: () => BigInt(TDCS_BASE_PAGES) * PAGE_SIZE },
  TDVPS_BASE_SIZE: { read: () => BigInt(TDVPS_BASE_PAGES) * PAGE_SIZE },
  ATTRIBUTES_FIXED0: { read: () => ATTRIBUTES_FIXED0 },
  ATTRIBUTES_FIXED1: { read: () => ATTRIBUTES_FIXED1 },
  // TDX_XFAM_FIXED0 & (XCR0 | IA32_XSS supported): the simulated CPU supports every feature.
  XFAM_FIXED0: { read: () => XFAM_FIXED0 },
  XFAM_FIXED1: { read: () => XFAM_FIXED1 },
  NUM_CPUID_CONFIG: { read: () => BigInt(NUM_CPUID_CONFIG) },
  CONFIG_FLAGS_FIXED0: { read: () => CONFIG_FLAGS_FIXED0 },
  CONFIG_FLAGS_FIXED1: { read: () => CONFIG_FLAGS_FIXED1 },
  MAX_VCPUS_PER_TD: { read: () => BigInt(MAX_VCPUS_PER_TD) },
  CPUID_CONFIG_LEAVES: { read: (_b, i) => cpuidLeafSubleaf(CPUID_CONFIGURABLE[i]!) },
  // Element 0 = EBX:EAX, 1 = EDX:ECX of the configurable bits, as TDH.SYS.INFO reports them.
  // (The 1.5.01 metadata handler reports CONFIG_DIRECT only; TDH.SYS.INFO and later modules add
  // the natively supported ALLOW_DIRECT bits. tdxsim reports the same bits through both.)
  CPUID_CONFIG_VALUES: {
    read: (_b, elem) => {
      const v = cpuidConfigurableBits(CPUID_CONFIGURABLE[elem >> 1]!);
      return elem % 2 === 0 ? pair(v.eax, v.ebx) : pair(v.ecx, v.edx);
    },
  },
};

// ---------------------------------------------------------------------------------------------
// TD context (tdr_tdcs_fields_lookup.c; special cases as `md_td_get_element` /
// `md_td_write_element`).

/** The TD's CPUID lookup table: the leaves the (simulated) module virtualises, in table order. */
const CPUID_LOOKUP: readonly SimulatedCpuidLeaf[] = SIMULATED_CPUID;

/**
 * The TD's virtual CPUID value for lookup entry `index`: TDCS.CPUID_VALUES as TDH.MNG.INIT computed
 * it (td-cpuid.ts). The per-vCPU fields the module fills at CPUID time (initial APIC ID) are not
 * part of it.
 */
function tdCpuidValues(td: Td, index: number): SimulatedCpuidLeaf {
  return td.cpuidValues[index] ?? CPUID_LOOKUP[index]!;
}

/**
 * TD_CTLS written by the guest (`md_td_write_element`, TD_CTLS case): PENDING_VE_DISABLE may
 * change only if CONFIG_FLAGS.FLEXIBLE_PENDING_VE lets the guest choose (otherwise the host's
 * ATTRIBUTES.SEPT_VE_DISABLE decides, and the guest must not undo the host's choice);
 * ENUM_TOPOLOGY needs every vCPU's x2APIC ID configured (TOPOLOGY_ENUM_CONFIGURED), else the
 * guest would enumerate a topology the host never set up; reserved bits stay 0.
 */
function writeTdCtls(b: Bound<'TD'>, _elem: number, value: bigint): bigint {
  const td = b.td;
  const changed = TD_CTLS.decode(value ^ td.tdCtls);
  const next = TD_CTLS.decode(value);
  if (changed.pending_ve_disable && !bit(td.configFlags, ConfigFlagsBit.FLEXIBLE_PENDING_VE)) return VALUE_NOT_VALID;
  if (next.enum_topology && !td.topologyEnumConfigured) return VALUE_NOT_VALID;
  if (TD_CTLS.hasReservedBits(value)) return VALUE_NOT_VALID;
  td.tdCtls = value;
  return OK;
}

/**
 * HP_LOCK_TIMEOUT (`md_td_write_element`): only a whole-field write is accepted (else
 * TDX_METADATA_WR_MASK_NOT_VALID, since a partial microsecond value is meaningless), and the
 * value must lie in 10 ms..100 s — a host must not make guest leaves give up at once or never.
 */
function writeHpLockTimeout(b: Bound<'TD'>, _elem: number, value: bigint, combined: bigint): bigint {
  if (combined !== U64_MASK) return TdxStatus.TDX_METADATA_WR_MASK_NOT_VALID;
  if (value < HP_LOCK_TIMEOUT_MIN_US || value > HP_LOCK_TIMEOUT_MAX_US) return VALUE_NOT_VALID;
  b.td.hpLockTimeoutUs = value;
  return OK;
}

const TD_FIELDS: Readonly<Record<string, Behaviour<'TD'>>> = {
  LIFECYCLE_STATE: { read: (b) => BigInt(b.td.lifecycle) },
  NUM_VCPUS: { read: (b) => BigInt(b.td.numVcpus) },
  OP_STATE: { read: (b) => BigInt(b.td.opState) },
  NUM_L2_VMS: { read: (b) => BigInt(b.td.numL2Vms) },
  ATTRIBUTES: { read: (b) => b.td.attributes },
  XFAM: { read: (b) => b.td.xfam },
  MAX_VCPUS: { read: (b) => BigInt(b.td.maxVcpus) },
  // The TDCS keeps GPAW as the CONFIG_FLAGS bit: 0 = 48-bit, 1 = 52-bit.
  GPAW: { read: (b) => bool(bit(b.td.configFlags, ConfigFlagsBit.GPAW)) },
  // EPTP_CONTROLS with the Secure-EPT root page address (assumption: without HKID bits).
  EPTP: { read: (b) => b.td.eptpControls | (b.td.tdcx[TdcsPageIndex.SEPT_ROOT] ?? 0n) },
  TSC_OFFSET: { read: (b) => b.td.tscOffset },
  TSC_MULTIPLIER: { read: (b) => b.td.tscMultiplier },
  TSC_FREQUENCY: { read: (b) => BigInt(b.td.tscFrequency) },
  NOTIFY_ENABLES: {
    read: (b) => b.td.notifyEnables,
    write: (b, _e, v) => {
      b.td.notifyEnables = v;
      return OK;
    },
  },
  HP_LOCK_TIMEOUT: { read: (b) => b.td.hpLockTimeoutUs, write: writeHpLockTimeout },
  CONFIG_FLAGS: { read: (b) => b.td.configFlags },
  TD_CTLS: { read: (b) => b.td.tdCtls, write: writeTdCtls },
  TOPOLOGY_ENUM_CONFIGURED: { read: (b) => bool(b.td.topologyEnumConfigured) },
  MRTD: { read: (b, i) => measurementElement(b.td.mrtd, i) },
  MRCONFIGID: { read: (b, i) => measurementElement(b.td.mrConfigId, i) },
  MROWNER: { read: (b, i) => measurementElement(b.td.mrOwner, i) },
  MROWNERCONFIG: { read: (b, i) => measurementElement(b.td.mrOwnerConfig, i) },
  RTMR: { read: (b, i) => measurementElement(b.td.rtmr[Math.floor(i / 6)]!, i % 6) },
  // Element 2k = EBX:EAX, 2k+1 = EDX:ECX of CPUID lookup entry k (KVM `tdx_read_cpuid`).
  CPUID_VALUES: {
    read: (b, elem) => {
      const v = tdCpuidValues(b.td, elem >> 1);
      return elem % 2 === 0 ? pair(v.eax, v.ebx) : pair(v.ecx, v.edx);
    },
  },
};

// ---------------------------------------------------------------------------------------------
// VP context (tdvps_fields_lookup.c, td_vmcs_fields_lookup.c; special cases as
// `md_vp_get_element`, `md_vp_element_vmcs_wr_handle`, `md_vp_handle_field_attribute_on_wr`).

/**
 * A VMCS physical-address field the host points at its own memory must be a shared HPA
 * (`shared_hpa_check`: below MAX_PA, a shared KeyID) — otherwise the CPU would read or write
 * TD-private or module memory on the host's behalf.
 */
const sharedPa = (b: Bound<'VP'>, value: bigint): boolean => isSharedHpa(b.module.platform, value, 1n);

const VP_FIELDS: Readonly<Record<string, Behaviour<'VP'>>> = {
  // Guest GPRs (class 16): only the host of a debug TD may touch them (production masks 0), so a
  // production TD's registers never reach the host outside a TDVMCALL it chose to make.
  ...Object.fromEntries(
    GPR_NAMES.map((_, i): [string, Behaviour<'VP'>] => [
      GPR_NAMES[i]!,
      {
        read: (b) => b.vcpu.cpu.regs.gpr[i]!,
        write: (b, _e, v) => {
          b.vcpu.cpu.regs.gpr[i] = v;
          return OK;
        },
      },
    ]),
  ),
  VCPU_STATE: { read: (b) => BigInt(b.vcpu.state) },
  VCPU_INDEX: { read: (b) => BigInt(b.vcpu.index) },
  NUM_TDVPS_PAGES: { read: (b) => BigInt(1 + b.vcpu.tdcx.length) },
  // -1 (no LP) reads as 0xFFFFFFFF: the element is 32 bits.
  ASSOC_LPID: { read: (b) => BigInt(b.vcpu.assocLp) },
  // The TDVPS keeps these as bytes; tdxsim keeps the flag (any non-zero byte sets it).
  CPUID_SUPERVISOR_VE: {
    read: (b) => bool(b.vcpu.cpuidVeSupervisor),
    write: (b, _e, v) => {
      b.vcpu.cpuidVeSupervisor = v !== 0n;
      return OK;
    },
  },
  CPUID_USER_VE: {
    read: (b) => bool(b.vcpu.cpuidVeUser),
    write: (b, _e, v) => {
      b.vcpu.cpuidVeUser = v !== 0n;
      return OK;
    },
  },
  LAST_TD_EXIT: { read: (b) => BigInt(b.vcpu.lastTdExit) },
  // PEND_NMI: KVM writes 1 to make the module inject an NMI at the next entry (linux-tdx §4.5).
  PEND_NMI: {
    read: (b) => bool(b.vcpu.pendingNmi),
    write: (b, _e, v) => {
      b.vcpu.pendingNmi = v !== 0n;
      return OK;
    },
  },
  // Bit 0 INTR_PENDING: a virtual interrupt waits for delivery (KVM polls it for HLT wakeups).
  VCPU_STATE_DETAILS: { read: (b) => bool(b.vcpu.pendingInterrupts.length > 0) },
  SHARED_EPTP: {
    physicalAddress: true,
    read: (b) => b.vcpu.sharedEptp,
    write: (b, _e, v) => {
      if (!sharedPa(b, v)) return VALUE_NOT_VALID;
      b.vcpu.sharedEptp = v;
      return OK;
    },
  },
  POSTED_INTR_NV: {
    read: (b) => BigInt(b.vcpu.postedIntrNv),
    write: (b, _e, v) => {
      if (v > BigInt(POSTED_INTR_NV_MAX)) return VALUE_NOT_VALID;
      b.vcpu.postedIntrNv = Number(v);
      return OK;
    },
  },
  POSTED_INTR_DESC_ADDR: {
    physicalAddress: true,
    read: (b) => b.vcpu.postedIntrDescAddr,
    write: (b, _e, v) => {
      if (!sharedPa(b, v) || !sharedPa(b, v + BigInt(PI_DESC_BYTES) - 1n)) return VALUE_NOT_VALID;
      b.vcpu.postedIntrDescAddr = v;
      return OK;
    },
  },
  // Only bit 7 (process posted interrupts) is the host's to set, and only once the notification
  // vector and descriptor address exist: the CPU would otherwise post through garbage.
  PIN_BASED_VM_EXEC_CONTROL: {
    read: (b) => (b.vcpu.postedInterrupts ? PIN_BASED_POSTED_INTR : 0n),
    write: (b, _e, v) => {
      const enable = (v & PIN_BASED_POSTED_INTR) !== 0n;
      if (enable && b.vcpu.postedIntrNv === POSTED_INTR_NV_INIT) {
        return withOperand(TdxStatus.TDX_TD_VMCS_FIELD_NOT_INITIALIZED, TdVmcsField.POSTED_INTR_NV);
      }
      if (enable && b.vcpu.postedIntrDescAddr === NULL_PA) {
        return withOperand(TdxStatus.TDX_TD_VMCS_FIELD_NOT_INITIALIZED, TdVmcsField.POSTED_INTR_DESC_ADDR);
      }
      b.vcpu.postedInterrupts = enable;
      return OK;
    },
  },
};

// ---------------------------------------------------------------------------------------------
// The registry: one entry per known field, each context in the module's table order (class code,
// then field code — the TD VMCS, class 0, comes first in VP context).

/** Where an element is, or why an id names none. */
export type ElementLookup = number | 'incorrect' | 'not-readable';

export interface MdEntry {
  readonly def: MetadataFieldDef;
  readonly context: MetadataContext;
  readonly classCode: bigint;
  readonly baseCode: number;
  /** Field-code step between elements: 2 for the TD VMCS (`inc_size`), else 1. */
  readonly stride: number;
  readonly elementsPerField: number;
  /** Elements in the entry (all fields). */
  readonly elements: number;
  /** Field codes the entry spans (`metadataCodeSpan` of its definition, computed once). */
  readonly codeSpan: number;
  /** Element index a field code names (the code is known to be in the entry's span). */
  elementOf(code: number): ElementLookup;
  /** Field code of element `elem`. */
  codeOf(elem: number): number;
  readonly behaviour: Behaviour<MetadataContext>;
}

function linearEntry(def: MetadataFieldDef, behaviour: Behaviour<MetadataContext>): MdEntry {
  const f = FIELD_ID.decode(def.id);
  const baseCode = Number(f.field_code);
  const stride = Number(f.inc_size) + 1;
  return {
    def,
    context: def.context,
    classCode: f.class_code,
    baseCode,
    stride,
    elementsPerField: def.elementsPerField,
    elements: def.fields * def.elementsPerField,
    codeSpan: metadataCodeSpan(def),
    // With a stride of 2 (VMCS) an odd offset is a HIGH access to a 64-bit field, which the
    // module refuses (`vmcs_field_code.access_type == HIGH`).
    elementOf: (code) => ((code - baseCode) % stride === 0 ? (code - baseCode) / stride : 'incorrect'),
    codeOf: (elem) => baseCode + elem * stride,
    behaviour,
  };
}

/** CPUID_VALUES field code (`cpuid_field_code`): bit 0 element, 7:1 sub-leaf, 8 no-sub-leaf, 15:9 leaf, 16 leaf bit 31. */
const CPUID_CODE = Object.freeze({ SUBLEAF_SHIFT: 1, NA_SHIFT: 8, LEAF_SHIFT: 9, LEAF31_SHIFT: 16, SEVEN_BITS: 0x7f });

function cpuidCode(entry: SimulatedCpuidLeaf, element: number): number {
  const c = CPUID_CODE;
  const leaf = entry.leaf >>> 0;
  const na = entry.subleaf === CPUID_ANY_SUBLEAF;
  const sub = na ? c.SEVEN_BITS : entry.subleaf & c.SEVEN_BITS;
  return (
    ((leaf >>> 31) << c.LEAF31_SHIFT) |
    ((leaf & c.SEVEN_BITS) << c.LEAF_SHIFT) |
    (Number(na) << c.NA_SHIFT) |
    (sub << c.SUBLEAF_SHIFT) |
    element
  );
}

/**
 * CPUID_VALUES: the field code names a leaf/sub-leaf, found as `get_cpuid_lookup_entry` does (a
 * table entry without sub-leaves matches any sub-leaf). A leaf the TD does not virtualise is not
 * readable (the module reads FIXED-0 leaves as 0 for the host; tdxsim has no FIXED-0 bitmap).
 */
function cpuidEntry(def: MetadataFieldDef, behaviour: Behaviour<MetadataContext>): MdEntry {
  const c = CPUID_CODE;
  const f = FIELD_ID.decode(def.id);
  return {
    def,
    context: def.context,
    classCode: f.class_code,
    baseCode: Number(f.field_code),
    stride: 1,
    elementsPerField: def.elementsPerField,
    elements: CPUID_LOOKUP.length * def.elementsPerField,
    codeSpan: metadataCodeSpan(def),
    elementOf: (code) => {
      const leaf = (((code >> c.LEAF31_SHIFT) & 1) << 31) | ((code >> c.LEAF_SHIFT) & c.SEVEN_BITS);
      const na = ((code >> c.NA_SHIFT) & 1) === 1;
      const subleaf = na ? CPUID_NO_SUBLEAF : (code >> c.SUBLEAF_SHIFT) & c.SEVEN_BITS;
      const index = CPUID_LOOKUP.findIndex(
        (e) => e.leaf >>> 0 === leaf >>> 0 && (e.subleaf === CPUID_ANY_SUBLEAF || e.subleaf === subleaf),
      );
      return index < 0 ? 'not-readable' : index * def.elementsPerField + (code & 1);
    },
    codeOf: (elem) => cpuidCode(CPUID_LOOKUP[Math.floor(elem / def.elementsPerField)]!, elem % def.elementsPerField),
    behaviour,
  };
}

const BEHAVIOURS: Readonly<Record<MetadataContext, Readonly<Record<string, Behaviour<MetadataContext>>>>> = {
  SYS: SYS_FIELDS as Record<string, Behaviour<MetadataContext>>,
  TD: TD_FIELDS as Record<string, Behaviour<MetadataContext>>,
  VP: VP_FIELDS as Record<string, Behaviour<MetadataContext>>,
};

/** The abi fields this registry has no behaviour for (must be empty; a test checks it). */
export const FIELDS_WITHOUT_BEHAVIOUR: readonly string[] = METADATA_FIELDS.filter(
  (d) => BEHAVIOURS[d.context][d.name] === undefined,
).map((d) => `${d.context}.${d.name}`);

function buildRegistry(context: MetadataContext): readonly MdEntry[] {
  return METADATA_FIELDS.filter((d) => d.context === context && BEHAVIOURS[context][d.name] !== undefined)
    .map((d) => {
      const behaviour = BEHAVIOURS[context][d.name]!;
      return d.id === CPUID_VALUES_FIELD_BASE ? cpuidEntry(d, behaviour) : linearEntry(d, behaviour);
    })
    .sort((a, b) => (a.classCode === b.classCode ? a.baseCode - b.baseCode : a.classCode < b.classCode ? -1 : 1));
}

/** Registry entries by context, in iteration order. */
export const MD_REGISTRY: Readonly<Record<MetadataContext, readonly MdEntry[]>> = Object.freeze({
  SYS: buildRegistry('SYS'),
  TD: buildRegistry('TD'),
  VP: buildRegistry('VP'),
});

/**
 * The entry a field id names in `context` (`md_find_entry_idx`): same class, field code inside
 * the entry's span. Element size, inc_size, non-arch and context bits of the id are not compared.
 */
export function findEntry(context: MetadataContext, id: bigint): number | undefined {
  const classCode = FIELD_ID.get(id, 'class_code');
  const code = Number(FIELD_ID.get(id, 'field_code'));
  const i = MD_REGISTRY[context].findIndex(
    (e) => e.classCode === classCode && code >= e.baseCode && code < e.baseCode + e.codeSpan,
  );
  return i < 0 ? undefined : i;
}

/** All-ones mask of an element of `bytes` bytes. */
function elementMask(bytes: number): bigint {
  return bytes >= 8 ? U64_MASK : (ELEMENT_MASKS[bytes] ?? (1n << BigInt(8 * bytes)) - 1n);
}

/** All-ones masks of elements of 0..7 bytes, built once (every metadata access asks). */
const ELEMENT_MASKS: readonly bigint[] = [0, 1, 2, 3, 4, 5, 6, 7].map((b) => (1n << BigInt(8 * b)) - 1n);

/**
 * The mask a caller gets for an entry (`md_get_rd_wr_mask`): read or write, production or debug
 * host, or guest; 0 means the field is not readable / not writable for that caller.
 */
export function accessMask(entry: MdEntry, access: MdAccess, debugTd: boolean): bigint {
  const d = entry.def;
  const full = elementMask(d.elementSize);
  const writable = entry.behaviour.write !== undefined;
  switch (access) {
    case 'hostRead':
      if (debugTd) return d.debugReadable ? full : 0n;
      return d.hostReadable ? (d.hostReadMask ?? full) & full : 0n;
    case 'hostWrite':
      if (!writable) return 0n;
      if (debugTd) return d.debugWritable ? (d.debugWriteMask ?? d.hostWriteMask ?? full) & full : 0n;
      return d.hostWritable ? (d.hostWriteMask ?? full) & full : 0n;
    case 'guestRead':
      return d.guestReadable ? (d.guestReadMask ?? full) & full : 0n;
    case 'guestWrite':
      return writable && d.guestWritable ? (d.guestWriteMask ?? full) & full : 0n;
  }
}

/** The element value as stored, cut to the element size. */
export function storedValue(b: MdBinding, entry: MdEntry, elem: number): bigint {
  return entry.behaviour.read(b, elem) & elementMask(entry.def.elementSize);
}

/** Whether a host access to this binding uses the debug masks (ATTRIBUTES.DEBUG of the TD). */
export function isDebugTd(b: MdBinding): boolean {
  return b.context !== 'SYS' && bit(b.td.attributes, TdAttributesBit.DEBUG);
}
