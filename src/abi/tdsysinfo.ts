/**
 * TDSYSINFO_STRUCT: the 1024 bytes TDH.SYS.INFO writes to host memory (RCX, 1024-aligned),
 * enumerating the module: version, TDMR limits, control-structure sizes, the ATTRIBUTES and XFAM
 * a TD may use, and the configurable CPUID leaves. The same facts are also readable one by one as
 * SYS metadata fields with TDH.SYS.RD (metadata.ts).
 *
 * Source: TDX module 1.5 `td_sys_info_t` in `include/tdx_api_defs.h` (including its reserved
 * runs reserved_0..reserved_5); facts tdx-module.md §10.2.
 */
import { NUM_CPUID_CONFIG } from './cpuid-config.ts';
import { defineLayout, type DecodedLayout } from './layout.ts';

export const TDSYSINFO_STRUCT_SIZE = 1024;
/** TDH.SYS.INFO: the output PA must be 1024-aligned and the buffer at least this big. */
export const TDSYSINFO_STRUCT_ALIGNMENT = 1024;
/** Size of one TDSYSINFO cpuid_config entry: leaf, sub-leaf, EAX, EBX, ECX, EDX. */
export const TDSYSINFO_CPUID_ENTRY_SIZE = 24;
/** vendor_id: Intel. */
export const TDX_VENDOR_ID_INTEL = 0x8086;

/** TDSYSINFO_STRUCT (`td_sys_info_t`). */
export const TDSYSINFO_STRUCT = defineLayout('TDSYSINFO_STRUCT', TDSYSINFO_STRUCT_SIZE, [
  // TDX module info.
  { name: 'attributes', offset: 0, size: 4, kind: 'u32', doc: 'bit 31: debug module' },
  { name: 'vendor_id', offset: 4, size: 4, kind: 'u32', doc: '0x8086' },
  { name: 'build_date', offset: 8, size: 4, kind: 'u32', doc: 'module build date' },
  { name: 'build_num', offset: 12, size: 2, kind: 'u16' },
  { name: 'minor_version', offset: 14, size: 2, kind: 'u16' },
  { name: 'major_version', offset: 16, size: 2, kind: 'u16' },
  { name: 'sys_rd', offset: 18, size: 1, kind: 'u8', doc: '1: TDH.SYS.RD/RDALL are available' },
  { name: 'reserved0', offset: 19, size: 13, kind: 'reserved' },
  // Memory info.
  { name: 'max_tdmrs', offset: 32, size: 2, kind: 'u16', doc: 'maximum TDMRs (64)' },
  { name: 'max_reserved_per_tdmr', offset: 34, size: 2, kind: 'u16', doc: 'maximum reserved areas per TDMR (16)' },
  { name: 'pamt_entry_size', offset: 36, size: 2, kind: 'u16', doc: 'bytes per PAMT entry (16)' },
  { name: 'reserved1', offset: 38, size: 10, kind: 'reserved' },
  // Control structure info.
  { name: 'tdcs_base_size', offset: 48, size: 2, kind: 'u16', doc: 'bytes of TDCS for an L1-only TD (6 pages)' },
  { name: 'reserved2', offset: 50, size: 2, kind: 'reserved' },
  { name: 'tdvps_base_size', offset: 52, size: 2, kind: 'u16', doc: 'bytes of TDVPS for an L1-only vCPU (6 pages)' },
  { name: 'tdvps_xfam_dependent_size', offset: 54, size: 1, kind: 'u8', doc: '1: TDVPS size depends on XFAM (0 in 1.5)' },
  { name: 'reserved3', offset: 55, size: 9, kind: 'reserved' },
  // TD capabilities.
  { name: 'attributes_fixed0', offset: 64, size: 8, kind: 'u64', doc: 'ATTRIBUTES bits a TD may set' },
  { name: 'attributes_fixed1', offset: 72, size: 8, kind: 'u64', doc: 'ATTRIBUTES bits a TD must set' },
  { name: 'xfam_fixed0', offset: 80, size: 8, kind: 'u64', doc: 'XFAM bits a TD may set' },
  { name: 'xfam_fixed1', offset: 88, size: 8, kind: 'u64', doc: 'XFAM bits a TD must set' },
  { name: 'reserved4', offset: 96, size: 32, kind: 'reserved' },
  { name: 'num_cpuid_config', offset: 128, size: 4, kind: 'u32', doc: 'entries in cpuid_config (12)' },
  {
    name: 'cpuid_config',
    offset: 132,
    size: NUM_CPUID_CONFIG * TDSYSINFO_CPUID_ENTRY_SIZE,
    kind: 'bytes',
    doc: '12 × {leaf, subleaf, eax, ebx, ecx, edx}: the configurable bits of each leaf (see decodeSysInfoCpuidConfig)',
  },
  { name: 'reserved5', offset: 420, size: 604, kind: 'reserved' },
]);

/** One TDSYSINFO cpuid_config entry (`cpuid_config_t`). Sub-leaf 0xFFFFFFFF means "no sub-leaf". */
export const TDSYSINFO_CPUID_ENTRY = defineLayout('TDSYSINFO_STRUCT.CPUID_CONFIG', TDSYSINFO_CPUID_ENTRY_SIZE, [
  { name: 'leaf', offset: 0, size: 4, kind: 'u32' },
  { name: 'subleaf', offset: 4, size: 4, kind: 'u32', doc: '0xFFFFFFFF: the leaf has no sub-leaves' },
  { name: 'eax', offset: 8, size: 4, kind: 'u32' },
  { name: 'ebx', offset: 12, size: 4, kind: 'u32' },
  { name: 'ecx', offset: 16, size: 4, kind: 'u32' },
  { name: 'edx', offset: 20, size: 4, kind: 'u32' },
]);

export type SysInfoCpuidConfig = DecodedLayout<(typeof TDSYSINFO_CPUID_ENTRY)['fields']>;

/** Decode the 12 entries of TDSYSINFO_STRUCT.cpuid_config (the 288-byte field). */
export function decodeSysInfoCpuidConfig(cpuidConfig: Uint8Array): SysInfoCpuidConfig[] {
  return TDSYSINFO_CPUID_ENTRY.decodeArray(cpuidConfig, NUM_CPUID_CONFIG);
}
