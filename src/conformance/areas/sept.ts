/**
 * The Secure EPT and private pages at run time: SEPT.ADD/RD/REMOVE, PAGE.AUG, RANGE.BLOCK,
 * MEM.TRACK, RANGE.UNBLOCK and PAGE.REMOVE — the allowed-state table, the BLOCK + TRACK rule for
 * a runnable TD, and the SEPT error details in RCX/RDX (facts tdx-module.md §2.1 "SEPT error
 * details", §4.7, §5.3). Every leaf here zeroes RCX and RDX first and fills them with the
 * architectural entry and its level/state when the error is about an entry.
 */
import { SeamcallLeaf } from '../../abi/seamcall-leaves.ts';
import { OperandId, TdxStatus, withOperand } from '../../abi/status.ts';
import { SEPT_ENTRY_INFO } from '../../abi/operands.ts';
import { SeptLevel, SeptState, SepteBit, SEPTE_FREE_REPORTED, SEPTE_MEMTYPE_WB } from '../../abi/sept.ts';
import { PamtPageType } from '../../abi/pamt.ts';
import { SEPTE_PERMISSIONS_MASK } from '../../abi/sept-state.ts';
import { fails, moduleCases, ok } from '../case.ts';
import { Machine } from '../machine.ts';
import { expectProbe, probe } from '../probe.ts';
import { gpaLevel, must, RawTd } from '../raw-td.ts';

const L = SeamcallLeaf;
const S = TdxStatus;
const invalid = (op: number) => withOperand(S.TDX_OPERAND_INVALID, op);
const bit = (b: number) => 1n << BigInt(b);
/** A private GPA with no page yet (guest RAM, below the boot page). */
const GPA = 3n << 20n;

/** RDX of an entry error: level and public state (`sept_entry_arch_info_t`). */
const info = (level: number, state: number) => SEPT_ENTRY_INFO.encode({ level, state });
/**
 * What the host sees of a 4K leaf mapping `hpa` (SEPT_ARCH_ENTRY_LEAF_MASK): the permissions
 * (R, W, X and XU together; none while PENDING or BLOCKED), memory type WB, IPAT, PS, and SVE —
 * the module keeps suppress-#VE set in every private entry (sept_set_leaf, sept_update_state).
 */
const leafEntry = (hpa: bigint, rwx: boolean) =>
  hpa | (rwx ? SEPTE_PERMISSIONS_MASK : 0n) | (SEPTE_MEMTYPE_WB << BigInt(SepteBit.MT0)) | bit(SepteBit.IPAT) | bit(SepteBit.PS) | bit(SepteBit.SVE);
/** What the host sees of a present non-leaf entry: the permissions only (the next table stays hidden). */
const nonLeafEntry = SEPTE_PERMISSIONS_MASK;

/** A runnable TD with a page AUGed (PENDING) at GPA. */
function withPendingPage(): { m: Machine; td: RawTd; page: bigint } {
  const m = Machine.up();
  const td = RawTd.runnable(m);
  td.septPath(GPA);
  const page = m.page();
  must(m, L.TDH_MEM_PAGE_AUG, { gpaLevel: gpaLevel(GPA), tdr: td.tdr, page }, 'augmenting the page');
  return { m, td, page };
}

/** A runnable TD with a build page (MAPPED) at GPA, then blocked. */
function withBlockedPage(track: boolean): { m: Machine; td: RawTd; page: bigint } {
  const m = Machine.up();
  const td = RawTd.initialized(m);
  const page = td.addPage(GPA);
  td.addVcpu();
  must(m, L.TDH_MR_FINALIZE, { tdr: td.tdr }, 'finalizing');
  must(m, L.TDH_MEM_RANGE_BLOCK, { gpaLevel: gpaLevel(GPA), tdr: td.tdr }, 'blocking');
  if (track) must(m, L.TDH_MEM_TRACK, { tdr: td.tdr }, 'tracking');
  return { m, td, page };
}

export const SEPT_CASES = moduleCases('sept', 'module', [
  {
    name: 'sept-add',
    behaviour: 'TDH.MEM.SEPT.ADD at the PML4 level adds a page-directory-pointer table: RCX = RDX = 0, the entry reads back NL_MAPPED and the page becomes PT_EPT.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.SEPT.ADD, TDH.MEM.SEPT.RD; facts tdx-module.md §4.7, §5.2 step 6',
    covers: [ok(L.TDH_MEM_SEPT_ADD), ok(L.TDH_MEM_SEPT_RD)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const page = m.page();
      expectProbe(probe(m, L.TDH_MEM_SEPT_ADD, { gpaLevel: gpaLevel(0n, SeptLevel.PML4), tdrFlags: td.tdr, page }), { rax: S.TDX_SUCCESS, rcx: 0n, rdx: 0n });
      expectProbe(probe(m, L.TDH_MEM_SEPT_RD, { gpaLevel: gpaLevel(0n, SeptLevel.PML4), tdr: td.tdr }), { rax: S.TDX_SUCCESS, rcx: nonLeafEntry, rdx: info(SeptLevel.PML4, SeptState.NL_MAPPED) }, 'TDH.MEM.SEPT.RD');
      expectProbe(probe(m, L.TDH_PHYMEM_PAGE_RDMD, { page }), { rax: S.TDX_SUCCESS, rcx: BigInt(PamtPageType.PT_EPT), rdx: td.tdr, r8: 0n, r9: 0n, r10: 0n, r11: 0n }, 'RDMD of the S-EPT page');
    },
  },
  {
    name: 'sept-add-level-0',
    behaviour: 'TDH.MEM.SEPT.ADD at level 0 (there is no 4K table below a 4K leaf) fails with OPERAND_INVALID|RCX and RCX = RDX = 0.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.SEPT.ADD (level 1..EPT_PWL); facts tdx-module.md §2.1 (leaf 3), §4.7',
    covers: [fails(L.TDH_MEM_SEPT_ADD)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      expectProbe(probe(m, L.TDH_MEM_SEPT_ADD, { gpaLevel: gpaLevel(GPA, SeptLevel.PT), tdrFlags: td.tdr, page: m.page() }), { rax: invalid(OperandId.RCX), rcx: 0n, rdx: 0n });
    },
  },
  {
    name: 'sept-add-exists',
    behaviour: 'TDH.MEM.SEPT.ADD where the entry is already NL_MAPPED (without ALLOW_EXISTING) fails with TDX_EPT_ENTRY_STATE_INCORRECT|RCX, reporting the entry.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.SEPT.ADD (allowed state FREE); facts tdx-module.md §4.7',
    covers: [fails(L.TDH_MEM_SEPT_ADD)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      td.septPath(GPA);
      const p = probe(m, L.TDH_MEM_SEPT_ADD, { gpaLevel: gpaLevel(0n, SeptLevel.PML4), tdrFlags: td.tdr, page: m.page() });
      expectProbe(p, { rax: withOperand(S.TDX_EPT_ENTRY_STATE_INCORRECT, OperandId.RCX), rcx: nonLeafEntry, rdx: info(SeptLevel.PML4, SeptState.NL_MAPPED) });
    },
  },
  {
    name: 'sept-add-page-in-use',
    behaviour: 'TDH.MEM.SEPT.ADD with a new-table page that is not free (a TDCS page) fails with PAGE_METADATA_INCORRECT|R8.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.SEPT.ADD; facts tdx-module.md §9.2 (target page PAMT)',
    covers: [fails(L.TDH_MEM_SEPT_ADD)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const p = probe(m, L.TDH_MEM_SEPT_ADD, { gpaLevel: gpaLevel(0n, SeptLevel.PML4), tdrFlags: td.tdr, page: td.tdcs[0]! });
      expectProbe(p, { rax: withOperand(S.TDX_PAGE_METADATA_INCORRECT, OperandId.R8), rcx: 0n, rdx: 0n });
    },
  },
  {
    name: 'sept-rd-leaf',
    behaviour: 'TDH.MEM.SEPT.RD of a mapped 4K page returns the architectural leaf entry (HPA, RWX, WB, IPAT, PS) in RCX and level 0, state MAPPED in RDX.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.SEPT.RD, SEPT_ARCH_ENTRY_LEAF_MASK; facts tdx-module.md §2.1 (leaf 25), §4.7',
    covers: [ok(L.TDH_MEM_SEPT_RD)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const page = td.addPage(GPA);
      expectProbe(probe(m, L.TDH_MEM_SEPT_RD, { gpaLevel: gpaLevel(GPA), tdr: td.tdr }), { rax: S.TDX_SUCCESS, rcx: leafEntry(page, true), rdx: info(SeptLevel.PT, SeptState.MAPPED) });
    },
  },
  {
    name: 'sept-rd-bad-level',
    behaviour: 'TDH.MEM.SEPT.RD with a level above the TD\'s EPT levels fails with OPERAND_INVALID|RCX and RCX = RDX = 0.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.SEPT.RD (verify_page_info_input); facts tdx-module.md §2.1 (GPA/level operand)',
    covers: [fails(L.TDH_MEM_SEPT_RD)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      expectProbe(probe(m, L.TDH_MEM_SEPT_RD, { gpaLevel: gpaLevel(0n, SeptLevel.PML5), tdr: td.tdr }), { rax: invalid(OperandId.RCX), rcx: 0n, rdx: 0n });
    },
  },
  {
    name: 'page-aug',
    behaviour: 'TDH.MEM.PAGE.AUG on a runnable TD adds the page PENDING (no permissions until the guest accepts it): RCX = RDX = 0 and SEPT.RD shows PENDING.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.PAGE.AUG; facts tdx-module.md §4.7 (PAGE.AUG), §5.2 step 9',
    covers: [ok(L.TDH_MEM_PAGE_AUG)],
    run() {
      const m = Machine.up();
      const td = RawTd.runnable(m);
      td.septPath(GPA);
      const page = m.page();
      expectProbe(probe(m, L.TDH_MEM_PAGE_AUG, { gpaLevel: gpaLevel(GPA), tdr: td.tdr, page }), { rax: S.TDX_SUCCESS, rcx: 0n, rdx: 0n });
      expectProbe(probe(m, L.TDH_MEM_SEPT_RD, { gpaLevel: gpaLevel(GPA), tdr: td.tdr }), { rax: S.TDX_SUCCESS, rcx: leafEntry(page, false), rdx: info(SeptLevel.PT, SeptState.PENDING) }, 'TDH.MEM.SEPT.RD');
    },
  },
  {
    name: 'page-aug-not-free',
    behaviour: 'TDH.MEM.PAGE.AUG at a GPA that is already PENDING fails with TDX_EPT_ENTRY_STATE_INCORRECT|RCX, reporting the entry.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.PAGE.AUG (allowed states FREE, REMOVED); facts tdx-module.md §4.7',
    covers: [fails(L.TDH_MEM_PAGE_AUG)],
    run() {
      const { m, td, page } = withPendingPage();
      const p = probe(m, L.TDH_MEM_PAGE_AUG, { gpaLevel: gpaLevel(GPA), tdr: td.tdr, page: m.page() });
      expectProbe(p, { rax: withOperand(S.TDX_EPT_ENTRY_STATE_INCORRECT, OperandId.RCX), rcx: leafEntry(page, false), rdx: info(SeptLevel.PT, SeptState.PENDING) });
    },
  },
  {
    name: 'page-aug-no-sept',
    behaviour: 'TDH.MEM.PAGE.AUG with no S-EPT path to the 4K level fails with TDX_EPT_WALK_FAILED|RCX, reporting the FREE entry where the walk stopped.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.PAGE.AUG; facts tdx-module.md §2.1 (SEPT error details)',
    covers: [fails(L.TDH_MEM_PAGE_AUG)],
    run() {
      const m = Machine.up();
      const td = RawTd.runnable(m);
      const p = probe(m, L.TDH_MEM_PAGE_AUG, { gpaLevel: gpaLevel(GPA), tdr: td.tdr, page: m.page() });
      // The boot page's path covers the top of the 4 GiB range only; GPA's PDPT entry is FREE.
      expectProbe(p, { rax: withOperand(S.TDX_EPT_WALK_FAILED, OperandId.RCX), rcx: SEPTE_FREE_REPORTED, rdx: info(SeptLevel.PDPT, SeptState.FREE) });
    },
  },
  {
    name: 'range-block',
    behaviour: 'TDH.MEM.RANGE.BLOCK of a MAPPED page makes it BLOCKED with its permissions removed; RCX = RDX = 0.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.RANGE.BLOCK; facts tdx-module.md §4.7 (BLOCK transitions)',
    covers: [ok(L.TDH_MEM_RANGE_BLOCK)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const page = td.addPage(GPA);
      expectProbe(probe(m, L.TDH_MEM_RANGE_BLOCK, { gpaLevel: gpaLevel(GPA), tdr: td.tdr }), { rax: S.TDX_SUCCESS, rcx: 0n, rdx: 0n });
      expectProbe(probe(m, L.TDH_MEM_SEPT_RD, { gpaLevel: gpaLevel(GPA), tdr: td.tdr }), { rax: S.TDX_SUCCESS, rcx: leafEntry(page, false), rdx: info(SeptLevel.PT, SeptState.BLOCKED) }, 'TDH.MEM.SEPT.RD');
    },
  },
  {
    name: 'range-block-twice',
    behaviour: 'TDH.MEM.RANGE.BLOCK of an already blocked page returns the warning TDX_GPA_RANGE_ALREADY_BLOCKED|RCX with the BLOCKED entry in RCX/RDX.',
    spec: 'TDX module 1.5 ABI, tdh_mem_range_block.c; facts tdx-module.md §4.7 (notes), §3.1 (warnings)',
    covers: [fails(L.TDH_MEM_RANGE_BLOCK)],
    run() {
      const { m, td, page } = withBlockedPage(false);
      const p = probe(m, L.TDH_MEM_RANGE_BLOCK, { gpaLevel: gpaLevel(GPA), tdr: td.tdr });
      expectProbe(p, { rax: withOperand(S.TDX_GPA_RANGE_ALREADY_BLOCKED, OperandId.RCX), rcx: leafEntry(page, false), rdx: info(SeptLevel.PT, SeptState.BLOCKED) });
    },
  },
  {
    name: 'range-block-free',
    behaviour: 'TDH.MEM.RANGE.BLOCK of a FREE entry fails with TDX_EPT_ENTRY_STATE_INCORRECT|RCX, reporting the FREE entry.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.RANGE.BLOCK (allowed states); facts tdx-module.md §4.7, §11 (1.0 used EPT_ENTRY_FREE)',
    covers: [fails(L.TDH_MEM_RANGE_BLOCK)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      td.septPath(GPA);
      const p = probe(m, L.TDH_MEM_RANGE_BLOCK, { gpaLevel: gpaLevel(GPA), tdr: td.tdr });
      expectProbe(p, { rax: withOperand(S.TDX_EPT_ENTRY_STATE_INCORRECT, OperandId.RCX), rcx: SEPTE_FREE_REPORTED, rdx: info(SeptLevel.PT, SeptState.FREE) });
    },
  },
  {
    name: 'mem-track',
    behaviour: 'TDH.MEM.TRACK on a runnable TD succeeds and writes no register.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.TRACK; facts tdx-module.md §5.3',
    covers: [ok(L.TDH_MEM_TRACK)],
    run() {
      const m = Machine.up();
      const td = RawTd.runnable(m);
      expectProbe(probe(m, L.TDH_MEM_TRACK, { tdr: td.tdr }), { rax: S.TDX_SUCCESS });
    },
  },
  {
    name: 'mem-track-uninitialized',
    behaviour: 'TDH.MEM.TRACK on a TD whose OP_STATE is UNINITIALIZED fails with TDX_OP_STATE_INCORRECT.',
    spec: 'TDX module 1.5 ABI, OP_STATE lookup (MEM.TRACK); facts tdx-module.md §4.4',
    covers: [fails(L.TDH_MEM_TRACK)],
    run() {
      const m = Machine.up();
      const td = RawTd.uninitialized(m);
      expectProbe(probe(m, L.TDH_MEM_TRACK, { tdr: td.tdr }), { rax: S.TDX_OP_STATE_INCORRECT });
    },
  },
  {
    name: 'range-unblock',
    behaviour: 'TDH.MEM.RANGE.UNBLOCK after BLOCK and TRACK restores the page to MAPPED with its permissions.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.RANGE.UNBLOCK; facts tdx-module.md §4.7 (UNBLOCK), §5.3',
    covers: [ok(L.TDH_MEM_RANGE_UNBLOCK)],
    run() {
      const { m, td, page } = withBlockedPage(true);
      expectProbe(probe(m, L.TDH_MEM_RANGE_UNBLOCK, { gpaLevel: gpaLevel(GPA), tdr: td.tdr }), { rax: S.TDX_SUCCESS, rcx: 0n, rdx: 0n });
      expectProbe(probe(m, L.TDH_MEM_SEPT_RD, { gpaLevel: gpaLevel(GPA), tdr: td.tdr }), { rax: S.TDX_SUCCESS, rcx: leafEntry(page, true), rdx: info(SeptLevel.PT, SeptState.MAPPED) }, 'TDH.MEM.SEPT.RD');
    },
  },
  {
    name: 'range-unblock-not-tracked',
    behaviour: 'On a runnable TD, TDH.MEM.RANGE.UNBLOCK before TDH.MEM.TRACK fails with TDX_TLB_TRACKING_NOT_DONE|SEPT_TREE.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.RANGE.UNBLOCK; facts tdx-module.md §4.7 (TLB tracking), §5.3',
    covers: [fails(L.TDH_MEM_RANGE_UNBLOCK)],
    run() {
      const { m, td } = withBlockedPage(false);
      expectProbe(probe(m, L.TDH_MEM_RANGE_UNBLOCK, { gpaLevel: gpaLevel(GPA), tdr: td.tdr }), { rax: withOperand(S.TDX_TLB_TRACKING_NOT_DONE, OperandId.SEPT_TREE), rcx: 0n, rdx: 0n });
    },
  },
  {
    name: 'page-remove',
    behaviour: 'On a runnable TD, TDH.MEM.PAGE.REMOVE of a blocked and tracked page frees it: RCX = its HPA, RDX = 0, the entry is FREE and the page PT_NDA.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.PAGE.REMOVE; facts tdx-module.md §4.7, §5.3',
    covers: [ok(L.TDH_MEM_PAGE_REMOVE)],
    run() {
      const { m, td, page } = withBlockedPage(true);
      expectProbe(probe(m, L.TDH_MEM_PAGE_REMOVE, { gpaLevel: gpaLevel(GPA), tdr: td.tdr }), { rax: S.TDX_SUCCESS, rcx: page, rdx: 0n });
      expectProbe(probe(m, L.TDH_MEM_SEPT_RD, { gpaLevel: gpaLevel(GPA), tdr: td.tdr }), { rax: S.TDX_SUCCESS, rcx: SEPTE_FREE_REPORTED, rdx: info(SeptLevel.PT, SeptState.FREE) }, 'TDH.MEM.SEPT.RD');
      expectProbe(probe(m, L.TDH_PHYMEM_PAGE_RDMD, { page }), { rax: S.TDX_SUCCESS, rcx: BigInt(PamtPageType.PT_NDA), rdx: 0n, r8: 0n, r9: 0n, r10: 0n, r11: 0n }, 'RDMD of the removed page');
    },
  },
  {
    name: 'page-remove-not-blocked',
    behaviour: 'On a runnable TD, TDH.MEM.PAGE.REMOVE of a page that is not blocked fails with TDX_GPA_RANGE_NOT_BLOCKED|RCX, reporting the entry.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.PAGE.REMOVE; facts tdx-module.md §4.7 (TLB tracking), §5.3',
    covers: [fails(L.TDH_MEM_PAGE_REMOVE)],
    run() {
      const { m, td, page } = withPendingPage();
      const p = probe(m, L.TDH_MEM_PAGE_REMOVE, { gpaLevel: gpaLevel(GPA), tdr: td.tdr });
      expectProbe(p, { rax: withOperand(S.TDX_GPA_RANGE_NOT_BLOCKED, OperandId.RCX), rcx: leafEntry(page, false), rdx: info(SeptLevel.PT, SeptState.PENDING) });
    },
  },
  {
    name: 'page-remove-not-tracked',
    behaviour: 'On a runnable TD, TDH.MEM.PAGE.REMOVE of a blocked page before TDH.MEM.TRACK fails with TDX_TLB_TRACKING_NOT_DONE|RCX and RCX = RDX = 0.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.PAGE.REMOVE (is_tlb_tracked); facts tdx-module.md §5.3',
    covers: [fails(L.TDH_MEM_PAGE_REMOVE)],
    run() {
      const { m, td } = withBlockedPage(false);
      expectProbe(probe(m, L.TDH_MEM_PAGE_REMOVE, { gpaLevel: gpaLevel(GPA), tdr: td.tdr }), { rax: withOperand(S.TDX_TLB_TRACKING_NOT_DONE, OperandId.RCX), rcx: 0n, rdx: 0n });
    },
  },
  {
    name: 'sept-remove',
    behaviour: 'TDH.MEM.SEPT.REMOVE of an empty page table in an INITIALIZED TD returns its HPA in RCX, RDX = 0, and frees the page.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.SEPT.REMOVE; facts tdx-module.md §4.7 (SEPT.REMOVE)',
    covers: [ok(L.TDH_MEM_SEPT_REMOVE)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      td.septPath(GPA);
      const pt = td.sept.get(`${SeptLevel.PD}:${GPA >> 21n}`)!;
      expectProbe(probe(m, L.TDH_MEM_SEPT_REMOVE, { gpaLevel: gpaLevel(GPA & ~((1n << 21n) - 1n), SeptLevel.PD), tdr: td.tdr }), { rax: S.TDX_SUCCESS, rcx: pt, rdx: 0n });
      expectProbe(probe(m, L.TDH_PHYMEM_PAGE_RDMD, { page: pt }), { rax: S.TDX_SUCCESS, rcx: BigInt(PamtPageType.PT_NDA), rdx: 0n, r8: 0n, r9: 0n, r10: 0n, r11: 0n }, 'RDMD of the removed table');
    },
  },
  {
    name: 'sept-remove-not-empty',
    behaviour: 'TDH.MEM.SEPT.REMOVE of a page table that still maps a page fails with TDX_EPT_PAGE_NOT_FREE|RCX.',
    spec: 'TDX module 1.5 ABI, TDH.MEM.SEPT.REMOVE; facts tdx-module.md §4.7 (SEPT.REMOVE needs 512 FREE entries)',
    covers: [fails(L.TDH_MEM_SEPT_REMOVE)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      td.addPage(GPA);
      const p = probe(m, L.TDH_MEM_SEPT_REMOVE, { gpaLevel: gpaLevel(GPA & ~((1n << 21n) - 1n), SeptLevel.PD), tdr: td.tdr });
      expectProbe(p, { rax: withOperand(S.TDX_EPT_PAGE_NOT_FREE, OperandId.RCX), rcx: nonLeafEntry, rdx: info(SeptLevel.PD, SeptState.NL_MAPPED) });
    },
  },
]);
