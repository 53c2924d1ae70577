/**
 * Metadata fields: the FIELD_IDs the simulator's host and guest read and write with TDH.SYS.RD,
 * TDH.MNG.RD/WR, TDH.VP.RD/WR, TDG.SYS.RD, TDG.VM.RD/WR and TDG.VP.RD/WR, with who may access them.
 *
 * A FIELD_ID (`md_field_id_t`, operands.ts FIELD_ID) packs class (bits 61:56), context (54:52:
 * 0 SYS, 1 TD, 2 VP), element size (33:32), a non-architectural flag (63) and the field code
 * (23:0). The module finds a field by context, class and field code only; the context comes from
 * the leaf (SYS.RD → SYS, MNG.RD/VM.RD → TD, VP.RD → VP), and the element size, inc_size and
 * non-arch bits of the caller's id are not compared. That is why Linux's short ids (e.g.
 * TOPOLOGY_ENUM_CONFIGURED = 0x9100000000000019, no context or size bits) and the module's own
 * table ids (0x9110000000000019) name the same field. `metadataFieldById` matches the same way.
 *
 * Ids: every id below is the base id of an entry in the module's generated lookup tables
 * (`include/auto_gen/global_sys_fields_lookup.c`, `tdr_tdcs_fields_lookup.c`,
 * `tdvps_fields_lookup.c`, `td_vmcs_fields_lookup.c` in intel/tdx-module), cross-checked with the
 * ids Linux uses (facts tdx-module.md §10.3, linux-tdx.md §1.4, §1.6, §2.1). Where Linux spells an
 * id differently the entry's `note` says so. None is invented or derived by guesswork; the GPR ids
 * are computed as base + GPR index, which is how the table lists them.
 *
 * Access: the flags are the same tables' masks read as "non-zero": host = the production-TD masks
 * (`prod_rd/wr_mask`; `vmm_rd/wr_mask` for SYS fields), debug = the host's masks for a debug TD
 * (`dbg_rd/wr_mask`), guest = `guest_rd/wr_mask`. Where a write mask covers only some bits it is
 * given as `hostWriteMask` / `guestWriteMask`. None of the flags is an assumption; where Linux
 * accesses a field (TDH.SYS.RD of the SYS fields, TDH.MNG.RD of TSC_OFFSET/TSC_MULTIPLIER and
 * CPUID_VALUES, TDH.VP.WR of PEND_NMI and the posted-interrupt VMCS fields, TDH.VP.RD of
 * VCPU_STATE_DETAILS, TDG.VM.RD/WR of NOTIFY_ENABLES, CONFIG_FLAGS, TD_CTLS and
 * TOPOLOGY_ENUM_CONFIGURED) the tables allow it. The tables read come from the 1.5 tree
 * (tdvps: the 1.5.01 commit; the TDR/TDCS, SYS and VMCS tables from later 1.5-line commits); the
 * TD_CTLS guest write mask is the one caveat (see its note).
 */
import { NUM_CPUID_CONFIG } from './cpuid-config.ts';
import { TdxFeatures0Bit } from './module-features.ts';
import { FIELD_ID } from './operands.ts';
import { defineLayout } from './layout.ts';
import { GPR_NAMES } from './registers.ts';
import { ConfigFlagsBit, TdCtlsBit } from './td-config.ts';

export type MetadataContext = 'SYS' | 'TD' | 'VP';

/** FIELD_ID.context_code of each context. */
export const MetadataContextCode = Object.freeze({ SYS: 0, TD: 1, VP: 2 } as const);

export type MetadataElementSize = 1 | 2 | 4 | 8;

export interface MetadataFieldDef {
  /** Spec name of the field (upper case, as in the module's tables). */
  readonly name: string;
  /** Base FIELD_ID: first element of the first field of this entry. */
  readonly id: bigint;
  readonly context: MetadataContext;
  /** Bytes per element (FIELD_ID.element_size_code: 0 → 1, 1 → 2, 2 → 4, 3 → 8). */
  readonly elementSize: MetadataElementSize;
  /** Consecutive fields this entry covers (e.g. 4 RTMRs, 12 CPUID_CONFIG_LEAVES). */
  readonly fields: number;
  /** Elements per field (e.g. 6 × 8 bytes for a SHA-384 measurement). */
  readonly elementsPerField: number;
  /** One line: what the field holds. */
  readonly doc: string;
  /** Host read/write (production TD; TDH.SYS.RD for SYS fields). */
  readonly hostReadable: boolean;
  readonly hostWritable: boolean;
  /** Host read/write on a debug TD (TD and VP contexts; equals host access for SYS). */
  readonly debugReadable: boolean;
  readonly debugWritable: boolean;
  /** Guest read/write with TDG.SYS.RD, TDG.VM.RD/WR, TDG.VP.RD/WR. */
  readonly guestReadable: boolean;
  readonly guestWritable: boolean;
  /** Bits the host may write, when narrower than the whole element. */
  readonly hostWriteMask?: bigint;
  /** Bits the guest may write, when narrower than the whole element. */
  readonly guestWriteMask?: bigint;
  /** Bits a production-TD host read returns (`prod_rd_mask`), when narrower than the element. */
  readonly hostReadMask?: bigint;
  /** Bits a debug-TD host may write (`dbg_wr_mask`), when it differs from hostWriteMask. */
  readonly debugWriteMask?: bigint;
  /** Bits a guest read returns (`guest_rd_mask`), when narrower than the element. */
  readonly guestReadMask?: bigint;
  /** Named bits of the value, for fields that are bit sets. */
  readonly bits?: Readonly<Record<string, number>>;
  /** Field codes this entry spans, when not fields × elements (CPUID_VALUES encodes leaf/sub-leaf). */
  readonly codeSpan?: number;
  /** Where the id or access differs between the module and Linux, or other caveats. */
  readonly note?: string;
}

const SIZE_BY_CODE: readonly MetadataElementSize[] = [1, 2, 4, 8];
const CONTEXT_BY_CODE: readonly MetadataContext[] = ['SYS', 'TD', 'VP'];

type Access = 'R' | 'RW' | '-';
interface Spec {
  name: string;
  id: bigint;
  doc: string;
  /** Production host, debug host, guest. */
  host: Access;
  debug?: Access;
  guest: Access;
  fields?: number;
  elements?: number;
  hostWriteMask?: bigint;
  guestWriteMask?: bigint;
  hostReadMask?: bigint;
  debugWriteMask?: bigint;
  guestReadMask?: bigint;
  bits?: Readonly<Record<string, number>>;
  codeSpan?: number;
  note?: string;
}

/** Build an entry; context and element size are read from the id itself, so they cannot disagree. */
function md(s: Spec): MetadataFieldDef {
  const f = FIELD_ID.decode(s.id);
  const context = CONTEXT_BY_CODE[Number(f.context_code)];
  if (context === undefined) throw new Error(`metadata ${s.name}: id has context code ${f.context_code}`);
  const debug = s.debug ?? s.host;
  return Object.freeze({
    name: s.name,
    id: s.id,
    context,
    elementSize: SIZE_BY_CODE[Number(f.element_size_code)]!,
    fields: s.fields ?? 1,
    elementsPerField: s.elements ?? 1,
    doc: s.doc,
    hostReadable: s.host !== '-',
    hostWritable: s.host === 'RW',
    debugReadable: debug !== '-',
    debugWritable: debug === 'RW',
    guestReadable: s.guest !== '-',
    guestWritable: s.guest === 'RW',
    ...(s.hostWriteMask !== undefined && { hostWriteMask: s.hostWriteMask }),
    ...(s.guestWriteMask !== undefined && { guestWriteMask: s.guestWriteMask }),
    ...(s.hostReadMask !== undefined && { hostReadMask: s.hostReadMask }),
    ...(s.debugWriteMask !== undefined && { debugWriteMask: s.debugWriteMask }),
    ...(s.guestReadMask !== undefined && { guestReadMask: s.guestReadMask }),
    ...(s.bits !== undefined && { bits: s.bits }),
    ...(s.codeSpan !== undefined && { codeSpan: s.codeSpan }),
    ...(s.note !== undefined && { note: s.note }),
  });
}

/** TDVPS guest GPR fields (class 16): RAX..R15 = 0x1020000300000000 + architectural index. */
const GPR_FIELD_BASE = 0x1020_0003_0000_0000n;

/** Base id of TDCS CPUID_VALUES (class 20, TD context, 8-byte elements); see cpuidValuesFieldId. */
export const CPUID_VALUES_FIELD_BASE = 0x9410_0003_0000_0000n;

const ALL: readonly MetadataFieldDef[] = [
  // ---- SYS context: global_sys_fields_lookup.c; ids also in Linux tdx_global_metadata.c.
  md({ name: 'VENDOR_ID', id: 0x0800_0002_0000_0000n, host: 'R', guest: 'R', doc: 'module vendor: 0x8086' }),
  md({ name: 'BUILD_DATE', id: 0x8800_0002_0000_0001n, host: 'R', guest: '-', doc: 'module build date' }),
  md({ name: 'BUILD_NUM', id: 0x8800_0001_0000_0002n, host: 'R', guest: '-', doc: 'module build number' }),
  md({ name: 'MINOR_VERSION', id: 0x0800_0001_0000_0003n, host: 'R', guest: 'R', doc: 'module minor version' }),
  md({ name: 'MAJOR_VERSION', id: 0x0800_0001_0000_0004n, host: 'R', guest: 'R', doc: 'module major version' }),
  md({ name: 'UPDATE_VERSION', id: 0x0800_0001_0000_0005n, host: 'R', guest: '-', doc: 'module update version' }),
  md({ name: 'MODULE_HV', id: 0x8900_0001_0000_0000n, host: 'R', guest: '-', doc: 'handoff version for TD-preserving updates' }),
  md({ name: 'SYS_ATTRIBUTES', id: 0x0A00_0002_0000_0000n, host: 'R', guest: 'R', doc: 'module attributes (bit 31: debug module)' }),
  md({ name: 'NUM_TDX_FEATURES', id: 0x0A00_0000_0000_0001n, host: 'R', guest: 'R', doc: 'number of TDX_FEATURESn fields (1)' }),
  md({
    name: 'TDX_FEATURES0',
    id: 0x0A00_0003_0000_0008n,
    host: 'R',
    guest: 'R',
    bits: TdxFeatures0Bit,
    doc: 'optional features of this module; Linux requires NO_RBP_MOD (bit 18), KVM TOPOLOGY_ENUM (bit 20)',
  }),
  md({ name: 'MAX_TDMRS', id: 0x9100_0001_0000_0008n, host: 'R', guest: '-', doc: 'maximum TDMRs (64)' }),
  md({ name: 'MAX_RESERVED_PER_TDMR', id: 0x9100_0001_0000_0009n, host: 'R', guest: '-', doc: 'reserved areas per TDMR (16)' }),
  md({ name: 'PAMT_4K_ENTRY_SIZE', id: 0x9100_0001_0000_0010n, host: 'R', guest: '-', doc: 'bytes per PAMT_4K entry (16)' }),
  md({ name: 'PAMT_2M_ENTRY_SIZE', id: 0x9100_0001_0000_0011n, host: 'R', guest: '-', doc: 'bytes per PAMT_2M entry (16)' }),
  md({ name: 'PAMT_1G_ENTRY_SIZE', id: 0x9100_0001_0000_0012n, host: 'R', guest: '-', doc: 'bytes per PAMT_1G entry (16)' }),
  md({ name: 'TDR_BASE_SIZE', id: 0x9800_0001_0000_0000n, host: 'R', guest: '-', doc: 'bytes of TDR (one page)' }),
  md({ name: 'TDCS_BASE_SIZE', id: 0x9800_0001_0000_0100n, host: 'R', guest: '-', doc: 'bytes of TDCS for an L1-only TD (6 pages)' }),
  md({ name: 'TDVPS_BASE_SIZE', id: 0x9800_0001_0000_0200n, host: 'R', guest: '-', doc: 'bytes of TDVPS for an L1-only vCPU (6 pages)' }),
  md({ name: 'ATTRIBUTES_FIXED0', id: 0x1900_0003_0000_0000n, host: 'R', guest: '-', doc: 'ATTRIBUTES bits a TD may set' }),
  md({ name: 'ATTRIBUTES_FIXED1', id: 0x1900_0003_0000_0001n, host: 'R', guest: '-', doc: 'ATTRIBUTES bits a TD must set' }),
  md({ name: 'XFAM_FIXED0', id: 0x1900_0003_0000_0002n, host: 'R', guest: '-', doc: 'XFAM bits a TD may set' }),
  md({ name: 'XFAM_FIXED1', id: 0x1900_0003_0000_0003n, host: 'R', guest: '-', doc: 'XFAM bits a TD must set' }),
  md({ name: 'NUM_CPUID_CONFIG', id: 0x9900_0001_0000_0004n, host: 'R', guest: '-', doc: 'configurable CPUID leaves (12)' }),
  md({ name: 'CONFIG_FLAGS_FIXED0', id: 0x9900_0003_0000_0006n, host: 'R', guest: '-', doc: 'CONFIG_FLAGS bits a TD may set' }),
  md({ name: 'CONFIG_FLAGS_FIXED1', id: 0x9900_0003_0000_0007n, host: 'R', guest: '-', doc: 'CONFIG_FLAGS bits a TD must set' }),
  md({ name: 'MAX_VCPUS_PER_TD', id: 0x9900_0001_0000_0008n, host: 'R', guest: '-', doc: 'maximum MAX_VCPUS a TD may ask for' }),
  md({
    name: 'CPUID_CONFIG_LEAVES',
    id: 0x9900_0003_0000_0400n,
    fields: NUM_CPUID_CONFIG,
    host: 'R',
    guest: '-',
    doc: 'field i: leaf (bits 31:0) and sub-leaf (63:32, 0xFFFFFFFF = none) of CPUID_CONFIG entry i',
  }),
  md({
    name: 'CPUID_CONFIG_VALUES',
    id: 0x9900_0003_0000_0500n,
    fields: NUM_CPUID_CONFIG,
    elements: 2,
    host: 'R',
    guest: '-',
    doc: 'field i (code 0x500 + 2i + j): configurable bits of entry i; element 0 = EBX:EAX, 1 = EDX:ECX',
  }),

  // ---- TD context (TDR and TDCS): tdr_tdcs_fields_lookup.c.
  md({ name: 'LIFECYCLE_STATE', id: 0x8010_0002_0000_0005n, host: 'R', guest: '-', doc: 'TDR life-cycle state (TdLifecycle)' }),
  md({ name: 'NUM_VCPUS', id: 0x9010_0002_0000_0001n, host: 'R', guest: 'R', doc: 'vCPUs initialised so far' }),
  md({ name: 'OP_STATE', id: 0x9010_0002_0000_0004n, host: 'R', guest: '-', doc: 'TD operation state (OpState)' }),
  md({ name: 'NUM_L2_VMS', id: 0x9010_0001_0000_0005n, host: 'R', guest: 'R', doc: 'L2 VMs (TD partitioning)' }),
  md({ name: 'ATTRIBUTES', id: 0x1110_0003_0000_0000n, host: 'R', guest: 'R', doc: 'TD ATTRIBUTES from TD_PARAMS' }),
  md({ name: 'XFAM', id: 0x1110_0003_0000_0001n, host: 'R', guest: 'R', doc: 'TD XFAM from TD_PARAMS' }),
  md({ name: 'MAX_VCPUS', id: 0x1110_0002_0000_0002n, host: 'R', guest: 'R', doc: 'MAX_VCPUS from TD_PARAMS' }),
  md({ name: 'GPAW', id: 0x1110_0000_0000_0003n, host: 'R', guest: 'R', doc: 'CONFIG_FLAGS.GPAW: 0 = 48-bit, 1 = 52-bit GPAs' }),
  md({ name: 'EPTP', id: 0x1110_0003_0000_0004n, host: 'R', guest: '-', doc: 'Secure-EPT pointer (controls and root)' }),
  md({
    name: 'TSC_OFFSET',
    id: 0x1110_0003_0000_000An,
    host: 'R',
    guest: '-',
    doc: 'TD-wide TSC offset (KVM reads it after TDH.MNG.INIT; TDCS_EXEC field 10)',
  }),
  md({ name: 'TSC_MULTIPLIER', id: 0x1110_0003_0000_000Bn, host: 'R', guest: '-', doc: 'TD-wide TSC multiplier (TDCS_EXEC field 11)' }),
  md({ name: 'TSC_FREQUENCY', id: 0x1110_0001_0000_000Cn, host: 'R', guest: 'R', doc: 'virtual TSC frequency in 25 MHz units' }),
  md({
    name: 'NOTIFY_ENABLES',
    id: 0x9110_0003_0000_0010n,
    host: '-',
    debug: 'RW',
    guest: 'RW',
    guestWriteMask: 0x1n,
    debugWriteMask: 0x1n,
    guestReadMask: 0x1n,
    doc: 'bit 0: notify the guest (#VE) on a zero-step attack suspicion; Linux writes 0',
    note: 'Linux spells the id 0x9100000000000010 (no context or size bits). Host (debug TD) and guest may touch bit 0 only.',
  }),
  md({
    name: 'HP_LOCK_TIMEOUT',
    id: 0x9110_0003_0000_0011n,
    host: 'RW',
    guest: '-',
    doc: 'host-priority lock timeout in TSC ticks (default 1 s, 10 ms..100 s)',
  }),
  md({
    name: 'CONFIG_FLAGS',
    id: 0x1110_0003_0000_0016n,
    host: 'R',
    guest: 'R',
    bits: ConfigFlagsBit,
    doc: 'CONFIG_FLAGS from TD_PARAMS (GPAW, FLEXIBLE_PENDING_VE, NO_RBP_MOD)',
    note: "Linux's id; the module's table lists it as 0x9110000300000016 (non-arch bit set), which the module treats as the same field.",
  }),
  md({
    name: 'TD_CTLS',
    id: 0x1110_0003_0000_0017n,
    host: '-',
    debug: 'R',
    guest: 'RW',
    guestWriteMask: 0x7n,
    bits: TdCtlsBit,
    doc: 'guest TD controls (PENDING_VE_DISABLE, ENUM_TOPOLOGY, VIRT_CPUID2, REDUCE_VE, LOCK)',
    note:
      "Linux's id; the module's table lists 0x9110000300000017. Guest write mask 0x7 in the table read: REDUCE_VE (bit 3) is not writable there, and Linux then falls back to ENUM_TOPOLOGY.",
  }),
  md({
    name: 'TOPOLOGY_ENUM_CONFIGURED',
    id: 0x9110_0000_0000_0019n,
    host: 'R',
    guest: 'R',
    doc: '1: the host configured CPUID 0x1F topology, so ENUM_TOPOLOGY may be enabled',
    note: 'Linux spells the id 0x9100000000000019.',
  }),
  md({ name: 'MRTD', id: 0x1310_0003_0000_0000n, elements: 6, host: 'R', guest: 'R', doc: 'build-time measurement (SHA-384)' }),
  md({ name: 'MRCONFIGID', id: 0x1310_0003_0000_0010n, elements: 6, host: 'R', guest: 'R', doc: 'MRCONFIGID from TD_PARAMS' }),
  md({ name: 'MROWNER', id: 0x1310_0003_0000_0018n, elements: 6, host: 'R', guest: 'R', doc: 'MROWNER from TD_PARAMS' }),
  md({ name: 'MROWNERCONFIG', id: 0x1310_0003_0000_0020n, elements: 6, host: 'R', guest: 'R', doc: 'MROWNERCONFIG from TD_PARAMS' }),
  md({
    name: 'RTMR',
    id: 0x1310_0003_0000_0040n,
    fields: 4,
    elements: 6,
    host: '-',
    debug: 'R',
    guest: 'R',
    doc: 'RTMR0..3 (SHA-384 each); field i starts at code 0x40 + 6i',
  }),
  md({
    name: 'CPUID_VALUES',
    id: CPUID_VALUES_FIELD_BASE,
    elements: 2,
    host: 'R',
    guest: '-',
    codeSpan: 0x2_0000,
    doc: "the TD's virtual CPUID values; the field code encodes leaf/sub-leaf (cpuidValuesFieldId)",
  }),

  // ---- VP context (TDVPS and TD VMCS): tdvps_fields_lookup.c, td_vmcs_fields_lookup.c.
  ...GPR_NAMES.map((reg, i) =>
    md({
      name: reg,
      id: GPR_FIELD_BASE + BigInt(i),
      host: '-',
      debug: reg === 'RSP' ? '-' : 'RW',
      guest: '-',
      doc: reg === 'RSP' ? 'placeholder: the guest RSP lives in the TD VMCS' : `guest ${reg} (debug TDs only)`,
    }),
  ),
  md({ name: 'VCPU_STATE', id: 0xA020_0000_0000_0000n, host: '-', debug: 'R', guest: '-', doc: 'vCPU state (VcpuState)' }),
  md({ name: 'VCPU_INDEX', id: 0xA020_0002_0000_0002n, host: 'R', guest: 'R', doc: 'index assigned by TDH.VP.INIT' }),
  md({ name: 'NUM_TDVPS_PAGES', id: 0xA020_0000_0000_0003n, host: 'R', guest: '-', doc: 'TDVPS pages added so far' }),
  md({ name: 'ASSOC_LPID', id: 0xA020_0002_0000_0004n, host: 'R', guest: '-', doc: 'LP the vCPU is associated with (-1: none)' }),
  md({ name: 'CPUID_SUPERVISOR_VE', id: 0xA020_0000_0000_0007n, host: 'R', guest: 'RW', doc: 'CPUID at CPL 0 raises #VE (TDG.VP.CPUIDVE.SET bit 0)' }),
  md({ name: 'CPUID_USER_VE', id: 0xA020_0000_0000_0008n, host: 'R', guest: 'RW', doc: 'CPUID at CPL > 0 raises #VE (TDG.VP.CPUIDVE.SET bit 1)' }),
  md({ name: 'LAST_TD_EXIT', id: 0xA020_0000_0000_000Fn, host: '-', debug: 'R', guest: '-', doc: 'how the vCPU last exited (LastTdExit)' }),
  md({
    name: 'PEND_NMI',
    id: 0x2020_0000_0000_000Bn,
    host: 'RW',
    guest: '-',
    doc: 'write 1 to inject an NMI at the next TD entry (TDVPS MANAGEMENT field 11)',
  }),
  md({
    name: 'VCPU_STATE_DETAILS',
    id: 0x9120_0003_0000_0100n,
    host: 'R',
    guest: '-',
    bits: { INTR_PENDING: 0 },
    doc: 'bit 0 INTR_PENDING: a virtual interrupt is pending delivery (non-arch OTHER_GUEST field 0x100)',
  }),
  md({
    name: 'SHARED_EPTP',
    id: 0x0024_0003_0000_203Cn,
    host: 'RW',
    guest: '-',
    hostWriteMask: 0x000F_FFFF_FFFF_F000n,
    hostReadMask: 0x000F_FFFF_FFFF_F000n,
    doc: 'TD VMCS shared EPT pointer (VMCS encoding 0x203C); the host sets the root (bits 51:12)',
  }),
  md({
    name: 'POSTED_INTR_NV',
    id: 0x0024_0001_0000_0002n,
    host: 'RW',
    guest: '-',
    doc: 'TD VMCS posted-interrupt notification vector (0x0002)',
  }),
  md({
    name: 'POSTED_INTR_DESC_ADDR',
    id: 0x0024_0003_0000_2016n,
    host: 'RW',
    guest: '-',
    hostWriteMask: 0xFFFF_FFFF_FFFF_FFC0n,
    doc: 'TD VMCS posted-interrupt descriptor address (0x2016), 64-byte aligned',
  }),
  md({
    name: 'PIN_BASED_VM_EXEC_CONTROL',
    id: 0x0024_0002_0000_4000n,
    host: 'RW',
    guest: '-',
    hostWriteMask: 0x80n,
    hostReadMask: 0x80n,
    doc: 'TD VMCS pin-based controls (0x4000); the host may read and set only bit 7, process posted interrupts',
  }),
];

/** Every metadata field the simulator knows, in context order (SYS, TD, VP). */
export const METADATA_FIELDS: readonly MetadataFieldDef[] = Object.freeze(ALL);

const BY_NAME: ReadonlyMap<string, MetadataFieldDef> = new Map(ALL.map((f) => [f.name, f]));

/** The field named `name`, or undefined. */
export function metadataFieldByName(name: string): MetadataFieldDef | undefined {
  return BY_NAME.get(name);
}

/** Field codes an entry spans: fields × elements × (inc_size + 1), unless it says otherwise. */
export function metadataCodeSpan(def: MetadataFieldDef): number {
  if (def.codeSpan !== undefined) return def.codeSpan;
  const stride = Number(FIELD_ID.get(def.id, 'inc_size')) + 1;
  return def.fields * def.elementsPerField * stride;
}

/**
 * The field an id names, matched the way the module matches: same context, same class, field
 * code within the entry's span. `context` is the context of the leaf that carries the id (the
 * id's own context bits are ignored on input); if omitted, the id's context bits are used.
 */
export function metadataFieldById(id: bigint, context?: MetadataContext): MetadataFieldDef | undefined {
  const f = FIELD_ID.decode(id);
  const ctx = context ?? CONTEXT_BY_CODE[Number(f.context_code)];
  if (ctx === undefined) return undefined;
  const code = Number(f.field_code);
  return ALL.find((d) => {
    if (d.context !== ctx) return false;
    const base = FIELD_ID.decode(d.id);
    if (base.class_code !== f.class_code) return false;
    const start = Number(base.field_code);
    return code >= start && code < start + metadataCodeSpan(d);
  });
}

/** A FIELD_ID decoded into named parts. */
export interface FieldIdInfo {
  readonly id: bigint;
  readonly fieldCode: number;
  readonly classCode: number;
  /** Context name, or the raw code if it is not 0..2. */
  readonly context: MetadataContext | number;
  readonly elementSize: MetadataElementSize;
  readonly lastElementInField: number;
  readonly lastFieldInSequence: number;
  readonly incSize: boolean;
  readonly writeMaskValid: boolean;
  readonly nonArch: boolean;
  /** True if any reserved bit of the id is set (the module rejects such ids). */
  readonly reservedBitsSet: boolean;
  /** The known field this id falls in, if any. */
  readonly field?: MetadataFieldDef;
}

/** Decode a FIELD_ID (any 64-bit value) through the FIELD_ID bitfield, and name it if known. */
export function fieldIdInfo(id: bigint): FieldIdInfo {
  const f = FIELD_ID.decode(id);
  const ctxCode = Number(f.context_code);
  const field = metadataFieldById(id);
  return {
    id,
    fieldCode: Number(f.field_code),
    classCode: Number(f.class_code),
    context: CONTEXT_BY_CODE[ctxCode] ?? ctxCode,
    elementSize: SIZE_BY_CODE[Number(f.element_size_code)]!,
    lastElementInField: Number(f.last_element_in_field),
    lastFieldInSequence: Number(f.last_field_in_sequence),
    incSize: f.inc_size === 1n,
    writeMaskValid: f.write_mask_valid === 1n,
    nonArch: f.non_arch === 1n,
    reservedBitsSet: FIELD_ID.hasReservedBits(id),
    ...(field !== undefined && { field }),
  };
}

/** Build a FIELD_ID from its parts (for ids not in the table, e.g. other VMCS fields). */
export function makeFieldId(parts: {
  classCode: number;
  context: MetadataContext;
  elementSize: MetadataElementSize;
  fieldCode: number;
  nonArch?: boolean;
  incSize?: boolean;
}): bigint {
  return FIELD_ID.encode({
    class_code: parts.classCode,
    context_code: MetadataContextCode[parts.context],
    element_size_code: SIZE_BY_CODE.indexOf(parts.elementSize),
    field_code: parts.fieldCode,
    non_arch: parts.nonArch ? 1 : 0,
    inc_size: parts.incSize ? 1 : 0,
  });
}

/**
 * The CPUID_VALUES field id for a leaf/sub-leaf and element (0 = EBX:EAX, 1 = EDX:ECX). Field code
 * layout (`cpuid_field_code` in the module; Linux `tdx_read_cpuid`): bit 0 element, bits 7:1
 * sub-leaf 6:0, bit 8 "no sub-leaf" (then bits 7:1 are all ones), bits 15:9 leaf 6:0, bit 16 leaf
 * bit 31. Leaves with bits 30:7 set and sub-leaves above 0x7F cannot be encoded.
 */
export function cpuidValuesFieldId(leaf: number, subleaf: number | null, element: 0 | 1): bigint {
  const leafU = leaf >>> 0;
  if ((leafU & 0x7fff_ff80) !== 0) throw new RangeError(`CPUID_VALUES: leaf 0x${leafU.toString(16)} cannot be encoded`);
  if (subleaf !== null && (subleaf < 0 || subleaf > 0x7f)) {
    throw new RangeError(`CPUID_VALUES: sub-leaf ${subleaf} cannot be encoded`);
  }
  const sub = subleaf === null ? 0x1fe : subleaf << 1;
  const code = ((leafU >>> 31) << 16) | ((leafU & 0x7f) << 9) | sub | element;
  return CPUID_VALUES_FIELD_BASE | BigInt(code);
}

/**
 * A metadata list (`md_list_t`): what TDH.SYS.RDALL writes into one 4 KB host page. An 8-byte
 * header (`md_list_header_t`), then sequences, each an 8-byte sequence header — a FIELD_ID whose
 * LAST_ELEMENT_IN_FIELD and LAST_FIELD_IN_SEQUENCE say how many elements and consecutive fields
 * follow — and then the 8-byte elements. Source: TDX module 1.5 `metadata_generic.h`.
 */
export const MD_LIST_BYTES = 4096;
export const MD_LIST_HEADER = defineLayout('md_list_header_t', 8, [
  { name: 'list_buff_size', offset: 0, size: 2, kind: 'u16', doc: 'bytes used by the list, header included' },
  { name: 'num_sequences', offset: 2, size: 2, kind: 'u16' },
  { name: 'reserved', offset: 4, size: 4, kind: 'reserved' },
]);
/** Bytes of a sequence header and of each element. */
export const MD_SEQUENCE_HEADER_BYTES = 8;
export const MD_ELEMENT_BYTES = 8;
/**
 * The smallest list buffer `md_dump_list` works with: list header + sequence header +
 * MAX_ELEMENTS_IN_FIELD (16) — the module adds the element count as bytes here; below it the dump
 * writes nothing and reports TDX_METADATA_LIST_OVERFLOW.
 */
export const MD_LIST_MIN_BYTES = 8 + MD_SEQUENCE_HEADER_BYTES + 16;
