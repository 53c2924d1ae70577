/**
 * TD build and measurement: TDR, TDCS and TDVPS creation, TD_PARAMS validation, initial private
 * pages, and MRTD — recomputed here from the build steps alone and compared with what the module
 * reports (facts tdx-module.md §4.3–4.5, §5.2, §7.1, §10.1).
 */
import { SeamcallLeaf } from '../../abi/seamcall-leaves.ts';
import { OperandId, TdxStatus, withOperand } from '../../abi/status.ts';
import { TDCS_BASE_PAGES, TDCS_MAX_PAGES, OpState } from '../../abi/lifecycle.ts';
import { TD_PARAMS } from '../../abi/td-params.ts';
import { PAGE_SIZE } from '../../abi/pamt.ts';
import { SeptLevel, SEPTE_FREE_REPORTED } from '../../abi/sept.ts';
import { SEPT_ENTRY_INFO } from '../../abi/operands.ts';
import { SeptState } from '../../abi/sept.ts';
import { leBytes } from '../../platform/guest-cpu.ts';
import { fails, moduleCases, ok } from '../case.ts';
import { asStatus, expectValue } from '../expect.ts';
import { Machine } from '../machine.ts';
import { MrtdRecipe } from '../mrtd.ts';
import { expectProbe, probe } from '../probe.ts';
import { gpaLevel, must, RawTd } from '../raw-td.ts';
import { field } from './fields.ts';

const L = SeamcallLeaf;
const S = TdxStatus;
const invalid = (op: number) => withOperand(S.TDX_OPERAND_INVALID, op);
/** A private GPA inside guest RAM used for build pages. */
const GPA = 2n << 20n;

/** MNG.RD of a TD-scope field (setup: must succeed). */
function mngRd(m: Machine, tdr: bigint, name: string, offset = 0): bigint {
  return must(m, L.TDH_MNG_RD, { tdr, fieldId: field(name, offset) }, `reading ${name}`).outputs.value;
}

/** MRTD (48 bytes) as the module reports it through TDH.MNG.RD. */
export function readMrtd(m: Machine, tdr: bigint): Uint8Array {
  const out = new Uint8Array(48);
  for (let i = 0; i < 6; i++) out.set(leBytes(mngRd(m, tdr, 'MRTD', i), 8), 8 * i);
  return out;
}

/** The SEPT error outputs of a walk that stopped at a FREE entry of `level` (RCX = SVE only). */
function freeEntryAt(level: number): { rcx: bigint; rdx: bigint } {
  return { rcx: SEPTE_FREE_REPORTED, rdx: SEPT_ENTRY_INFO.encode({ level, state: SeptState.FREE }) };
}

export const TD_BUILD_CASES = moduleCases('td-build', 'module', [
  {
    name: 'mng-create',
    behaviour: 'TDH.MNG.CREATE with a free page inside a TDMR and a free private HKID succeeds and turns the page into a TDR.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.CREATE; facts tdx-module.md §5.2 step 1, §4.6',
    covers: [ok(L.TDH_MNG_CREATE), ok(L.TDH_PHYMEM_PAGE_RDMD)],
    run() {
      const m = Machine.up();
      const tdr = m.page();
      const hkid = m.tdx.hkids.alloc();
      expectProbe(probe(m, L.TDH_MNG_CREATE, { tdr, hkid: BigInt(hkid) }), { rax: S.TDX_SUCCESS });
      const md = probe(m, L.TDH_PHYMEM_PAGE_RDMD, { page: tdr });
      // PT_TDR = 4, owner 0 for the TDR itself, 4K, BEPOCH 0, R10 = R11 = 0.
      expectProbe(md, { rax: S.TDX_SUCCESS, rcx: 4n, rdx: 0n, r8: 0n, r9: 0n, r10: 0n, r11: 0n }, 'TDH.PHYMEM.PAGE.RDMD of the TDR');
    },
  },
  {
    name: 'mng-create-shared-hkid',
    behaviour: 'TDH.MNG.CREATE with an MKTME (shared) KeyID fails with OPERAND_INVALID|RDX.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.CREATE; facts tdx-module.md §5.2 step 1',
    covers: [fails(L.TDH_MNG_CREATE)],
    run() {
      const m = Machine.up();
      expectProbe(probe(m, L.TDH_MNG_CREATE, { tdr: m.page(), hkid: 1n }), { rax: invalid(OperandId.RDX) });
    },
  },
  {
    name: 'mng-create-hkid-in-use',
    behaviour: "TDH.MNG.CREATE with another TD's HKID fails with TDX_HKID_NOT_FREE.",
    spec: 'TDX module 1.5 ABI, TDH.MNG.CREATE, KOT; facts tdx-module.md §4.2',
    covers: [fails(L.TDH_MNG_CREATE)],
    run() {
      const m = Machine.up();
      const td = RawTd.create(m);
      expectProbe(probe(m, L.TDH_MNG_CREATE, { tdr: m.page(), hkid: BigInt(td.hkid) }), { rax: S.TDX_HKID_NOT_FREE });
    },
  },
  {
    name: 'mng-create-page-in-use',
    behaviour: 'TDH.MNG.CREATE on a page that is already a TDR fails with PAGE_METADATA_INCORRECT|RCX.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.CREATE; facts tdx-module.md §5.2 step 1',
    covers: [fails(L.TDH_MNG_CREATE)],
    run() {
      const m = Machine.up();
      const td = RawTd.create(m);
      expectProbe(probe(m, L.TDH_MNG_CREATE, { tdr: td.tdr, hkid: BigInt(m.tdx.hkids.alloc()) }), { rax: withOperand(S.TDX_PAGE_METADATA_INCORRECT, OperandId.RCX) });
    },
  },
  {
    name: 'mng-create-outside-tdmr',
    behaviour: 'TDH.MNG.CREATE on a page outside every TDMR fails with OPERAND_ADDR_RANGE_ERROR|RCX.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.CREATE; facts tdx-module.md §5.2 step 1',
    covers: [fails(L.TDH_MNG_CREATE)],
    run() {
      const m = Machine.up();
      const t = m.plan.tdmrs[m.plan.tdmrs.length - 1]!;
      expectProbe(probe(m, L.TDH_MNG_CREATE, { tdr: t.base + t.size, hkid: BigInt(m.tdx.hkids.alloc()) }), { rax: withOperand(S.TDX_OPERAND_ADDR_RANGE_ERROR, OperandId.RCX) });
    },
  },
  {
    name: 'mng-key-config',
    behaviour: 'TDH.MNG.KEY.CONFIG succeeds once per package; repeating it on a package before the last is configured returns the warning TDX_KEY_CONFIGURED.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.KEY.CONFIG; facts tdx-module.md §4.3',
    covers: [ok(L.TDH_MNG_KEY_CONFIG), fails(L.TDH_MNG_KEY_CONFIG)],
    run() {
      const m = Machine.up({ packages: 2, lpsPerPackage: 1 });
      const td = RawTd.create(m);
      expectProbe(probe(m, L.TDH_MNG_KEY_CONFIG, { tdr: td.tdr }, { lp: 0 }), { rax: S.TDX_SUCCESS }, 'package 0');
      expectProbe(probe(m, L.TDH_MNG_KEY_CONFIG, { tdr: td.tdr }, { lp: 0 }), { rax: S.TDX_KEY_CONFIGURED }, 'package 0 again');
      expectProbe(probe(m, L.TDH_MNG_KEY_CONFIG, { tdr: td.tdr }, { lp: 1 }), { rax: S.TDX_SUCCESS }, 'package 1');
      // KEYS_CONFIGURED now: the TDCS may be added.
      expectValue(m.call(L.TDH_MNG_ADDCX, { page: m.page(), tdr: td.tdr }).status, S.TDX_SUCCESS, 'TDH.MNG.ADDCX once every package has the key', asStatus);
    },
  },
  {
    name: 'mng-key-config-lifecycle',
    behaviour: 'TDH.MNG.KEY.CONFIG after the keys are configured on every package fails with TDX_LIFECYCLE_STATE_INCORRECT.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.KEY.CONFIG; facts tdx-module.md §4.3',
    covers: [fails(L.TDH_MNG_KEY_CONFIG)],
    run() {
      const m = Machine.up();
      const td = RawTd.create(m);
      td.configureKeys();
      expectProbe(probe(m, L.TDH_MNG_KEY_CONFIG, { tdr: td.tdr }), { rax: S.TDX_LIFECYCLE_STATE_INCORRECT });
    },
  },
  {
    name: 'mng-addcx',
    behaviour: 'TDH.MNG.ADDCX adds TDCS pages once the keys are configured, typing each page PT_TDCX owned by the TDR.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.ADDCX; facts tdx-module.md §5.2 step 3, §4.6',
    covers: [ok(L.TDH_MNG_ADDCX)],
    run() {
      const m = Machine.up();
      const td = RawTd.create(m);
      td.configureKeys();
      const page = m.page();
      expectProbe(probe(m, L.TDH_MNG_ADDCX, { page, tdr: td.tdr }), { rax: S.TDX_SUCCESS });
      expectProbe(probe(m, L.TDH_PHYMEM_PAGE_RDMD, { page }), { rax: S.TDX_SUCCESS, rcx: 5n, rdx: td.tdr, r8: 0n, r9: 0n, r10: 0n, r11: 0n }, 'RDMD of the TDCX page (PT_TDCX = 5)');
    },
  },
  {
    name: 'mng-addcx-keys-not-configured',
    behaviour: 'TDH.MNG.ADDCX before TDH.MNG.KEY.CONFIG fails with TDX_TD_KEYS_NOT_CONFIGURED.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.ADDCX; facts tdx-module.md §5.2 step 3',
    covers: [fails(L.TDH_MNG_ADDCX)],
    run() {
      const m = Machine.up();
      const td = RawTd.create(m);
      expectProbe(probe(m, L.TDH_MNG_ADDCX, { page: m.page(), tdr: td.tdr }), { rax: S.TDX_TD_KEYS_NOT_CONFIGURED });
    },
  },
  {
    name: 'mng-addcx-too-many',
    behaviour: 'A TDCS page beyond the maximum of 9 fails with TDX_TDCX_NUM_INCORRECT.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.ADDCX; facts tdx-module.md §5.2 step 3, §10.3 (page counts)',
    covers: [fails(L.TDH_MNG_ADDCX)],
    run() {
      const m = Machine.up();
      const td = RawTd.create(m);
      td.configureKeys();
      td.addTdcs(TDCS_MAX_PAGES);
      expectProbe(probe(m, L.TDH_MNG_ADDCX, { page: m.page(), tdr: td.tdr }), { rax: S.TDX_TDCX_NUM_INCORRECT });
    },
  },
  {
    name: 'mng-init',
    behaviour: 'TDH.MNG.INIT with valid TD_PARAMS succeeds, writes RCX = 0, and the TD reads back ATTRIBUTES, MAX_VCPUS and OP_STATE INITIALIZED.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.INIT, TD_PARAMS; facts tdx-module.md §5.2 step 4, §10.1',
    covers: [ok(L.TDH_MNG_INIT)],
    run() {
      const m = Machine.up();
      const td = RawTd.uninitialized(m);
      const params = td.tdParams({ maxVcpus: 3 });
      const pa = m.page();
      m.write(pa, params);
      expectProbe(probe(m, L.TDH_MNG_INIT, { tdr: td.tdr, tdParams: pa }), { rax: S.TDX_SUCCESS, rcx: 0n });
      expectValue(mngRd(m, td.tdr, 'ATTRIBUTES'), TD_PARAMS.read(params, 'attributes'), 'ATTRIBUTES');
      expectValue(mngRd(m, td.tdr, 'MAX_VCPUS'), 3n, 'MAX_VCPUS');
      expectValue(mngRd(m, td.tdr, 'OP_STATE'), BigInt(OpState.INITIALIZED), 'OP_STATE');
    },
  },
  {
    name: 'mng-init-max-vcpus',
    behaviour: 'TD_PARAMS with MAX_VCPUS = 0 fails with OPERAND_INVALID and the MAX_VCPUS operand id (68).',
    spec: 'TDX module 1.5 ABI, TDH.MNG.INIT, TD_PARAMS.MAX_VCPUS; facts tdx-module.md §10.1, §3.3',
    covers: [fails(L.TDH_MNG_INIT)],
    run() {
      const m = Machine.up();
      const td = RawTd.uninitialized(m);
      expectValue(td.init({ maxVcpus: 0 }).status, invalid(OperandId.MAX_VCPUS), 'RAX');
    },
  },
  {
    name: 'mng-init-attributes',
    behaviour: 'TD_PARAMS with an ATTRIBUTES bit outside ATTRIBUTES_FIXED0 fails with OPERAND_INVALID|ATTRIBUTES (64).',
    spec: 'TDX module 1.5 ABI, TDH.MNG.INIT, TD_PARAMS.ATTRIBUTES; facts tdx-module.md §10.1',
    covers: [fails(L.TDH_MNG_INIT)],
    run() {
      const m = Machine.up();
      const td = RawTd.uninitialized(m);
      const bytes = td.tdParams();
      TD_PARAMS.write(bytes, 'attributes', TD_PARAMS.read(bytes, 'attributes') | (1n << 1n));
      expectValue(td.init(bytes).status, invalid(OperandId.ATTRIBUTES), 'RAX');
    },
  },
  {
    name: 'mng-init-eptp',
    behaviour: 'TD_PARAMS with an EPTP_CONTROLS value other than 4- or 5-level WB fails with OPERAND_INVALID|EPTP_CONTROLS (67).',
    spec: 'TDX module 1.5 ABI, TDH.MNG.INIT, TD_PARAMS.EPTP_CONTROLS; facts tdx-module.md §10.1',
    covers: [fails(L.TDH_MNG_INIT)],
    run() {
      const m = Machine.up();
      const td = RawTd.uninitialized(m);
      const bytes = td.tdParams();
      TD_PARAMS.write(bytes, 'eptp_controls', 0n);
      expectValue(td.init(bytes).status, invalid(OperandId.EPTP_CONTROLS), 'RAX');
    },
  },
  {
    name: 'mng-init-tsc-frequency',
    behaviour: 'TD_PARAMS with TSC_FREQUENCY below 4 (100 MHz) fails with OPERAND_INVALID|TSC_FREQUENCY (70).',
    spec: 'TDX module 1.5 ABI, TDH.MNG.INIT, TD_PARAMS.TSC_FREQUENCY; facts tdx-module.md §10.1',
    covers: [fails(L.TDH_MNG_INIT)],
    run() {
      const m = Machine.up();
      const td = RawTd.uninitialized(m);
      const bytes = td.tdParams();
      TD_PARAMS.write(bytes, 'tsc_frequency', 3);
      expectValue(td.init(bytes).status, invalid(OperandId.TSC_FREQUENCY), 'RAX');
    },
  },
  {
    name: 'mng-init-misaligned-params',
    behaviour: 'TDH.MNG.INIT with a TD_PARAMS address that is not 1024-aligned fails with OPERAND_INVALID|RDX.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.INIT; facts tdx-module.md §2.1 (leaf 21)',
    covers: [fails(L.TDH_MNG_INIT)],
    run() {
      const m = Machine.up();
      const td = RawTd.uninitialized(m);
      const pa = m.page();
      m.write(pa + 512n, td.tdParams().subarray(0, 512));
      expectProbe(probe(m, L.TDH_MNG_INIT, { tdr: td.tdr, tdParams: pa + 512n }), { rax: invalid(OperandId.RDX), rcx: 0n });
    },
  },
  {
    name: 'mng-init-tdcs-missing',
    behaviour: 'TDH.MNG.INIT with fewer than 6 TDCS pages fails with TDX_TDCS_NOT_ALLOCATED.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.INIT (check_td_in_correct_build_state); facts tdx-module.md §4.3',
    covers: [fails(L.TDH_MNG_INIT)],
    run() {
      const m = Machine.up();
      const td = RawTd.create(m);
      td.configureKeys();
      td.addTdcs(TDCS_BASE_PAGES - 1);
      expectValue(td.init().status, S.TDX_TDCS_NOT_ALLOCATED, 'RAX');
    },
  },
  {
    name: 'vp-create',
    behaviour: 'TDH.VP.CREATE on an INITIALIZED TD succeeds and turns the page into a TDVPR owned by the TDR.',
    spec: 'TDX module 1.5 ABI, TDH.VP.CREATE; facts tdx-module.md §4.5, §4.6',
    covers: [ok(L.TDH_VP_CREATE)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const tdvpr = m.page();
      expectProbe(probe(m, L.TDH_VP_CREATE, { tdvpr, tdr: td.tdr }), { rax: S.TDX_SUCCESS });
      expectProbe(probe(m, L.TDH_PHYMEM_PAGE_RDMD, { page: tdvpr }), { rax: S.TDX_SUCCESS, rcx: 6n, rdx: td.tdr, r8: 0n, r9: 0n, r10: 0n, r11: 0n }, 'RDMD of the TDVPR (PT_TDVPR = 6)');
    },
  },
  {
    name: 'vp-create-uninitialized',
    behaviour: 'TDH.VP.CREATE before TDH.MNG.INIT fails with TDX_OP_STATE_INCORRECT.',
    spec: 'TDX module 1.5 ABI, TDH.VP.CREATE (OP_STATE INITIALIZED); facts tdx-module.md §4.4',
    covers: [fails(L.TDH_VP_CREATE)],
    run() {
      const m = Machine.up();
      const td = RawTd.uninitialized(m);
      expectProbe(probe(m, L.TDH_VP_CREATE, { tdvpr: m.page(), tdr: td.tdr }), { rax: S.TDX_OP_STATE_INCORRECT });
    },
  },
  {
    name: 'vp-addcx',
    behaviour: 'TDH.VP.ADDCX adds a TDVPS page to an uninitialised vCPU (PT_TDCX in 1.5).',
    spec: 'TDX module 1.5 ABI, TDH.VP.ADDCX; facts tdx-module.md §4.5, §4.6',
    covers: [ok(L.TDH_VP_ADDCX)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const tdvpr = m.page();
      must(m, L.TDH_VP_CREATE, { tdvpr, tdr: td.tdr }, 'creating the vCPU');
      const page = m.page();
      expectProbe(probe(m, L.TDH_VP_ADDCX, { page, tdvpr }), { rax: S.TDX_SUCCESS });
      expectProbe(probe(m, L.TDH_PHYMEM_PAGE_RDMD, { page }), { rax: S.TDX_SUCCESS, rcx: 5n, rdx: td.tdr, r8: 0n, r9: 0n, r10: 0n, r11: 0n }, 'RDMD of the TDVPS page');
    },
  },
  {
    name: 'vp-addcx-after-init',
    behaviour: 'TDH.VP.ADDCX on an initialised vCPU fails with TDX_VCPU_STATE_INCORRECT.',
    spec: 'TDX module 1.5 ABI, TDH.VP.ADDCX; facts tdx-module.md §4.5',
    covers: [fails(L.TDH_VP_ADDCX)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const v = td.addVcpu();
      expectProbe(probe(m, L.TDH_VP_ADDCX, { page: m.page(), tdvpr: v.tdvpr }), { rax: S.TDX_VCPU_STATE_INCORRECT });
    },
  },
  {
    name: 'vp-init',
    behaviour: 'TDH.VP.INIT with all TDVPS pages initialises the vCPU: VCPU_INDEX 0, associated with the calling LP, NUM_VCPUS 1.',
    spec: 'TDX module 1.5 ABI, TDH.VP.INIT; facts tdx-module.md §4.5',
    covers: [ok(L.TDH_VP_INIT)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m, { maxVcpus: 2 });
      const tdvpr = m.page();
      must(m, L.TDH_VP_CREATE, { tdvpr, tdr: td.tdr }, 'creating the vCPU', { lp: 1 });
      for (let i = 1; i < 6; i++) must(m, L.TDH_VP_ADDCX, { page: m.page(), tdvpr }, 'adding TDVPS pages', { lp: 1 });
      expectProbe(probe(m, L.TDH_VP_INIT, { tdvpr, initialRcx: 0n }, { lp: 1 }), { rax: S.TDX_SUCCESS });
      const rd = (name: string) => must(m, L.TDH_VP_RD, { tdvpr, fieldId: field(name) }, `reading ${name}`, { lp: 1 }).outputs.value;
      expectValue(rd('VCPU_INDEX'), 0n, 'VCPU_INDEX');
      expectValue(rd('ASSOC_LPID'), 1n, 'ASSOC_LPID');
      expectValue(mngRd(m, td.tdr, 'NUM_VCPUS'), 1n, 'NUM_VCPUS');
    },
  },
  {
    name: 'vp-init-pages-missing',
    behaviour: 'TDH.VP.INIT before all TDVPS pages are added fails with TDX_TDCX_NUM_INCORRECT.',
    spec: 'TDX module 1.5 ABI, TDH.VP.INIT; facts tdx-module.md §5.2 step 5',
    covers: [fails(L.TDH_VP_INIT)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const tdvpr = m.page();
      must(m, L.TDH_VP_CREATE, { tdvpr, tdr: td.tdr }, 'creating the vCPU');
      expectProbe(probe(m, L.TDH_VP_INIT, { tdvpr, initialRcx: 0n }), { rax: S.TDX_TDCX_NUM_INCORRECT });
    },
  },
  {
    name: 'vp-init-max-vcpus',
    behaviour: 'Initialising more vCPUs than MAX_VCPUS fails with TDX_MAX_VCPUS_EXCEEDED.',
    spec: 'TDX module 1.5 ABI, TDH.VP.INIT; facts tdx-module.md §4.5',
    covers: [fails(L.TDH_VP_INIT)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m, { maxVcpus: 1 });
      td.addVcpu();
      const tdvpr = m.page();
      must(m, L.TDH_VP_CREATE, { tdvpr, tdr: td.tdr }, 'creating vCPU 2');
      for (let i = 1; i < 6; i++) must(m, L.TDH_VP_ADDCX, { page: m.page(), tdvpr }, 'adding TDVPS pages');
      expectProbe(probe(m, L.TDH_VP_INIT, { tdvpr, initialRcx: 0n }), { rax: S.TDX_MAX_VCPUS_EXCEEDED });
    },
  },
  {
    name: 'page-add',
    behaviour: 'TDH.MEM.PAGE.ADD copies the source into a new private page, maps it, and returns RCX = RDX = 0.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.PAGE.ADD; facts tdx-module.md §2.1 (leaf 2), §4.7',
    covers: [ok(L.TDH_MEM_PAGE_ADD)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      td.septPath(GPA);
      const src = m.page();
      m.write(src, new TextEncoder().encode('initial image'));
      const page = m.page();
      expectProbe(probe(m, L.TDH_MEM_PAGE_ADD, { gpaLevel: gpaLevel(GPA), tdr: td.tdr, page, source: src }), { rax: S.TDX_SUCCESS, rcx: 0n, rdx: 0n });
      expectProbe(probe(m, L.TDH_PHYMEM_PAGE_RDMD, { page }), { rax: S.TDX_SUCCESS, rcx: 3n, rdx: td.tdr, r8: 0n, r9: 0n, r10: 0n, r11: 0n }, 'RDMD of the private page (PT_REG = 3)');
    },
  },
  {
    name: 'page-add-level',
    behaviour: 'TDH.MEM.PAGE.ADD with level 1 (2M) fails with OPERAND_INVALID|RCX: build pages are 4K only.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.PAGE.ADD (level must be 0); facts tdx-module.md §2.1 (leaf 2)',
    covers: [fails(L.TDH_MEM_PAGE_ADD)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      td.septPath(GPA);
      expectProbe(probe(m, L.TDH_MEM_PAGE_ADD, { gpaLevel: gpaLevel(GPA, SeptLevel.PD), tdr: td.tdr, page: m.page(), source: m.page() }), { rax: invalid(OperandId.RCX) });
    },
  },
  {
    name: 'page-add-no-sept',
    behaviour: 'TDH.MEM.PAGE.ADD where the Secure EPT has no path to the 4K level fails with TDX_EPT_WALK_FAILED|RCX, reporting the FREE entry the walk stopped at in RCX and RDX.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.PAGE.ADD, sept_entry_arch_info_t; facts tdx-module.md §2.1 (SEPT error details), §4.7',
    covers: [fails(L.TDH_MEM_PAGE_ADD)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      td.septPath(GPA, SeptLevel.PDPT);
      const p = probe(m, L.TDH_MEM_PAGE_ADD, { gpaLevel: gpaLevel(GPA), tdr: td.tdr, page: m.page(), source: m.page() });
      expectProbe(p, { rax: withOperand(S.TDX_EPT_WALK_FAILED, OperandId.RCX), ...freeEntryAt(SeptLevel.PD) });
    },
  },
  {
    name: 'page-add-twice',
    behaviour: 'TDH.MEM.PAGE.ADD at a GPA already mapped fails with TDX_EPT_ENTRY_STATE_INCORRECT|RCX, reporting the MAPPED entry.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.PAGE.ADD (allowed SEPT state FREE); facts tdx-module.md §4.7',
    covers: [fails(L.TDH_MEM_PAGE_ADD)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const first = td.addPage(GPA);
      const p = probe(m, L.TDH_MEM_PAGE_ADD, { gpaLevel: gpaLevel(GPA), tdr: td.tdr, page: m.page(), source: m.page() });
      const info = SEPT_ENTRY_INFO.encode({ level: SeptLevel.PT, state: SeptState.MAPPED });
      expectProbe(p, { rax: withOperand(S.TDX_EPT_ENTRY_STATE_INCORRECT, OperandId.RCX), rdx: info });
      expectValue(p.after.get('RCX') & (((1n << 52n) - 1n) & ~(PAGE_SIZE - 1n)), first, 'RCX: the SEPT entry maps the first page');
    },
  },
  {
    name: 'mr-extend',
    behaviour: 'TDH.MR.EXTEND of a 256-byte chunk of a mapped build page succeeds and changes MRTD exactly as the recipe says.',
    spec: 'TDX module 1.5 ABI, TDH.MR.EXTEND, TDH.MR.FINALIZE; facts tdx-module.md §7.1',
    covers: [ok(L.TDH_MR_EXTEND), ok(L.TDH_MR_FINALIZE)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const bytes = new Uint8Array(Number(PAGE_SIZE)).map((_, i) => (i * 7) & 255);
      td.addPage(GPA, bytes);
      expectProbe(probe(m, L.TDH_MR_EXTEND, { gpa: GPA + 256n, tdr: td.tdr }), { rax: S.TDX_SUCCESS });
      td.addVcpu();
      expectProbe(probe(m, L.TDH_MR_FINALIZE, { tdr: td.tdr }), { rax: S.TDX_SUCCESS });
      const want = new MrtdRecipe().pageAdd(GPA).extend(GPA + 256n, bytes.subarray(256, 512)).finalize();
      expectValue(readMrtd(m, td.tdr), want, 'MRTD');
    },
  },
  {
    name: 'mr-extend-misaligned',
    behaviour: 'TDH.MR.EXTEND with a GPA that is not 256-byte aligned fails with OPERAND_INVALID|RCX.',
    spec: 'TDX module 1.5 ABI, TDH.MR.EXTEND; facts tdx-module.md §2.1 (leaf 16)',
    covers: [fails(L.TDH_MR_EXTEND)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      td.addPage(GPA);
      expectProbe(probe(m, L.TDH_MR_EXTEND, { gpa: GPA + 128n, tdr: td.tdr }), { rax: invalid(OperandId.RCX) });
    },
  },
  {
    name: 'mr-extend-not-mapped',
    behaviour: 'TDH.MR.EXTEND of a GPA with no mapped page fails with TDX_EPT_ENTRY_NOT_PRESENT.',
    spec: 'TDX module 1.5 ABI, TDH.MR.EXTEND; facts tdx-module.md §4.7 (MR.EXTEND)',
    covers: [fails(L.TDH_MR_EXTEND)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      td.septPath(GPA);
      const p = probe(m, L.TDH_MR_EXTEND, { gpa: GPA, tdr: td.tdr });
      expectValue(p.status >> 32n, S.TDX_EPT_ENTRY_NOT_PRESENT >> 32n, 'RAX bits 63:32 (TDX_EPT_ENTRY_NOT_PRESENT)', (v) => `0x${v.toString(16)}`);
    },
  },
  {
    name: 'mr-finalize-no-vcpus',
    behaviour: 'TDH.MR.FINALIZE of a TD with no initialised vCPU fails with TDX_NO_VCPUS.',
    spec: 'TDX module 1.5 ABI, TDH.MR.FINALIZE; facts tdx-module.md §5.2 step 8',
    covers: [fails(L.TDH_MR_FINALIZE)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      expectProbe(probe(m, L.TDH_MR_FINALIZE, { tdr: td.tdr }), { rax: S.TDX_NO_VCPUS });
    },
  },
  {
    name: 'mr-finalize-twice',
    behaviour: 'After TDH.MR.FINALIZE the TD is RUNNABLE: build leaves (PAGE.ADD, MR.EXTEND, MR.FINALIZE, VP.CREATE) fail with TDX_OP_STATE_INCORRECT.',
    spec: 'TDX module 1.5 ABI, OP_STATE lookup; facts tdx-module.md §4.4',
    covers: [fails(L.TDH_MR_FINALIZE), fails(L.TDH_MR_EXTEND), fails(L.TDH_MEM_PAGE_ADD), fails(L.TDH_VP_CREATE)],
    run() {
      const m = Machine.up();
      const td = RawTd.runnable(m);
      expectValue(mngRd(m, td.tdr, 'OP_STATE'), BigInt(OpState.RUNNABLE), 'OP_STATE');
      expectProbe(probe(m, L.TDH_MR_FINALIZE, { tdr: td.tdr }), { rax: S.TDX_OP_STATE_INCORRECT }, 'MR.FINALIZE');
      expectProbe(probe(m, L.TDH_MR_EXTEND, { gpa: td.pages.keys().next().value!, tdr: td.tdr }), { rax: S.TDX_OP_STATE_INCORRECT }, 'MR.EXTEND');
      td.septPath(GPA);
      expectProbe(probe(m, L.TDH_MEM_PAGE_ADD, { gpaLevel: gpaLevel(GPA), tdr: td.tdr, page: m.page(), source: m.page() }), { rax: S.TDX_OP_STATE_INCORRECT }, 'PAGE.ADD');
      expectProbe(probe(m, L.TDH_VP_CREATE, { tdvpr: m.page(), tdr: td.tdr }), { rax: S.TDX_OP_STATE_INCORRECT }, 'VP.CREATE');
    },
  },
  {
    name: 'mrtd-recomputed',
    behaviour: 'MRTD of a TD with measured and unmeasured build pages equals the SHA-384 recomputed from the build steps alone.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.PAGE.ADD/TDH.MR.EXTEND/TDH.MR.FINALIZE; facts tdx-module.md §7.1',
    covers: [ok(L.TDH_MEM_PAGE_ADD), ok(L.TDH_MR_EXTEND), ok(L.TDH_MR_FINALIZE)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const recipe = new MrtdRecipe();
      const image = [GPA, GPA + PAGE_SIZE, GPA + (5n << 20n)].map((gpa, i) => ({ gpa, bytes: new Uint8Array(Number(PAGE_SIZE)).fill(i + 1), measure: i !== 1 }));
      for (const p of image) {
        td.addPage(p.gpa, p.bytes, p.measure);
        if (p.measure) recipe.measuredPage(p.gpa, p.bytes);
        else recipe.pageAdd(p.gpa);
      }
      td.addVcpu();
      must(m, L.TDH_MR_FINALIZE, { tdr: td.tdr }, 'finalizing');
      expectValue(readMrtd(m, td.tdr), recipe.finalize(), 'MRTD');
    },
  },
]);
