/**
 * Module bring-up: the TDH.SYS.* leaves from SYSINIT_PENDING to SYS_READY, the dispatcher's
 * gating of other leaves, and the SEAMCALL instruction's own failures (facts tdx-module.md §1,
 * §4.1, §5.1, §10.2; linux-tdx.md §1.3–1.4).
 */
import { SeamcallLeaf } from '../../abi/seamcall-leaves.ts';
import { OperandId, TdxSoftwareStatus, TdxStatus, withOperand } from '../../abi/status.ts';
import { LEAF_WORD } from '../../abi/operands.ts';
import { TDSYSINFO_STRUCT, TDSYSINFO_STRUCT_SIZE, TDX_VENDOR_ID_INTEL } from '../../abi/tdsysinfo.ts';
import { CMR_INFO, MAX_CMRS, MAX_TDMRS } from '../../abi/tdmr.ts';
import { MD_LIST_HEADER } from '../../abi/metadata.ts';
import { SIZE_1G } from '../../abi/pamt.ts';
import { fails, moduleCases, ok } from '../case.ts';
import { expectFields, expectRegs, expectValue } from '../expect.ts';
import { Machine } from '../machine.ts';
import { expectProbe, probe } from '../probe.ts';
import { sentinelRegs } from '../sentinel.ts';
import { field, NULL_FIELD_ID } from './fields.ts';

const L = SeamcallLeaf;
const S = TdxStatus;
const invalid = (op: number) => withOperand(S.TDX_OPERAND_INVALID, op);

/** A raw machine after SYS.INIT and LP.INIT on every LP. */
function initialised(): Machine {
  const m = Machine.raw();
  m.initModule();
  return m;
}

/** A raw machine up to SYS_READY (SYS.CONFIG and KEY.CONFIG done), TDMRs not yet initialised. */
function ready(): Machine {
  const m = initialised();
  m.configure();
  m.configureKeys();
  return m;
}

export const BRING_UP_CASES = moduleCases('bring-up', 'module', [
  {
    name: 'sys-init',
    behaviour: 'TDH.SYS.INIT with RCX = 0 succeeds and zeroes RCX, RDX and R8–R10.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.INIT; facts tdx-module.md §2.1 (leaf 33), §4.1 step 1',
    covers: [ok(L.TDH_SYS_INIT)],
    run() {
      const p = probe(Machine.raw(), L.TDH_SYS_INIT, { attributes: 0n });
      expectProbe(p, { rax: S.TDX_SUCCESS, rcx: 0n, rdx: 0n, r8: 0n, r9: 0n, r10: 0n });
    },
  },
  {
    name: 'sys-init-attributes',
    behaviour: 'TDH.SYS.INIT with reserved attributes in RCX fails with OPERAND_INVALID|RCX and still zeroes its outputs.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.INIT; facts tdx-module.md §4.1 step 1',
    covers: [fails(L.TDH_SYS_INIT)],
    run() {
      const p = probe(Machine.raw(), L.TDH_SYS_INIT, { attributes: 1n });
      expectProbe(p, { rax: invalid(OperandId.RCX), rcx: 0n, rdx: 0n, r8: 0n, r9: 0n, r10: 0n });
    },
  },
  {
    name: 'sys-init-twice',
    behaviour: 'A second TDH.SYS.INIT fails with TDX_SYS_INIT_NOT_PENDING.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.INIT; facts tdx-module.md §4.1 step 1',
    covers: [fails(L.TDH_SYS_INIT)],
    run() {
      const m = Machine.raw();
      m.call(L.TDH_SYS_INIT, { attributes: 0n });
      expectProbe(probe(m, L.TDH_SYS_INIT, { attributes: 0n }), { rax: S.TDX_SYS_INIT_NOT_PENDING, rcx: 0n, rdx: 0n, r8: 0n, r9: 0n, r10: 0n });
    },
  },
  {
    name: 'lp-init',
    behaviour: 'TDH.SYS.LP.INIT succeeds once per LP after SYS.INIT; a second call on the same LP returns TDX_SYS_LP_INIT_DONE.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.LP.INIT; facts tdx-module.md §4.1 step 2',
    covers: [ok(L.TDH_SYS_LP_INIT), fails(L.TDH_SYS_LP_INIT)],
    run() {
      const m = Machine.raw();
      m.call(L.TDH_SYS_INIT, { attributes: 0n });
      expectProbe(probe(m, L.TDH_SYS_LP_INIT, {}, { lp: 1 }), { rax: S.TDX_SUCCESS }, 'first LP.INIT on LP 1');
      expectProbe(probe(m, L.TDH_SYS_LP_INIT, {}, { lp: 1 }), { rax: S.TDX_SYS_LP_INIT_DONE }, 'second LP.INIT on LP 1');
    },
  },
  {
    name: 'lp-init-before-sys-init',
    behaviour: 'TDH.SYS.LP.INIT before TDH.SYS.INIT fails with TDX_SYS_LP_INIT_NOT_PENDING.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.LP.INIT; facts tdx-module.md §4.1 step 2',
    covers: [fails(L.TDH_SYS_LP_INIT)],
    run() {
      expectProbe(probe(Machine.raw(), L.TDH_SYS_LP_INIT), { rax: S.TDX_SYS_LP_INIT_NOT_PENDING });
    },
  },
  {
    name: 'sys-info',
    behaviour: 'TDH.SYS.INFO writes TDSYSINFO_STRUCT and 32 CMR_INFO entries and returns RDX = 1024, R9 = 32.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.INFO, TDSYSINFO_STRUCT; facts tdx-module.md §2.1 (leaf 32), §10.2',
    covers: [ok(L.TDH_SYS_INFO)],
    run() {
      const m = initialised();
      const info = m.page();
      const cmrs = m.page();
      const p = probe(m, L.TDH_SYS_INFO, { sysInfo: info, sysInfoSize: BigInt(TDSYSINFO_STRUCT_SIZE), cmrArray: cmrs, cmrEntries: BigInt(MAX_CMRS) });
      expectProbe(p, { rax: S.TDX_SUCCESS, rdx: BigInt(TDSYSINFO_STRUCT_SIZE), r9: BigInt(MAX_CMRS) });
      const s = TDSYSINFO_STRUCT.decode(m.read(info, TDSYSINFO_STRUCT_SIZE));
      expectFields(s, { vendor_id: TDX_VENDOR_ID_INTEL, major_version: 1, minor_version: 5, sys_rd: 1, max_tdmrs: MAX_TDMRS, num_cpuid_config: 12 }, 'TDSYSINFO_STRUCT');
      const cmr0 = CMR_INFO.decode(m.read(cmrs, CMR_INFO.size));
      expectFields(cmr0, { base: m.platform.cmrs[0]!.base, size: m.platform.cmrs[0]!.size }, 'CMR_INFO[0]');
    },
  },
  {
    name: 'sys-info-lp-not-initialised',
    behaviour: 'TDH.SYS.INFO on an LP that has not run TDH.SYS.LP.INIT fails with TDX_SYS_LP_INIT_NOT_DONE and RDX = R9 = 0.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.INFO; facts tdx-module.md §4.1 step 2',
    covers: [fails(L.TDH_SYS_INFO)],
    run() {
      const m = Machine.raw();
      m.call(L.TDH_SYS_INIT, { attributes: 0n });
      const p = probe(m, L.TDH_SYS_INFO, { sysInfo: m.page(), sysInfoSize: BigInt(TDSYSINFO_STRUCT_SIZE), cmrArray: m.page(), cmrEntries: BigInt(MAX_CMRS) });
      expectProbe(p, { rax: S.TDX_SYS_LP_INIT_NOT_DONE, rdx: 0n, r9: 0n });
    },
  },
  {
    name: 'sys-info-misaligned',
    behaviour: 'TDH.SYS.INFO with a TDSYSINFO_STRUCT address that is not 1024-aligned fails with OPERAND_INVALID|RCX and RDX = R9 = 0.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.INFO; facts tdx-module.md §2.1 (leaf 32)',
    covers: [fails(L.TDH_SYS_INFO)],
    run() {
      const m = initialised();
      const p = probe(m, L.TDH_SYS_INFO, { sysInfo: m.page() + 512n, sysInfoSize: BigInt(TDSYSINFO_STRUCT_SIZE), cmrArray: m.page(), cmrEntries: BigInt(MAX_CMRS) });
      expectProbe(p, { rax: invalid(OperandId.RCX), rdx: 0n, r9: 0n });
    },
  },
  {
    name: 'sys-rd',
    behaviour: 'TDH.SYS.RD of MAJOR_VERSION returns 1 in R8 and the next readable field id in RDX.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.RD; facts tdx-module.md §2.1 (leaf 34), §10.3',
    covers: [ok(L.TDH_SYS_RD)],
    run() {
      const p = probe(initialised(), L.TDH_SYS_RD, { fieldId: field('MAJOR_VERSION') });
      expectProbe(p, { rax: S.TDX_SUCCESS, r8: 1n, rdx: field('UPDATE_VERSION') });
    },
  },
  {
    name: 'sys-rd-unknown-field',
    behaviour: 'TDH.SYS.RD of a field id no field has fails with TDX_METADATA_FIELD_ID_INCORRECT, R8 = 0 and RDX = the null id.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.RD; facts tdx-module.md §3.2 class 0x0C, ecosystem.md §7 item 7',
    covers: [fails(L.TDH_SYS_RD)],
    run() {
      const p = probe(initialised(), L.TDH_SYS_RD, { fieldId: field('MAJOR_VERSION') + 77n });
      // The module reports this code without an operand id (md_read_element).
      expectProbe(p, { rax: S.TDX_METADATA_FIELD_ID_INCORRECT, r8: 0n, rdx: NULL_FIELD_ID });
    },
  },
  {
    name: 'sys-rdall',
    behaviour: 'TDH.SYS.RDALL writes a metadata list starting at the requested field and returns the next field id in R8.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.RDALL, md_list_header_t; facts tdx-module.md §2.1 (leaf 37)',
    covers: [ok(L.TDH_SYS_RDALL)],
    run() {
      const m = initialised();
      const list = m.page();
      const p = probe(m, L.TDH_SYS_RDALL, { list, fieldId: NULL_FIELD_ID });
      expectProbe(p, { rax: S.TDX_SUCCESS, r8: NULL_FIELD_ID });
      const header = MD_LIST_HEADER.decode(m.read(list, MD_LIST_HEADER.size));
      expectValue(header.num_sequences > 0, true, 'RDALL list header: at least one sequence');
    },
  },
  {
    name: 'sys-rdall-misaligned',
    behaviour: 'TDH.SYS.RDALL with a list address that is not 4K-aligned fails with OPERAND_INVALID|RDX and R8 = the null id.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.RDALL; facts tdx-module.md §2.1 (leaf 37)',
    covers: [fails(L.TDH_SYS_RDALL)],
    run() {
      const m = initialised();
      const p = probe(m, L.TDH_SYS_RDALL, { list: m.page() + 8n, fieldId: NULL_FIELD_ID });
      expectProbe(p, { rax: invalid(OperandId.RDX), r8: NULL_FIELD_ID });
    },
  },
  {
    name: 'sys-config',
    behaviour: 'TDH.SYS.CONFIG with valid TDMRs and a private global KeyID succeeds once every LP is initialised.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.CONFIG; facts tdx-module.md §4.1 step 3, §5.1',
    covers: [ok(L.TDH_SYS_CONFIG)],
    run() {
      const m = initialised();
      const { array, count } = m.tdmrInfoArray();
      expectProbe(probe(m, L.TDH_SYS_CONFIG, { tdmrArray: array, tdmrCount: count, globalHkid: BigInt(m.globalKeyId) }), { rax: S.TDX_SUCCESS });
    },
  },
  {
    name: 'sys-config-lps-pending',
    behaviour: 'TDH.SYS.CONFIG before every LP ran TDH.SYS.LP.INIT fails with TDX_SYS_CONFIG_NOT_PENDING.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.CONFIG; facts tdx-module.md §4.1 step 3',
    covers: [fails(L.TDH_SYS_CONFIG)],
    run() {
      const m = Machine.raw();
      m.call(L.TDH_SYS_INIT, { attributes: 0n });
      m.call(L.TDH_SYS_LP_INIT);
      const { array, count } = m.tdmrInfoArray();
      expectProbe(probe(m, L.TDH_SYS_CONFIG, { tdmrArray: array, tdmrCount: count, globalHkid: BigInt(m.globalKeyId) }), { rax: S.TDX_SYS_CONFIG_NOT_PENDING });
    },
  },
  {
    name: 'sys-config-count',
    behaviour: 'TDH.SYS.CONFIG with zero TDMRs fails with OPERAND_INVALID|RDX.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.CONFIG (RDX = 1..64); facts tdx-module.md §2.1 (leaf 45)',
    covers: [fails(L.TDH_SYS_CONFIG)],
    run() {
      const m = initialised();
      const { array } = m.tdmrInfoArray();
      expectProbe(probe(m, L.TDH_SYS_CONFIG, { tdmrArray: array, tdmrCount: 0n, globalHkid: BigInt(m.globalKeyId) }), { rax: invalid(OperandId.RDX) });
    },
  },
  {
    name: 'sys-config-shared-keyid',
    behaviour: 'TDH.SYS.CONFIG with an MKTME (shared) KeyID as the global private KeyID fails with OPERAND_INVALID|R8.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.CONFIG; facts tdx-module.md §2.1 (leaf 45)',
    covers: [fails(L.TDH_SYS_CONFIG)],
    run() {
      const m = initialised();
      const { array, count } = m.tdmrInfoArray();
      expectProbe(probe(m, L.TDH_SYS_CONFIG, { tdmrArray: array, tdmrCount: count, globalHkid: 1n }), { rax: invalid(OperandId.R8) });
    },
  },
  {
    name: 'sys-key-config',
    behaviour: 'TDH.SYS.KEY.CONFIG succeeds on a package after SYS.CONFIG; repeating it on that package while another is pending returns the warning TDX_KEY_CONFIGURED.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.KEY.CONFIG; facts tdx-module.md §4.1 step 4',
    covers: [ok(L.TDH_SYS_KEY_CONFIG), fails(L.TDH_SYS_KEY_CONFIG)],
    run() {
      const m = Machine.raw({ packages: 2, lpsPerPackage: 2 });
      m.initModule();
      m.configure();
      expectProbe(probe(m, L.TDH_SYS_KEY_CONFIG), { rax: S.TDX_SUCCESS }, 'first KEY.CONFIG on package 0');
      expectProbe(probe(m, L.TDH_SYS_KEY_CONFIG, {}, { lp: 1 }), { rax: S.TDX_KEY_CONFIGURED }, 'KEY.CONFIG again on package 0 (LP 1)');
    },
  },
  {
    name: 'sys-key-config-after-ready',
    behaviour: 'Once every package has its key (SYS_READY), TDH.SYS.KEY.CONFIG fails with TDX_SYS_KEY_CONFIG_NOT_PENDING.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.KEY.CONFIG; facts tdx-module.md §4.1 step 4',
    covers: [fails(L.TDH_SYS_KEY_CONFIG)],
    run() {
      expectProbe(probe(ready(), L.TDH_SYS_KEY_CONFIG, {}, { lp: 1 }), { rax: S.TDX_SYS_KEY_CONFIG_NOT_PENDING });
    },
  },
  {
    name: 'sys-key-config-before-config',
    behaviour: 'TDH.SYS.KEY.CONFIG before TDH.SYS.CONFIG fails with TDX_SYS_KEY_CONFIG_NOT_PENDING.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.KEY.CONFIG; facts tdx-module.md §4.1 step 4',
    covers: [fails(L.TDH_SYS_KEY_CONFIG)],
    run() {
      expectProbe(probe(initialised(), L.TDH_SYS_KEY_CONFIG), { rax: S.TDX_SYS_KEY_CONFIG_NOT_PENDING });
    },
  },
  {
    name: 'sys-ready-per-package',
    behaviour: 'On a two-package platform, TD leaves stay TDX_SYS_NOT_READY until TDH.SYS.KEY.CONFIG has run on both packages.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.KEY.CONFIG; facts tdx-module.md §1 (SEAMCALL gating), §4.1 step 4',
    covers: [ok(L.TDH_SYS_KEY_CONFIG)],
    run() {
      const m = Machine.raw({ packages: 2, lpsPerPackage: 1 });
      m.initModule();
      m.configure();
      m.call(L.TDH_SYS_KEY_CONFIG, {}, { lp: 0 });
      expectProbe(probe(m, L.TDH_MNG_CREATE, { tdr: m.page(), hkid: BigInt(m.globalKeyId + 1) }), { rax: S.TDX_SYS_NOT_READY }, 'MNG.CREATE after one package');
      expectValue(m.call(L.TDH_SYS_KEY_CONFIG, {}, { lp: 1 }).status, S.TDX_SUCCESS, 'KEY.CONFIG on package 1');
      const r = m.call(L.TDH_SYS_TDMR_INIT, { tdmrBase: m.plan.tdmrs[0]!.base });
      expectValue(r.status, S.TDX_SUCCESS, 'TDMR.INIT once SYS_READY');
    },
  },
  {
    name: 'sys-not-ready',
    behaviour: 'Before SYS_READY a leaf outside the bring-up set fails with TDX_SYS_NOT_READY and writes no register.',
    spec: 'TDX module 1.5 ABI, SEAMCALL dispatcher; facts tdx-module.md §1 (SEAMCALL gating by module state)',
    covers: [fails(L.TDH_MNG_CREATE), fails(L.TDH_SYS_TDMR_INIT)],
    run() {
      const m = initialised();
      expectProbe(probe(m, L.TDH_MNG_CREATE, { tdr: m.page(), hkid: BigInt(m.globalKeyId + 1) }), { rax: S.TDX_SYS_NOT_READY });
      const t = probe(m, L.TDH_SYS_TDMR_INIT, { tdmrBase: m.plan.tdmrs[0]!.base });
      // The dispatcher refuses before the leaf runs, so even its output RDX is untouched.
      expectProbe(t, { rax: S.TDX_SYS_NOT_READY, rdx: t.before.get('RDX') });
    },
  },
  {
    name: 'tdmr-init',
    behaviour: 'TDH.SYS.TDMR.INIT initialises the TDMR 4 MB at a time, returning the next address rounded down to 1 GB, then TDX_TDMR_ALREADY_INITIALIZED.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.TDMR.INIT; facts tdx-module.md §4.1 step 5',
    covers: [ok(L.TDH_SYS_TDMR_INIT), fails(L.TDH_SYS_TDMR_INIT)],
    run() {
      const m = ready();
      const t = m.plan.tdmrs[0]!;
      const first = probe(m, L.TDH_SYS_TDMR_INIT, { tdmrBase: t.base });
      expectProbe(first, { rax: S.TDX_SUCCESS, rdx: t.base }, 'first chunk');
      let calls = 1;
      let last = first;
      while (last.status === S.TDX_SUCCESS && last.after.get('RDX') < t.base + t.size && calls < 1024) {
        last = probe(m, L.TDH_SYS_TDMR_INIT, { tdmrBase: t.base });
        calls++;
      }
      expectRegs(last.after, { rax: S.TDX_SUCCESS, rdx: (t.base + t.size) & ~(SIZE_1G - 1n) }, { what: 'last chunk' });
      expectValue(calls, Number(t.size / (4n << 20n)), 'TDMR.INIT calls for the whole TDMR (one per 4 MB)');
      expectProbe(probe(m, L.TDH_SYS_TDMR_INIT, { tdmrBase: t.base }), { rax: S.TDX_TDMR_ALREADY_INITIALIZED, rdx: 0n }, 'after completion');
    },
  },
  {
    name: 'tdmr-init-bad-base',
    behaviour: 'TDH.SYS.TDMR.INIT with an address that is not a configured TDMR base fails with OPERAND_INVALID|RCX and RDX = 0.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.TDMR.INIT; facts tdx-module.md §4.1 step 5',
    covers: [fails(L.TDH_SYS_TDMR_INIT)],
    run() {
      const m = ready();
      expectProbe(probe(m, L.TDH_SYS_TDMR_INIT, { tdmrBase: m.plan.tdmrs[0]!.base + SIZE_1G * 7n }), { rax: invalid(OperandId.RCX), rdx: 0n });
    },
  },
  {
    name: 'lp-shutdown',
    behaviour: 'TDH.SYS.LP.SHUTDOWN (deprecated) succeeds and writes no register.',
    spec: 'TDX module 1.5 ABI, TDH.SYS.LP.SHUTDOWN; facts tdx-module.md §2.1 (leaf 44)',
    covers: [ok(L.TDH_SYS_LP_SHUTDOWN)],
    run() {
      expectProbe(probe(initialised(), L.TDH_SYS_LP_SHUTDOWN), { rax: S.TDX_SUCCESS });
    },
  },
  {
    name: 'lp-shutdown-version',
    behaviour: 'TDH.SYS.LP.SHUTDOWN with version 1 fails with OPERAND_INVALID|RAX: only a few leaves have a version 1.',
    spec: 'TDX module 1.5 ABI, SEAMCALL dispatcher (leaf versions); facts tdx-module.md §1 (SEAMCALL versions)',
    covers: [fails(L.TDH_SYS_LP_SHUTDOWN)],
    run() {
      expectProbe(probe(initialised(), L.TDH_SYS_LP_SHUTDOWN, {}, { version: 1 }), { rax: invalid(OperandId.RAX) });
    },
  },
  {
    name: 'dispatch-reserved-rax',
    behaviour: 'A SEAMCALL with RAX bits 63:24 set fails with OPERAND_INVALID|RAX before any leaf runs.',
    spec: 'TDX module 1.5 ABI, tdx_leaf_and_version_t; facts tdx-module.md §1 (RAX on input)',
    covers: [],
    run() {
      const m = initialised();
      const regs = sentinelRegs();
      regs.set('RAX', LEAF_WORD.encode({ leaf: L.TDH_SYS_RD.number, version: 0 }) | (1n << 40n));
      const before = regs.clone();
      const after = m.lp(0).seamcall(regs);
      expectRegs(after, { rax: invalid(OperandId.RAX), rcx: before.get('RCX'), rdx: before.get('RDX'), r8: before.get('R8') });
    },
  },
  {
    name: 'dispatch-unknown-leaf',
    behaviour: 'TDH.MEM.SEPT.WR (leaf 42, defined but never dispatched) fails with OPERAND_INVALID|RAX.',
    spec: 'TDX module 1.5 ABI, SEAMCALL dispatcher; facts tdx-module.md §2.1 (leaf 42)',
    covers: [],
    run() {
      const m = Machine.up();
      expectProbe(probe(m, L.TDH_MEM_SEPT_WR), { rax: invalid(OperandId.RAX) });
    },
  },
  {
    name: 'seamcall-instruction-failures',
    behaviour: 'SEAMCALL outside VMX root operation is #UD, with SEAM disabled #GP, and with no module loaded VMfailInvalid; each is a software status that never collides with a module status.',
    spec: 'Intel SDM SEAMCALL; Linux asm/shared/tdx_errno.h TDX_SEAMCALL_*; facts linux-tdx.md §3.2, tdx-module.md §12',
    covers: [],
    run() {
      const m = Machine.raw();
      const lp = m.lp(0);
      lp.vmxRoot = false;
      expectValue(m.call(L.TDH_SYS_INIT, { attributes: 0n }).status, TdxSoftwareStatus.TDX_SEAMCALL_UD, 'RAX outside VMX root', (v) => `0x${v.toString(16)}`);
      lp.vmxRoot = true;
      lp.seamEnabled = false;
      expectValue(m.call(L.TDH_SYS_INIT, { attributes: 0n }).status, TdxSoftwareStatus.TDX_SEAMCALL_GP, 'RAX with SEAM disabled', (v) => `0x${v.toString(16)}`);
      lp.seamEnabled = true;
      m.platform.seamModule = undefined;
      expectValue(m.call(L.TDH_SYS_INIT, { attributes: 0n }).status, TdxSoftwareStatus.TDX_SEAMCALL_VMFAILINVALID, 'RAX with no module', (v) => `0x${v.toString(16)}`);
    },
  },
]);
