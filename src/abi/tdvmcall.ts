/**
 * TDG.VP.VMCALL sub-functions (the GHCI) and their register use.
 *
 * R10 = 0 (TDX_HYPERCALL_STANDARD) marks a GHCI call with the sub-function in R11; a non-zero R10
 * is a vendor hypercall (KVM puts its hypercall number there). Instruction-emulation sub-functions
 * reuse the VMX exit reason of the instruction. On return R10 is the VMM's status
 * (TdvmcallStatus) and R11.. carry results. Sources: GHCI via Linux `arch/x86/coco/tdx/tdx.c` and
 * KVM `arch/x86/kvm/vmx/tdx.c`; facts tdx-module.md §6.6, linux-tdx.md §2.2–2.5, §4.3.
 */
import type { GprName } from './registers.ts';
import { VmxExitReason } from './vmx.ts';

/** R10 value of a standard GHCI TDVMCALL. */
export const TDX_HYPERCALL_STANDARD = 0n;

/**
 * The GPRs Linux exposes on every TDVMCALL: RDX, RBX, RSI, RDI, R8–R15 (RCX bits 2,3,6–15).
 * RBP is never exposed (KVM sets NO_RBP_MOD); RAX, RCX and RSP cannot be.
 */
export const TDVMCALL_EXPOSE_REGS_MASK = 0xffccn;

/** gpr_select bits that may never be set: RAX (0), RCX (1), RSP (4). */
export const TDVMCALL_FORBIDDEN_GPR_MASK = 0x0013n;
/** gpr_select bit of RBP, forbidden when CONFIG_FLAGS.NO_RBP_MOD is set. */
export const TDVMCALL_RBP_GPR_BIT = 0x0020n;

export interface SubfunctionOperand {
  readonly reg: GprName;
  readonly name: string;
  readonly doc: string;
}

export interface TdvmcallSubfunction {
  readonly name: string;
  /** R11 value. */
  readonly number: number;
  readonly purpose: string;
  readonly inputs: readonly SubfunctionOperand[];
  readonly outputs: readonly SubfunctionOperand[];
}

const sub = (s: TdvmcallSubfunction): TdvmcallSubfunction => Object.freeze(s);

export const TdvmcallSubfunction = Object.freeze({
  CPUID: sub({
    name: 'Instruction.CPUID',
    number: VmxExitReason.CPUID,
    purpose: 'Emulate CPUID for a leaf the TDX module does not virtualise',
    inputs: [
      { reg: 'R12', name: 'leaf', doc: 'EAX: CPUID leaf' },
      { reg: 'R13', name: 'subleaf', doc: 'ECX: CPUID sub-leaf' },
    ],
    outputs: [
      { reg: 'R12', name: 'eax', doc: 'EAX' },
      { reg: 'R13', name: 'ebx', doc: 'EBX' },
      { reg: 'R14', name: 'ecx', doc: 'ECX' },
      { reg: 'R15', name: 'edx', doc: 'EDX' },
    ],
  }),
  HLT: sub({
    name: 'Instruction.HLT',
    number: VmxExitReason.HLT,
    purpose: 'Halt the vCPU until an interrupt arrives',
    inputs: [{ reg: 'R12', name: 'interruptBlocked', doc: '1 if RFLAGS.IF was clear (wake only for NMI)' }],
    outputs: [],
  }),
  IO: sub({
    name: 'Instruction.IO',
    number: VmxExitReason.IO_INSTRUCTION,
    purpose: 'Emulate a port I/O instruction',
    inputs: [
      { reg: 'R12', name: 'size', doc: 'access size in bytes: 1, 2 or 4' },
      { reg: 'R13', name: 'direction', doc: '0 = read (IN), 1 = write (OUT)' },
      { reg: 'R14', name: 'port', doc: 'I/O port' },
      { reg: 'R15', name: 'data', doc: 'value to write' },
    ],
    outputs: [{ reg: 'R11', name: 'data', doc: 'value read' }],
  }),
  RDMSR: sub({
    name: 'Instruction.RDMSR',
    number: VmxExitReason.RDMSR,
    purpose: 'Emulate RDMSR',
    inputs: [{ reg: 'R12', name: 'msr', doc: 'MSR index' }],
    outputs: [{ reg: 'R11', name: 'value', doc: 'EDX:EAX' }],
  }),
  WRMSR: sub({
    name: 'Instruction.WRMSR',
    number: VmxExitReason.WRMSR,
    purpose: 'Emulate WRMSR',
    inputs: [
      { reg: 'R12', name: 'msr', doc: 'MSR index' },
      { reg: 'R13', name: 'value', doc: 'EDX:EAX' },
    ],
    outputs: [],
  }),
  MMIO: sub({
    name: '#VE.RequestMMIO',
    number: VmxExitReason.EPT_VIOLATION,
    purpose: 'Emulate an access to shared (MMIO) memory',
    inputs: [
      { reg: 'R12', name: 'size', doc: 'access size in bytes: 1, 2, 4 or 8' },
      { reg: 'R13', name: 'direction', doc: '0 = read, 1 = write' },
      { reg: 'R14', name: 'gpa', doc: 'shared GPA' },
      { reg: 'R15', name: 'data', doc: 'value to write' },
    ],
    outputs: [{ reg: 'R11', name: 'data', doc: 'value read' }],
  }),
  GET_TD_VM_CALL_INFO: sub({
    name: 'GetTdVmCallInfo',
    number: 0x10000,
    purpose: 'Discover which TDVMCALL sub-functions the VMM supports',
    inputs: [{ reg: 'R12', name: 'leaf', doc: '0 = base ABI, 1 = supported optional sub-functions' }],
    outputs: [
      { reg: 'R11', name: 'r11', doc: 'leaf 1: bitmap of supported sub-functions (bit 1 SetupEventNotifyInterrupt)' },
      { reg: 'R12', name: 'r12', doc: 'leaf-specific' },
      { reg: 'R13', name: 'r13', doc: 'leaf-specific' },
      { reg: 'R14', name: 'r14', doc: 'leaf-specific' },
    ],
  }),
  MAP_GPA: sub({
    name: 'MapGPA',
    number: 0x10001,
    purpose: 'Convert a GPA range between private and shared (shared bit in R12 = to shared)',
    inputs: [
      { reg: 'R12', name: 'gpa', doc: 'start GPA, 4K-aligned; the shared bit selects the target' },
      { reg: 'R13', name: 'size', doc: 'size in bytes, 4K-aligned' },
    ],
    outputs: [{ reg: 'R11', name: 'nextGpa', doc: 'on RETRY (or error): the GPA to resume from' }],
  }),
  GET_QUOTE: sub({
    name: 'GetQuote',
    number: 0x10002,
    purpose: 'Ask the VMM to turn a TDREPORT in a shared buffer into a quote',
    inputs: [
      { reg: 'R12', name: 'gpa', doc: 'shared GPA of the GetQuote buffer' },
      { reg: 'R13', name: 'size', doc: 'buffer size in bytes (4K-aligned)' },
    ],
    outputs: [],
  }),
  REPORT_FATAL_ERROR: sub({
    name: 'ReportFatalError',
    number: 0x10003,
    purpose: 'Report a fatal error before the TD stops; does not return',
    inputs: [
      { reg: 'R12', name: 'errorCode', doc: 'error code (FATAL_ERROR_CODE)' },
      { reg: 'R13', name: 'dataGpa', doc: 'GPA of extra data when R12 bit 63 is set' },
      { reg: 'R14', name: 'msg0', doc: 'message bytes 0..7' },
      { reg: 'R15', name: 'msg1', doc: 'message bytes 8..15' },
      { reg: 'RBX', name: 'msg2', doc: 'message bytes 16..23' },
      { reg: 'RDI', name: 'msg3', doc: 'message bytes 24..31' },
      { reg: 'RSI', name: 'msg4', doc: 'message bytes 32..39' },
      { reg: 'R8', name: 'msg5', doc: 'message bytes 40..47' },
      { reg: 'R9', name: 'msg6', doc: 'message bytes 48..55' },
      { reg: 'RDX', name: 'msg7', doc: 'message bytes 56..63' },
    ],
    outputs: [],
  }),
  SETUP_EVENT_NOTIFY_INTERRUPT: sub({
    name: 'SetupEventNotifyInterrupt',
    number: 0x10004,
    purpose: 'Tell the VMM which vector to raise when a GetQuote completes',
    inputs: [{ reg: 'R12', name: 'vector', doc: 'interrupt vector, 32..255' }],
    outputs: [],
  }),
});

export type TdvmcallSubfunctionName = keyof typeof TdvmcallSubfunction;

/** Order in which ReportFatalError packs its 64-byte message, 8 bytes per register. */
export const FATAL_ERROR_MESSAGE_REGS: readonly GprName[] = Object.freeze([
  'R14', 'R15', 'RBX', 'RDI', 'RSI', 'R8', 'R9', 'RDX',
]);

/** Largest chunk KVM forwards to userspace per MapGPA hypercall exit (TDX_MAP_GPA_MAX_LEN). */
export const MAP_GPA_MAX_CHUNK = 2n * 1024n * 1024n;

/** GetTdVmCallInfo leaf 1, R11 bit 1: SetupEventNotifyInterrupt is supported. */
export const TDVMCALLINFO_1_R11_SETUP_EVENT_NOTIFY = 1n << 1n;

/**
 * The registers of the TDVMCALL calling convention around every sub-function (GHCI; Linux
 * `__tdx_hypercall` and `tdx_kvm_hypercall`; facts linux-tdx.md §2.2, tdx-module.md §6.6):
 * R10 carries the call type in (TDX_HYPERCALL_STANDARD, or a KVM hypercall number) and the VMM's
 * status out; R11 the sub-function in and the first result out; a KVM hypercall passes its four
 * arguments in R11–R14.
 */
export const TDVMCALL_REGS = Object.freeze({
  callType: 'R10',
  status: 'R10',
  subfunction: 'R11',
  results: Object.freeze(['R11', 'R12', 'R13', 'R14', 'R15']),
  kvmArgs: Object.freeze(['R11', 'R12', 'R13', 'R14']),
} as const satisfies {
  callType: GprName;
  status: GprName;
  subfunction: GprName;
  results: readonly GprName[];
  kvmArgs: readonly GprName[];
});

/** Direction operand of Instruction.IO and #VE.RequestMMIO (R13): GHCI, Linux PORT_READ/PORT_WRITE, EPT_READ/EPT_WRITE. */
export const TdvmcallDirection = Object.freeze({
  READ: 0n,
  WRITE: 1n,
} as const);
