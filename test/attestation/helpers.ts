/**
 * Test fixtures for the attestation tests: a TDREPORT_STRUCT built directly from the ABI layouts
 * (with plausible values and a valid MAC under a test report key), and a whole simulated quoting
 * infrastructure made once per test file.
 */
import { createHash } from 'node:crypto';
import {
  REPORTMACSTRUCT,
  REPORT_SUBTYPE_TD,
  REPORT_TYPE_TDX,
  REPORT_VERSION,
  TDINFO_STRUCT,
  TDREPORT_STRUCT,
  TEE_TCB_INFO,
} from '../../src/abi/tdreport.ts';
import { TD_ATTRIBUTES, TD_XFAM } from '../../src/abi/td-params.ts';
import { TEE_TCB_INFO_TEE_TCB_SVN2_OFFSET } from '../../src/abi/quote.ts';
import { tdReportMac } from '../../src/attestation/tdreport-check.ts';

/** The report key the tests' "platform" MACs its reports with. */
export const TEST_REPORT_KEY = new Uint8Array(32).fill(0x5a);

/** 48 bytes whose every byte is `b` (easy to spot in a hex dump). */
export const fill48 = (b: number): Uint8Array => new Uint8Array(48).fill(b);

export const sha384 = (data: Uint8Array | string): Uint8Array => new Uint8Array(createHash('sha384').update(data).digest());

/** Plausible TD values: a production TD (no DEBUG) with SEPT_VE_DISABLE, AVX-512 state. */
export const TD_VALUES = Object.freeze({
  attributes: TD_ATTRIBUTES.encode({ sept_ve_disable: 1 }),
  xfam: TD_XFAM.encode({ x87: 1, sse: 1, avx: 1, avx512_kmask: 1, avx512_zmm_hi256: 1, avx512_hi16_zmm: 1 }),
  mrtd: sha384('tdxsim test TD image'),
  mrconfigid: fill48(0x11),
  mrowner: fill48(0x22),
  mrownerconfig: fill48(0x33),
  rtmr0: fill48(0xa0),
  rtmr1: fill48(0xa1),
  rtmr2: fill48(0xa2),
  rtmr3: fill48(0xa3),
  servtd_hash: new Uint8Array(48),
});

/** TEE_TCB_INFO of tdxsim's module: TEE_TCB_SVN [1, 1, 0…], zero signer, TDX 1.5 TEE_TCB_SVN2. */
export const TEE_VALUES = Object.freeze({
  tee_tcb_svn: Uint8Array.of(1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
  mrseam: sha384('tdxsim test module'),
  mrsignerseam: new Uint8Array(48),
  attributes: 0n,
  tee_tcb_svn2: Uint8Array.of(1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7),
});

export interface TestReportOptions {
  readonly reportData?: Uint8Array;
  readonly reportKey?: Uint8Array;
  readonly td?: Partial<Record<keyof typeof TD_VALUES, unknown>>;
  readonly teeTcbSvn?: Uint8Array;
}

/** A TDREPORT_STRUCT made from the layouts, as TDG.MR.REPORT would, MAC'd with the test key. */
export function buildTestReport(options: TestReportOptions = {}): Uint8Array {
  const reportData = options.reportData ?? Uint8Array.from({ length: 64 }, (_, i) => i);
  const tdinfo = TDINFO_STRUCT.encode({ ...TD_VALUES, ...(options.td as object) });
  const tcb = TEE_TCB_INFO.encode({
    valid: 0x1ffffffffffn,
    tee_tcb_svn: options.teeTcbSvn ?? TEE_VALUES.tee_tcb_svn,
    mrseam: TEE_VALUES.mrseam,
    mrsignerseam: TEE_VALUES.mrsignerseam,
    attributes: TEE_VALUES.attributes,
  });
  tcb.set(TEE_VALUES.tee_tcb_svn2, TEE_TCB_INFO_TEE_TCB_SVN2_OFFSET);
  const mac = REPORTMACSTRUCT.encode({
    report_type: REPORT_TYPE_TDX,
    report_subtype: REPORT_SUBTYPE_TD,
    report_version: REPORT_VERSION,
    cpusvn: new Uint8Array(16),
    tee_tcb_info_hash: sha384(tcb),
    tee_info_hash: sha384(tdinfo),
    reportdata: reportData,
  });
  REPORTMACSTRUCT.write(mac, 'mac', tdReportMac(options.reportKey ?? TEST_REPORT_KEY, mac));
  return TDREPORT_STRUCT.encode({ reportmacstruct: mac, tee_tcb_info: tcb, tdinfo });
}

/** Flip one bit of a copy of `bytes`. */
export function flipBit(bytes: Uint8Array, offset: number, bit = 0): Uint8Array {
  const out = bytes.slice();
  out[offset]! ^= 1 << bit;
  return out;
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The quote a service makes of `report`; fails the test if the service refuses it. */
export function mustQuote(service: { quote(report: Uint8Array): { ok: true; quote: Uint8Array } | { ok: false; message: string } }, report: Uint8Array): Uint8Array {
  const r = service.quote(report);
  if (!r.ok) throw new Error(`the quoting service refused the report: ${r.message}`);
  return r.quote;
}
