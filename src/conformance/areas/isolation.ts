/**
 * Private memory isolation: what the host can and cannot see of, or do to, a TD's private
 * memory. The host reads physical memory through its own direct map (KeyID 0); a private page is
 * encrypted with the TD's key, so the host sees ciphertext, and what the host writes there does
 * not become data the TD reads. A page can belong to one TD only; a guest touching memory it has
 * not accepted stops the TD rather than running on host-chosen contents (facts tdx-module.md
 * §6.4, §8.2; linux-tdx.md §4.4).
 */
import { SeamcallLeaf } from '../../abi/seamcall-leaves.ts';
import { TdcallLeaf } from '../../abi/tdcall-leaves.ts';
import { OperandId, TdxStatus, withOperand } from '../../abi/status.ts';
import { ExtExitQualType, Vector, VmxExitReason } from '../../abi/vmx.ts';
import { EXT_EXIT_QUAL, VEINFO_R10 } from '../../abi/operands.ts';
import { KEYID_NONE } from '../../platform/memory.ts';
import { fails, moduleCases, tdCases } from '../case.ts';
import { expectThat, expectValue, asStatus } from '../expect.ts';
import { Machine } from '../machine.ts';
import { expectProbe, guestProbe, probe, type Probe } from '../probe.ts';
import { gpaLevel, RawTd } from '../raw-td.ts';
import { rawGhci } from '../guest-ops.ts';
import { recorded, SCRATCH_GPA } from '../td-run.ts';
import { TdvmcallSubfunction as Sub } from '../../abi/tdvmcall.ts';

const SECRET = new TextEncoder().encode('only the TD may read this secret');
/** A private GPA in guest RAM that no case adds at build. */
const FRESH = 12n << 20n;

/** The host page backing a private GPA of the case's TD. */
function backing(vm: { guest: { privatePages: ReadonlyMap<bigint, bigint> } }, gpa: bigint): bigint {
  const hpa = vm.guest.privatePages.get(gpa >> 12n);
  if (hpa === undefined) throw new Error(`GPA 0x${gpa.toString(16)} has no private page`);
  return hpa;
}

export const ISOLATION_TD_CASES = tdCases('isolation', 'module', [
  {
    name: 'private-page-unreadable',
    behaviour: 'What a guest writes to a private page is not what the host reads from that physical page through its direct map (KeyID 0): the host sees ciphertext.',
    spec: 'TDX private memory encryption (TD HKID); facts tdx-module.md §4.2, §5.2 (HKID), platform memory model',
    covers: [],
    *guest(cpu) {
      yield* cpu.write(SCRATCH_GPA, SECRET);
    },
    check(o) {
      const host = o.machine.platform.memory.read(backing(o.vm, SCRATCH_GPA), SECRET.length, KEYID_NONE);
      expectThat(!Buffer.from(host).equals(Buffer.from(SECRET)), 'the host read the guest\'s secret in plaintext');
    },
  },
  {
    name: 'host-write-not-trusted',
    behaviour: 'Bytes the host writes into a private page through its direct map do not become data the guest reads there.',
    spec: 'TDX memory integrity; facts tdx-module.md §6.3 (host state), platform memory model',
    covers: [],
    host: {
      vmm({ regs, vm }) {
        vm.host.platform.memory.write(backing(vm, SCRATCH_GPA), SECRET, KEYID_NONE);
        regs.set('R10', 0n);
        return 'resume';
      },
    },
    *guest(cpu, env) {
      yield* cpu.write(SCRATCH_GPA, new Uint8Array(SECRET.length));
      yield* rawGhci(cpu, Sub.GET_TD_VM_CALL_INFO.number, { R12: 0n }); // the host writes during this exit
      env.record('read', yield* cpu.read(SCRATCH_GPA, SECRET.length));
    },
    check(o) {
      expectThat(!Buffer.from(recorded<Uint8Array>(o, 'read')).equals(Buffer.from(SECRET)), 'the guest read the bytes the host wrote into its private page');
    },
  },
  {
    name: 'access-before-accept',
    behaviour: 'With SEPT #VE disabled, a guest access to a page the host added but the guest never accepted is a TD exit with extended qualification PENDING_EPT_VIOLATION, and the host stops the TD ("guest access before accepting").',
    spec: 'TDX module 1.5 td_ept_violation.c (PENDING_VE_DISABLE); KVM tdx_handle_ept_violation; facts tdx-module.md §6.4, linux-tdx.md §4.4',
    covers: [],
    *guest(cpu, env) {
      env.record('read', yield* cpu.readValue(FRESH, 8));
    },
    check(o) {
      expectValue(o.values.has('read'), false, 'the guest read the unaccepted page');
      expectValue(o.end, 'dead', 'how the run ended');
      const pending = o.exits.find((e) => e.status === BigInt(VmxExitReason.EPT_VIOLATION) && EXT_EXIT_QUAL.get(e.regs.RDX, 'type') === BigInt(ExtExitQualType.PENDING_EPT_VIOLATION));
      expectThat(pending !== undefined, `no EPT-violation exit with EEQ type PENDING_EPT_VIOLATION (exits: ${o.exits.map((e) => asStatus(e.status)).join(', ')})`);
    },
  },
  {
    name: 'sept-ve-enabled',
    behaviour: 'Without SEPT_VE_DISABLE, a guest access to a PENDING page raises #VE (exit reason EPT_VIOLATION, the GPA in VE_INFO) inside the TD instead of exiting to the host.',
    spec: 'TDX module 1.5 td_ept_violation.c; facts tdx-module.md §6.4 (EPT violation, step 2)',
    covers: [],
    td: { attributes: 0n },
    *guest(cpu, env) {
      cpu.idt.set(Vector.VE, function* (c) {
        const rip = c.rip;
        const info = yield* guestProbe(c, TdcallLeaf.TDG_VP_VEINFO_GET);
        env.record('ve', info);
        yield* guestProbe(c, TdcallLeaf.TDG_MEM_PAGE_ACCEPT, { gpaLevel: gpaLevel(FRESH) });
        c.rip = rip; // retry the load now that the page is accepted
      });
      env.record('read', yield* cpu.readValue(FRESH, 8));
    },
    check(o) {
      const ve = recorded<Probe>(o, 've').after as Record<string, bigint>;
      expectValue(ve.RCX, BigInt(VmxExitReason.EPT_VIOLATION), 'VE_INFO exit reason');
      expectValue(ve.R9, FRESH, 'VE_INFO GPA');
      expectValue(VEINFO_R10.get(ve.R10!, 'instr_len'), 0n, 'VE_INFO instruction length (undefined for EPT violations: 0)');
      expectValue(recorded<bigint>(o, 'read'), 0n, 'the load after accepting');
    },
  },
]);

export const ISOLATION_MODULE_CASES = moduleCases('isolation', 'module', [
  {
    name: 'page-owned-by-another-td',
    behaviour: "TDH.MEM.PAGE.AUG of a page that is another TD's private page fails with PAGE_METADATA_INCORRECT|R8: a physical page belongs to one TD at a time.",
    spec: 'TDX module 1.5 PAMT ownership checks; facts tdx-module.md §4.6, §9.2 (target page PAMT)',
    covers: [fails(SeamcallLeaf.TDH_MEM_PAGE_AUG)],
    run() {
      const m = Machine.up();
      const a = RawTd.runnable(m);
      const b = RawTd.runnable(m);
      b.septPath(FRESH);
      const victim = a.pages.values().next().value!;
      expectProbe(probe(m, SeamcallLeaf.TDH_MEM_PAGE_AUG, { gpaLevel: gpaLevel(FRESH), tdr: b.tdr, page: victim }), { rax: withOperand(TdxStatus.TDX_PAGE_METADATA_INCORRECT, OperandId.R8), rcx: 0n, rdx: 0n });
    },
  },
]);
