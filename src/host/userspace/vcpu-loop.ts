/**
 * The userspace run loop: call `vcpu.run()`, hand each exit record to the userspace devices, and
 * stop when the vCPU can make no more progress on its own — it halted, reported a fatal error,
 * triple-faulted, hit an exit KVM could not handle, or the VM died. `runVm` runs every vCPU of a
 * VM round-robin, so a halted vCPU can still be woken by another's IPI; it ends when every vCPU
 * has stopped or sits halted with nothing pending.
 */
import { HostError } from '../errors.ts';
import type { ExitKind, ExitRecord } from '../exit-records.ts';
import type { TdxVcpu } from '../vcpu.ts';
import type { TdxVm } from '../vm.ts';
import type { Userspace } from './vmm.ts';

export type StopReason =
  /** The vCPU halted with interrupts blocked (a clean halt), or with nothing that could wake it. */
  | 'halted'
  /** TDVMCALL<ReportFatalError> (KVM_SYSTEM_EVENT_TDX_FATAL). */
  | 'fatal_error'
  | 'shutdown'
  | 'internal_error'
  | 'fail_entry'
  | 'exception'
  /** An exit userspace could not serve (e.g. a memory fault outside RAM). */
  | 'unserved'
  /** KVM_RUN failed: the VM is dead (e.g. guest access before accepting). */
  | 'vm_dead'
  /** The exit budget of the loop ran out. */
  | 'exit_limit'
  /** Another vCPU ended the VM (fatal error, shutdown, …); this one was stopped with it. */
  | 'vm_stopped';

export interface VcpuOutcome {
  readonly vcpu: number;
  readonly stop: StopReason;
  /** Records returned by run(), by kind. */
  readonly exits: Readonly<Partial<Record<ExitKind, number>>>;
  /** The record that ended the loop, if one did. */
  readonly last?: ExitRecord;
  /** The error KVM_RUN failed with (vm_dead). */
  readonly error?: string;
}

export interface LoopOptions {
  /** Records one vCPU may return before the loop gives up. Default 1,000,000. */
  readonly maxExits?: number;
}

interface LoopState {
  readonly vcpu: TdxVcpu;
  readonly exits: Partial<Record<ExitKind, number>>;
  stop?: StopReason;
  last?: ExitRecord;
  error?: string;
  halted: boolean;
}

/** Run one step of a vCPU: one run() and its handling. */
function step(s: LoopState, user: Userspace): void {
  let rec: ExitRecord;
  try {
    rec = s.vcpu.run();
  } catch (e) {
    if (!(e instanceof HostError)) throw e;
    s.stop = 'vm_dead';
    s.error = e.message;
    return;
  }
  s.exits[rec.kind] = (s.exits[rec.kind] ?? 0) + 1;
  s.last = rec;
  s.halted = rec.kind === 'hlt';
  if (rec.kind === 'hlt') {
    if (rec.interruptsBlocked) s.stop = 'halted';
    return;
  }
  if (user.handle(s.vcpu, rec).kind === 'continue') return;
  s.stop = STOP_BY_KIND[rec.kind] ?? 'unserved';
}

const STOP_BY_KIND: Partial<Record<ExitKind, StopReason>> = {
  system_event: 'fatal_error',
  shutdown: 'shutdown',
  internal_error: 'internal_error',
  fail_entry: 'fail_entry',
  exception: 'exception',
};

function outcome(s: LoopState): VcpuOutcome {
  return {
    vcpu: s.vcpu.index,
    stop: s.stop ?? 'halted',
    exits: s.exits,
    ...(s.last && { last: s.last }),
    ...(s.error !== undefined && { error: s.error }),
  };
}

/** Run one vCPU until it stops or halts. */
export function runVcpuLoop(vcpu: TdxVcpu, user: Userspace, options: LoopOptions = {}): VcpuOutcome {
  const s: LoopState = { vcpu, exits: {}, halted: false };
  const max = options.maxExits ?? 1_000_000;
  for (let n = 0; !s.stop && !s.halted; n++) {
    if (n >= max) s.stop = 'exit_limit';
    else step(s, user);
  }
  return outcome(s);
}

/**
 * Run every vCPU round-robin, one exit at a time. A fatal error, shutdown or dead VM stops all
 * vCPUs (QEMU stops the VM); the run also ends when a whole round finds every vCPU halted.
 */
export function runVm(vm: TdxVm, user: Userspace, options: LoopOptions = {}): VcpuOutcome[] {
  const states: LoopState[] = vm.vcpus.map((vcpu) => ({ vcpu, exits: {}, halted: false }));
  const max = options.maxExits ?? 1_000_000;
  let rounds = 0;
  for (;;) {
    const live = states.filter((s) => !s.stop);
    if (live.length === 0) break;
    if (rounds++ >= max) {
      for (const s of live) s.stop = 'exit_limit';
      break;
    }
    let progress = false;
    for (const s of live) {
      step(s, user);
      if (!s.halted || s.stop) progress = true;
      if (s.stop && s.stop !== 'halted') {
        for (const o of states) o.stop ??= s.stop === 'vm_dead' ? 'vm_dead' : 'vm_stopped';
        break;
      }
    }
    if (!progress) {
      for (const s of live) s.stop ??= 'halted';
      break;
    }
  }
  return states.map(outcome);
}
