/**
 * Running a TD case: build a TD with the built-in host, boot the case's guest part in it, and
 * drive TDH.VP.ENTER until the guest part is done — answering every TD exit on the way.
 *
 * Who answers what:
 *   - a TDG.VP.VMCALL exit goes to the party under test when the case judges the host (the
 *     pluggable ConformanceHost); otherwise to the case's VMM script if it has one, else to the
 *     built-in host;
 *   - every other exit (EPT violations, preemption, triple faults) goes to the built-in host,
 *     which is infrastructure here: it maps private and shared memory exactly as KVM would;
 *   - an exit record the host hands to VMM userspace goes to the case's userspace script; the
 *     default answers nothing (KVM's presets stand) and stops on a record that takes no reply.
 *
 * The guest part runs in the TD as the vCPU's firmware; the suite appends a final TDVMCALL with
 * an end marker, which this loop recognises and never shows to any host. The outcome keeps, in
 * order, the registers of every TDVMCALL exit (the wire view of what the guest asked), the
 * registers after the host answered (what TDH.VP.ENTER passed back), every exit record and
 * anything the guest part recorded.
 */
import type { RegisterFile } from '../abi/registers.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { STATUS_DETAILS_MASK, TdxStatus, statusCode } from '../abi/status.ts';
import { VmxExitReason } from '../abi/vmx.ts';
import { TDVMCALL_REGS, TDX_HYPERCALL_STANDARD } from '../abi/tdvmcall.ts';
import { GPAW_48, sharedBit } from '../abi/gpa.ts';
import { PAGE_SIZE } from '../abi/pamt.ts';
import { BOOT_PAGE_GPA, encodeBootPage } from '../platform/boot-image.ts';
import type { GuestCpu, GuestGen } from '../platform/guest-cpu.ts';
import { callLeaf } from '../platform/leaf-call.ts';
import { handleExit } from '../host/exits.ts';
import type { ExitRecord, ExitReply } from '../host/exit-records.ts';
import type { TdxVcpu, VcpuOptions } from '../host/vcpu.ts';
import type { TdxVm, VmConfig } from '../host/vm.ts';
import { HostError } from '../host/errors.ts';
import type { CaseContext, ConformanceGuest, ExitAction, ExitContext } from './interfaces.ts';
import { builtinGuest, builtinHost } from './builtin.ts';
import { exposing, rawTdvmcall, type RegSnapshot } from './guest-ops.ts';
import { CaseFailure, type Party } from './case.ts';
import { Machine, type MachineOptions } from './machine.ts';

/** R11 of the suite's end-of-case TDVMCALL: far above every GHCI sub-function number. */
const END_OF_CASE = (1n << 62n) + 7n;
/** TDH.VP.ENTERs one case may make before it is stopped. */
const MAX_ENTRIES = 5000;
/** Guest RAM of a case TD. */
const DEFAULT_MEMORY = 16n << 20n;
/** Accepted private pages every case TD gets for buffers, at GPA 1 MiB. */
export const SCRATCH_GPA = 1n << 20n;
export const SCRATCH_PAGES = 4;

export interface TdSpec extends Partial<Omit<VmConfig, 'memorySize'>> {
  /** Guest RAM size (default 16 MiB). */
  readonly memory?: bigint;
  readonly machine?: MachineOptions;
  /** Extra initial private pages (PAGE.ADD before finalize), optionally measured. */
  readonly pages?: readonly { readonly gpa: bigint; readonly bytes?: Uint8Array; readonly measure?: boolean }[];
  /** KVM_TDX_INIT_VCPU options (the initial RCX). */
  readonly vcpu?: VcpuOptions;
}

export interface GuestPartEnv {
  /** The guest library under test (guest cases), or the built-in one. */
  readonly lib: ConformanceGuest;
  readonly sharedBit: bigint;
  /** Accepted private pages for buffers. */
  readonly scratch: { readonly gpa: bigint; readonly size: bigint };
  /** Keep a value for `check` (a register snapshot, a library result). */
  record(key: string, value: unknown): void;
}

/** The guest part: what the vCPU runs. */
export type GuestPart = (cpu: GuestCpu, env: GuestPartEnv) => GuestGen<void>;

export interface VmmExit {
  /** The exit registers: write the reply into them. */
  readonly regs: RegisterFile;
  /** 0-based index of this TDVMCALL in the run. */
  readonly index: number;
  readonly vm: TdxVm;
  readonly vcpu: TdxVcpu;
}

/** A scripted VMM: answers a TDVMCALL exit in its registers; 'stop' ends the run. */
export type VmmScript = (exit: VmmExit) => 'resume' | 'stop';

/** VMM userspace: the reply to an exit record, nothing (KVM's presets), or 'stop'. */
export type UserspaceScript = (record: ExitRecord, vcpu: TdxVcpu, vm: TdxVm) => ExitReply | undefined | 'stop';

export interface HostPart {
  /** Guest and module cases: the VMM's answer to each TDVMCALL (default: the built-in host). */
  readonly vmm?: VmmScript;
  /** Exit records the host returns to userspace. */
  readonly userspace?: UserspaceScript;
}

export interface TdCaseSpec {
  readonly td?: TdSpec;
  readonly guest: GuestPart;
  readonly host?: HostPart;
}

export type TdEnd =
  /** The guest part ran to its end. */
  | 'done'
  /** The host halted the vCPU (TDVMCALL<HLT> with nothing to wake it). */
  | 'halted'
  /** Userspace (script or default) stopped the run at an exit record. */
  | 'stopped'
  /** The host killed the VM. */
  | 'dead'
  /** The entry budget ran out. */
  | 'limit';

export interface TdvmcallExchange {
  /** The registers of the TDVMCALL exit, before the host answered. */
  readonly exit: RegSnapshot;
  /** The registers the next TDH.VP.ENTER passed back (absent if the run ended there). */
  reply?: RegSnapshot;
}

export interface TdOutcome {
  readonly end: TdEnd;
  /** `halted`: whether the guest halted with interrupts blocked. */
  readonly interruptsBlocked?: boolean;
  /** `dead`: the host's error. */
  readonly error?: string;
  readonly tdvmcalls: readonly TdvmcallExchange[];
  /** Exit records the host returned to userspace, in order. */
  readonly records: readonly ExitRecord[];
  /** Every TD exit (TDH.VP.ENTER's RAX and registers), in order, the end marker's included. */
  readonly exits: readonly { readonly status: bigint; readonly regs: RegSnapshot }[];
  /** What the guest part recorded. */
  readonly values: ReadonlyMap<string, unknown>;
  readonly machine: Machine;
  readonly vm: TdxVm;
  readonly vcpu: TdxVcpu;
  /** Host pages in use before the VM was created (for teardown checks). */
  readonly hostPagesBefore: number;
}

let programSerial = 0;

/** Build the case's TD and run it to the end (see the file comment). */
export function runTdCase(spec: TdCaseSpec, party: Party, ctx: CaseContext, name: string): TdOutcome {
  const td = spec.td ?? {};
  const machine = Machine.up(td.machine ?? {});
  const values = new Map<string, unknown>();
  // Module and host cases use the built-in guest library where they use one at all.
  const lib = party === 'guest' ? ctx.guest : builtinGuest;
  const gpaw = td.gpaw ?? GPAW_48;
  const env: GuestPartEnv = {
    lib,
    sharedBit: sharedBit(gpaw),
    scratch: { gpa: SCRATCH_GPA, size: BigInt(SCRATCH_PAGES) * PAGE_SIZE },
    record: (k, v) => void values.set(k, v),
  };
  const program = `conformance:${name}#${++programSerial}`;
  machine.platform.firmware.register(program, () =>
    function* (cpu: GuestCpu) {
      yield* spec.guest(cpu, env);
      yield* endOfCase(cpu);
    },
  );
  const { memory, machine: _m, pages, vcpu: vcpuOptions, ...config } = td;
  const hostPagesBefore = machine.tdx.memory.pagesInUse;
  const vm = machine.tdx.createVm({ memorySize: memory ?? DEFAULT_MEMORY, ...config });
  const vcpu = vm.createVcpu(vcpuOptions ?? {});
  vm.initMemRegion(BOOT_PAGE_GPA, encodeBootPage({ program, args: null }));
  vm.initMemRegion(SCRATCH_GPA, new Uint8Array(SCRATCH_PAGES * Number(PAGE_SIZE)));
  for (const p of pages ?? []) vm.initMemRegion(p.gpa, p.bytes ?? new Uint8Array(Number(PAGE_SIZE)), { measure: p.measure ?? false });
  vm.finalize();
  return new TdLoop(spec, party, ctx, machine, vm, vcpu, values, hostPagesBefore).run();
}

/** The suite's last guest instruction: a TDVMCALL exposing R10 and R11 with the end marker. */
function* endOfCase(cpu: GuestCpu): GuestGen<void> {
  yield* rawTdvmcall(cpu, { [TDVMCALL_REGS.callType]: TDX_HYPERCALL_STANDARD, [TDVMCALL_REGS.subfunction]: END_OF_CASE }, exposing(TDVMCALL_REGS.callType, TDVMCALL_REGS.subfunction));
  // The loop never resumes the guest after the marker; if it did, stop here for good.
  for (;;) yield { kind: 'hlt' };
}

class TdLoop {
  private readonly tdvmcalls: TdvmcallExchange[] = [];
  private readonly records: ExitRecord[] = [];
  private readonly exits: { status: bigint; regs: RegSnapshot }[] = [];

  constructor(
    private readonly spec: TdCaseSpec,
    private readonly party: Party,
    private readonly ctx: CaseContext,
    private readonly machine: Machine,
    private readonly vm: TdxVm,
    private readonly vcpu: TdxVcpu,
    private readonly values: Map<string, unknown>,
    private readonly hostPagesBefore: number,
  ) {}

  run(): TdOutcome {
    const { vcpu } = this;
    for (let n = 0; n < MAX_ENTRIES; n++) {
      const r = callLeaf(vcpu.lp, SeamcallLeaf.TDH_VP_ENTER, { vcpu: vcpu.tdvprPa }, { regs: vcpu.regs });
      vcpu.regs = r.regs;
      this.exits.push({ status: r.status, regs: r.regs.toRecord() });
      const isTdvmcall = statusCode(r.status) === TdxStatus.TDX_SUCCESS && (r.status & STATUS_DETAILS_MASK) === BigInt(VmxExitReason.TDCALL);
      if (isTdvmcall && vcpu.regs.get(TDVMCALL_REGS.callType) === TDX_HYPERCALL_STANDARD && vcpu.regs.get(TDVMCALL_REGS.subfunction) === END_OF_CASE) {
        return this.outcome('done');
      }
      const action = isTdvmcall ? this.tdvmcall(r.status) : handleExit(vcpu, r.status);
      if (action === 'stop') return this.outcome('stopped');
      const end = this.settle(action);
      if (end) return end;
      const last = this.tdvmcalls[this.tdvmcalls.length - 1];
      if (isTdvmcall && last && !last.reply) last.reply = vcpu.regs.toRecord();
    }
    return this.outcome('limit');
  }

  /** Hand a TDVMCALL exit to whoever answers it (see the file comment); 'stop' ends the run. */
  private tdvmcall(status: bigint): ExitAction | 'stop' {
    const { vcpu, vm } = this;
    this.tdvmcalls.push({ exit: vcpu.regs.toRecord() });
    const exitCtx: ExitContext = { vcpu, regs: vcpu.regs, status };
    if (this.party === 'host') {
      let action: unknown;
      try {
        action = this.ctx.host.handleTdvmcall(exitCtx);
      } catch (e) {
        throw new CaseFailure([`the host's TDVMCALL handler threw: ${e instanceof Error ? e.message : String(e)}`]);
      }
      return checkedAction(action);
    }
    const script = this.spec.host?.vmm;
    if (!script) return builtinHost.handleTdvmcall(exitCtx);
    return script({ regs: vcpu.regs, index: this.tdvmcalls.length - 1, vm, vcpu }) === 'stop' ? 'stop' : { kind: 'resume' };
  }

  /** Follow an action to the point where the guest re-enters (undefined) or the run ends. */
  private settle(action: ExitAction): TdOutcome | undefined {
    for (;;) {
      switch (action.kind) {
        case 'resume':
          return undefined;
        case 'dead':
          this.vm.kill(action.error);
          return this.outcome('dead', { error: action.error.message });
        case 'halt':
          if (!action.interruptsBlocked && this.vcpu.hasInterrupt(false)) return undefined;
          return this.outcome('halted', { interruptsBlocked: action.interruptsBlocked });
        case 'user': {
          this.records.push(action.record);
          const answer = this.answer(action.record);
          if (answer === 'stop') return this.outcome('stopped');
          action = action.complete ? checkedAction(action.complete(answer)) : { kind: 'resume' };
        }
      }
    }
  }

  private answer(record: ExitRecord): ExitReply | undefined | 'stop' {
    const script = this.spec.host?.userspace;
    if (script) {
      try {
        return script(record, this.vcpu, this.vm);
      } catch (e) {
        if (e instanceof HostError) throw new CaseFailure([`userspace: ${e.message}`]);
        throw e;
      }
    }
    return TAKES_REPLY.has(record.kind) ? undefined : 'stop';
  }

  private outcome(end: TdEnd, extra: { interruptsBlocked?: boolean; error?: string } = {}): TdOutcome {
    return {
      end,
      ...extra,
      tdvmcalls: this.tdvmcalls,
      records: this.records,
      exits: this.exits,
      values: this.values,
      machine: this.machine,
      vm: this.vm,
      vcpu: this.vcpu,
      hostPagesBefore: this.hostPagesBefore,
    };
  }
}

const TAKES_REPLY: ReadonlySet<ExitRecord['kind']> = new Set(['io', 'mmio', 'hypercall', 'tdx']);

const ACTION_KINDS: ReadonlySet<string> = new Set(['resume', 'halt', 'user', 'dead']);

/** A host's answer must be an ExitAction; anything else fails the case with what it was. */
function checkedAction(action: unknown): ExitAction {
  const kind = typeof action === 'object' && action !== null ? (action as { kind?: unknown }).kind : undefined;
  if (typeof kind !== 'string' || !ACTION_KINDS.has(kind)) {
    throw new CaseFailure([`the host's TDVMCALL handler returned ${JSON.stringify(action, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)) ?? String(action)}, not an ExitAction (resume, halt, user or dead)`]);
  }
  return action as ExitAction;
}

/** A value the guest part recorded; fails the case (saying how the run ended) if it never did. */
export function recorded<T>(o: TdOutcome, key: string): T {
  if (!o.values.has(key)) throw new CaseFailure([`the guest never recorded ${key} (the run ended ${o.end}${o.error ? `: ${o.error}` : ''})`]);
  return o.values.get(key) as T;
}
