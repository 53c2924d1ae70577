/**
 * vCPU entry and exit images: the guest's reset registers, what TDH.VP.ENTER hands the VMM at a
 * TDG.VP.VMCALL exit and at an asynchronous exit, what the guest gets back on resume, and the
 * entry checks (facts tdx-module.md §4.5, §6.1–6.5; linux-tdx.md §4.1).
 */
import { SeamcallLeaf } from '../../abi/seamcall-leaves.ts';
import { TdcallLeaf } from '../../abi/tdcall-leaves.ts';
import { OperandId, TdxStatus, withOperand } from '../../abi/status.ts';
import { VmxExitReason } from '../../abi/vmx.ts';
import { VP_ENTER_RCX, EPT_VIOLATION_EXIT_QUAL } from '../../abi/operands.ts';
import { GPAW_48 } from '../../abi/gpa.ts';
import { CPUID_VERSION_LEAF } from '../../abi/cpuid.ts';
import { fails, moduleCases, ok, tdCases, fail } from '../case.ts';
import { expectFields, expectRegs, expectValue, asStatus } from '../expect.ts';
import { Machine } from '../machine.ts';
import { probe } from '../probe.ts';
import { RawTd } from '../raw-td.ts';
import { exposing, rawTdcall, rawTdvmcall, type RegSnapshot } from '../guest-ops.ts';
import { sentinel } from '../sentinel.ts';
import { GPR_NAMES, type GprName } from '../../abi/registers.ts';
import { recorded } from '../td-run.ts';
import { le } from './data.ts';

const L = SeamcallLeaf;
const S = TdxStatus;
const tdcallExit = BigInt(VmxExitReason.TDCALL);
/** A private GPA inside guest RAM that no case adds at build. */
const UNMAPPED_GPA = 4n << 20n;
const INITIAL_RCX = le(0x34, 0x12) << 20n;

/** Load every GPR but RAX, RCX and RSP with its sentinel (guest side). */
function guestSentinels(): Partial<Record<GprName, bigint>> {
  const out: Partial<Record<GprName, bigint>> = {};
  for (const n of GPR_NAMES) if (n !== 'RAX' && n !== 'RCX' && n !== 'RSP') out[n] = sentinel(n);
  return out;
}

const SELECTED: GprName[] = ['RBX', 'RSI', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15'];

export const VCPU_TD_CASES = tdCases('vcpu', 'module', [
  {
    name: 'vcpu-reset-registers',
    behaviour: "After TDH.VP.INIT the guest starts with RBX = GPAW, RCX = R8 = the host's initial RCX, RDX = its CPUID(1).EAX, RSI = the vCPU index and every other GPR 0.",
    spec: 'TDX module 1.5 tdh_vp_init.c (init_vcpu_gprs_and_registers); facts tdx-module.md §6.5',
    covers: [ok(L.TDH_VP_INIT), ok(L.TDH_VP_ENTER)],
    td: { vcpu: { initialRcx: INITIAL_RCX } },
    *guest(cpu, env) {
      env.record('reset', cpu.regs.toRecord());
      env.record('cpuid1', (yield* cpu.cpuid(CPUID_VERSION_LEAF)).eax);
    },
    check(o) {
      const r = recorded<RegSnapshot>(o, 'reset');
      expectRegs(r, {
        rax: 0n, rbx: BigInt(GPAW_48), rcx: INITIAL_RCX, rdx: BigInt(recorded<number>(o, 'cpuid1')), rsi: 0n, rdi: 0n, rbp: 0n,
        r8: INITIAL_RCX, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n,
      }, { what: 'guest registers at reset' });
    },
  },
  {
    name: 'tdvmcall-exit-image',
    behaviour: "At a TDG.VP.VMCALL exit the VMM gets RAX = TDCALL (77), RCX = the guest's control word, the selected GPRs with the guest's values, every unselected GPR 0 — except RBP, which keeps the VMM's own value (NO_RBP_MOD).",
    spec: 'TDX module 1.5 tdg_vp_vmcall.c, td_exit.c; facts tdx-module.md §6.3 (TDG.VP.VMCALL), linux-tdx.md §4.1 (RBP)',
    covers: [ok(TdcallLeaf.TDG_VP_VMCALL), ok(L.TDH_VP_ENTER)],
    host: {
      vmm({ regs, index }) {
        // Give the VMM a recognisable RBP before the second exit.
        if (index === 0) regs.set('RBP', sentinel('RBP') + 1n);
        return 'resume';
      },
    },
    *guest(cpu) {
      const mask = exposing(...SELECTED);
      yield* rawTdvmcall(cpu, guestSentinels(), mask);
      yield* rawTdvmcall(cpu, guestSentinels(), mask);
    },
    check(o) {
      const exit = o.tdvmcalls[1]?.exit ?? fail('the guest did not make its second TDVMCALL');
      const want: Record<string, bigint> = { rax: tdcallExit, rcx: exposing(...SELECTED), rdx: 0n, rdi: 0n, r8: 0n, r9: 0n, rbp: sentinel('RBP') + 1n };
      for (const n of SELECTED) want[n.toLowerCase()] = sentinel(n);
      expectRegs(exit, want, { what: 'VMM registers at the TDVMCALL exit' });
    },
  },
  {
    name: 'tdvmcall-resume-image',
    behaviour: "On the TDH.VP.ENTER after a TDVMCALL the guest gets RAX = 0, its own RCX back, the VMM's values in the selected GPRs only, and keeps its own values in the others.",
    spec: 'TDX module 1.5 tdh_vp_enter.c (save_regs_after_tdvmcall); facts tdx-module.md §6.2',
    covers: [ok(TdcallLeaf.TDG_VP_VMCALL), ok(L.TDH_VP_ENTER)],
    host: {
      vmm({ regs }) {
        for (const n of ['R10', 'R11', 'R12', 'R13', 'R14', 'RDI'] as const) regs.set(n, sentinel(n) ^ 1n);
        return 'resume';
      },
    },
    *guest(cpu, env) {
      env.record('after', yield* rawTdvmcall(cpu, guestSentinels(), exposing('R12', 'R13')));
    },
    check(o) {
      const after = recorded<RegSnapshot>(o, 'after');
      const want: Record<string, bigint> = { rax: 0n, rcx: exposing('R12', 'R13'), r12: sentinel('R12') ^ 1n, r13: sentinel('R13') ^ 1n };
      for (const n of ['RDX', 'RBX', 'RBP', 'RSI', 'RDI', 'R8', 'R9', 'R10', 'R11', 'R14', 'R15'] as const) want[n.toLowerCase()] = sentinel(n);
      expectRegs(after, want, { what: 'guest registers after TDG.VP.VMCALL' });
    },
  },
  {
    name: 'tdvmcall-bad-control',
    behaviour: 'TDG.VP.VMCALL exposing RAX, RCX, RSP or (with NO_RBP_MOD) RBP, or with RCX bits 63:32 set, fails with OPERAND_INVALID|RCX and no TD exit.',
    spec: 'TDX module 1.5 tdg_vp_vmcall.c (tdvmcall_control_t); facts tdx-module.md §2.2 (leaf 0)',
    covers: [fails(TdcallLeaf.TDG_VP_VMCALL)],
    *guest(cpu, env) {
      const bad = [exposing('RAX', 'R10'), exposing('RCX', 'R10'), exposing('RSP', 'R10'), exposing('RBP', 'R10'), exposing('R10') | (1n << 32n)];
      for (const mask of bad) {
        const after = yield* rawTdcall(cpu, TdcallLeaf.TDG_VP_VMCALL.number, { RCX: mask, R10: 0n });
        env.record(`rax:${mask}`, after.RAX);
      }
    },
    check(o) {
      expectValue(o.tdvmcalls.length, 0, 'TDVMCALL exits the VMM saw');
      for (const [k, v] of o.values) {
        if (!k.startsWith('rax:')) continue;
        expectValue(v, withOperand(S.TDX_OPERAND_INVALID, OperandId.RCX), `RAX after TDG.VP.VMCALL with RCX = 0x${BigInt(k.slice(4)).toString(16)}`, asStatus);
      }
      expectValue([...o.values.keys()].filter((k) => k.startsWith('rax:')).length, 5, 'bad control words tried');
    },
  },
  {
    name: 'async-exit-image',
    behaviour: 'A guest read of a private GPA with no Secure-EPT mapping is an asynchronous TD exit: RAX = EPT_VIOLATION (48), RCX = the read qualification, R8 = the page GPA, RDX and R9 = 0, and RBX, RBP, RSI, RDI, R10–R15 all 0.',
    spec: 'TDX module 1.5 td_ept_violation.c, td_exit.c (async_tdexit_internal); facts tdx-module.md §6.3 (asynchronous exits), §6.4',
    covers: [ok(L.TDH_VP_ENTER)],
    *guest(cpu) {
      for (const [n, v] of Object.entries(guestSentinels())) cpu.regs.set(n as GprName, v);
      yield* cpu.readValue(UNMAPPED_GPA + 8n, 8);
    },
    check(o) {
      const e = o.exits.find((x) => x.status === BigInt(VmxExitReason.EPT_VIOLATION)) ?? fail(`no EPT-violation exit (exits: ${o.exits.map((x) => asStatus(x.status)).join(', ')})`);
      expectRegs(e.regs, {
        rax: BigInt(VmxExitReason.EPT_VIOLATION),
        rcx: EPT_VIOLATION_EXIT_QUAL.encode({ data_read: 1 }),
        rdx: 0n, r8: UNMAPPED_GPA, r9: 0n,
        rbx: 0n, rbp: 0n, rsi: 0n, rdi: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n,
      }, { what: 'VMM registers at the EPT-violation exit' });
    },
  },
  {
    name: 'triple-fault',
    behaviour: 'A guest that cannot handle an exception triple-faults: TD exit TDX_NON_RECOVERABLE_VCPU | TRIPLE_FAULT, KVM_EXIT_SHUTDOWN, and the vCPU cannot be entered again (TDX_VCPU_STATE_INCORRECT).',
    spec: 'TDX module 1.5 td_exit.c; facts tdx-module.md §4.5 (DISABLED), §6.4; linux-tdx.md §4.2 (TRIPLE_FAULT → KVM_EXIT_SHUTDOWN)',
    covers: [fails(L.TDH_VP_ENTER)],
    *guest(cpu) {
      cpu.idt.clear();
      yield* cpu.vmcall(); // #VE with no handler → #DF → triple fault
    },
    check(o) {
      expectValue(o.end, 'stopped', 'how the run ended');
      expectFields(o.records[0] as unknown as Record<string, unknown>, { kind: 'shutdown' }, 'exit record');
      const last = o.exits[o.exits.length - 1]!;
      expectValue(last.status, S.TDX_NON_RECOVERABLE_VCPU | BigInt(VmxExitReason.TRIPLE_FAULT), 'RAX of the last TD exit', asStatus);
      const again = o.machine.call(L.TDH_VP_ENTER, { vcpu: o.vcpu.tdvprPa }, { lp: o.vcpu.lp.id });
      expectValue(again.status, S.TDX_VCPU_STATE_INCORRECT, 'RAX of TDH.VP.ENTER on the disabled vCPU', asStatus);
    },
  },
]);

export const VCPU_MODULE_CASES = moduleCases('vcpu', 'module', [
  {
    name: 'vp-enter-reserved-rcx',
    behaviour: 'TDH.VP.ENTER with a reserved bit of RCX set fails with OPERAND_INVALID|RCX.',
    spec: 'TDX module 1.5 tdh_vp_enter.c (vcpu_and_flags_t); facts tdx-module.md §6.1 step 2',
    covers: [fails(L.TDH_VP_ENTER)],
    run() {
      const m = Machine.up();
      const td = RawTd.runnable(m);
      const v = td.vcpus[0]!;
      const p = probe(m, L.TDH_VP_ENTER, { vcpu: v.tdvpr | (1n << 60n) }, { lp: v.lp });
      expectRegs(p.after, { rax: withOperand(S.TDX_OPERAND_INVALID, OperandId.RCX) });
    },
  },
  {
    name: 'vp-enter-not-tdvpr',
    behaviour: 'TDH.VP.ENTER with a page that is not a TDVPR (the TDR) fails with PAGE_METADATA_INCORRECT|RCX.',
    spec: 'TDX module 1.5 tdh_vp_enter.c; facts tdx-module.md §6.1 step 3',
    covers: [fails(L.TDH_VP_ENTER)],
    run() {
      const m = Machine.up();
      const td = RawTd.runnable(m);
      expectRegs(probe(m, L.TDH_VP_ENTER, { vcpu: VP_ENTER_RCX.encode({ tdvpr_page: td.tdr >> 12n }) }).after, { rax: withOperand(S.TDX_PAGE_METADATA_INCORRECT, OperandId.RCX) });
    },
  },
  {
    name: 'vp-enter-not-finalized',
    behaviour: 'TDH.VP.ENTER of a vCPU whose TD is not finalised (OP_STATE INITIALIZED) fails with TDX_OP_STATE_INCORRECT.',
    spec: 'TDX module 1.5 OP_STATE lookup (VP.ENTER: RUNNABLE only); facts tdx-module.md §4.4, §6.1 step 6',
    covers: [fails(L.TDH_VP_ENTER)],
    run() {
      const m = Machine.up();
      const td = RawTd.initialized(m);
      const v = td.addVcpu();
      expectValue(m.call(L.TDH_VP_ENTER, { vcpu: v.tdvpr }).status, S.TDX_OP_STATE_INCORRECT, 'RAX', asStatus);
    },
  },
  {
    name: 'vp-enter-other-lp',
    behaviour: 'TDH.VP.ENTER on an LP other than the one the vCPU is associated with fails with TDX_VCPU_ASSOCIATED (recoverable).',
    spec: 'TDX module 1.5 associate_vcpu; facts tdx-module.md §4.5 (association), §6.1 step 8',
    covers: [fails(L.TDH_VP_ENTER)],
    run() {
      const m = Machine.up();
      const td = RawTd.runnable(m);
      expectValue(m.call(L.TDH_VP_ENTER, { vcpu: td.vcpus[0]!.tdvpr }, { lp: 1 }).status, S.TDX_VCPU_ASSOCIATED, 'RAX', asStatus);
    },
  },
]);

