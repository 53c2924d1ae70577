/**
 * Attestation from inside the TD with the guest library: the TDREPORT's fields and MAC, RTMR
 * extends, and the GetQuote exchange through a shared buffer. Every value is recomputed here
 * from its definition — SHA-384 of TEE_TCB_INFO and TDINFO_STRUCT, the RTMR extend chain, the
 * MAC as HMAC-SHA-256 over REPORTMACSTRUCT bytes 0..223 under the platform's report key — rather
 * than taken from the module (facts tdx-module.md §7.2–7.3, §12; linux-tdx.md §6.2).
 */
import { createHash, createHmac } from 'node:crypto';
import { TdvmcallStatus as V } from '../../abi/tdvmcall-status.ts';
import { TdvmcallSubfunction as Sub } from '../../abi/tdvmcall.ts';
import { OperandId, TdxStatus, withOperand } from '../../abi/status.ts';
import { TdcallLeaf } from '../../abi/tdcall-leaves.ts';
import { TdAttributesBit } from '../../abi/td-config.ts';
import { MEASUREMENT_DIGEST_BYTES } from '../../abi/measurement.ts';
import { SHA384_SIZE } from '../../abi/td-params.ts';
import { GET_QUOTE_HEADER, GET_QUOTE_HEADER_SIZE, GetQuoteStatus } from '../../abi/get-quote.ts';
import {
  decodeTdReport, REPORT_MAC_INPUT_SIZE, REPORT_TYPE_TDX, REPORT_SUBTYPE_TD, REPORT_VERSION, REPORTDATA_SIZE, TDREPORT_STRUCT, TDREPORT_STRUCT_SIZE,
} from '../../abi/tdreport.ts';
import type { ExitRecord } from '../../host/exit-records.ts';
import type { TdxVm } from '../../host/vm.ts';
import { fails, ok, tdCases } from '../case.ts';
import { expectFields, expectValue } from '../expect.ts';
import { recorded, type GuestPartEnv, type UserspaceScript } from '../td-run.ts';
import type { AttestationEnv } from '../interfaces.ts';
import type { GuestCpu } from '../../platform/guest-cpu.ts';
import { converting } from './memory.ts';

const sha384 = (...parts: Uint8Array[]) => {
  const h = createHash('sha384');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const fill = (n: number, b: number) => new Uint8Array(n).fill(b);
const REPORT_DATA = fill(REPORTDATA_SIZE, 0x5c);
const QUOTE = new TextEncoder().encode('a quote from the conformance VMM');

function attestEnv(cpu: GuestCpu, env: GuestPartEnv): AttestationEnv {
  return { cpu, sharedBit: env.sharedBit, scratch: env.scratch };
}

function part(report: Uint8Array, name: 'reportmacstruct' | 'tee_tcb_info' | 'tdinfo'): Uint8Array {
  const f = TDREPORT_STRUCT.field(name);
  return report.subarray(f.offset, f.offset + f.size);
}

/** The TDREPORT each VM's quote service found in its GetQuote buffer. */
const reportsSeen = new WeakMap<TdxVm, Uint8Array>();

/** VMM userspace serving GetQuote: conversions as QEMU does them, and a fixed quote written into the buffer. */
function quoteService(ret: bigint = V.SUCCESS): UserspaceScript {
  const convert = converting();
  return (r: ExitRecord, vcpu, vm: TdxVm) => {
    if (r.kind === 'hypercall') return convert(r, vcpu, vm);
    if (r.kind !== 'tdx' || r.call !== 'get_quote') return 'stop';
    const { gpa, size } = r.getQuote;
    const header = GET_QUOTE_HEADER.decode(vm.guest.readShared(gpa, GET_QUOTE_HEADER_SIZE) ?? new Uint8Array(GET_QUOTE_HEADER_SIZE));
    const report = vm.guest.readShared(gpa + BigInt(GET_QUOTE_HEADER_SIZE), header.in_len);
    if (report) reportsSeen.set(vm, report);
    if (ret === V.SUCCESS && size >= BigInt(GET_QUOTE_HEADER_SIZE + QUOTE.length)) {
      vm.guest.writeShared(gpa, GET_QUOTE_HEADER.encode({ version: header.version, status: GetQuoteStatus.GET_QUOTE_SUCCESS, in_len: header.in_len, out_len: QUOTE.length }));
      vm.guest.writeShared(gpa + BigInt(GET_QUOTE_HEADER_SIZE), QUOTE);
    }
    return { kind: 'tdx', ret };
  };
}

export const ATTESTATION_CASES = tdCases('attestation', 'guest', [
  {
    name: 'tdreport-fields',
    behaviour: "The library's TDREPORT has REPORTTYPE 0x81/0/0, the caller's REPORTDATA, TEE_TCB_INFO_HASH and TEE_INFO_HASH equal to the SHA-384 of those parts, a MAC that verifies under this platform's report key, and a TDINFO with the TD's ATTRIBUTES, XFAM, MRTD and TD_PARAMS measurements, RTMRs zero.",
    spec: 'TDX module 1.5 tdg_mr_report.c, TDREPORT_STRUCT; facts tdx-module.md §7.3, §12 (MAC)',
    covers: [ok(TdcallLeaf.TDG_MR_REPORT)],
    td: { mrConfigId: fill(SHA384_SIZE, 0x11), mrOwner: fill(SHA384_SIZE, 0x22), mrOwnerConfig: fill(SHA384_SIZE, 0x33) },
    *guest(cpu, env) {
      env.record('result', yield* env.lib.getReport(attestEnv(cpu, env), REPORT_DATA));
    },
    check(o) {
      const res = recorded<{ ok: boolean; report?: Uint8Array }>(o, 'result');
      expectFields(res, { ok: true }, 'getReport result');
      const report = res.report!;
      expectValue(report.length, TDREPORT_STRUCT_SIZE, 'TDREPORT length');
      const r = decodeTdReport(report);
      expectFields(r.reportMacStruct, { report_type: REPORT_TYPE_TDX, report_subtype: REPORT_SUBTYPE_TD, report_version: REPORT_VERSION, reportdata: REPORT_DATA }, 'REPORTMACSTRUCT');
      expectValue(r.reportMacStruct.tee_tcb_info_hash, sha384(part(report, 'tee_tcb_info')), 'TEE_TCB_INFO_HASH');
      expectValue(r.reportMacStruct.tee_info_hash, sha384(part(report, 'tdinfo')), 'TEE_INFO_HASH');
      const mac = new Uint8Array(createHmac('sha256', o.machine.platform.reportKey).update(report.subarray(0, REPORT_MAC_INPUT_SIZE)).digest());
      expectValue(r.reportMacStruct.mac, mac, 'MAC (HMAC-SHA-256 of bytes 0..223 under the report key)');
      const zero = new Uint8Array(MEASUREMENT_DIGEST_BYTES);
      expectFields(r.tdInfo, {
        attributes: 1n << BigInt(TdAttributesBit.SEPT_VE_DISABLE),
        xfam: o.machine.tdx.sysinfo.xfamFixed1,
        mrtd: o.vm.mrtd(),
        mrconfigid: fill(SHA384_SIZE, 0x11),
        mrowner: fill(SHA384_SIZE, 0x22),
        mrownerconfig: fill(SHA384_SIZE, 0x33),
        rtmr0: zero, rtmr1: zero, rtmr2: zero, rtmr3: zero,
        servtd_hash: zero,
      }, 'TDINFO');
    },
  },
  {
    name: 'rtmr-extend-chain',
    behaviour: 'Two extends of RTMR 1 through the library give RTMR1 = SHA-384(SHA-384(0⁴⁸ ‖ a) ‖ b) in the next TDREPORT, and TEE_INFO_HASH follows the new TDINFO.',
    spec: 'TDX module 1.5 tdg_mr_rtmr_extend.c (extend; TEE_INFO_HASH recomputed); facts tdx-module.md §7.2, §7.3',
    covers: [ok(TdcallLeaf.TDG_MR_RTMR_EXTEND)],
    *guest(cpu, env) {
      const a = attestEnv(cpu, env);
      env.record('first', yield* env.lib.extendRtmr(a, 1, fill(MEASUREMENT_DIGEST_BYTES, 0xa1)));
      env.record('second', yield* env.lib.extendRtmr(a, 1, fill(MEASUREMENT_DIGEST_BYTES, 0xb2)));
      env.record('result', yield* env.lib.getReport(a, REPORT_DATA));
    },
    check(o) {
      expectFields(recorded<Record<string, unknown>>(o, 'first'), { ok: true }, 'first extend');
      expectFields(recorded<Record<string, unknown>>(o, 'second'), { ok: true }, 'second extend');
      const report = recorded<{ report: Uint8Array }>(o, 'result').report;
      const r = decodeTdReport(report);
      const want = sha384(sha384(new Uint8Array(MEASUREMENT_DIGEST_BYTES), fill(MEASUREMENT_DIGEST_BYTES, 0xa1)), fill(MEASUREMENT_DIGEST_BYTES, 0xb2));
      expectValue(r.tdInfo.rtmr1, want, 'TDINFO.RTMR1');
      expectValue(r.reportMacStruct.tee_info_hash, sha384(part(report, 'tdinfo')), 'TEE_INFO_HASH after the extends');
    },
  },
  {
    name: 'rtmr-extend-refused',
    behaviour: "An extend of RTMR 4 (there are four, 0–3) is refused by the module and the library reports it as a module failure with OPERAND_INVALID|RDX.",
    spec: 'TDX module 1.5 tdg_mr_rtmr_extend.c (index ≥ 4); facts tdx-module.md §7.2; linux-tdx.md §2.1 (error mapping)',
    covers: [fails(TdcallLeaf.TDG_MR_RTMR_EXTEND)],
    *guest(cpu, env) {
      env.record('result', yield* env.lib.extendRtmr(attestEnv(cpu, env), 4, fill(MEASUREMENT_DIGEST_BYTES, 1)));
    },
    check(o) {
      expectFields(recorded<Record<string, unknown>>(o, 'result'), { ok: false, kind: 'module', status: withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RDX) }, 'extendRtmr result');
    },
  },
  {
    name: 'get-quote',
    behaviour: "The library's GetQuote puts a valid TDREPORT after the header of a shared buffer, hands it over with TDVMCALL<GetQuote>, and returns the quote the VMM wrote back.",
    spec: 'GHCI GetQuote, GET_QUOTE buffer; Linux tdx_hcall_get_quote; KVM selftest GetQuote; facts linux-tdx.md §4.3 (GetQuote), §6.2',
    covers: [ok(Sub.GET_QUOTE)],
    host: { userspace: quoteService() },
    *guest(cpu, env) {
      const a = attestEnv(cpu, env);
      const rep = yield* env.lib.getReport(a, REPORT_DATA);
      if (!rep.ok) return env.record('quote', rep);
      env.record('quote', yield* env.lib.getQuote(a, rep.report));
    },
    check(o) {
      expectFields(recorded<Record<string, unknown>>(o, 'quote'), { ok: true, quote: QUOTE }, 'getQuote result');
      const inBuffer = reportsSeen.get(o.vm) ?? new Uint8Array();
      expectValue(inBuffer.length, TDREPORT_STRUCT_SIZE, 'TDREPORT bytes the VMM found in the buffer');
      expectValue(decodeTdReport(inBuffer).reportMacStruct.reportdata, REPORT_DATA, 'REPORTDATA of the TDREPORT in the buffer');
    },
  },
  {
    name: 'get-quote-refused',
    behaviour: 'When the VMM refuses GetQuote (R10 = INVALID_OPERAND) the library returns a VMM failure with that status.',
    spec: 'GHCI GetQuote status; Linux tdx_hcall_get_quote; facts linux-tdx.md §6.4',
    covers: [fails(Sub.GET_QUOTE)],
    host: { userspace: quoteService(V.INVALID_OPERAND) },
    *guest(cpu, env) {
      const a = attestEnv(cpu, env);
      const rep = yield* env.lib.getReport(a, REPORT_DATA);
      if (!rep.ok) return env.record('quote', rep);
      env.record('quote', yield* env.lib.getQuote(a, rep.report));
    },
    check(o) {
      expectFields(recorded<Record<string, unknown>>(o, 'quote'), { ok: false, kind: 'vmm', status: V.INVALID_OPERAND }, 'getQuote result');
    },
  },
]);
