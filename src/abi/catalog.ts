/**
 * The whole ABI as one machine-readable object: every table in this directory gathered into plain
 * data that JSON.stringify can print as is (64-bit values become "0x" + 16 upper-case hex digits;
 * JSON has no 64-bit integers). `tdxsim abi --json` prints it; docs/abi-json.md documents it.
 *
 * The catalog only reads the tables; it adds no numbers of its own. Its shape is versioned by
 * `schemaVersion`: a key removed or renamed, or a value changing type, bumps it; new keys do not.
 */
import * as Operands from './operands.ts';
import { Bitfield, hex64 } from './bitfield.ts';
import { CPUID_CONFIGURABLE, CPUID_NO_SUBLEAF, type CpuidRegs } from './cpuid-config.ts';
import {
  GetQuoteStatus,
  GET_QUOTE_BUFFER_VERSION,
  GET_QUOTE_HEADER,
  GET_QUOTE_HEADER_SIZE,
  GET_QUOTE_LINUX_BUFFER_SIZE,
} from './get-quote.ts';
import { DEFAULT_MAX_PA, GPAW_48, GPAW_52, RESET_VECTOR, eptLevels, sharedBit } from './gpa.ts';
import type { LeafDef, RegOperand } from './leaf.ts';
import type { Layout } from './layout.ts';
import {
  KotState,
  LastTdExit,
  MAX_HKIDS,
  MAX_VCPUS_PER_TD,
  OpState,
  SysState,
  TDCS_BASE_PAGES,
  TDCS_MAX_PAGES,
  TDVPS_BASE_PAGES,
  TDVPS_MAX_PAGES,
  TdLifecycle,
  VcpuState,
} from './lifecycle.ts';
import { METADATA_FIELDS, type MetadataFieldDef } from './metadata.ts';
import { TdxFeatures0Bit } from './module-features.ts';
import { PAMT_ENTRY_BYTES, PamtPageSize, PamtPageType, TDMR_INIT_CHUNK_BYTES } from './pamt.ts';
import { GPR_NAMES, Gpr, XMM_COUNT } from './registers.ts';
import { SeamcallLeaf } from './seamcall-leaves.ts';
import { SEPT_ENTRIES_PER_PAGE, SEPT_LEVEL_NAMES, SeptLevel, SeptState, SepteBit, levelSize } from './sept.ts';
import {
  OperandId,
  STATUS_CLASSES,
  STATUS_CODE_MASK,
  STATUS_DETAILS_MASK,
  STATUS_LAYOUT,
  TdxSoftwareStatus,
  TdxStatus,
} from './status.ts';
import {
  ATTRIBUTES_FIXED0,
  ATTRIBUTES_FIXED1,
  CONFIG_FLAGS_FIXED0,
  CONFIG_FLAGS_FIXED1,
  ConfigFlagsBit,
  EPTP_CONTROLS,
  IA32_ARCH_CAPABILITIES_CONFIGURABLE,
  MAX_L2_VMS,
  MSR_CONFIG_CTLS_IA32_ARCH_CAP,
  TSC_FREQUENCY_MAX,
  TSC_FREQUENCY_MIN,
  TSC_FREQUENCY_UNIT_HZ,
  TdAttributesBit,
  TdCtlsBit,
  XFAM_FIXED0,
  XFAM_FIXED1,
  XfamBit,
} from './td-config.ts';
import {
  EPTP_CONTROLS_VALID,
  TD_ATTRIBUTES,
  TD_CONFIG_FLAGS,
  TD_CTLS,
  TD_PARAMS,
  TD_PARAMS_ALIGNMENT,
  TD_PARAMS_CPUID_ENTRY,
  TD_XFAM,
  XFAM_CONSTRAINTS,
} from './td-params.ts';
import { TdcallLeaf } from './tdcall-leaves.ts';
import {
  CMR_INFO,
  CMR_INFO_ARRAY_ALIGNMENT,
  MAX_CMRS,
  MAX_RESERVED_PER_TDMR,
  MAX_TDMRS,
  TDMR_INFO,
  TDMR_INFO_ALIGNMENT,
  TDMR_INFO_PA_ARRAY_ALIGNMENT,
  TDMR_RESERVED_AREA,
} from './tdmr.ts';
import {
  REPORTDATA_ALIGNMENT,
  REPORTMACSTRUCT,
  REPORT_MAC_INPUT_SIZE,
  REPORT_SUBTYPE_TD,
  REPORT_TYPE_TDX,
  REPORT_VERSION,
  REPORT_VERSION_WITH_SERVTD,
  TDINFO_STRUCT,
  TDREPORT_ALIGNMENT,
  TDREPORT_STRUCT,
  TEE_TCB_INFO,
} from './tdreport.ts';
import { TDSYSINFO_CPUID_ENTRY, TDSYSINFO_STRUCT, TDSYSINFO_STRUCT_ALIGNMENT, TDX_VENDOR_ID_INTEL } from './tdsysinfo.ts';
import { LINUX_TDVMCALL_STATUSES, TdvmcallStatus } from './tdvmcall-status.ts';
import {
  FATAL_ERROR_MESSAGE_REGS,
  MAP_GPA_MAX_CHUNK,
  TDVMCALL_EXPOSE_REGS_MASK,
  TDVMCALL_FORBIDDEN_GPR_MASK,
  TDVMCALL_RBP_GPR_BIT,
  TDX_HYPERCALL_STANDARD,
  TdvmcallSubfunction,
  type SubfunctionOperand,
} from './tdvmcall.ts';
import { ExtExitQualType, Vector, VmxExitReason } from './vmx.ts';

/** Bumped when a key is removed or renamed or a value changes type (see docs/abi-json.md). */
export const ABI_SCHEMA_VERSION = 1;
/** The TDX module version the tables describe. */
export const TDX_MODULE_VERSION = '1.5';

/** A 64-bit value in JSON: "0x" + 16 upper-case hex digits. */
export type Hex64 = string;

export interface NamedValue<V = number | Hex64> {
  name: string;
  value: V;
}

export interface BitfieldJson {
  name: string;
  reservedMask: Hex64;
  fields: { name: string; lsb: number; width: number; doc: string | null }[];
}

export interface NamedBitfieldJson extends BitfieldJson {
  /** Export name in src/abi (e.g. GPA_AND_LEVEL) and the file it lives in. */
  exportName: string;
  module: string;
}

export interface OperandJson {
  reg: string;
  name: string;
  doc: string;
  layout?: BitfieldJson;
}

export interface LeafJson {
  key: string;
  mnemonic: string;
  number: number;
  maxVersion: number;
  purpose: string;
  implemented: boolean;
  inputs: OperandJson[];
  outputs: OperandJson[];
  notes: string | null;
}

export interface StatusJson {
  name: string;
  value: Hex64;
  class: number;
  className: string | null;
  error: boolean;
  nonRecoverable: boolean;
  fatal: boolean;
  hostRecoverabilityHint: boolean;
}

export interface LayoutJson {
  name: string;
  size: number;
  fields: { name: string; offset: number; size: number; kind: string; doc: string | null }[];
}

export interface SubfunctionJson {
  key: string;
  name: string;
  number: number;
  purpose: string;
  inputs: SubfunctionOperand[];
  outputs: SubfunctionOperand[];
}

export interface MetadataFieldJson {
  name: string;
  id: Hex64;
  context: string;
  elementSize: number;
  fields: number;
  elementsPerField: number;
  doc: string;
  hostReadable: boolean;
  hostWritable: boolean;
  debugReadable: boolean;
  debugWritable: boolean;
  guestReadable: boolean;
  guestWritable: boolean;
  hostWriteMask: Hex64 | null;
  guestWriteMask: Hex64 | null;
  bits: NamedValue<number>[] | null;
  note: string | null;
}

export interface AbiCatalog {
  schemaVersion: number;
  tdxModuleVersion: string;
  registers: { gprs: NamedValue<number>[]; xmmCount: number };
  seamcallLeaves: LeafJson[];
  tdcallLeaves: LeafJson[];
  tdvmcall: {
    hypercallStandard: Hex64;
    exposeRegsMask: Hex64;
    forbiddenGprMask: Hex64;
    rbpGprBit: Hex64;
    subfunctions: SubfunctionJson[];
    statuses: { name: string; value: Hex64; error: boolean; definedByLinux: boolean }[];
    fatalErrorMessageRegs: string[];
    mapGpaMaxChunk: Hex64;
  };
  statusCodes: StatusJson[];
  softwareStatusCodes: StatusJson[];
  statusClasses: NamedValue<number>[];
  statusCodeMask: Hex64;
  statusDetailsMask: Hex64;
  operandIds: NamedValue<number>[];
  statusLayout: BitfieldJson;
  layouts: LayoutJson[];
  bitfields: NamedBitfieldJson[];
  metadataFields: MetadataFieldJson[];
  septLevels: { name: string; value: number; label: string; pageSize: Hex64 }[];
  septStates: NamedValue<number>[];
  septeBits: NamedValue<number>[];
  septEntriesPerPage: number;
  pamtPageTypes: NamedValue<number>[];
  pamtPageSizes: NamedValue<number>[];
  lifecycle: {
    sysStates: NamedValue<number>[];
    kotStates: NamedValue<number>[];
    tdLifecycleStates: NamedValue<number>[];
    opStates: NamedValue<number>[];
    vcpuStates: NamedValue<number>[];
    lastTdExit: NamedValue<number>[];
    maxHkids: number;
    tdcsBasePages: number;
    tdcsMaxPages: number;
    tdvpsBasePages: number;
    tdvpsMaxPages: number;
    maxVcpusPerTd: number;
  };
  vmx: { exitReasons: NamedValue<number>[]; extExitQualTypes: NamedValue<number>[]; vectors: NamedValue<number>[] };
  gpa: {
    widths: { gpaw: number; sharedBit: Hex64; eptLevels: number }[];
    defaultMaxPa: number;
    resetVector: Hex64;
  };
  tdConfig: {
    attributesBits: NamedValue<number>[];
    attributesFixed0: Hex64;
    attributesFixed1: Hex64;
    xfamBits: NamedValue<number>[];
    xfamFixed0: Hex64;
    xfamFixed1: Hex64;
    xfamConstraints: { kind: string; bits: number[]; requires: number[] | null; doc: string }[];
    configFlagsBits: NamedValue<number>[];
    configFlagsFixed0: Hex64;
    configFlagsFixed1: Hex64;
    tdCtlsBits: NamedValue<number>[];
    eptpControlsValid: Hex64[];
    tscFrequency: { unitHz: number; min: number; max: number };
    maxL2Vms: number;
    msrConfigCtlsIa32ArchCap: number;
    ia32ArchCapabilitiesConfigurable: Hex64;
  };
  tdxFeatures0: NamedValue<number>[];
  cpuidConfig: { leaf: number; subleaf: number | null; configDirect: CpuidRegs; allowDirect: CpuidRegs }[];
  report: { type: number; subtype: number; version: number; versionWithServtd: number; macInputSize: number };
  getQuote: { headerSize: number; bufferVersion: Hex64; linuxBufferSize: number; statuses: NamedValue<Hex64>[] };
  /** Sizes, limits and alignments that are not a field of any layout. */
  limits: Record<string, number>;
}

// -------------------------------------------------------------------------------------------------
// Converters.

/** Name/value pairs of an enum-like frozen object, sorted by value (bigints as hex). */
function entries(table: Readonly<Record<string, number>>): NamedValue<number>[] {
  return Object.entries(table)
    .map(([name, value]) => ({ name, value }))
    .sort((a, b) => a.value - b.value);
}

function bitfieldJson(b: Bitfield): BitfieldJson {
  return {
    name: b.name,
    reservedMask: hex64(b.reservedMask),
    fields: b.fields.map((f) => ({ name: f.name, lsb: f.lsb, width: f.width, doc: f.doc ?? null })),
  };
}

function operandJson(op: RegOperand): OperandJson {
  return { reg: op.reg, name: op.name, doc: op.doc, ...(op.layout && { layout: bitfieldJson(op.layout) }) };
}

function leafJson(key: string, d: LeafDef): LeafJson {
  return {
    key,
    mnemonic: d.mnemonic,
    number: d.number,
    maxVersion: d.maxVersion,
    purpose: d.purpose,
    implemented: d.implemented,
    inputs: d.inputs.map(operandJson),
    outputs: d.outputs.map(operandJson),
    notes: d.notes ?? null,
  };
}

function leaves(table: Readonly<Record<string, LeafDef>>): LeafJson[] {
  return Object.entries(table)
    .map(([key, d]) => leafJson(key, d))
    .sort((a, b) => a.number - b.number);
}

function statusJson(name: string, value: bigint): StatusJson {
  const s = STATUS_LAYOUT.decode(value);
  const cls = Number(s.class);
  return {
    name,
    value: hex64(value),
    class: cls,
    className: STATUS_CLASSES[cls] ?? null,
    error: s.error === 1n,
    nonRecoverable: s.non_recoverable === 1n,
    fatal: s.fatal === 1n,
    hostRecoverabilityHint: s.host_recoverability_hint === 1n,
  };
}

function layoutJson(l: Layout): LayoutJson {
  return {
    name: l.name,
    size: l.size,
    fields: l.fields.map((f) => ({ name: f.name, offset: f.offset, size: f.size, kind: f.kind, doc: f.doc ?? null })),
  };
}

function metadataJson(d: MetadataFieldDef): MetadataFieldJson {
  return {
    name: d.name,
    id: hex64(d.id),
    context: d.context,
    elementSize: d.elementSize,
    fields: d.fields,
    elementsPerField: d.elementsPerField,
    doc: d.doc,
    hostReadable: d.hostReadable,
    hostWritable: d.hostWritable,
    debugReadable: d.debugReadable,
    debugWritable: d.debugWritable,
    guestReadable: d.guestReadable,
    guestWritable: d.guestWritable,
    hostWriteMask: d.hostWriteMask === undefined ? null : hex64(d.hostWriteMask),
    guestWriteMask: d.guestWriteMask === undefined ? null : hex64(d.guestWriteMask),
    bits: d.bits === undefined ? null : entries(d.bits),
    note: d.note ?? null,
  };
}

/** Every byte layout of the ABI, in the order the catalog lists them. */
export const ALL_LAYOUTS: readonly Layout[] = Object.freeze([
  TD_PARAMS,
  TD_PARAMS_CPUID_ENTRY,
  TDREPORT_STRUCT,
  REPORTMACSTRUCT,
  TEE_TCB_INFO,
  TDINFO_STRUCT,
  TDMR_INFO,
  TDMR_RESERVED_AREA,
  CMR_INFO,
  TDSYSINFO_STRUCT,
  TDSYSINFO_CPUID_ENTRY,
  GET_QUOTE_HEADER,
] as unknown as Layout[]);

/** Every named register bitfield: all of operands.ts, plus the status and TD configuration words. */
export const ALL_BITFIELDS: readonly { exportName: string; module: string; bitfield: Bitfield }[] = Object.freeze([
  ...(Object.entries(Operands) as [string, unknown][])
    .filter((e): e is [string, Bitfield] => e[1] instanceof Bitfield)
    .map(([exportName, bitfield]) => ({ exportName, module: 'operands.ts', bitfield })),
  { exportName: 'STATUS_LAYOUT', module: 'status.ts', bitfield: STATUS_LAYOUT },
  { exportName: 'EPTP_CONTROLS', module: 'td-config.ts', bitfield: EPTP_CONTROLS },
  { exportName: 'TD_ATTRIBUTES', module: 'td-params.ts', bitfield: TD_ATTRIBUTES },
  { exportName: 'TD_XFAM', module: 'td-params.ts', bitfield: TD_XFAM },
  { exportName: 'TD_CONFIG_FLAGS', module: 'td-params.ts', bitfield: TD_CONFIG_FLAGS },
  { exportName: 'TD_CTLS', module: 'td-params.ts', bitfield: TD_CTLS },
] as { exportName: string; module: string; bitfield: Bitfield }[]);

const regs = (r: CpuidRegs): CpuidRegs => ({ eax: r.eax, ebx: r.ebx, ecx: r.ecx, edx: r.edx });

/** Build the catalog. Pure: every call returns a fresh, equal object. */
export function buildAbiCatalog(): AbiCatalog {
  return {
    schemaVersion: ABI_SCHEMA_VERSION,
    tdxModuleVersion: TDX_MODULE_VERSION,
    registers: { gprs: GPR_NAMES.map((name) => ({ name, value: Gpr[name] })), xmmCount: XMM_COUNT },
    seamcallLeaves: leaves(SeamcallLeaf),
    tdcallLeaves: leaves(TdcallLeaf),
    tdvmcall: {
      hypercallStandard: hex64(TDX_HYPERCALL_STANDARD),
      exposeRegsMask: hex64(TDVMCALL_EXPOSE_REGS_MASK),
      forbiddenGprMask: hex64(TDVMCALL_FORBIDDEN_GPR_MASK),
      rbpGprBit: hex64(TDVMCALL_RBP_GPR_BIT),
      subfunctions: Object.entries(TdvmcallSubfunction)
        .map(([key, s]) => ({
          key,
          name: s.name,
          number: s.number,
          purpose: s.purpose,
          inputs: s.inputs.map((o) => ({ ...o })),
          outputs: s.outputs.map((o) => ({ ...o })),
        }))
        .sort((a, b) => a.number - b.number),
      statuses: Object.entries(TdvmcallStatus).map(([name, value]) => ({
        name,
        value: hex64(value),
        error: value >> 63n === 1n,
        definedByLinux: (LINUX_TDVMCALL_STATUSES as readonly string[]).includes(name),
      })),
      fatalErrorMessageRegs: [...FATAL_ERROR_MESSAGE_REGS],
      mapGpaMaxChunk: hex64(MAP_GPA_MAX_CHUNK),
    },
    statusCodes: Object.entries(TdxStatus).map(([name, value]) => statusJson(name, value)),
    softwareStatusCodes: Object.entries(TdxSoftwareStatus).map(([name, value]) => statusJson(name, value)),
    statusClasses: Object.entries(STATUS_CLASSES).map(([cls, name]) => ({ name, value: Number(cls) })),
    statusCodeMask: hex64(STATUS_CODE_MASK),
    statusDetailsMask: hex64(STATUS_DETAILS_MASK),
    operandIds: entries(OperandId),
    statusLayout: bitfieldJson(STATUS_LAYOUT),
    layouts: ALL_LAYOUTS.map(layoutJson),
    bitfields: ALL_BITFIELDS.map((b) => ({ exportName: b.exportName, module: b.module, ...bitfieldJson(b.bitfield) })),
    metadataFields: METADATA_FIELDS.map(metadataJson),
    septLevels: Object.entries(SeptLevel).map(([name, value]) => ({
      name,
      value,
      label: SEPT_LEVEL_NAMES[value] ?? name,
      pageSize: hex64(levelSize(value)),
    })),
    septStates: entries(SeptState),
    septeBits: entries(SepteBit),
    septEntriesPerPage: SEPT_ENTRIES_PER_PAGE,
    pamtPageTypes: entries(PamtPageType),
    pamtPageSizes: entries(PamtPageSize),
    lifecycle: {
      sysStates: entries(SysState),
      kotStates: entries(KotState),
      tdLifecycleStates: entries(TdLifecycle),
      opStates: entries(OpState),
      vcpuStates: entries(VcpuState),
      lastTdExit: entries(LastTdExit),
      maxHkids: MAX_HKIDS,
      tdcsBasePages: TDCS_BASE_PAGES,
      tdcsMaxPages: TDCS_MAX_PAGES,
      tdvpsBasePages: TDVPS_BASE_PAGES,
      tdvpsMaxPages: TDVPS_MAX_PAGES,
      maxVcpusPerTd: MAX_VCPUS_PER_TD,
    },
    vmx: { exitReasons: entries(VmxExitReason), extExitQualTypes: entries(ExtExitQualType), vectors: entries(Vector) },
    gpa: {
      widths: [GPAW_48, GPAW_52].map((gpaw) => ({ gpaw, sharedBit: hex64(sharedBit(gpaw)), eptLevels: eptLevels(gpaw) })),
      defaultMaxPa: DEFAULT_MAX_PA,
      resetVector: hex64(RESET_VECTOR),
    },
    tdConfig: {
      attributesBits: entries(TdAttributesBit),
      attributesFixed0: hex64(ATTRIBUTES_FIXED0),
      attributesFixed1: hex64(ATTRIBUTES_FIXED1),
      xfamBits: entries(XfamBit),
      xfamFixed0: hex64(XFAM_FIXED0),
      xfamFixed1: hex64(XFAM_FIXED1),
      xfamConstraints: XFAM_CONSTRAINTS.map((c) => ({
        kind: c.kind,
        bits: [...c.bits],
        requires: c.requires ? [...c.requires] : null,
        doc: c.doc,
      })),
      configFlagsBits: entries(ConfigFlagsBit),
      configFlagsFixed0: hex64(CONFIG_FLAGS_FIXED0),
      configFlagsFixed1: hex64(CONFIG_FLAGS_FIXED1),
      tdCtlsBits: entries(TdCtlsBit),
      eptpControlsValid: EPTP_CONTROLS_VALID.map(hex64),
      tscFrequency: { unitHz: TSC_FREQUENCY_UNIT_HZ, min: TSC_FREQUENCY_MIN, max: TSC_FREQUENCY_MAX },
      maxL2Vms: MAX_L2_VMS,
      msrConfigCtlsIa32ArchCap: MSR_CONFIG_CTLS_IA32_ARCH_CAP,
      ia32ArchCapabilitiesConfigurable: hex64(IA32_ARCH_CAPABILITIES_CONFIGURABLE),
    },
    tdxFeatures0: entries(TdxFeatures0Bit),
    cpuidConfig: CPUID_CONFIGURABLE.map((c) => ({
      leaf: c.leaf,
      subleaf: c.subleaf === CPUID_NO_SUBLEAF ? null : c.subleaf,
      configDirect: regs(c.configDirect),
      allowDirect: regs(c.allowDirect),
    })),
    report: {
      type: REPORT_TYPE_TDX,
      subtype: REPORT_SUBTYPE_TD,
      version: REPORT_VERSION,
      versionWithServtd: REPORT_VERSION_WITH_SERVTD,
      macInputSize: REPORT_MAC_INPUT_SIZE,
    },
    getQuote: {
      headerSize: GET_QUOTE_HEADER_SIZE,
      bufferVersion: hex64(GET_QUOTE_BUFFER_VERSION),
      linuxBufferSize: GET_QUOTE_LINUX_BUFFER_SIZE,
      statuses: Object.entries(GetQuoteStatus).map(([name, value]) => ({ name, value: hex64(value) })),
    },
    limits: {
      tdParamsAlignment: TD_PARAMS_ALIGNMENT,
      tdreportAlignment: TDREPORT_ALIGNMENT,
      reportdataAlignment: REPORTDATA_ALIGNMENT,
      tdsysinfoAlignment: TDSYSINFO_STRUCT_ALIGNMENT,
      tdxVendorId: TDX_VENDOR_ID_INTEL,
      maxTdmrs: MAX_TDMRS,
      maxReservedPerTdmr: MAX_RESERVED_PER_TDMR,
      tdmrInfoAlignment: TDMR_INFO_ALIGNMENT,
      tdmrInfoPaArrayAlignment: TDMR_INFO_PA_ARRAY_ALIGNMENT,
      maxCmrs: MAX_CMRS,
      cmrInfoArrayAlignment: CMR_INFO_ARRAY_ALIGNMENT,
      pamtEntrySize: PAMT_ENTRY_BYTES,
      tdmrInitChunkBytes: Number(TDMR_INIT_CHUNK_BYTES),
    },
  };
}
