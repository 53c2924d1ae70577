/**
 * TDREPORT_STRUCT: the 1024-byte report TDG.MR.REPORT writes to guest memory, and its three parts.
 *
 *   offset   0  REPORTMACSTRUCT  (256)  report type, CPUSVN, hashes of the other two parts,
 *                                       the caller's REPORTDATA and a MAC over bytes 0..223
 *   offset 256  TEE_TCB_INFO     (256)  the TDX module's identity (MRSEAM, SVN, …)
 *   offset 512  TDINFO_STRUCT    (512)  the TD's identity: attributes, XFAM, MRTD, the
 *                                       software-defined IDs, RTMR0..3, SERVTD_HASH
 *
 * TEE_INFO_HASH = SHA-384 over the 512 bytes of TDINFO_STRUCT; TEE_TCB_INFO_HASH = SHA-384 over
 * TEE_TCB_INFO. REPORTMACSTRUCT, TEE_TCB_INFO and the MAC are produced by the CPU (SEAMOPS), so
 * their contents are the simulator's own; only the layout is architectural.
 *
 * Source: TDX module 1.5 `include/tdx_api_defs.h` (`report_mac_struct_t`, `tee_tcb_info_t`,
 * `td_info_t`, `td_report_t`); facts tdx-module.md §7.3 (absolute offsets) and §12 (MAC input).
 * Field names are the spec's mnemonics in lower case.
 */
import { defineLayout, type LayoutDataFieldName } from './layout.ts';
import { SHA384_SIZE } from './td-params.ts';

export const REPORTMACSTRUCT_SIZE = 256;
export const TEE_TCB_INFO_SIZE = 256;
export const TDINFO_STRUCT_SIZE = 512;
export const TDREPORT_STRUCT_SIZE = 1024;
/** TDG.MR.REPORT: the output GPA must be 1024-aligned. */
export const TDREPORT_ALIGNMENT = 1024;
/** TDG.MR.REPORT: REPORTDATA is 64 bytes at a 64-aligned GPA. */
export const REPORTDATA_SIZE = 64;
export const REPORTDATA_ALIGNMENT = 64;
/** Size of the MAC at the end of REPORTMACSTRUCT. */
export const REPORT_MAC_SIZE = 32;
/** The MAC covers REPORTMACSTRUCT bytes 0..223, i.e. everything before the MAC itself (§12). */
export const REPORT_MAC_INPUT_SIZE = 224;

/** REPORTTYPE.TYPE of a TDX report (0x00 is SGX). */
export const REPORT_TYPE_TDX = 0x81;
/** REPORTTYPE.SUBTYPE: TDG.MR.REPORT only accepts subtype 0. */
export const REPORT_SUBTYPE_TD = 0;
/** REPORTTYPE.VERSION: 0, or 1 when service TDs are bound (then SERVTD_HASH is meaningful). */
export const REPORT_VERSION = 0;
export const REPORT_VERSION_WITH_SERVTD = 1;

/** REPORTMACSTRUCT (`report_mac_struct_t`): TDREPORT bytes 0..255. */
export const REPORTMACSTRUCT = defineLayout('REPORTMACSTRUCT', REPORTMACSTRUCT_SIZE, [
  { name: 'report_type', offset: 0, size: 1, kind: 'u8', doc: 'REPORTTYPE.TYPE: 0x81 for TDX' },
  { name: 'report_subtype', offset: 1, size: 1, kind: 'u8', doc: 'REPORTTYPE.SUBTYPE: 0' },
  { name: 'report_version', offset: 2, size: 1, kind: 'u8', doc: 'REPORTTYPE.VERSION: 0, or 1 with service TDs' },
  { name: 'reserved0', offset: 3, size: 1, kind: 'reserved', doc: 'REPORTTYPE.RESERVED' },
  { name: 'reserved1', offset: 4, size: 12, kind: 'reserved' },
  { name: 'cpusvn', offset: 16, size: 16, kind: 'bytes', doc: 'CPU security version number' },
  { name: 'tee_tcb_info_hash', offset: 32, size: SHA384_SIZE, kind: 'bytes', doc: 'SHA-384 of TEE_TCB_INFO' },
  { name: 'tee_info_hash', offset: 80, size: SHA384_SIZE, kind: 'bytes', doc: 'SHA-384 of TDINFO_STRUCT' },
  { name: 'reportdata', offset: 128, size: REPORTDATA_SIZE, kind: 'bytes', doc: "the caller's 64 bytes (RDX of TDG.MR.REPORT)" },
  { name: 'reserved2', offset: 192, size: 32, kind: 'reserved' },
  { name: 'mac', offset: 224, size: REPORT_MAC_SIZE, kind: 'bytes', doc: 'MAC over bytes 0..223, verifiable on this platform only' },
]);

/** TEE_TCB_INFO (`tee_tcb_info_t`): TDREPORT bytes 256..511. */
export const TEE_TCB_INFO = defineLayout('TEE_TCB_INFO', TEE_TCB_INFO_SIZE, [
  { name: 'valid', offset: 0, size: 8, kind: 'u64', doc: 'bit i set: the 8 bytes at offset 8*i are valid' },
  { name: 'tee_tcb_svn', offset: 8, size: 16, kind: 'bytes', doc: 'TDX module security version' },
  { name: 'mrseam', offset: 24, size: SHA384_SIZE, kind: 'bytes', doc: 'measurement of the TDX module' },
  { name: 'mrsignerseam', offset: 72, size: SHA384_SIZE, kind: 'bytes', doc: 'measurement of the TDX module signer' },
  { name: 'attributes', offset: 120, size: 8, kind: 'u64', doc: 'TDX module attributes' },
  { name: 'reserved0', offset: 128, size: 128, kind: 'reserved' },
]);

/** TDINFO_STRUCT (`td_info_t`): TDREPORT bytes 512..1023. TEE_INFO_HASH is its SHA-384. */
export const TDINFO_STRUCT = defineLayout('TDINFO_STRUCT', TDINFO_STRUCT_SIZE, [
  { name: 'attributes', offset: 0, size: 8, kind: 'u64', doc: 'TD ATTRIBUTES' },
  { name: 'xfam', offset: 8, size: 8, kind: 'u64', doc: 'TD XFAM' },
  { name: 'mrtd', offset: 16, size: SHA384_SIZE, kind: 'bytes', doc: 'build-time measurement (TDH.MEM.PAGE.ADD, TDH.MR.EXTEND)' },
  { name: 'mrconfigid', offset: 64, size: SHA384_SIZE, kind: 'bytes', doc: 'from TD_PARAMS' },
  { name: 'mrowner', offset: 112, size: SHA384_SIZE, kind: 'bytes', doc: 'from TD_PARAMS' },
  { name: 'mrownerconfig', offset: 160, size: SHA384_SIZE, kind: 'bytes', doc: 'from TD_PARAMS' },
  { name: 'rtmr0', offset: 208, size: SHA384_SIZE, kind: 'bytes', doc: 'run-time measurement register 0' },
  { name: 'rtmr1', offset: 256, size: SHA384_SIZE, kind: 'bytes' },
  { name: 'rtmr2', offset: 304, size: SHA384_SIZE, kind: 'bytes' },
  { name: 'rtmr3', offset: 352, size: SHA384_SIZE, kind: 'bytes' },
  { name: 'servtd_hash', offset: 400, size: SHA384_SIZE, kind: 'bytes', doc: 'hash of bound service TDs (zero if none; TDX 1.5)' },
  { name: 'reserved0', offset: 448, size: 64, kind: 'reserved' },
]);

/** TDREPORT_STRUCT (`td_report_t`): the three parts back to back. */
export const TDREPORT_STRUCT = defineLayout('TDREPORT_STRUCT', TDREPORT_STRUCT_SIZE, [
  { name: 'reportmacstruct', offset: 0, size: REPORTMACSTRUCT_SIZE, kind: 'bytes', doc: 'REPORTMACSTRUCT' },
  { name: 'tee_tcb_info', offset: 256, size: TEE_TCB_INFO_SIZE, kind: 'bytes', doc: 'TEE_TCB_INFO' },
  { name: 'tdinfo', offset: 512, size: TDINFO_STRUCT_SIZE, kind: 'bytes', doc: 'TDINFO_STRUCT' },
]);

/** The parts of a TDREPORT and the layout of each. */
export const TDREPORT_PARTS = Object.freeze({
  reportmacstruct: REPORTMACSTRUCT,
  tee_tcb_info: TEE_TCB_INFO,
  tdinfo: TDINFO_STRUCT,
});

export type TdReportPart = keyof typeof TDREPORT_PARTS;
type PartFieldName<P extends TdReportPart> = LayoutDataFieldName<(typeof TDREPORT_PARTS)[P]['fields']>;

/** Absolute offset in TDREPORT_STRUCT of a field of one of its parts (e.g. tdinfo.mrtd → 528). */
export function tdreportOffset<P extends TdReportPart>(part: P, field: PartFieldName<P>): number {
  const layout = TDREPORT_PARTS[part] as (typeof TDREPORT_PARTS)[TdReportPart];
  const f = layout.fields.find((x) => x.name === field);
  if (!f) throw new Error(`TDREPORT ${part} has no field ${String(field)}`);
  return TDREPORT_STRUCT.field(part).offset + f.offset;
}

/** Decode a whole TDREPORT_STRUCT into its three parts. */
export function decodeTdReport(bytes: Uint8Array, offset = 0) {
  const base = (part: TdReportPart): number => offset + TDREPORT_STRUCT.field(part).offset;
  return {
    reportMacStruct: REPORTMACSTRUCT.decode(bytes, base('reportmacstruct')),
    teeTcbInfo: TEE_TCB_INFO.decode(bytes, base('tee_tcb_info')),
    tdInfo: TDINFO_STRUCT.decode(bytes, base('tdinfo')),
  };
}

export type DecodedTdReport = ReturnType<typeof decodeTdReport>;
