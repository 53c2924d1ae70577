/**
 * Test helper: a runnable TD and a minimal host loop, through real SEAMCALLs.
 *
 *   const env = bringUp();
 *   const rt = buildRunnableTd(env, { program: function* (cpu) { … yield* cpu.tdcall(); … } });
 *   const host = new HostLoop(env, rt.vcpus[0]!.tdvpr);
 *   const exit = host.enter();                 // TDH.VP.ENTER; returns at the next TD exit
 *   exit.regs.set('R10', 0n);                  // the VMM's reply, in the registers it exited with
 *   const next = host.enter(exit.regs);        // TDH.VP.ENTER with the reply
 *
 * `buildRunnableTd` registers the guest program in the platform's firmware catalogue, builds the
 * TD (module-harness `createTd`), adds the Secure-EPT path and the boot page naming the program
 * at the reset-vector page (plus any extra private pages), creates and initialises the vCPUs and
 * finalises the TD. `HostLoop.run` is the smallest host: enter, hand every exit to a callback,
 * re-enter with the registers it returns, until the callback says stop.
 */
import { RegisterFile, Gpr } from '../../src/abi/registers.ts';
import { TDVMCALL_EXIT_RCX } from '../../src/abi/operands.ts';
import { STATUS_DETAILS_MASK, STATUS_CODE_MASK } from '../../src/abi/status.ts';
import { VmxExitReason } from '../../src/abi/vmx.ts';
import { BOOT_PAGE_GPA, encodeBootPage } from '../../src/platform/boot-image.ts';
import type { ExceptionHandler, GuestCpu, GuestGen, GuestProgram } from '../../src/platform/guest-cpu.ts';
import type { GprName } from '../../src/abi/registers.ts';
import { LEAF_WORD } from '../../src/abi/operands.ts';
import { SharedEpt } from '../../src/platform/shared-ept.ts';
import { metadataFieldByName } from '../../src/abi/metadata.ts';
import { SEPTE_PA_MASK } from '../../src/abi/sept.ts';
import type { LeafCallResult } from '../../src/platform/leaf-call.ts';
import type { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';
import { createTd, type CreateTdOptions, type CreatedTd, type ModuleEnv } from './module-harness.ts';
import { createVcpu, type CreatedVcpu } from './vcpu-harness.ts';
import { addPage, addSeptPath, finalize } from './td-memory.ts';

let programSerial = 0;

export interface RunnableTdOptions extends CreateTdOptions {
  /** The guest program every vCPU boots into (registered under a fresh name). */
  program: GuestProgram;
  /** Number of vCPUs (default 1); vCPU i is initialised on LP `vcpuLps[i]` (default 0). */
  vcpus?: number;
  vcpuLps?: number[];
  /** Extra private pages added (and measured) before finalisation. */
  pages?: { gpa: bigint; bytes?: Uint8Array }[];
  /** Replace the boot page (e.g. with garbage, or a descriptor naming an unknown program). */
  bootPage?: Uint8Array;
  /** Do not add the boot page at all. */
  noBootPage?: boolean;
}

export interface RunnableTd extends CreatedTd {
  readonly vcpus: CreatedVcpu[];
  /** Name of the program in the firmware catalogue. */
  readonly programName: string;
}

/** Build, measure and finalise a TD whose vCPUs run `opts.program`. */
export function buildRunnableTd(env: ModuleEnv, opts: RunnableTdOptions): RunnableTd {
  const programName = `test-program-${++programSerial}`;
  env.platform.firmware.register(programName, () => opts.program);
  const t = createTd(env, { maxVcpus: Math.max(opts.vcpus ?? 1, 1), ...opts });
  if (!opts.noBootPage) {
    addSeptPath(env, t, BOOT_PAGE_GPA, 1);
    addPage(env, t, BOOT_PAGE_GPA, opts.bootPage ?? encodeBootPage({ program: programName, args: null }));
  }
  for (const p of opts.pages ?? []) {
    addSeptPath(env, t, p.gpa, 1);
    addPage(env, t, p.gpa, p.bytes);
  }
  const vcpus: CreatedVcpu[] = [];
  for (let i = 0; i < (opts.vcpus ?? 1); i++) vcpus.push(createVcpu(env, t.tdr, { lp: opts.vcpuLps?.[i] ?? 0 }));
  finalize(env, t);
  return { ...t, vcpus, programName };
}

/** One TDH.VP.ENTER result, decoded the way a host classifies it. */
export interface TdExit {
  /** RAX: completion status and (for TD exits) the exit reason in bits 31:0. */
  readonly rax: bigint;
  /** RAX bits 63:32. */
  readonly status: bigint;
  /** RAX bits 31:0: the VMX exit reason of a TD exit (or the operand of a failed entry). */
  readonly reason: number;
  /** A TDG.VP.VMCALL exit: RAX = 77, the guest's registers exposed. */
  readonly tdvmcall: boolean;
  /** The host's registers after the SEAMCALL (reply by modifying them and re-entering). */
  readonly regs: RegisterFile;
  readonly result: LeafCallResult<typeof SeamcallLeaf.TDH_VP_ENTER>;
}

export class HostLoop {
  constructor(
    readonly env: ModuleEnv,
    readonly tdvpr: bigint,
    /** The LP the host runs the vCPU on. */
    readonly lp = 0,
  ) {}

  /** TDH.VP.ENTER with `regs` (default: all zero) as the host's registers; RCX is set here. */
  enter(regs: RegisterFile = new RegisterFile(), rcx?: bigint): TdExit {
    const result = this.env.on(this.lp).VP_ENTER({ vcpu: rcx ?? this.tdvpr }, { regs });
    return decodeExit(result);
  }

  /**
   * Enter, hand each exit to `onExit`, and re-enter with the registers it returns until it
   * returns 'stop' (or `maxEntries` entries were made). Returns the last exit.
   */
  run(onExit: (exit: TdExit) => RegisterFile | 'stop', maxEntries = 1000): TdExit {
    let exit = this.enter();
    for (let i = 1; i < maxEntries; i++) {
      const reply = onExit(exit);
      if (reply === 'stop') return exit;
      exit = this.enter(reply);
    }
    throw new Error(`HostLoop.run: no stop after ${maxEntries} entries`);
  }
}

export function decodeExit(result: LeafCallResult<typeof SeamcallLeaf.TDH_VP_ENTER>): TdExit {
  const rax = result.status;
  const reason = Number(rax & STATUS_DETAILS_MASK);
  const status = rax & STATUS_CODE_MASK;
  return {
    rax,
    status,
    reason,
    tdvmcall: status === 0n && reason === VmxExitReason.TDCALL,
    regs: result.regs,
    result,
  };
}

/** The guest's exposed-register bitmap of a TDVMCALL exit (RCX bits 15:0). */
export function exposedGprs(exit: TdExit): bigint {
  return TDVMCALL_EXIT_RCX.get(exit.regs.gpr[Gpr.RCX]!, 'gpr_select');
}

// ---- guest side ---------------------------------------------------------------------------

/** Linux's exposed-register mask: RDX, RBX, RSI, RDI, R8–R15. */
export const LINUX_GPR_MASK = 0xffccn;

/**
 * Guest: TDG.VP.VMCALL exposing `mask` (default Linux's), with `values` loaded first. Returns the
 * TDCALL status (RAX after the call).
 */
export function* guestVmcall(cpu: GuestCpu, values: Partial<Record<GprName, bigint>> = {}, mask = LINUX_GPR_MASK): GuestGen<bigint> {
  for (const [name, v] of Object.entries(values) as [GprName, bigint][]) cpu.regs.set(name, v);
  cpu.regs.set('RAX', 0n).set('RCX', mask);
  yield* cpu.tdcall();
  return cpu.regs.get('RAX');
}

/** Guest: TDCALL of `leaf` (version `version`) with the given operand registers; returns RAX. */
export function* guestTdcall(cpu: GuestCpu, leaf: number, operands: Partial<Record<GprName, bigint>> = {}, version = 0): GuestGen<bigint> {
  for (const [name, v] of Object.entries(operands) as [GprName, bigint][]) cpu.regs.set(name, v);
  cpu.regs.set('RAX', LEAF_WORD.encode({ leaf, version }));
  yield* cpu.tdcall();
  return cpu.regs.get('RAX');
}

/** Guest: a final TDVMCALL with R11 = `marker`, for a host loop to recognise the end. */
export function* guestDone(cpu: GuestCpu, marker = DONE_MARKER): GuestGen<void> {
  yield* guestVmcall(cpu, { R10: 0n, R11: marker });
}

/** An IDT entry that executes no instruction of its own (a plain callback). */
export function plainHandler(fn: (cpu: GuestCpu, vector: number, errorCode: bigint | undefined) => void): ExceptionHandler {
  return function* (cpu, vector, errorCode) {
    fn(cpu, vector, errorCode);
    yield* [];
  };
}

/** R11 of the guest's final TDVMCALL (guestDone). */
export const DONE_MARKER = 0xd0d0n;

/** True if the exit is the guest's final TDVMCALL (guestDone). */
export function isDone(exit: TdExit): boolean {
  return exit.tdvmcall && exit.regs.gpr[Gpr.R11] === DONE_MARKER;
}

// ---- shared memory ------------------------------------------------------------------------

/** Root PA the helper registers shared EPTs at (outside every TDMR; never accessed as memory). */
let sharedEptRoots = 0x7f00_0000n;

/**
 * Give `vcpu` a host shared EPT: registered with the platform at a fresh root and installed as
 * the vCPU's SHARED_EPTP with TDH.VP.WR (on the vCPU's associated LP), as KVM does. Returns the
 * table for the test to map pages into.
 */
export function attachSharedEpt(env: ModuleEnv, vcpu: CreatedVcpu): SharedEpt {
  const table = new SharedEpt();
  const root = (sharedEptRoots += 0x1000n);
  env.platform.registerSharedEpt(root, table);
  const field = metadataFieldByName('SHARED_EPTP')!;
  const lp = Math.max(vcpu.vcpu.assocLp, 0);
  const r = env.on(lp).VP_WR({ tdvpr: vcpu.tdvpr, fieldId: field.id, value: root, mask: SEPTE_PA_MASK });
  if (r.status !== 0n) throw new Error(`TDH.VP.WR(SHARED_EPTP): status ${r.status.toString(16)}`);
  return table;
}
