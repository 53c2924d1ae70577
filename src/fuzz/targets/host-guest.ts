/**
 * The TD path of the `host` target: a real guest program in a real TD that performs the fuzzer's
 * actions, so the whole crossing — TDCALL, the module's TD exit, the host's handling, userspace,
 * TDH.VP.ENTER, the module's resume rules — is exercised end to end.
 *
 * The program reads its actions from a mailbox the fuzz step fills (a simulation shortcut: the
 * "memory" between fuzzer and guest is a JS object, not guest RAM). It installs the guest kernel's
 * #VE handler (src/guest/ve.ts) so executed IN/OUT, CPUID, MSR and HLT instructions and MMIO
 * accesses become the TDVMCALLs a Linux guest would make. For a TDVMCALL action it loads the
 * exposed registers from the action and fills every other GPR and all XMMs with TD secrets, then
 * after the call checks, from inside the TD:
 *   - the module carried the call (RAX = 0), or refused it without changing anything;
 *   - no unexposed register changed (unexposed-registers);
 *   - the VMM's answer keeps the GHCI contract (status-defined, vmm-reply-contract).
 * With nothing to do it makes an idle TDVMCALL (GetTdVmCallInfo leaf 0, answered inside KVM) so
 * the host gets its LP back.
 */
import { Gpr, GPR_COUNT, RegisterFile, XMM_COUNT } from '../../abi/registers.ts';
import { LEAF_WORD, TDVMCALL_CONTROL } from '../../abi/operands.ts';
import { TdcallLeaf } from '../../abi/tdcall-leaves.ts';
import { TDVMCALL_EXPOSE_REGS_MASK, TdvmcallSubfunction, TDX_HYPERCALL_STANDARD } from '../../abi/tdvmcall.ts';
import { hex64, U32_MASK } from '../../abi/bitfield.ts';
import { leBytes, type GuestCpu, type GuestGen, type GuestProgram } from '../../platform/guest-cpu.ts';
import { installVeHandler } from '../../guest/ve.ts';
import { checkUnexposedRegisters, Invariant, violation, type SecretWords, type Violation } from '../invariants.ts';
import { checkTdvmcallReply } from '../ghci-contract.ts';
import { Rng } from '../rng.ts';
import { FIRST_EXTERNAL_VECTOR, LAST_VECTOR } from '../../abi/posted-interrupt.ts';
import { type HostAction, type InstructionAction, type LowerGpr, type TdvmcallAction } from './host-gen.ts';

export interface GuestMailbox {
  readonly queue: HostAction[];
  /** The guest has nothing to do and is making its idle call. */
  waiting: boolean;
  /** The action the guest is performing (undefined while idle). */
  current: HostAction | undefined;
  /** First violation the guest saw, collected by the fuzz step. */
  found: Violation | undefined;
}

const LOWER: readonly LowerGpr[] = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const VMCALL = LEAF_WORD.encode({ leaf: TdcallLeaf.TDG_VP_VMCALL.number, version: 0 });
const SECRET_SEED = 4242n;

export function maliciousGuest(mailbox: GuestMailbox, secrets: SecretWords, sharedBit: bigint): GuestProgram {
  const rng = new Rng(SECRET_SEED);
  const secretGpr = Array.from({ length: GPR_COUNT }, () => rng.u64());
  const secretXmm = Array.from({ length: XMM_COUNT * 2 }, () => rng.u64());
  for (const w of [...secretGpr, ...secretXmm]) secrets.add(w);
  const idle: TdvmcallAction = {
    kind: 'tdvmcall',
    mask: TDVMCALL_EXPOSE_REGS_MASK,
    regs: { r10: TDX_HYPERCALL_STANDARD, r11: BigInt(TdvmcallSubfunction.GET_TD_VM_CALL_INFO.number), r12: 0n },
  };
  return function* guest(cpu: GuestCpu): GuestGen<void> {
    installVeHandler(cpu, { sharedBit });
    // Every external interrupt (the host's wake-ups, the GetQuote notification vector the guest
    // chose) is accepted and ignored (IRET).
    for (let v = FIRST_EXTERNAL_VECTOR; v <= LAST_VECTOR; v++) cpu.idt.set(v, ignoreInterrupt);
    const before = new RegisterFile();
    for (;;) {
      const a = mailbox.queue.shift();
      mailbox.current = a;
      if (a === undefined) {
        mailbox.waiting = true;
        yield* tdvmcall(cpu, idle, secretGpr, secretXmm, before, mailbox);
        mailbox.waiting = false;
        continue;
      }
      switch (a.kind) {
        case 'tdvmcall':
          yield* tdvmcall(cpu, a, secretGpr, secretXmm, before, mailbox);
          break;
        case 'access':
          if (a.write) yield* cpu.write(a.gpa, leBytes(a.value, a.size));
          else yield* cpu.read(a.gpa, a.size);
          break;
        case 'instruction':
          yield* instruction(cpu, a);
          break;
        case 'interrupt':
          break; // the host posts it (see host.ts); nothing for the guest to do
      }
    }
  };
}

function* ignoreInterrupt(): GuestGen<void> {
  yield* [];
}

function* tdvmcall(
  cpu: GuestCpu,
  a: TdvmcallAction,
  secretGpr: readonly bigint[],
  secretXmm: readonly bigint[],
  before: RegisterFile,
  mailbox: GuestMailbox,
): GuestGen<void> {
  const g = cpu.regs.gpr;
  const mask = a.mask & TDVMCALL_EXPOSE_REGS_MASK;
  for (let i = 0; i < GPR_COUNT; i++) {
    if (i === Gpr.RSP) continue;
    g[i] = (mask >> BigInt(i)) & 1n ? (a.regs[LOWER[i]!] ?? 0n) : secretGpr[i]!;
  }
  cpu.regs.xmm.set(secretXmm);
  g[Gpr.RAX] = VMCALL;
  g[Gpr.RCX] = TDVMCALL_CONTROL.encode({ gpr_select: mask, xmm_select: 0n });
  before.copyFrom(cpu.regs);
  yield* cpu.tdcall();
  const status = g[Gpr.RAX]!;
  const where = `guest TDVMCALL (TDCALL status ${hex64(status)})`;
  let v = checkUnexposedRegisters(before, cpu.regs, status === 0n ? mask : 0n, where);
  if (!v && cpu.regs.xmm.some((x, i) => x !== secretXmm[i])) v = violation(Invariant.UNEXPOSED_REGISTERS, `${where}: an unexposed XMM register changed`);
  // The VMM only saw (and can only answer in) R10/R11 if they were exposed.
  const exposed = (r: number) => ((mask >> BigInt(r)) & 1n) === 1n;
  if (!v && status === 0n && exposed(Gpr.R10) && exposed(Gpr.R11)) {
    const req = { callType: before.gpr[Gpr.R10]!, subfunction: before.gpr[Gpr.R11]!, r12: exposed(Gpr.R12) ? before.gpr[Gpr.R12]! : 0n, r13: exposed(Gpr.R13) ? before.gpr[Gpr.R13]! : 0n };
    v = checkTdvmcallReply(req, g[Gpr.R10]!, g[Gpr.R11]!, where);
  }
  if (v) mailbox.found ??= v;
}

function* instruction(cpu: GuestCpu, a: InstructionAction): GuestGen<void> {
  const port = Number(a.a & 65535n);
  const size = ([1, 2, 4] as const)[Number(a.b % 3n)]!;
  switch (a.op) {
    case 'in':
      yield* cpu.in(port, size);
      return;
    case 'out':
      yield* cpu.out(port, size, a.b);
      return;
    case 'cpuid':
      yield* cpu.cpuid(Number(a.a & U32_MASK), Number(a.b & U32_MASK));
      return;
    case 'rdmsr':
      yield* cpu.rdmsr(Number(a.a & U32_MASK));
      return;
    case 'wrmsr':
      yield* cpu.wrmsr(Number(a.a & U32_MASK), a.b);
      return;
    case 'hlt':
      yield* cpu.hlt();
  }
}
