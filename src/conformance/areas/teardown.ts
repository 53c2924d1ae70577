/**
 * Teardown: TDH.VP.FLUSH, TDH.MNG.VPFLUSHDONE, TDH.PHYMEM.CACHE.WB, TDH.MNG.KEY.FREEID,
 * TDH.PHYMEM.PAGE.RECLAIM, TDH.PHYMEM.PAGE.WBINVD and TDH.MNG.KEY.RECLAIMID, each in order and out
 * of order — and the end-to-end property that matters to a host: after teardown every page the TD
 * had is back, and the PAMT says so (facts tdx-module.md §4.2, §4.3, §5.4).
 */
import { SeamcallLeaf } from '../../abi/seamcall-leaves.ts';
import { OperandId, TdxStatus, withOperand } from '../../abi/status.ts';
import { PamtPageType } from '../../abi/pamt.ts';
import { fails, moduleCases, ok, tdCases } from '../case.ts';
import { expectThat, expectValue } from '../expect.ts';
import { PAGE_SIZE } from '../../abi/pamt.ts';
import { TDCS_BASE_PAGES } from '../../abi/lifecycle.ts';
import { converting } from './memory.ts';
import { Machine } from '../machine.ts';
import { expectProbe, probe } from '../probe.ts';
import { must, RawTd } from '../raw-td.ts';

const L = SeamcallLeaf;
const S = TdxStatus;

/** A runnable TD with one vCPU (initialised on LP 0) and its boot page. */
function runnable(): { m: Machine; td: RawTd } {
  const m = Machine.up();
  return { m, td: RawTd.runnable(m) };
}

/** Flush every vCPU on its LP and VPFLUSHDONE: the TD is BLOCKED. */
function blocked(): { m: Machine; td: RawTd } {
  const { m, td } = runnable();
  for (const v of td.vcpus) must(m, L.TDH_VP_FLUSH, { tdvpr: v.tdvpr }, 'flushing the vCPU', { lp: v.lp });
  must(m, L.TDH_MNG_VPFLUSHDONE, { tdr: td.tdr }, 'VPFLUSHDONE');
  return { m, td };
}

/** CACHE.WB on every package, resumed until done (or nothing was pending). */
function writeBackCaches(m: Machine): void {
  for (const pkg of m.platform.packages) {
    let r = m.call(L.TDH_PHYMEM_CACHE_WB, { resume: 0n }, { lp: pkg.lps[0]!.id });
    while (r.status === S.TDX_INTERRUPTED_RESUMABLE) r = m.call(L.TDH_PHYMEM_CACHE_WB, { resume: 1n }, { lp: pkg.lps[0]!.id });
    if (r.status !== S.TDX_SUCCESS && r.status !== S.TDX_NO_HKID_READY_TO_WBCACHE) must(m, L.TDH_PHYMEM_CACHE_WB, { resume: 0n }, 'cache write-back');
  }
}

/** Through KEY.FREEID: the TD is in TEARDOWN and its pages can be reclaimed. */
function tornDown(): { m: Machine; td: RawTd } {
  const { m, td } = blocked();
  writeBackCaches(m);
  must(m, L.TDH_MNG_KEY_FREEID, { tdr: td.tdr }, 'KEY.FREEID');
  return { m, td };
}

/** Every page the TD owns besides the TDR, children first. */
function childPages(td: RawTd): bigint[] {
  return [...td.pages.values(), ...td.sept.values(), ...td.vcpus.flatMap((v) => [...v.tdcx, v.tdvpr]), ...td.tdcs];
}

const ndaRdmd = { rax: S.TDX_SUCCESS, rcx: BigInt(PamtPageType.PT_NDA), rdx: 0n, r8: 0n, r9: 0n, r10: 0n, r11: 0n };

export const TEARDOWN_CASES = moduleCases('teardown', 'module', [
  {
    name: 'vp-flush',
    behaviour: 'TDH.VP.FLUSH on the vCPU\'s associated LP succeeds and dissociates it, so TDH.MNG.VPFLUSHDONE then finds no associated vCPU.',
    spec: 'TDX module 1.5 ABI, TDH.VP.FLUSH; facts tdx-module.md §4.5 (association), §5.4 step 1',
    covers: [ok(L.TDH_VP_FLUSH)],
    run() {
      const { m, td } = runnable();
      const v = td.vcpus[0]!;
      expectProbe(probe(m, L.TDH_VP_FLUSH, { tdvpr: v.tdvpr }, { lp: v.lp }), { rax: S.TDX_SUCCESS });
      // (TDH.VP.RD cannot show it: reading TDVPS associates the vCPU with the reading LP again.)
      expectValue(m.call(L.TDH_MNG_VPFLUSHDONE, { tdr: td.tdr }).status, S.TDX_SUCCESS, 'TDH.MNG.VPFLUSHDONE after the flush', (x) => `0x${x.toString(16)}`);
    },
  },
  {
    name: 'vp-flush-wrong-lp',
    behaviour: 'TDH.VP.FLUSH on an LP the vCPU is not associated with fails with TDX_VCPU_NOT_ASSOCIATED.',
    spec: 'TDX module 1.5 ABI, TDH.VP.FLUSH; facts tdx-module.md §4.5 (association)',
    covers: [fails(L.TDH_VP_FLUSH)],
    run() {
      const { m, td } = runnable();
      expectProbe(probe(m, L.TDH_VP_FLUSH, { tdvpr: td.vcpus[0]!.tdvpr }, { lp: 1 }), { rax: S.TDX_VCPU_NOT_ASSOCIATED });
    },
  },
  {
    name: 'vpflushdone-not-flushed',
    behaviour: 'TDH.MNG.VPFLUSHDONE while a vCPU is still associated fails with TDX_FLUSHVP_NOT_DONE.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.VPFLUSHDONE; facts tdx-module.md §5.4 step 2',
    covers: [fails(L.TDH_MNG_VPFLUSHDONE)],
    run() {
      const { m, td } = runnable();
      expectProbe(probe(m, L.TDH_MNG_VPFLUSHDONE, { tdr: td.tdr }), { rax: S.TDX_FLUSHVP_NOT_DONE });
    },
  },
  {
    name: 'vpflushdone',
    behaviour: 'TDH.MNG.VPFLUSHDONE after every vCPU is flushed succeeds and blocks the TD: it no longer accepts TDH.VP.ENTER (TDX_TD_KEYS_NOT_CONFIGURED).',
    spec: 'TDX module 1.5 ABI, TDH.MNG.VPFLUSHDONE; facts tdx-module.md §4.3, §5.4 step 2',
    covers: [ok(L.TDH_MNG_VPFLUSHDONE), fails(L.TDH_VP_ENTER)],
    run() {
      const { m, td } = runnable();
      const v = td.vcpus[0]!;
      must(m, L.TDH_VP_FLUSH, { tdvpr: v.tdvpr }, 'flushing', { lp: v.lp });
      expectProbe(probe(m, L.TDH_MNG_VPFLUSHDONE, { tdr: td.tdr }), { rax: S.TDX_SUCCESS });
      const enter = m.call(L.TDH_VP_ENTER, { vcpu: v.tdvpr }, { lp: v.lp });
      expectValue(enter.status, S.TDX_TD_KEYS_NOT_CONFIGURED, 'RAX of TDH.VP.ENTER on the blocked TD', (x) => `0x${x.toString(16)}`);
    },
  },
  {
    name: 'cache-wb',
    behaviour: 'TDH.PHYMEM.CACHE.WB after VPFLUSHDONE completes (resuming with RCX = 1 after each TDX_INTERRUPTED_RESUMABLE) with TDX_SUCCESS.',
    spec: 'TDX module 1.5 ABI, TDH.PHYMEM.CACHE.WB; facts tdx-module.md §4.2, §5.4 step 3',
    covers: [ok(L.TDH_PHYMEM_CACHE_WB)],
    run() {
      const { m } = blocked();
      let p = probe(m, L.TDH_PHYMEM_CACHE_WB, { resume: 0n });
      let calls = 1;
      while (p.status === S.TDX_INTERRUPTED_RESUMABLE && calls < 10_000) {
        p = probe(m, L.TDH_PHYMEM_CACHE_WB, { resume: 1n });
        calls++;
      }
      expectProbe(p, { rax: S.TDX_SUCCESS });
    },
  },
  {
    name: 'cache-wb-nothing-flushed',
    behaviour: 'TDH.PHYMEM.CACHE.WB with no flushed HKID returns TDX_NO_HKID_READY_TO_WBCACHE; resuming a run that never started fails with TDX_WBCACHE_RESUME_ERROR.',
    spec: 'TDX module 1.5 ABI, TDH.PHYMEM.CACHE.WB; facts tdx-module.md §5.4 step 3',
    covers: [fails(L.TDH_PHYMEM_CACHE_WB)],
    run() {
      const { m } = runnable();
      expectProbe(probe(m, L.TDH_PHYMEM_CACHE_WB, { resume: 0n }), { rax: S.TDX_NO_HKID_READY_TO_WBCACHE }, 'start');
      expectProbe(probe(m, L.TDH_PHYMEM_CACHE_WB, { resume: 1n }), { rax: S.TDX_WBCACHE_RESUME_ERROR }, 'resume');
    },
  },
  {
    name: 'key-freeid-before-wb',
    behaviour: 'TDH.MNG.KEY.FREEID before the caches were written back on every package fails with TDX_WBCACHE_NOT_COMPLETE.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.KEY.FREEID; facts tdx-module.md §4.2',
    covers: [fails(L.TDH_MNG_KEY_FREEID)],
    run() {
      const { m, td } = blocked();
      expectProbe(probe(m, L.TDH_MNG_KEY_FREEID, { tdr: td.tdr }), { rax: S.TDX_WBCACHE_NOT_COMPLETE });
    },
  },
  {
    name: 'key-freeid-not-blocked',
    behaviour: 'TDH.MNG.KEY.FREEID of a TD that is not BLOCKED fails with TDX_LIFECYCLE_STATE_INCORRECT.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.KEY.FREEID; facts tdx-module.md §4.3, §5.4 step 4',
    covers: [fails(L.TDH_MNG_KEY_FREEID)],
    run() {
      const { m, td } = runnable();
      expectProbe(probe(m, L.TDH_MNG_KEY_FREEID, { tdr: td.tdr }), { rax: S.TDX_LIFECYCLE_STATE_INCORRECT });
    },
  },
  {
    name: 'key-freeid',
    behaviour: 'TDH.MNG.KEY.FREEID after CACHE.WB succeeds and frees the HKID: a new TD can be created with it.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.KEY.FREEID, KOT; facts tdx-module.md §4.2, §5.4 step 4',
    covers: [ok(L.TDH_MNG_KEY_FREEID)],
    run() {
      const { m, td } = blocked();
      writeBackCaches(m);
      expectProbe(probe(m, L.TDH_MNG_KEY_FREEID, { tdr: td.tdr }), { rax: S.TDX_SUCCESS });
      expectValue(m.call(L.TDH_MNG_CREATE, { tdr: m.page(), hkid: BigInt(td.hkid) }).status, S.TDX_SUCCESS, 'TDH.MNG.CREATE reusing the HKID', (x) => `0x${x.toString(16)}`);
    },
  },
  {
    name: 'page-reclaim-not-teardown',
    behaviour: 'TDH.PHYMEM.PAGE.RECLAIM of a page of a TD that is not in TEARDOWN fails with TDX_LIFECYCLE_STATE_INCORRECT, still reporting the page type, owner and size; R9–R11 = 0.',
    spec: 'TDX module 1.5 ABI, TDH.PHYMEM.PAGE.RECLAIM; facts tdx-module.md §5.4 step 5',
    covers: [fails(L.TDH_PHYMEM_PAGE_RECLAIM)],
    run() {
      const { m, td } = runnable();
      const page = td.pages.values().next().value!;
      expectProbe(probe(m, L.TDH_PHYMEM_PAGE_RECLAIM, { page }), { rax: S.TDX_LIFECYCLE_STATE_INCORRECT, rcx: BigInt(PamtPageType.PT_REG), rdx: td.tdr, r8: 0n, r9: 0n, r10: 0n, r11: 0n });
    },
  },
  {
    name: 'page-reclaim',
    behaviour: 'In TEARDOWN, TDH.PHYMEM.PAGE.RECLAIM of a private page returns its type, owner and size (R9–R11 = 0) and makes it PT_NDA.',
    spec: 'TDX module 1.5 ABI, TDH.PHYMEM.PAGE.RECLAIM; facts tdx-module.md §2.1 (leaf 28), §5.4 step 5',
    covers: [ok(L.TDH_PHYMEM_PAGE_RECLAIM)],
    run() {
      const { m, td } = tornDown();
      const page = td.pages.values().next().value!;
      expectProbe(probe(m, L.TDH_PHYMEM_PAGE_RECLAIM, { page }), { rax: S.TDX_SUCCESS, rcx: BigInt(PamtPageType.PT_REG), rdx: td.tdr, r8: 0n, r9: 0n, r10: 0n, r11: 0n });
      expectProbe(probe(m, L.TDH_PHYMEM_PAGE_RDMD, { page }), ndaRdmd, 'RDMD after reclaim');
    },
  },
  {
    name: 'page-reclaim-tdr-first',
    behaviour: 'Reclaiming the TDR while the TD still owns pages fails with TDX_TD_ASSOCIATED_PAGES_EXIST: the TDR goes last.',
    spec: 'TDX module 1.5 ABI, TDH.PHYMEM.PAGE.RECLAIM; facts tdx-module.md §5.4 step 5',
    covers: [fails(L.TDH_PHYMEM_PAGE_RECLAIM)],
    run() {
      const { m, td } = tornDown();
      expectProbe(probe(m, L.TDH_PHYMEM_PAGE_RECLAIM, { page: td.tdr }), { rax: S.TDX_TD_ASSOCIATED_PAGES_EXIST, rcx: BigInt(PamtPageType.PT_TDR), rdx: 0n, r8: 0n, r9: 0n, r10: 0n, r11: 0n });
    },
  },
  {
    name: 'page-reclaim-free-page',
    behaviour: 'TDH.PHYMEM.PAGE.RECLAIM of a free (PT_NDA) page fails with PAGE_METADATA_INCORRECT|RCX and RCX, RDX, R8–R11 = 0.',
    spec: 'TDX module 1.5 ABI, TDH.PHYMEM.PAGE.RECLAIM; facts tdx-module.md §5.4 step 5',
    covers: [fails(L.TDH_PHYMEM_PAGE_RECLAIM)],
    run() {
      const m = Machine.up();
      expectProbe(probe(m, L.TDH_PHYMEM_PAGE_RECLAIM, { page: m.page() }), { rax: withOperand(S.TDX_PAGE_METADATA_INCORRECT, OperandId.RCX), rcx: 0n, rdx: 0n, r8: 0n, r9: 0n, r10: 0n, r11: 0n });
    },
  },
  {
    name: 'page-wbinvd',
    behaviour: 'TDH.PHYMEM.PAGE.WBINVD of a reclaimed page, named with the TD\'s HKID in its upper PA bits, succeeds.',
    spec: 'TDX module 1.5 ABI, TDH.PHYMEM.PAGE.WBINVD; facts tdx-module.md §5.4 step 6',
    covers: [ok(L.TDH_PHYMEM_PAGE_WBINVD)],
    run() {
      const { m, td } = tornDown();
      const page = td.pages.values().next().value!;
      must(m, L.TDH_PHYMEM_PAGE_RECLAIM, { page }, 'reclaiming');
      expectProbe(probe(m, L.TDH_PHYMEM_PAGE_WBINVD, { page: page | (BigInt(td.hkid) << BigInt(m.platform.keyIdShift)) }), { rax: S.TDX_SUCCESS });
    },
  },
  {
    name: 'page-wbinvd-owned',
    behaviour: 'TDH.PHYMEM.PAGE.WBINVD of a page a TD still owns fails with PAGE_METADATA_INCORRECT|RCX.',
    spec: 'TDX module 1.5 ABI, TDH.PHYMEM.PAGE.WBINVD (page must be PT_NDA); facts tdx-module.md §5.4 step 6',
    covers: [fails(L.TDH_PHYMEM_PAGE_WBINVD)],
    run() {
      const { m, td } = runnable();
      const page = td.pages.values().next().value!;
      expectProbe(probe(m, L.TDH_PHYMEM_PAGE_WBINVD, { page: page | (BigInt(td.hkid) << BigInt(m.platform.keyIdShift)) }), { rax: withOperand(S.TDX_PAGE_METADATA_INCORRECT, OperandId.RCX) });
    },
  },
  {
    name: 'key-reclaimid',
    behaviour: 'TDH.MNG.KEY.RECLAIMID is a no-op in TDX 1.5: it succeeds and writes no register; with version 1 it fails with OPERAND_INVALID|RAX.',
    spec: 'TDX module 1.5 ac/tdh_mng_key_reclaimid.c; facts tdx-module.md §2.1 (leaf 27), §1 (versions)',
    covers: [ok(L.TDH_MNG_KEY_RECLAIMID), fails(L.TDH_MNG_KEY_RECLAIMID)],
    run() {
      const { m, td } = runnable();
      expectProbe(probe(m, L.TDH_MNG_KEY_RECLAIMID, { tdr: td.tdr }), { rax: S.TDX_SUCCESS }, 'version 0');
      expectProbe(probe(m, L.TDH_MNG_KEY_RECLAIMID, { tdr: td.tdr }, { version: 1 }), { rax: withOperand(S.TDX_OPERAND_INVALID, OperandId.RAX) }, 'version 1');
    },
  },
  {
    name: 'rdmd-outside-tdmr',
    behaviour: 'TDH.PHYMEM.PAGE.RDMD of an address outside every TDMR fails with OPERAND_ADDR_RANGE_ERROR|RCX and RCX, RDX, R8–R11 = 0.',
    spec: 'TDX module 1.5 ABI, TDH.PHYMEM.PAGE.RDMD; facts tdx-module.md §2.1 (leaf 24)',
    covers: [fails(L.TDH_PHYMEM_PAGE_RDMD)],
    run() {
      const m = Machine.up();
      const t = m.plan.tdmrs[m.plan.tdmrs.length - 1]!;
      expectProbe(probe(m, L.TDH_PHYMEM_PAGE_RDMD, { page: t.base + t.size }), { rax: withOperand(S.TDX_OPERAND_ADDR_RANGE_ERROR, OperandId.RCX), rcx: 0n, rdx: 0n, r8: 0n, r9: 0n, r10: 0n, r11: 0n });
    },
  },
  {
    name: 'full-teardown-pamt',
    behaviour: 'A TD torn down in the documented order gives back every page: each child page and then the TDR reclaim successfully and read PT_NDA afterwards.',
    spec: 'TDX module 1.5 ABI, teardown sequence; facts tdx-module.md §5.4',
    covers: [ok(L.TDH_PHYMEM_PAGE_RECLAIM), ok(L.TDH_PHYMEM_PAGE_RDMD)],
    run() {
      const { m, td } = tornDown();
      const pages = childPages(td);
      for (const page of pages) expectValue(m.call(L.TDH_PHYMEM_PAGE_RECLAIM, { page }).status, S.TDX_SUCCESS, `reclaim of page 0x${page.toString(16)}`, (x) => `0x${x.toString(16)}`);
      expectValue(m.call(L.TDH_PHYMEM_PAGE_RECLAIM, { page: td.tdr }).status, S.TDX_SUCCESS, 'reclaim of the TDR', (x) => `0x${x.toString(16)}`);
      for (const page of [...pages, td.tdr]) expectProbe(probe(m, L.TDH_PHYMEM_PAGE_RDMD, { page }), ndaRdmd, `RDMD of 0x${page.toString(16)}`);
    },
  },
]);

/** Private GPAs the guest of the host-teardown case accepts (and partly converts to shared). */
const RAM = 14n << 20n;

export const TEARDOWN_TD_CASES = tdCases('teardown', 'module', [
  {
    name: 'host-teardown-reclaims-everything',
    behaviour: "Destroying a TD that ran (accepted private memory, converted some to shared) reclaims every page it owned — private, S-EPT, TDVPS, TDCS and last the TDR — leaks none, leaves each of them PT_NDA in the PAMT, and gives the host back exactly the pages it had before.",
    spec: 'KVM tdx_mmu_release_hkid, tdx_reclaim_page; facts tdx-module.md §5.4, linux-tdx.md §1.5',
    covers: [ok(L.TDH_VP_FLUSH), ok(L.TDH_MNG_VPFLUSHDONE), ok(L.TDH_PHYMEM_CACHE_WB), ok(L.TDH_MNG_KEY_FREEID), ok(L.TDH_PHYMEM_PAGE_RECLAIM), ok(L.TDH_PHYMEM_PAGE_WBINVD)],
    host: { userspace: converting() },
    *guest(cpu, env) {
      const mem = { cpu, sharedBit: env.sharedBit };
      env.record('accept', yield* env.lib.acceptMemory(mem, RAM, 4n * PAGE_SIZE));
      env.record('shared', yield* env.lib.setMemoryShared(mem, RAM, PAGE_SIZE));
    },
    check(o) {
      const { vm, machine: m } = o;
      const owned = [...vm.guest.privatePages.values(), ...vm.guest.septPages.values(), ...vm.vcpus.flatMap((v) => v.tdPages())];
      const tdr = vm.tdr;
      const report = vm.destroy();
      expectValue(report.leaked, 0, 'pages leaked');
      expectValue(report.reclaimed, owned.length + TDCS_BASE_PAGES + 1, 'pages reclaimed (private, S-EPT, vCPU, TDCS, TDR)');
      expectValue(m.tdx.memory.pagesInUse, o.hostPagesBefore, 'host pages in use after teardown (as before the TD)');
      for (const page of [...owned, tdr]) {
        const r = m.call(L.TDH_PHYMEM_PAGE_RDMD, { page });
        expectThat(r.status === S.TDX_SUCCESS && r.outputs.pageType === BigInt(PamtPageType.PT_NDA), `page 0x${page.toString(16)} is not PT_NDA after teardown (RDMD RAX 0x${r.status.toString(16)}, type ${r.outputs.pageType})`);
      }
    },
  },
]);
