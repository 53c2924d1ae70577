/**
 * TDVMCALLs issued by the guest library under test, one GHCI wrapper at a time, against a
 * scripted VMM. Each wrapper gets two cases:
 *   - success: the registers it puts on the wire are exactly the GHCI's (R10 = 0, R11 = the
 *     sub-function, the arguments in their registers), the exposed registers that carry nothing
 *     are 0 — the guest starts from sentinel values, so a library that forgets to clear them
 *     leaks guest data to the VMM — and the VMM's outputs come back as the wrapper's result;
 *   - failure: a VMM that refuses (R10 = INVALID_OPERAND) makes the wrapper report that status,
 *     not success and not a panic (facts linux-tdx.md §2.2, §6.4: R10 is the VMM's failure
 *     domain, RAX the module's).
 * Facts linux-tdx.md §2.2–2.5, tdx-module.md §6.6.
 */
import { TdvmcallSubfunction as Sub, TdvmcallDirection, TDVMCALL_REGS, type TdvmcallSubfunction } from '../../abi/tdvmcall.ts';
import { TdvmcallStatus as V } from '../../abi/tdvmcall-status.ts';
import { TDVMCALL_CONTROL, FATAL_ERROR_CODE } from '../../abi/operands.ts';
import { CPUID_HYPERVISOR_FIRST } from '../../abi/cpuid.ts';
import { KvmMsr } from '../../abi/kvm-msrs.ts';
import { PAGE_SIZE } from '../../abi/pamt.ts';
import { GPR_NAMES, Gpr, type GprName } from '../../abi/registers.ts';
import { fatalErrorMessageBytes } from '../../guest/panic.ts';
import { fromLeBytes, type GuestCpu, type GuestGen } from '../../platform/guest-cpu.ts';
import { fail, fails, ok, tdCases, type TdCase } from '../case.ts';
import { asTdvmcallStatus, expectFields, expectRegs, expectThat, expectValue } from '../expect.ts';
import { sentinel } from '../sentinel.ts';
import { recorded, type GuestPartEnv, type TdOutcome } from '../td-run.ts';
import type { ConformanceGuest } from '../interfaces.ts';
import { FATAL_ERROR_MESSAGE_REGS } from '../../abi/tdvmcall.ts';
import { asciiWords, le } from './data.ts';

const PORT = 0x71;
const MMIO = (3n << 30n) + (5n << 20n);
const PRIVATE = 8n << 20n;

interface WrapperSpec {
  readonly key: string;
  readonly sub: TdvmcallSubfunction;
  /** Call the wrapper. */
  readonly call: (lib: ConformanceGuest, cpu: GuestCpu, env: GuestPartEnv) => GuestGen<unknown>;
  /** The argument registers the call must carry (R10 and R11 are implied). */
  readonly wire: (sharedBit: bigint) => Partial<Record<GprName, bigint>>;
  /** What a successful VMM writes back (beyond R10 = 0). */
  readonly reply: Partial<Record<GprName, bigint>>;
  /** The wrapper's result for that reply. */
  readonly result: Record<string, unknown>;
}

const [sigB, sigC, sigD] = asciiWords('KVMKVMKVM', 3);
const cpuidOut = { R12: BigInt(CPUID_HYPERVISOR_FIRST + 1), R13: sigB!, R14: sigC!, R15: sigD! };
const fatalMessage = 'conformance';

const WRAPPERS: readonly WrapperSpec[] = [
  {
    key: 'cpuid', sub: Sub.CPUID,
    call: (lib, cpu) => lib.ghci.cpuid(cpu, CPUID_HYPERVISOR_FIRST, 0),
    wire: () => ({ R12: BigInt(CPUID_HYPERVISOR_FIRST), R13: 0n }),
    reply: cpuidOut,
    result: { ok: true, out: { eax: cpuidOut.R12, ebx: cpuidOut.R13, ecx: cpuidOut.R14, edx: cpuidOut.R15 } },
  },
  {
    key: 'hlt', sub: Sub.HLT,
    call: (lib, cpu) => lib.ghci.hlt(cpu, true),
    wire: () => ({ R12: 1n }),
    reply: {},
    result: { ok: true, out: {} },
  },
  {
    key: 'io-read', sub: Sub.IO,
    call: (lib, cpu) => lib.ghci.ioRead(cpu, PORT, 2),
    wire: () => ({ R12: 2n, R13: TdvmcallDirection.READ, R14: BigInt(PORT), R15: 0n }),
    reply: { R11: le(0xef, 0xbe) },
    result: { ok: true, out: { data: le(0xef, 0xbe) } },
  },
  {
    key: 'io-write', sub: Sub.IO,
    call: (lib, cpu) => lib.ghci.ioWrite(cpu, PORT, 4, le(0xef, 0xbe, 0xad, 0xde)),
    wire: () => ({ R12: 4n, R13: TdvmcallDirection.WRITE, R14: BigInt(PORT), R15: le(0xef, 0xbe, 0xad, 0xde) }),
    reply: {},
    result: { ok: true, out: {} },
  },
  {
    key: 'rdmsr', sub: Sub.RDMSR,
    call: (lib, cpu) => lib.ghci.rdmsr(cpu, KvmMsr.IA32_TSC_DEADLINE),
    wire: () => ({ R12: BigInt(KvmMsr.IA32_TSC_DEADLINE) }),
    reply: { R11: (1n << 32n) | 2n },
    result: { ok: true, out: { value: (1n << 32n) | 2n } },
  },
  {
    key: 'wrmsr', sub: Sub.WRMSR,
    call: (lib, cpu) => lib.ghci.wrmsr(cpu, KvmMsr.IA32_TSC_DEADLINE, (3n << 32n) | 4n),
    wire: () => ({ R12: BigInt(KvmMsr.IA32_TSC_DEADLINE), R13: (3n << 32n) | 4n }),
    reply: {},
    result: { ok: true, out: {} },
  },
  {
    key: 'mmio-read', sub: Sub.MMIO,
    call: (lib, cpu, env) => lib.ghci.mmioRead(cpu, MMIO | env.sharedBit, 8),
    wire: (s) => ({ R12: 8n, R13: TdvmcallDirection.READ, R14: MMIO | s, R15: 0n }),
    reply: { R11: le(8, 7, 6, 5, 4, 3, 2, 1) },
    result: { ok: true, out: { data: le(8, 7, 6, 5, 4, 3, 2, 1) } },
  },
  {
    key: 'mmio-write', sub: Sub.MMIO,
    call: (lib, cpu, env) => lib.ghci.mmioWrite(cpu, MMIO | env.sharedBit, 1, 0x7fn),
    wire: (s) => ({ R12: 1n, R13: TdvmcallDirection.WRITE, R14: MMIO | s, R15: 0x7fn }),
    reply: {},
    result: { ok: true, out: {} },
  },
  {
    key: 'tdvmcallinfo', sub: Sub.GET_TD_VM_CALL_INFO,
    call: (lib, cpu) => lib.ghci.getTdVmCallInfo(cpu, 1n),
    wire: () => ({ R12: 1n }),
    reply: { R11: 2n, R12: 0n, R13: 0n, R14: 0n },
    result: { ok: true, out: { r11: 2n, r12: 0n, r13: 0n, r14: 0n } },
  },
  {
    key: 'mapgpa', sub: Sub.MAP_GPA,
    call: (lib, cpu, env) => lib.ghci.mapGpa(cpu, PRIVATE | env.sharedBit, 2n * PAGE_SIZE),
    wire: (s) => ({ R12: PRIVATE | s, R13: 2n * PAGE_SIZE }),
    reply: {},
    result: { ok: true, out: {} },
  },
  {
    key: 'getquote', sub: Sub.GET_QUOTE,
    call: (lib, cpu, env) => lib.ghci.getQuote(cpu, PRIVATE | env.sharedBit, 2n * PAGE_SIZE),
    wire: (s) => ({ R12: PRIVATE | s, R13: 2n * PAGE_SIZE }),
    reply: {},
    result: { ok: true, out: {} },
  },
  {
    key: 'report-fatal-error', sub: Sub.REPORT_FATAL_ERROR,
    call: (lib, cpu) => lib.ghci.reportFatalError(cpu, fatalMessage, 5n),
    wire: () => {
      const bytes = fatalErrorMessageBytes(fatalMessage);
      const out: Partial<Record<GprName, bigint>> = { R12: FATAL_ERROR_CODE.encode({ td_specific: 5n }), R13: 0n };
      FATAL_ERROR_MESSAGE_REGS.forEach((r, i) => (out[r] = fromLeBytes(bytes.subarray(8 * i, 8 * i + 8))));
      return out;
    },
    reply: {},
    result: { ok: true, out: {} },
  },
  {
    key: 'setup-event-notify', sub: Sub.SETUP_EVENT_NOTIFY_INTERRUPT,
    call: (lib, cpu) => lib.ghci.setupEventNotifyInterrupt(cpu, 0x40),
    wire: () => ({ R12: 0x40n }),
    reply: {},
    result: { ok: true, out: {} },
  },
];

/** Load every GPR the guest may (RAX, RCX, RSP excepted) with its sentinel, then make the call. */
function guestPart(w: WrapperSpec): TdCase['guest'] {
  return function* (cpu, env) {
    for (const n of GPR_NAMES) if (n !== 'RAX' && n !== 'RCX' && n !== 'RSP') cpu.regs.set(n, sentinel(n));
    env.record('result', yield* w.call(env.lib, cpu, env));
  };
}

/** Check the registers of the wrapper's TDVMCALL exit (see the file comment). */
function expectWire(o: TdOutcome, w: WrapperSpec): void {
  const exit = o.tdvmcalls[0]?.exit;
  if (!exit) fail(`the library made no TDVMCALL (the run ended ${o.end})`);
  const args = w.wire(o.vm.addressing.sharedBit);
  const want: Record<string, bigint> = { r10: 0n, r11: BigInt(w.sub.number) };
  for (const [k, v] of Object.entries(args)) want[k.toLowerCase()] = v!;
  const select = TDVMCALL_CONTROL.get(exit.RCX, 'gpr_select');
  const needed = [TDVMCALL_REGS.callType, TDVMCALL_REGS.subfunction, ...(Object.keys(args) as GprName[])];
  for (const n of needed) expectThat(((select >> BigInt(Gpr[n])) & 1n) === 1n, `RCX gpr_select 0x${select.toString(16)} does not expose ${n}, which carries an operand`);
  // Exposed registers that carry nothing must not leak the guest's data (they read 0 at the exit).
  for (const n of GPR_NAMES) {
    const k = n.toLowerCase();
    if (k in want || n === 'RAX' || n === 'RCX') continue;
    if (((select >> BigInt(Gpr[n])) & 1n) === 1n) want[k] = 0n;
  }
  expectRegs(exit, want, { what: `${w.sub.name} on the wire`, tdvmcall: true });
}

function wrapperCases(): Omit<TdCase, 'area' | 'kind' | 'party'>[] {
  return WRAPPERS.flatMap((w) => [
    {
      name: `ghci-${w.key}`,
      behaviour: `The library's ${w.sub.name} wrapper puts exactly the GHCI registers on the wire (R10 = 0, R11 = ${w.sub.number}, its arguments), leaks no guest data in the other exposed registers, and returns the VMM's outputs.`,
      spec: `GHCI TDG.VP.VMCALL<${w.sub.name}>; Linux arch/x86/coco/tdx/tdx.c; facts linux-tdx.md §2.2, §2.5`,
      covers: [ok(w.sub)],
      host: {
        vmm({ regs }) {
          regs.set('R10', V.SUCCESS);
          for (const [k, v] of Object.entries(w.reply)) regs.set(k as GprName, v!);
          return 'resume';
        },
      },
      guest: guestPart(w),
      check(o: TdOutcome) {
        expectWire(o, w);
        expectFields(recorded<Record<string, unknown>>(o, 'result'), w.result, `${w.key} result`);
      },
    },
    {
      name: `ghci-${w.key}-refused`,
      behaviour: `When the VMM refuses ${w.sub.name} (R10 = INVALID_OPERAND), the library's wrapper returns that status as a failure.`,
      spec: `GHCI TDVMCALL status; Linux __tdx_hypercall (R10 ≠ 0 goes back to the caller); facts linux-tdx.md §2.2, §6.4`,
      covers: [fails(w.sub)],
      host: {
        vmm({ regs }) {
          regs.set('R10', V.INVALID_OPERAND);
          return 'resume';
        },
      },
      guest: guestPart(w),
      check(o: TdOutcome) {
        expectValue(o.tdvmcalls.length >= 1, true, 'the wrapper made its TDVMCALL');
        expectFields(recorded<Record<string, unknown>>(o, 'result'), { ok: false, status: V.INVALID_OPERAND }, `${w.key} result`, { status: asTdvmcallStatus });
      },
    },
  ]);
}

export const TDVMCALL_GUEST_CASES = tdCases('tdvmcall-guest', 'guest', wrapperCases());
