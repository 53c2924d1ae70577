/**
 * Memory accept and private↔shared conversion with the guest library: accepting private memory
 * the host adds lazily (TDH.MEM.PAGE.AUG on the guest's first touch), converting pages with
 * TDG.VP.VMCALL<MapGPA> and the VMM's answers to it — including the RETRY answers a library must
 * follow carefully, because R11 comes from the untrusted VMM (facts tdx-module.md §8;
 * linux-tdx.md §4.3 MapGPA, §6.2; ecosystem.md §7 item 11). What KVM's selftests call "shared
 * memory": a page the guest converted is seen by the host, and back to private it is zeroed.
 */
import { TdvmcallSubfunction as Sub } from '../../abi/tdvmcall.ts';
import { TdvmcallStatus as V } from '../../abi/tdvmcall-status.ts';
import { SeamcallLeaf } from '../../abi/seamcall-leaves.ts';
import { SeptLevel, SeptState, SEPTE_FREE_REPORTED } from '../../abi/sept.ts';
import { SEPT_ENTRY_INFO } from '../../abi/operands.ts';
import { TdxStatus } from '../../abi/status.ts';
import { PAGE_SIZE } from '../../abi/pamt.ts';
import { MemoryConverter } from '../../host/userspace/memory-conversion.ts';
import type { ExitRecord } from '../../host/exit-records.ts';
import type { TdxVm } from '../../host/vm.ts';
import { fails, ok, tdCases } from '../case.ts';
import { expectFields, expectRegs, expectThat, expectValue } from '../expect.ts';
import { gpaLevel } from '../raw-td.ts';
import { recorded, type UserspaceScript, type VmmScript } from '../td-run.ts';

/** Private GPAs in guest RAM the host has not added at build. */
const GPA = 10n << 20n;
const SIZE = 2n * PAGE_SIZE;
const text = new TextEncoder();

/** VMM userspace that performs MapGPA conversions (KVM_SET_MEMORY_ATTRIBUTES), as QEMU does. */
export function converting(): UserspaceScript {
  return (r: ExitRecord, _vcpu, vm: TdxVm) => (r.kind === 'hypercall' ? { kind: 'hypercall', ret: new MemoryConverter(vm).mapGpaRange(r) } : 'stop');
}

/** A VMM answering MapGPA with the given R10/R11 pairs in turn, then SUCCESS. */
function mapGpaAnswers(answers: readonly (readonly [bigint, (start: bigint, end: bigint) => bigint])[]): VmmScript {
  return ({ regs, index }) => {
    const a = answers[index];
    if (!a) {
      regs.set('R10', V.SUCCESS);
      return 'resume';
    }
    const start = regs.get('R12');
    regs.set('R10', a[0]);
    regs.set('R11', a[1](start, start + regs.get('R13')));
    return 'resume';
  };
}

export const MEMORY_CASES = tdCases('memory', 'guest', [
  {
    name: 'accept-memory',
    behaviour: "The library's acceptMemory accepts pages the host adds on first touch (PAGE.AUG), without any TDVMCALL, and the accepted pages read as zeros.",
    spec: 'Linux tdx_accept_memory; TDX module 1.5 tdg_mem_page_accept.c (zeroes the page); facts tdx-module.md §8.2, linux-tdx.md §6.2',
    covers: [ok(SeamcallLeaf.TDH_MEM_PAGE_AUG)],
    *guest(cpu, env) {
      env.record('result', yield* env.lib.acceptMemory({ cpu, sharedBit: env.sharedBit }, GPA, 3n * PAGE_SIZE));
      env.record('read', yield* cpu.readValue(GPA + 2n * PAGE_SIZE + 8n, 8));
    },
    check(o) {
      expectFields(recorded<Record<string, unknown>>(o, 'result'), { ok: true }, 'acceptMemory result');
      expectValue(o.tdvmcalls.length, 0, 'TDVMCALLs made');
      expectValue(recorded<bigint>(o, 'read'), 0n, '8 bytes of the last accepted page');
    },
  },
  {
    name: 'convert-shared-and-back',
    behaviour: 'setMemoryShared issues MapGPA(GPA | shared bit, size); the host then sees what the guest writes through the shared alias; setMemoryPrivate issues MapGPA(GPA, size) and re-accepts, and the page reads as zeros again.',
    spec: 'GHCI MapGPA; Linux tdx_enc_status_changed; KVM selftest "shared memory"; facts linux-tdx.md §4.3, §6.2',
    covers: [ok(Sub.MAP_GPA)],
    host: { userspace: converting() },
    *guest(cpu, env) {
      const mem = { cpu, sharedBit: env.sharedBit };
      env.record('shared', yield* env.lib.setMemoryShared(mem, GPA, SIZE));
      yield* cpu.write(GPA | env.sharedBit, text.encode('from the guest'));
      env.record('private', yield* env.lib.setMemoryPrivate(mem, GPA, SIZE));
      env.record('read', yield* cpu.readValue(GPA, 8));
    },
    check(o) {
      expectFields(recorded<Record<string, unknown>>(o, 'shared'), { ok: true }, 'setMemoryShared result');
      expectFields(recorded<Record<string, unknown>>(o, 'private'), { ok: true }, 'setMemoryPrivate result');
      const maps = o.tdvmcalls.filter((t) => t.exit.R11 === BigInt(Sub.MAP_GPA.number));
      expectValue(maps.length, 2, 'MapGPA calls');
      const s = o.vm.addressing.sharedBit;
      expectRegs(maps[0]!.exit, { r10: 0n, r12: GPA | s, r13: SIZE }, { what: 'first MapGPA', tdvmcall: true });
      expectRegs(maps[1]!.exit, { r10: 0n, r12: GPA, r13: SIZE }, { what: 'second MapGPA', tdvmcall: true });
      expectValue(recorded<bigint>(o, 'read'), 0n, 'the page after converting back to private');
    },
  },
  {
    name: 'shared-memory-visible',
    behaviour: 'After the guest converts a page to shared and writes to it, the host reads exactly those bytes from the shared page.',
    spec: 'KVM selftest tdx shared memory; facts linux-tdx.md §6.2, §4.4',
    covers: [ok(Sub.MAP_GPA)],
    host: { userspace: converting() },
    *guest(cpu, env) {
      env.record('shared', yield* env.lib.setMemoryShared({ cpu, sharedBit: env.sharedBit }, GPA, PAGE_SIZE));
      yield* cpu.write((GPA + 100n) | env.sharedBit, text.encode('visible to the host'));
    },
    check(o) {
      expectFields(recorded<Record<string, unknown>>(o, 'shared'), { ok: true }, 'setMemoryShared result');
      expectValue(o.vm.guest.readShared(GPA + 100n, 19), text.encode('visible to the host'), 'bytes the host reads at the shared GPA');
    },
  },
  {
    name: 'conversion-removes-private-page',
    behaviour: 'Converting a private page to shared makes the host remove it from the Secure EPT (BLOCK, TRACK, REMOVE): afterwards TDH.MEM.SEPT.RD shows the entry FREE.',
    spec: 'KVM tdx_sept_remove_private_spte; facts tdx-module.md §5.3, linux-tdx.md §1.5',
    covers: [ok(SeamcallLeaf.TDH_MEM_PAGE_REMOVE), ok(SeamcallLeaf.TDH_MEM_RANGE_BLOCK), ok(SeamcallLeaf.TDH_MEM_TRACK)],
    host: { userspace: converting() },
    *guest(cpu, env) {
      const mem = { cpu, sharedBit: env.sharedBit };
      yield* env.lib.acceptMemory(mem, GPA, PAGE_SIZE);
      env.record('shared', yield* env.lib.setMemoryShared(mem, GPA, PAGE_SIZE));
    },
    check(o) {
      expectFields(recorded<Record<string, unknown>>(o, 'shared'), { ok: true }, 'setMemoryShared result');
      const r = o.machine.call(SeamcallLeaf.TDH_MEM_SEPT_RD, { gpaLevel: gpaLevel(GPA), tdr: o.vm.tdr });
      expectRegs(r.regs, { rax: TdxStatus.TDX_SUCCESS, rcx: SEPTE_FREE_REPORTED, rdx: SEPT_ENTRY_INFO.encode({ level: SeptLevel.PT, state: SeptState.FREE }) }, { what: 'TDH.MEM.SEPT.RD of the converted GPA' });
    },
  },
  {
    name: 'mapgpa-retry-followed',
    behaviour: 'When the VMM answers MapGPA with RETRY and R11 inside the range, the library continues from R11: its next MapGPA starts there with the rest of the size.',
    spec: 'Linux tdx_map_gpa (RETRY handling); KVM RETRY with R11 = next GPA; facts linux-tdx.md §4.3, §6.2',
    covers: [ok(Sub.MAP_GPA)],
    host: { vmm: mapGpaAnswers([[V.RETRY, (start) => start + PAGE_SIZE]]) },
    *guest(cpu, env) {
      env.record('result', yield* env.lib.setMemoryShared({ cpu, sharedBit: env.sharedBit }, GPA, 4n * PAGE_SIZE));
    },
    check(o) {
      expectFields(recorded<Record<string, unknown>>(o, 'result'), { ok: true }, 'setMemoryShared result');
      const s = o.vm.addressing.sharedBit;
      expectValue(o.tdvmcalls.length, 2, 'MapGPA calls');
      expectRegs(o.tdvmcalls[1]!.exit, { r11: BigInt(Sub.MAP_GPA.number), r12: (GPA + PAGE_SIZE) | s, r13: 3n * PAGE_SIZE }, { what: 'second MapGPA', tdvmcall: true });
    },
  },
  {
    name: 'mapgpa-retry-out-of-range',
    behaviour: 'A RETRY whose R11 lies outside the requested range is rejected by the library (the conversion fails) rather than followed: a VMM must not steer the guest to convert other memory.',
    spec: 'Linux tdx_map_gpa (R11 ∈ [start, end)); facts linux-tdx.md §6.2, ecosystem.md §7 item 11',
    covers: [fails(Sub.MAP_GPA)],
    host: { vmm: mapGpaAnswers([[V.RETRY, (_start, end) => end + PAGE_SIZE]]) },
    *guest(cpu, env) {
      env.record('result', yield* env.lib.setMemoryShared({ cpu, sharedBit: env.sharedBit }, GPA, 2n * PAGE_SIZE));
    },
    check(o) {
      expectFields(recorded<Record<string, unknown>>(o, 'result'), { ok: false }, 'setMemoryShared result');
      expectValue(o.tdvmcalls.length, 1, 'MapGPA calls (no call may follow the bad RETRY)');
    },
  },
  {
    name: 'mapgpa-retry-no-progress',
    behaviour: 'A VMM that keeps answering RETRY without progress (R11 = start) cannot keep the guest looping: the library gives up after a few tries and reports failure.',
    spec: 'Linux tdx_map_gpa (max_retries_per_page = 3); facts linux-tdx.md §6.2',
    covers: [fails(Sub.MAP_GPA)],
    host: { vmm: mapGpaAnswers(Array.from({ length: 50 }, () => [V.RETRY, (start: bigint) => start] as const)) },
    *guest(cpu, env) {
      env.record('result', yield* env.lib.setMemoryShared({ cpu, sharedBit: env.sharedBit }, GPA, PAGE_SIZE));
    },
    check(o) {
      expectFields(recorded<Record<string, unknown>>(o, 'result'), { ok: false }, 'setMemoryShared result');
      expectThat(o.tdvmcalls.length >= 2 && o.tdvmcalls.length <= 4, `MapGPA calls: expected 2..4 (a bounded number of retries), got ${o.tdvmcalls.length}`);
    },
  },
  {
    name: 'mapgpa-refused',
    behaviour: 'When the VMM refuses MapGPA with INVALID_OPERAND the library reports the failure with that status and does not retry.',
    spec: 'Linux tdx_map_gpa (any status but RETRY fails); facts linux-tdx.md §6.2',
    covers: [fails(Sub.MAP_GPA)],
    host: { vmm: mapGpaAnswers([[V.INVALID_OPERAND, (start) => start]]) },
    *guest(cpu, env) {
      env.record('result', yield* env.lib.setMemoryShared({ cpu, sharedBit: env.sharedBit }, GPA, PAGE_SIZE));
    },
    check(o) {
      expectFields(recorded<Record<string, unknown>>(o, 'result'), { ok: false, status: V.INVALID_OPERAND }, 'setMemoryShared result');
      expectValue(o.tdvmcalls.length, 1, 'MapGPA calls');
    },
  },
]);
