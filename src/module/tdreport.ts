/**
 * Building a TDREPORT_STRUCT (TDG.MR.REPORT): the TD's identity (TDINFO_STRUCT), the module's
 * identity (TEE_TCB_INFO), and the REPORTMACSTRUCT that binds both hashes and the caller's
 * REPORTDATA under a MAC only this platform can produce.
 *
 *   TDINFO_STRUCT     ATTRIBUTES, XFAM, MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0..3,
 *                     SERVTD_HASH (TDX 1.5), reserved zero
 *   TEE_INFO_HASH     SHA-384 of the 512 bytes of TDINFO_STRUCT; cached in the TDCS until the next
 *                     RTMR extend (`get_tdinfo_and_teeinfohash`)
 *   TEE_TCB_INFO      the simulated module identity (tee-tcb.ts)
 *   TEE_TCB_INFO_HASH SHA-384 of the 256 bytes of TEE_TCB_INFO
 *   REPORTMACSTRUCT   REPORTTYPE {0x81, subtype 0, version 0 — 1 when service TDs are bound},
 *                     CPUSVN, the two hashes, REPORTDATA, and MAC = HMAC-SHA-256 over bytes 0..223
 *                     keyed by the platform's report key.
 *
 * The real MAC key and algorithm live inside the CPU and are not visible in the module source
 * (facts tdx-module.md §12); tdxsim uses HMAC-SHA-256 with a random per-platform key, which keeps
 * the property that matters: a report verifies only on the platform that made it, and changing
 * any covered byte breaks the MAC. Layouts: src/abi/tdreport.ts; facts §7.3.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import {
  REPORTMACSTRUCT,
  REPORT_MAC_INPUT_SIZE,
  REPORT_SUBTYPE_TD,
  REPORT_TYPE_TDX,
  REPORT_VERSION,
  TDINFO_STRUCT,
  TDREPORT_STRUCT,
} from '../abi/tdreport.ts';
import type { Platform } from '../platform/platform.ts';
import type { ModuleIdentity } from './module.ts';
import type { Td } from './td.ts';
import { SIMULATED_CPUSVN, teeTcbInfo } from './tee-tcb.ts';

const sha384 = (data: Uint8Array): Uint8Array => new Uint8Array(createHash('sha384').update(data).digest());

/** The TD's TDINFO_STRUCT (512 bytes). */
export function tdInfo(td: Td): Uint8Array {
  return TDINFO_STRUCT.encode({
    attributes: td.attributes,
    xfam: td.xfam,
    mrtd: td.mrtd,
    mrconfigid: td.mrConfigId,
    mrowner: td.mrOwner,
    mrownerconfig: td.mrOwnerConfig,
    rtmr0: td.rtmr[0],
    rtmr1: td.rtmr[1],
    rtmr2: td.rtmr[2],
    rtmr3: td.rtmr[3],
    servtd_hash: td.servtdHash,
  });
}

/** TEE_INFO_HASH, computed once per RTMR state and cached in the TD (TDCS). */
export function teeInfoHash(td: Td): Uint8Array {
  td.teeInfoHash ??= sha384(tdInfo(td));
  return td.teeInfoHash;
}

/** The MAC of a REPORTMACSTRUCT (its first 224 bytes) under the platform's report key. */
export function reportMac(platform: Platform, reportMacStruct: Uint8Array): Uint8Array {
  const input = reportMacStruct.subarray(0, REPORT_MAC_INPUT_SIZE);
  return new Uint8Array(createHmac('sha256', platform.reportKey).update(input).digest());
}

/** True if a TDREPORT's MAC was produced by `platform` for exactly these bytes. */
export function verifyReportMac(platform: Platform, report: Uint8Array): boolean {
  const macField = REPORTMACSTRUCT.field('mac');
  const mac = report.subarray(macField.offset, macField.offset + macField.size);
  return timingSafeEqual(reportMac(platform, report.subarray(0, REPORTMACSTRUCT.size)), mac);
}

/** Build the 1024-byte TDREPORT_STRUCT for `td` with the caller's 64 bytes of REPORTDATA. */
export function buildTdReport(platform: Platform, identity: ModuleIdentity, td: Td, reportData: Uint8Array): Uint8Array {
  const info = tdInfo(td);
  const tcb = teeTcbInfo(identity);
  const macStruct = REPORTMACSTRUCT.encode({
    report_type: REPORT_TYPE_TDX,
    report_subtype: REPORT_SUBTYPE_TD,
    // No service TDs are ever bound in tdxsim, so SERVTD_HASH is zero and the version is 0.
    report_version: REPORT_VERSION,
    cpusvn: SIMULATED_CPUSVN,
    tee_tcb_info_hash: sha384(tcb),
    tee_info_hash: teeInfoHash(td),
    reportdata: reportData,
  });
  REPORTMACSTRUCT.write(macStruct, 'mac', reportMac(platform, macStruct));
  return TDREPORT_STRUCT.encode({ reportmacstruct: macStruct, tee_tcb_info: tcb, tdinfo: info });
}
