/**
 * What the TD QE checks before it quotes a TDREPORT_STRUCT, in the order it checks them.
 *
 * A TDREPORT reaches the quoting service from the guest, through the host's GetQuote buffer in
 * shared memory: any party on the way could have changed it. The report is only worth quoting if
 * this platform's CPU produced it, which the QE establishes the way Intel's TD QE does with
 * EVERIFYREPORT2, then by checking the two hashes the MAC covers:
 *
 *   1. size      exactly 1024 bytes (TDREPORT_STRUCT)
 *   2. MAC       REPORTMACSTRUCT.MAC = HMAC-SHA-256(report key, REPORTMACSTRUCT bytes 0..223).
 *                tdxsim's stand-in for the CPU's report MAC (facts tdx-module.md §12; the module
 *                makes it in src/module/tdreport.ts with the platform's `reportKey`)
 *   3. type      REPORTTYPE = TDX (0x81), subtype 0, version 0 or 1
 *   4. TEE_TCB_INFO_HASH = SHA-384(TEE_TCB_INFO): binds the module identity to the MAC
 *   5. TEE_INFO_HASH     = SHA-384(TDINFO_STRUCT): binds the TD's measurements to the MAC
 *
 * A report failing any of these is refused, never quoted: a quote would otherwise vouch for
 * measurements no TD on this platform had (protects the relying party).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import {
  REPORTMACSTRUCT,
  REPORT_MAC_INPUT_SIZE,
  REPORT_SUBTYPE_TD,
  REPORT_TYPE_TDX,
  REPORT_VERSION,
  REPORT_VERSION_WITH_SERVTD,
  TDREPORT_STRUCT,
  TDREPORT_STRUCT_SIZE,
} from '../abi/tdreport.ts';

/** Why a TDREPORT was refused. */
export type ReportRejectionCode = 'report-size' | 'report-mac' | 'report-type' | 'tee-tcb-info-hash' | 'tee-info-hash';

export interface ReportRejection {
  readonly code: ReportRejectionCode;
  readonly message: string;
}

/** The MAC a REPORTMACSTRUCT should carry under `reportKey` (HMAC-SHA-256 of its bytes 0..223). */
export function tdReportMac(reportKey: Uint8Array, report: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', reportKey).update(report.subarray(0, REPORT_MAC_INPUT_SIZE)).digest());
}

const sha384 = (data: Uint8Array): Uint8Array => new Uint8Array(createHash('sha384').update(data).digest());

function part(report: Uint8Array, name: 'reportmacstruct' | 'tee_tcb_info' | 'tdinfo'): Uint8Array {
  const f = TDREPORT_STRUCT.field(name);
  return report.subarray(f.offset, f.offset + f.size);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Check a TDREPORT as the QE does; undefined if it may be quoted. Never throws. */
export function checkTdReport(report: Uint8Array, reportKey: Uint8Array): ReportRejection | undefined {
  if (!(report instanceof Uint8Array) || report.length !== TDREPORT_STRUCT_SIZE) {
    const got = report instanceof Uint8Array ? `${report.length} bytes` : typeof report;
    return { code: 'report-size', message: `a TDREPORT_STRUCT is ${TDREPORT_STRUCT_SIZE} bytes, got ${got}` };
  }
  const mac = REPORTMACSTRUCT.decode(part(report, 'reportmacstruct'));
  if (!equal(tdReportMac(reportKey, report), mac.mac)) {
    return { code: 'report-mac', message: 'REPORTMACSTRUCT.MAC does not verify under this platform\'s report key: the report was altered or made on another platform' };
  }
  if (
    mac.report_type !== REPORT_TYPE_TDX ||
    mac.report_subtype !== REPORT_SUBTYPE_TD ||
    (mac.report_version !== REPORT_VERSION && mac.report_version !== REPORT_VERSION_WITH_SERVTD)
  ) {
    return {
      code: 'report-type',
      message: `REPORTTYPE is type 0x${mac.report_type.toString(16)} subtype ${mac.report_subtype} version ${mac.report_version}; a TD report is type 0x81 subtype 0 version 0 or 1`,
    };
  }
  if (!equal(sha384(part(report, 'tee_tcb_info')), mac.tee_tcb_info_hash)) {
    return { code: 'tee-tcb-info-hash', message: 'SHA-384 of TEE_TCB_INFO does not match REPORTMACSTRUCT.TEE_TCB_INFO_HASH: TEE_TCB_INFO was altered' };
  }
  if (!equal(sha384(part(report, 'tdinfo')), mac.tee_info_hash)) {
    return { code: 'tee-info-hash', message: 'SHA-384 of TDINFO_STRUCT does not match REPORTMACSTRUCT.TEE_INFO_HASH: TDINFO_STRUCT was altered' };
  }
  return undefined;
}
