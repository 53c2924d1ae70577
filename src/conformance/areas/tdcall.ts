/**
 * TDCALL leaves, issued by raw guest instructions from sentinel registers so that every output
 * register — and every register a leaf must leave alone — is checked exactly (facts
 * tdx-module.md §2.2, §7.2–7.3, §8.2, §10.3; linux-tdx.md §2.1, including what KVM's selftest
 * `verify_tdcall_vp_info` checks of TDG.VP.INFO).
 */
import { createHash } from 'node:crypto';
import { TdcallLeaf } from '../../abi/tdcall-leaves.ts';
import { OperandId, TdxStatus, withOperand } from '../../abi/status.ts';
import { VP_INFO_R8, VP_INFO_R10, CPUIDVE_FLAGS, VEINFO_R10 } from '../../abi/operands.ts';
import { TdAttributesBit } from '../../abi/td-config.ts';
import { GPAW_48 } from '../../abi/gpa.ts';
import { InstructionLength, Vector, VmxExitReason } from '../../abi/vmx.ts';
import { SeptLevel } from '../../abi/sept.ts';
import { decodeTdReport, REPORTDATA_SIZE, TDREPORT_STRUCT_SIZE } from '../../abi/tdreport.ts';
import { MEASUREMENT_DIGEST_BYTES } from '../../abi/measurement.ts';
import { U64_MASK } from '../../abi/bitfield.ts';
import type { GuestCpu, GuestGen } from '../../platform/guest-cpu.ts';
import { fails, ok, tdCases } from '../case.ts';
import { expectRegs, expectValue } from '../expect.ts';
import { expectProbe, guestProbe, type Probe } from '../probe.ts';
import { gpaLevel } from '../raw-td.ts';
import { recorded, SCRATCH_GPA, type GuestPartEnv } from '../td-run.ts';
import { field, NULL_FIELD_ID } from './fields.ts';

const G = TdcallLeaf;
const S = TdxStatus;
const invalid = (op: number) => withOperand(S.TDX_OPERAND_INVALID, op);
/** vCPUs a case TD may have: the built-in host allows one per logical processor (2). */
const MAX_VCPUS = 2n;
/** A private GPA in guest RAM the host has not added: the first touch makes the host AUG it. */
const FRESH_GPA = 6n << 20n;

/** Issue a probe and keep it under `key`. */
function* keep<L extends Parameters<typeof guestProbe>[1]>(cpu: GuestCpu, env: GuestPartEnv, key: string, leaf: L, inputs: Parameters<typeof guestProbe<L>>[2] = {}, version = 0): GuestGen<Probe> {
  const p = yield* guestProbe(cpu, leaf, inputs, version);
  env.record(key, p);
  return p;
}

/** TDG.MR.REPORT into scratch page 1 (REPORTDATA from scratch page 2); the report bytes. */
function* report(cpu: GuestCpu): GuestGen<Uint8Array> {
  const out = SCRATCH_GPA + 4096n;
  yield* guestProbe(cpu, G.TDG_MR_REPORT, { report: out, reportData: SCRATCH_GPA + 8192n, subtype: 0n });
  return yield* cpu.read(out, TDREPORT_STRUCT_SIZE);
}

const sha384 = (...parts: Uint8Array[]) => {
  const h = createHash('sha384');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

export const TDCALL_CASES = tdCases('tdcall', 'module', [
  {
    name: 'vp-info',
    behaviour: 'TDG.VP.INFO returns GPAW 48 in RCX, the TD ATTRIBUTES in RDX, NUM_VCPUS | MAX_VCPUS << 32 in R8, the vCPU index in R9, R10 = 1 (TDG.SYS.RD available) and R11 = 0.',
    spec: 'TDX module 1.5 tdg_vp_info.c; facts tdx-module.md §2.2 (leaf 1), linux-tdx.md §2.1 (selftest verify_tdcall_vp_info)',
    covers: [ok(G.TDG_VP_INFO)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'p', G.TDG_VP_INFO);
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'p'), {
        rax: S.TDX_SUCCESS,
        rcx: BigInt(GPAW_48),
        rdx: 1n << BigInt(TdAttributesBit.SEPT_VE_DISABLE),
        r8: VP_INFO_R8.encode({ num_vcpus: 1, max_vcpus: MAX_VCPUS }),
        r9: 0n,
        r10: VP_INFO_R10.encode({ sys_rd: 1 }),
        r11: 0n,
      });
    },
  },
  {
    name: 'vp-info-version',
    behaviour: 'TDG.VP.INFO with version 1 fails with OPERAND_INVALID|RAX and writes no output: only TDG.VM.RD has a version 1.',
    spec: 'TDX module 1.5 td_call dispatcher; facts tdx-module.md §1 (TDCALL versions)',
    covers: [fails(G.TDG_VP_INFO)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'p', G.TDG_VP_INFO, {}, 1);
    },
    check(o) {
      const p = recorded<Probe>(o, 'p');
      expectProbe({ ...p, leaf: { ...p.leaf, outputs: [] } }, { rax: invalid(OperandId.RAX) });
    },
  },
  {
    name: 'veinfo-get',
    behaviour: 'Inside the #VE handler TDG.VP.VEINFO.GET returns the exit reason, qualification, GLA, GPA and instruction length of the #VE (a VMCALL: reason 18, length 3) and consumes it.',
    spec: 'TDX module 1.5 tdg_vp_veinfo_get.c, tdx_inject_ve; facts tdx-module.md §2.2 (leaf 3), §6.4',
    covers: [ok(G.TDG_VP_VEINFO_GET)],
    *guest(cpu, env) {
      cpu.idt.set(Vector.VE, function* (c) {
        const rip = c.rip;
        yield* keep(c, env, 'p', G.TDG_VP_VEINFO_GET);
        c.rip = rip + BigInt(InstructionLength.VMCALL);
      });
      yield* cpu.vmcall();
      yield* keep(cpu, env, 'again', G.TDG_VP_VEINFO_GET);
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'p'), {
        rax: S.TDX_SUCCESS,
        rcx: BigInt(VmxExitReason.VMCALL),
        rdx: 0n,
        r8: 0n,
        r9: 0n,
        r10: VEINFO_R10.encode({ instr_len: InstructionLength.VMCALL, instr_info: 0 }),
      }, 'TDG.VP.VEINFO.GET in the #VE handler');
      expectValue(recorded<Probe>(o, 'again').status, S.TDX_NO_VALID_VE_INFO, 'RAX of a second TDG.VP.VEINFO.GET (consumed)');
    },
  },
  {
    name: 'veinfo-get-none',
    behaviour: 'TDG.VP.VEINFO.GET with no #VE pending fails with TDX_NO_VALID_VE_INFO and zeroes RCX, RDX and R8–R10.',
    spec: 'TDX module 1.5 tdg_vp_veinfo_get.c; facts tdx-module.md §2.2 (leaf 3)',
    covers: [fails(G.TDG_VP_VEINFO_GET)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'p', G.TDG_VP_VEINFO_GET);
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'p'), { rax: S.TDX_NO_VALID_VE_INFO, rcx: 0n, rdx: 0n, r8: 0n, r9: 0n, r10: 0n });
    },
  },
  {
    name: 'rtmr-extend',
    behaviour: 'TDG.MR.RTMR.EXTEND of 48 bytes into RTMR 2 succeeds, and the next TDREPORT shows RTMR2 = SHA-384(48 zero bytes ‖ data).',
    spec: 'TDX module 1.5 tdg_mr_rtmr_extend.c; facts tdx-module.md §7.2',
    covers: [ok(G.TDG_MR_RTMR_EXTEND), ok(G.TDG_MR_REPORT)],
    *guest(cpu, env) {
      const data = new Uint8Array(MEASUREMENT_DIGEST_BYTES).map((_, i) => i + 1);
      yield* cpu.write(SCRATCH_GPA, data);
      yield* keep(cpu, env, 'p', G.TDG_MR_RTMR_EXTEND, { gpa: SCRATCH_GPA, index: 2n });
      env.record('report', yield* report(cpu));
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'p'), { rax: S.TDX_SUCCESS });
      const data = new Uint8Array(MEASUREMENT_DIGEST_BYTES).map((_, i) => i + 1);
      const info = decodeTdReport(recorded<Uint8Array>(o, 'report')).tdInfo;
      expectValue(info.rtmr2, sha384(new Uint8Array(MEASUREMENT_DIGEST_BYTES), data), 'TDINFO.RTMR2');
      expectValue(info.rtmr0, new Uint8Array(MEASUREMENT_DIGEST_BYTES), 'TDINFO.RTMR0 (untouched)');
    },
  },
  {
    name: 'rtmr-extend-bad-operands',
    behaviour: 'TDG.MR.RTMR.EXTEND with RTMR index 4 fails with OPERAND_INVALID|RDX, and with a GPA that is not 64-byte aligned with OPERAND_INVALID|RCX.',
    spec: 'TDX module 1.5 tdg_mr_rtmr_extend.c; facts tdx-module.md §7.2',
    covers: [fails(G.TDG_MR_RTMR_EXTEND)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'index', G.TDG_MR_RTMR_EXTEND, { gpa: SCRATCH_GPA, index: 4n });
      yield* keep(cpu, env, 'align', G.TDG_MR_RTMR_EXTEND, { gpa: SCRATCH_GPA + 32n, index: 0n });
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'index'), { rax: invalid(OperandId.RDX) }, 'index 4');
      expectProbe(recorded<Probe>(o, 'align'), { rax: invalid(OperandId.RCX) }, 'GPA +32');
    },
  },
  {
    name: 'mr-report',
    behaviour: 'TDG.MR.REPORT writes a TDREPORT_STRUCT whose REPORTDATA is the guest\'s 64 bytes and whose TDINFO carries the TD\'s ATTRIBUTES and MRTD, and writes no register.',
    spec: 'TDX module 1.5 tdg_mr_report.c; facts tdx-module.md §7.3',
    covers: [ok(G.TDG_MR_REPORT)],
    *guest(cpu, env) {
      const data = new Uint8Array(REPORTDATA_SIZE).fill(0xab);
      yield* cpu.write(SCRATCH_GPA + 8192n, data);
      yield* keep(cpu, env, 'p', G.TDG_MR_REPORT, { report: SCRATCH_GPA + 4096n, reportData: SCRATCH_GPA + 8192n, subtype: 0n });
      env.record('report', yield* cpu.read(SCRATCH_GPA + 4096n, TDREPORT_STRUCT_SIZE));
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'p'), { rax: S.TDX_SUCCESS });
      const r = decodeTdReport(recorded<Uint8Array>(o, 'report'));
      expectValue(r.reportMacStruct.reportdata, new Uint8Array(REPORTDATA_SIZE).fill(0xab), 'REPORTDATA');
      expectValue(r.tdInfo.attributes, 1n << BigInt(TdAttributesBit.SEPT_VE_DISABLE), 'TDINFO.ATTRIBUTES');
      expectValue(r.tdInfo.mrtd, o.vm.mrtd(), 'TDINFO.MRTD (vs TDH.MNG.RD)');
    },
  },
  {
    name: 'mr-report-bad-operands',
    behaviour: 'TDG.MR.REPORT with subtype 1 fails with OPERAND_INVALID|R8, and with a report GPA that is not 1024-aligned with OPERAND_INVALID|RCX.',
    spec: 'TDX module 1.5 tdg_mr_report.c; facts tdx-module.md §7.3 (inputs and checks)',
    covers: [fails(G.TDG_MR_REPORT)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'subtype', G.TDG_MR_REPORT, { report: SCRATCH_GPA + 4096n, reportData: SCRATCH_GPA + 8192n, subtype: 1n });
      yield* keep(cpu, env, 'align', G.TDG_MR_REPORT, { report: SCRATCH_GPA + 512n, reportData: SCRATCH_GPA + 8192n, subtype: 0n });
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'subtype'), { rax: invalid(OperandId.R8) }, 'subtype 1');
      expectProbe(recorded<Probe>(o, 'align'), { rax: invalid(OperandId.RCX) }, 'report GPA +512');
    },
  },
  {
    name: 'cpuidve-set',
    behaviour: 'TDG.VP.CPUIDVE.SET with bit 0 makes every CPUID at CPL 0 raise #VE (exit reason CPUID) instead of being virtualised by the module.',
    spec: 'TDX module 1.5 tdg_vp_cpuidve_set.c; facts tdx-module.md §2.2 (leaf 5), §6.4 (CPUID)',
    covers: [ok(G.TDG_VP_CPUIDVE_SET)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'p', G.TDG_VP_CPUIDVE_SET, { flags: CPUIDVE_FLAGS.encode({ supervisor: 1 }) });
      cpu.idt.set(Vector.VE, function* (c) {
        const rip = c.rip;
        yield* keep(c, env, 've', G.TDG_VP_VEINFO_GET);
        c.rip = rip + BigInt(InstructionLength.CPUID);
      });
      yield* cpu.cpuid(0);
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'p'), { rax: S.TDX_SUCCESS });
      expectRegs(recorded<Probe>(o, 've').after, { rax: S.TDX_SUCCESS, rcx: BigInt(VmxExitReason.CPUID) }, { what: 'TDG.VP.VEINFO.GET for the CPUID #VE' });
    },
  },
  {
    name: 'cpuidve-set-reserved',
    behaviour: 'TDG.VP.CPUIDVE.SET with a reserved bit of RCX set fails with OPERAND_INVALID|RCX.',
    spec: 'TDX module 1.5 tdg_vp_cpuidve_set.c; facts tdx-module.md §2.2 (leaf 5)',
    covers: [fails(G.TDG_VP_CPUIDVE_SET)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'p', G.TDG_VP_CPUIDVE_SET, { flags: 4n });
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'p'), { rax: invalid(OperandId.RCX) });
    },
  },
  {
    name: 'page-accept',
    behaviour: 'TDG.MEM.PAGE.ACCEPT of a page the host has not added exits to the host (EPT violation) until it is AUGed, then succeeds; accepting it again returns the warning TDX_PAGE_ALREADY_ACCEPTED with the level in bits 31:0.',
    spec: 'TDX module 1.5 tdg_mem_page_accept.c; facts tdx-module.md §8.2',
    covers: [ok(G.TDG_MEM_PAGE_ACCEPT), fails(G.TDG_MEM_PAGE_ACCEPT)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'first', G.TDG_MEM_PAGE_ACCEPT, { gpaLevel: gpaLevel(FRESH_GPA) });
      yield* keep(cpu, env, 'second', G.TDG_MEM_PAGE_ACCEPT, { gpaLevel: gpaLevel(FRESH_GPA) });
      env.record('read', yield* cpu.readValue(FRESH_GPA, 8));
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'first'), { rax: S.TDX_SUCCESS }, 'first accept');
      expectProbe(recorded<Probe>(o, 'second'), { rax: withOperand(S.TDX_PAGE_ALREADY_ACCEPTED, SeptLevel.PT) }, 'second accept');
      expectValue(recorded<bigint>(o, 'read'), 0n, 'first 8 bytes of the accepted page (ACCEPT zeroes it)');
      expectValue(o.exits.some((e) => e.status === BigInt(VmxExitReason.EPT_VIOLATION)), true, 'an EPT-violation exit let the host AUG the page');
    },
  },
  {
    name: 'page-accept-bad-operands',
    behaviour: 'TDG.MEM.PAGE.ACCEPT of a shared GPA, or at level 2 (1G), fails with OPERAND_INVALID|RCX.',
    spec: 'TDX module 1.5 tdg_mem_page_accept.c; facts tdx-module.md §8.2 (input)',
    covers: [fails(G.TDG_MEM_PAGE_ACCEPT)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'shared', G.TDG_MEM_PAGE_ACCEPT, { gpaLevel: gpaLevel(FRESH_GPA | env.sharedBit) });
      yield* keep(cpu, env, 'level', G.TDG_MEM_PAGE_ACCEPT, { gpaLevel: gpaLevel(0n, SeptLevel.PDPT) });
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'shared'), { rax: invalid(OperandId.RCX) }, 'shared GPA');
      expectProbe(recorded<Probe>(o, 'level'), { rax: invalid(OperandId.RCX) }, '1G level');
    },
  },
  {
    name: 'tdg-vm-rd',
    behaviour: 'TDG.VM.RD of MAX_VCPUS returns it in R8; version 1 also returns the next field id in RDX.',
    spec: 'TDX module 1.5 tdg_vm_rd_wr.c; facts tdx-module.md §2.2 (leaf 7), §1 (TDCALL versions)',
    covers: [ok(G.TDG_VM_RD)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'v0', G.TDG_VM_RD, { vm: 0n, fieldId: field('MAX_VCPUS') });
      yield* keep(cpu, env, 'v1', G.TDG_VM_RD, { vm: 0n, fieldId: field('MAX_VCPUS') }, 1);
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'v0'), { rax: S.TDX_SUCCESS, r8: MAX_VCPUS, rdx: field('MAX_VCPUS') }, 'version 0');
      expectProbe(recorded<Probe>(o, 'v1'), { rax: S.TDX_SUCCESS, r8: MAX_VCPUS, rdx: field('GPAW') }, 'version 1');
    },
  },
  {
    name: 'tdg-vm-rd-not-readable',
    behaviour: 'TDG.VM.RD of a field the guest may not read (EPTP) fails with TDX_METADATA_FIELD_NOT_READABLE and R8 = 0.',
    spec: 'TDX module 1.5 tdg_vm_rd_wr.c, field access rights; facts tdx-module.md §3.2 class 0x0C',
    covers: [fails(G.TDG_VM_RD)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'p', G.TDG_VM_RD, { vm: 0n, fieldId: field('EPTP') });
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'p'), { rax: S.TDX_METADATA_FIELD_NOT_READABLE, r8: 0n });
    },
  },
  {
    name: 'tdg-vm-wr',
    behaviour: 'TDG.VM.WR of TD_CTLS bit 0 (PENDING_VE_DISABLE) with mask 1 returns the old value in R8 and the new value reads back.',
    spec: 'TDX module 1.5 tdg_vm_rd_wr.c; facts tdx-module.md §2.2 (leaf 8), linux-tdx.md §2.1 (TD_CTLS), §6.1',
    covers: [ok(G.TDG_VM_WR)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'before', G.TDG_VM_RD, { vm: 0n, fieldId: field('TD_CTLS') });
      yield* keep(cpu, env, 'p', G.TDG_VM_WR, { vm: 0n, fieldId: field('TD_CTLS'), value: 1n, mask: 1n });
      yield* keep(cpu, env, 'after', G.TDG_VM_RD, { vm: 0n, fieldId: field('TD_CTLS') });
    },
    check(o) {
      const old = (recorded<Probe>(o, 'before').after as Record<string, bigint>).R8!;
      expectProbe(recorded<Probe>(o, 'p'), { rax: S.TDX_SUCCESS, r8: old });
      expectValue((recorded<Probe>(o, 'after').after as Record<string, bigint>).R8, old | 1n, 'TD_CTLS read back');
    },
  },
  {
    name: 'tdg-vm-wr-read-only',
    behaviour: 'TDG.VM.WR of a field the guest may only read (ATTRIBUTES) fails with TDX_METADATA_FIELD_NOT_WRITABLE and R8 = 0.',
    spec: 'TDX module 1.5 tdg_vm_rd_wr.c; facts tdx-module.md §3.2 class 0x0C, ecosystem.md §7 item 7',
    covers: [fails(G.TDG_VM_WR)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'p', G.TDG_VM_WR, { vm: 0n, fieldId: field('ATTRIBUTES'), value: 1n, mask: U64_MASK });
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'p'), { rax: S.TDX_METADATA_FIELD_NOT_WRITABLE, r8: 0n });
    },
  },
  {
    name: 'tdg-vp-rd',
    behaviour: 'TDG.VP.RD of VCPU_INDEX returns 0 in R8 and the next readable vCPU field id in RDX.',
    spec: 'TDX module 1.5 tdg_vp_rd_wr.c; facts tdx-module.md §2.2 (leaf 9)',
    covers: [ok(G.TDG_VP_RD)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'p', G.TDG_VP_RD, { vm: 0n, fieldId: field('VCPU_INDEX') });
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'p'), { rax: S.TDX_SUCCESS, r8: 0n, rdx: field('CPUID_SUPERVISOR_VE') });
    },
  },
  {
    name: 'tdg-vp-rd-unknown-field',
    behaviour: 'TDG.VP.RD of a field id no vCPU field has fails with TDX_METADATA_FIELD_ID_INCORRECT, R8 = 0 and RDX = the null id.',
    spec: 'TDX module 1.5 tdg_vp_rd_wr.c; facts tdx-module.md §3.2 class 0x0C',
    covers: [fails(G.TDG_VP_RD)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'p', G.TDG_VP_RD, { vm: 0n, fieldId: field('VCPU_INDEX') + 1000n });
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'p'), { rax: S.TDX_METADATA_FIELD_ID_INCORRECT, r8: 0n, rdx: NULL_FIELD_ID });
    },
  },
  {
    name: 'tdg-vp-wr',
    behaviour: 'TDG.VP.WR of CPUID_SUPERVISOR_VE returns the old value 0 in R8 and sets it.',
    spec: 'TDX module 1.5 tdg_vp_rd_wr.c; facts tdx-module.md §2.2 (leaf 10)',
    covers: [ok(G.TDG_VP_WR)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'p', G.TDG_VP_WR, { vm: 0n, fieldId: field('CPUID_SUPERVISOR_VE'), value: 1n, mask: 1n });
      yield* keep(cpu, env, 'after', G.TDG_VP_RD, { vm: 0n, fieldId: field('CPUID_SUPERVISOR_VE') });
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'p'), { rax: S.TDX_SUCCESS, r8: 0n });
      expectValue((recorded<Probe>(o, 'after').after as Record<string, bigint>).R8, 1n, 'CPUID_SUPERVISOR_VE read back');
    },
  },
  {
    name: 'tdg-vp-wr-read-only',
    behaviour: 'TDG.VP.WR of VCPU_INDEX (read-only for the guest) fails with TDX_METADATA_FIELD_NOT_WRITABLE and R8 = 0.',
    spec: 'TDX module 1.5 tdg_vp_rd_wr.c; facts tdx-module.md §3.2 class 0x0C',
    covers: [fails(G.TDG_VP_WR)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'p', G.TDG_VP_WR, { vm: 0n, fieldId: field('VCPU_INDEX'), value: 1n, mask: U64_MASK });
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'p'), { rax: S.TDX_METADATA_FIELD_NOT_WRITABLE, r8: 0n });
    },
  },
  {
    name: 'sys-rd-guest',
    behaviour: 'TDG.SYS.RD of MAJOR_VERSION returns 1; of the null id it returns TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT with the first field id and R8 = 0.',
    spec: 'TDX module 1.5 tdg_sys_rd.c; facts tdx-module.md §2.2 (leaf 11)',
    covers: [ok(G.TDG_SYS_RD)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'major', G.TDG_SYS_RD, { fieldId: field('MAJOR_VERSION') });
      yield* keep(cpu, env, 'first', G.TDG_SYS_RD, { fieldId: NULL_FIELD_ID });
    },
    check(o) {
      const major = recorded<Probe>(o, 'major');
      expectValue(major.status, S.TDX_SUCCESS, 'RAX of TDG.SYS.RD(MAJOR_VERSION)');
      expectValue((major.after as Record<string, bigint>).R8, 1n, 'R8 of TDG.SYS.RD(MAJOR_VERSION)');
      expectProbe(recorded<Probe>(o, 'first'), { rax: S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT, rdx: field('VENDOR_ID'), r8: 0n }, 'null field id');
    },
  },
  {
    name: 'sys-rd-guest-not-readable',
    behaviour: 'TDG.SYS.RD of a global field the guest may not read (MAX_TDMRS) fails with TDX_METADATA_FIELD_NOT_READABLE, R8 = 0 and RDX = the null id.',
    spec: 'TDX module 1.5 tdg_sys_rd.c, field access rights; facts tdx-module.md §3.2 class 0x0C',
    covers: [fails(G.TDG_SYS_RD)],
    *guest(cpu, env) {
      yield* keep(cpu, env, 'p', G.TDG_SYS_RD, { fieldId: field('MAX_TDMRS') });
    },
    check(o) {
      expectProbe(recorded<Probe>(o, 'p'), { rax: S.TDX_METADATA_FIELD_NOT_READABLE, r8: 0n, rdx: NULL_FIELD_ID });
    },
  },
]);
