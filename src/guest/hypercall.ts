/**
 * TDG.VP.VMCALL (TDVMCALL): the guest's call to the host VMM, as Linux's `__tdx_hypercall`,
 * `_tdx_hypercall` and `tdx_kvm_hypercall` (arch/x86/coco/tdx/tdx.c, tdx-shared.c).
 *
 * Every TDVMCALL exposes exactly TDVMCALL_EXPOSE_REGS_MASK (RDX, RBX, RSI, RDI, R8–R15) and loads
 * every exposed register — zero unless the call gives it a value — so no guest data the call did
 * not mean to pass leaks to the VMM. A GHCI call puts TDX_HYPERCALL_STANDARD in R10 and the
 * sub-function in R11; a KVM hypercall puts its number in R10.
 *
 * Two failure domains, two types (GHCI; facts linux-tdx.md §2.2, §6.4):
 *   - RAX ≠ 0: the TDX module did not carry the call. TDG.VP.VMCALL fails only on a bad control
 *     word, which this helper never builds, so it is a module bug and the guest panics.
 *   - R10 ≠ 0: the VMM refused or failed the request. That is ordinary and goes back to the
 *     caller as a `VmcallFailure` carrying the TdvmcallStatus.
 */
import { GPR_NAMES, type GprName } from '../abi/registers.ts';
import { TdcallLeaf } from '../abi/tdcall-leaves.ts';
import {
  TDVMCALL_EXPOSE_REGS_MASK,
  TDVMCALL_REGS,
  TDX_HYPERCALL_STANDARD,
  type TdvmcallSubfunction,
} from '../abi/tdvmcall.ts';
import { TdvmcallStatus, type TdvmcallStatusName } from '../abi/tdvmcall-status.ts';
import { decodeTdvmcallStatus } from '../abi/status-decode.ts';
import { hex64 } from '../abi/bitfield.ts';
import type { GuestCpu, GuestGen } from '../platform/guest-cpu.ts';
import { tdcall, type TdcallResult } from './tdcall.ts';
import { panic } from './panic.ts';

/** The GPRs every TDVMCALL exposes to the VMM, in architectural order. */
export const EXPOSED_GPRS: readonly GprName[] = Object.freeze(
  GPR_NAMES.filter((_, i) => ((TDVMCALL_EXPOSE_REGS_MASK >> BigInt(i)) & 1n) === 1n),
);

/** Register payload of a TDVMCALL: values for exposed GPRs (the rest of them are loaded as 0). */
export type HypercallPayload = Partial<Record<GprName, bigint>>;

/** The VMM carried out the request; R11–R15 as it left them. */
export interface VmcallSuccess {
  readonly ok: true;
  readonly r11: bigint;
  readonly r12: bigint;
  readonly r13: bigint;
  readonly r14: bigint;
  readonly r15: bigint;
}

/** The VMM answered with a non-zero TDVMCALL status (R10). */
export interface VmcallFailure {
  readonly ok: false;
  /** R10: a TdvmcallStatus value (RETRY included: it is not SUCCESS). */
  readonly status: bigint;
  /** The status's name if the GHCI defines it. */
  readonly statusName: TdvmcallStatusName | undefined;
  /** R11 as the VMM left it (MapGPA RETRY: the GPA to resume from). */
  readonly r11: bigint;
}

/** Outcome of a GHCI TDVMCALL, in the VMM failure domain. */
export type VmcallResult = VmcallSuccess | VmcallFailure;

/** Outcome of a KVM hypercall: KVM's return value from R10 (0, or e.g. -KVM_ENOSYS). */
export interface KvmHypercallResult {
  readonly ret: bigint;
}

/** Misuse of the hypercall helpers by guest code (not VMM input). */
export class HypercallUsageError extends Error {
  override readonly name = 'HypercallUsageError';
}

/**
 * Issue TDG.VP.VMCALL with `payload` and return the module's result without judging it. Only
 * panic.ts uses this directly: a failing ReportFatalError must not recurse into another panic.
 */
export function* issueTdvmcall(cpu: GuestCpu, payload: HypercallPayload): GuestGen<TdcallResult<Record<never, bigint>>> {
  for (const reg of Object.keys(payload) as GprName[]) {
    if (!EXPOSED_GPRS.includes(reg)) throw new HypercallUsageError(`${reg} is not exposed on a TDVMCALL`);
  }
  for (const reg of EXPOSED_GPRS) cpu.regs.set(reg, payload[reg] ?? 0n);
  return yield* tdcall(cpu, TdcallLeaf.TDG_VP_VMCALL, { control: TDVMCALL_EXPOSE_REGS_MASK });
}

/** Issue a TDVMCALL whose module status must be SUCCESS; anything else is a module bug. */
function* issueOrPanic(cpu: GuestCpu, payload: HypercallPayload): GuestGen<void> {
  const res = yield* issueTdvmcall(cpu, payload);
  if (!res.ok) yield* panic(cpu, `TDVMCALL failed ${hex64(res.status)}: TDX module bug?`);
}

/**
 * A standard GHCI TDVMCALL: R10 = TDX_HYPERCALL_STANDARD, R11 = `subfunction`, `args` in the
 * other exposed registers. Returns the VMM's answer.
 */
export function* tdxHypercall(cpu: GuestCpu, subfunction: number | bigint, args: HypercallPayload = {}): GuestGen<VmcallResult> {
  yield* issueOrPanic(cpu, ghciPayload(subfunction, args));
  const status = cpu.regs.get(TDVMCALL_REGS.status);
  const [r11, r12, r13, r14, r15] = TDVMCALL_REGS.results.map((r) => cpu.regs.get(r)) as [bigint, bigint, bigint, bigint, bigint];
  if (status !== TdvmcallStatus.SUCCESS) {
    return { ok: false, status, statusName: decodeTdvmcallStatus(status).key, r11 };
  }
  return { ok: true, r11, r12, r13, r14, r15 };
}

/**
 * A KVM paravirtual hypercall from a TD: R10 = the hypercall number (never 0, which would make it
 * a GHCI call), arguments in R11–R14. KVM answers in R10.
 */
export function* kvmHypercall(cpu: GuestCpu, nr: number | bigint, p1 = 0n, p2 = 0n, p3 = 0n, p4 = 0n): GuestGen<KvmHypercallResult> {
  const number = BigInt(nr);
  if (number === TDX_HYPERCALL_STANDARD) throw new HypercallUsageError('a KVM hypercall number must not be 0');
  const payload: HypercallPayload = { [TDVMCALL_REGS.callType]: number };
  TDVMCALL_REGS.kvmArgs.forEach((reg, i) => (payload[reg] = [p1, p2, p3, p4][i]!));
  yield* issueOrPanic(cpu, payload);
  return { ret: cpu.regs.get(TDVMCALL_REGS.status) };
}

/** The full payload of a standard GHCI call: R10 = TDX_HYPERCALL_STANDARD, R11 = sub-function. */
export function ghciPayload(subfunction: number | bigint, args: HypercallPayload): HypercallPayload {
  if (TDVMCALL_REGS.callType in args || TDVMCALL_REGS.subfunction in args) {
    throw new HypercallUsageError(`${TDVMCALL_REGS.callType} and ${TDVMCALL_REGS.subfunction} carry the call type and sub-function`);
  }
  return { ...args, [TDVMCALL_REGS.callType]: TDX_HYPERCALL_STANDARD, [TDVMCALL_REGS.subfunction]: BigInt(subfunction) };
}

/**
 * The payload of a GHCI sub-function from its named inputs, using the registers the table
 * assigns (src/abi/tdvmcall.ts). Inputs not given are 0.
 */
export function subfunctionPayload(sub: TdvmcallSubfunction, inputs: Readonly<Record<string, bigint>>): HypercallPayload {
  const payload: HypercallPayload = {};
  for (const [name, value] of Object.entries(inputs)) {
    const op = sub.inputs.find((o) => o.name === name);
    if (!op) throw new HypercallUsageError(`${sub.name} has no input ${name}`);
    payload[op.reg] = value;
  }
  return payload;
}

/** Read a sub-function's named outputs from the registers after a successful call. */
export function subfunctionOutputs(sub: TdvmcallSubfunction, cpu: GuestCpu): Record<string, bigint> {
  return Object.fromEntries(sub.outputs.map((o) => [o.name, cpu.regs.get(o.reg)]));
}
