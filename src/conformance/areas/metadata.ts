/**
 * Metadata access by the host: TDH.MNG.RD/WR (TD scope) and TDH.VP.RD/WR (vCPU scope) — the
 * field id checks, the write mask, the version-1 next-field output, and what the output
 * registers hold on error (R8 = 0; ecosystem.md §7 item 7 reports a module that got this wrong).
 * Facts tdx-module.md §2.1 (leaves 11, 13, 26, 43), §10.3.
 */
import { SeamcallLeaf } from '../../abi/seamcall-leaves.ts';
import { OperandId, TdxStatus, withOperand } from '../../abi/status.ts';
import { U64_MASK } from '../../abi/bitfield.ts';
import { HP_LOCK_TIMEOUT_DEFAULT_US, HP_LOCK_TIMEOUT_MIN_US } from '../../abi/td-config.ts';
import { fails, moduleCases, ok } from '../case.ts';
import { expectValue } from '../expect.ts';
import { Machine } from '../machine.ts';
import { expectProbe, probe } from '../probe.ts';
import { RawTd } from '../raw-td.ts';
import { field, NULL_FIELD_ID } from './fields.ts';

const L = SeamcallLeaf;
const S = TdxStatus;

/** A valid new host-priority lock timeout: 2 s, within 10 ms..100 s (facts tdx-module.md §1, TDCALL). */
const HP_TIMEOUT_NEW = HP_LOCK_TIMEOUT_DEFAULT_US * 2n;

export const METADATA_CASES = moduleCases('metadata', 'module', [
  {
    name: 'mng-rd',
    behaviour: 'TDH.MNG.RD of MAX_VCPUS returns the TD_PARAMS value in R8; version 0 leaves RDX as it was.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.RD; facts tdx-module.md §2.1 (leaf 11)',
    covers: [ok(L.TDH_MNG_RD)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m, { maxVcpus: 4 });
      const p = probe(m, L.TDH_MNG_RD, { tdr: td.tdr, fieldId: field('MAX_VCPUS') });
      expectProbe(p, { rax: S.TDX_SUCCESS, r8: 4n, rdx: field('MAX_VCPUS') });
    },
  },
  {
    name: 'mng-rd-v1-next',
    behaviour: 'TDH.MNG.RD version 1 of MRTD element 0 returns the element in R8 and the id of MRTD element 1 in RDX.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.RD version 1; facts tdx-module.md §1 (SEAMCALL versions), §10.3',
    covers: [ok(L.TDH_MNG_RD)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const p = probe(m, L.TDH_MNG_RD, { tdr: td.tdr, fieldId: field('MRTD') }, { version: 1 });
      expectValue(p.status, S.TDX_SUCCESS, 'RAX');
      expectValue(p.after.get('RDX'), field('MRTD', 1), 'RDX (next field id)');
    },
  },
  {
    name: 'mng-rd-unknown-field',
    behaviour: 'TDH.MNG.RD of a field id no TD field has fails with TDX_METADATA_FIELD_ID_INCORRECT and R8 = 0.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.RD; facts tdx-module.md §3.2 class 0x0C',
    covers: [fails(L.TDH_MNG_RD)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const p = probe(m, L.TDH_MNG_RD, { tdr: td.tdr, fieldId: field('MAX_VCPUS') + 99n });
      expectProbe(p, { rax: S.TDX_METADATA_FIELD_ID_INCORRECT, r8: 0n });
    },
  },
  {
    name: 'mng-rd-before-init',
    behaviour: 'TDH.MNG.RD of a TD whose OP_STATE is UNINITIALIZED fails with TDX_OP_STATE_INCORRECT and R8 = 0.',
    spec: 'TDX module 1.5 ABI, OP_STATE lookup (MNG.RD: every state but UNINIT); facts tdx-module.md §4.4',
    covers: [fails(L.TDH_MNG_RD)],
    run() {
      const m = Machine.up();
      const td = RawTd.uninitialized(m);
      expectProbe(probe(m, L.TDH_MNG_RD, { tdr: td.tdr, fieldId: field('MAX_VCPUS') }), { rax: S.TDX_OP_STATE_INCORRECT, r8: 0n });
    },
  },
  {
    name: 'mng-wr',
    behaviour: 'TDH.MNG.WR of HP_LOCK_TIMEOUT with a full mask writes the new value and returns the old one in R8.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.WR; facts tdx-module.md §2.1 (leaf 13), §1 (HP_LOCK_TIMEOUT)',
    covers: [ok(L.TDH_MNG_WR)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const old = m.call(L.TDH_MNG_RD, { tdr: td.tdr, fieldId: field('HP_LOCK_TIMEOUT') }).outputs.value;
      const p = probe(m, L.TDH_MNG_WR, { tdr: td.tdr, fieldId: field('HP_LOCK_TIMEOUT'), value: HP_TIMEOUT_NEW, mask: U64_MASK });
      expectProbe(p, { rax: S.TDX_SUCCESS, r8: old });
      expectValue(m.call(L.TDH_MNG_RD, { tdr: td.tdr, fieldId: field('HP_LOCK_TIMEOUT') }).outputs.value, HP_TIMEOUT_NEW, 'HP_LOCK_TIMEOUT read back');
    },
  },
  {
    name: 'mng-wr-read-only',
    behaviour: 'TDH.MNG.WR of a read-only field (ATTRIBUTES) fails with TDX_METADATA_FIELD_NOT_WRITABLE, R8 = 0, and the field keeps its value.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.WR; facts tdx-module.md §3.2 class 0x0C, ecosystem.md §7 item 7',
    covers: [fails(L.TDH_MNG_WR)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const before = m.call(L.TDH_MNG_RD, { tdr: td.tdr, fieldId: field('ATTRIBUTES') }).outputs.value;
      const p = probe(m, L.TDH_MNG_WR, { tdr: td.tdr, fieldId: field('ATTRIBUTES'), value: 1n, mask: U64_MASK });
      expectProbe(p, { rax: S.TDX_METADATA_FIELD_NOT_WRITABLE, r8: 0n });
      expectValue(m.call(L.TDH_MNG_RD, { tdr: td.tdr, fieldId: field('ATTRIBUTES') }).outputs.value, before, 'ATTRIBUTES after the refused write');
    },
  },
  {
    name: 'mng-wr-value-invalid',
    behaviour: 'TDH.MNG.WR of HP_LOCK_TIMEOUT below its 10 ms minimum fails with TDX_METADATA_FIELD_VALUE_NOT_VALID, R8 = 0, and the field keeps its value.',
    spec: 'TDX module 1.5 ABI, TDH.MNG.WR, TDCS.HP_LOCK_TIMEOUT range; facts tdx-module.md §1 (TDCALL host priority)',
    covers: [fails(L.TDH_MNG_WR)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const before = m.call(L.TDH_MNG_RD, { tdr: td.tdr, fieldId: field('HP_LOCK_TIMEOUT') }).outputs.value;
      const p = probe(m, L.TDH_MNG_WR, { tdr: td.tdr, fieldId: field('HP_LOCK_TIMEOUT'), value: HP_LOCK_TIMEOUT_MIN_US - 1n, mask: U64_MASK });
      expectProbe(p, { rax: S.TDX_METADATA_FIELD_VALUE_NOT_VALID, r8: 0n });
      expectValue(m.call(L.TDH_MNG_RD, { tdr: td.tdr, fieldId: field('HP_LOCK_TIMEOUT') }).outputs.value, before, 'HP_LOCK_TIMEOUT after the refused write');
    },
  },
  {
    name: 'vp-rd',
    behaviour: 'TDH.VP.RD of VCPU_INDEX on the associated LP returns the index in R8.',
    spec: 'TDX module 1.5 ABI, TDH.VP.RD; facts tdx-module.md §2.1 (leaf 26), §10.3',
    covers: [ok(L.TDH_VP_RD)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m, { maxVcpus: 2 });
      td.addVcpu(0);
      const v = td.addVcpu(1);
      expectProbe(probe(m, L.TDH_VP_RD, { tdvpr: v.tdvpr, fieldId: field('VCPU_INDEX') }, { lp: 1 }), { rax: S.TDX_SUCCESS, r8: 1n, rdx: field('VCPU_INDEX') });
    },
  },
  {
    name: 'vp-rd-not-readable',
    behaviour: 'TDH.VP.RD of VCPU_STATE (readable only for a debug TD) fails with TDX_METADATA_FIELD_NOT_READABLE and R8 = 0.',
    spec: 'TDX module 1.5 ABI, TDH.VP.RD, field access rights; facts tdx-module.md §3.2 class 0x0C, §10.3',
    covers: [fails(L.TDH_VP_RD)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const v = td.addVcpu();
      expectProbe(probe(m, L.TDH_VP_RD, { tdvpr: v.tdvpr, fieldId: field('VCPU_STATE') }), { rax: S.TDX_METADATA_FIELD_NOT_READABLE, r8: 0n });
    },
  },
  {
    name: 'vp-wr',
    behaviour: 'TDH.VP.WR of PEND_NMI with mask 1 sets it and returns the old value 0 in R8.',
    spec: 'TDX module 1.5 ABI, TDH.VP.WR; facts tdx-module.md §2.1 (leaf 43), linux-tdx.md §4.5',
    covers: [ok(L.TDH_VP_WR)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const v = td.addVcpu();
      expectProbe(probe(m, L.TDH_VP_WR, { tdvpr: v.tdvpr, fieldId: field('PEND_NMI'), value: 1n, mask: 1n }), { rax: S.TDX_SUCCESS, r8: 0n });
      expectValue(m.call(L.TDH_VP_RD, { tdvpr: v.tdvpr, fieldId: field('PEND_NMI') }).outputs.value, 1n, 'PEND_NMI read back');
    },
  },
  {
    name: 'vp-wr-read-only',
    behaviour: 'TDH.VP.WR of VCPU_INDEX (read-only) fails with TDX_METADATA_FIELD_NOT_WRITABLE and R8 = 0.',
    spec: 'TDX module 1.5 ABI, TDH.VP.WR; facts tdx-module.md §3.2 class 0x0C, ecosystem.md §7 item 7',
    covers: [fails(L.TDH_VP_WR)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const v = td.addVcpu();
      expectProbe(probe(m, L.TDH_VP_WR, { tdvpr: v.tdvpr, fieldId: field('VCPU_INDEX'), value: 5n, mask: U64_MASK }), { rax: S.TDX_METADATA_FIELD_NOT_WRITABLE, r8: 0n });
    },
  },
  {
    name: 'vp-rd-wrong-page',
    behaviour: 'TDH.VP.RD with a TDR (not a TDVPR) in RCX fails with PAGE_METADATA_INCORRECT|RCX and R8 = 0.',
    spec: 'TDX module 1.5 ABI, TDH.VP.RD (TDVPR PAMT check); facts tdx-module.md §6.1 step 3',
    covers: [fails(L.TDH_VP_RD)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      td.addVcpu();
      expectProbe(probe(m, L.TDH_VP_RD, { tdvpr: td.tdr, fieldId: field('VCPU_INDEX') }), { rax: withOperand(S.TDX_PAGE_METADATA_INCORRECT, OperandId.RCX), r8: 0n });
    },
  },
  {
    name: 'sys-rd-first-field',
    behaviour: 'TDH.SYS.RD of the null field id returns TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT with the first global field id in RDX and R8 = 0.',
    spec: 'TDX module 1.5 tdh_sys_rd (null field id); facts tdx-module.md §10.3, ecosystem.md §7 item 7',
    covers: [ok(L.TDH_SYS_RD)],
    run() {
      const m = Machine.up();
      expectProbe(probe(m, L.TDH_SYS_RD, { fieldId: NULL_FIELD_ID }), { rax: S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT, rdx: field('VENDOR_ID'), r8: 0n });
    },
  },
]);
