/**
 * A TD the server builds and runs itself with the built-in host (src/host: KVM-shaped bring-up,
 * TD build and userspace devices), whose vCPUs run wire guest clients — `tdxsim serve --td
 * scenario.json`, and how a guest written in any language gets a complete host without writing one.
 *
 * The scenario is the `tdxsim run` format with `"guest": { "program": "wire" }`: the server mints a
 * token, writes the boot page naming `wire:<token>` (the scenario's guest args go with it), adds
 * the image, finalizes, and then runs each vCPU with the default userspace (serial port, MMIO test
 * device, GetQuote, MapGPA). Guest clients attach with the token and their VCPU_INDEX.
 *
 * The run loop is the userspace loop of src/host/userspace/vcpu-loop.ts made event-driven: a vCPU
 * whose client has not sent its next instruction cannot run (guest-slot.ts), so instead of
 * calling `run()` again the pump registers as the slot's runner and returns to the event loop; the
 * client's next message calls it back. The VM is created with one in-kernel exit per `run()`, so
 * a waiting vCPU's preemption exit comes back to the pump at once instead of being re-entered in
 * the kernel. A vCPU stops like in the userspace loop: halt, fatal error (system event), shutdown,
 * internal error, failed entry, unhandled exception, a dead VM; a fatal error, shutdown or dead VM
 * stops every vCPU, as QEMU stops the VM. Each stopped vCPU's client gets DETACHED(VCPU_STOPPED);
 * when all have stopped the TD is torn down and `done` resolves with the report.
 */
import { z } from 'zod';
import { hex64 } from '../abi/bitfield.ts';
import { DetachReason, WIRE_PROGRAM_PREFIX } from '../abi/wire.ts';
import { Platform } from '../platform/platform.ts';
import { BOOT_PAGE_GPA, encodeBootPage } from '../platform/boot-image.ts';
import { TdxModule } from '../module/module.ts';
import { DEFAULT_MODULE_IDENTITY } from '../module/identity.ts';
import type { Vcpu } from '../module/vcpu.ts';
import { GUEST_PROGRAMS, registerGuestPrograms } from '../guest/programs/index.ts';
import { TdxHost } from '../host/tdx-host.ts';
import { HostError } from '../host/errors.ts';
import { formatWarning } from '../host/warn.ts';
import type { ProgramCatalogue, Scenario } from '../host/scenario.ts';
import type { TdxVm } from '../host/vm.ts';
import type { TdxVcpu } from '../host/vcpu.ts';
import type { ExitKind, ExitRecord } from '../host/exit-records.ts';
import type { StopReason } from '../host/userspace/vcpu-loop.ts';
import { Userspace } from '../host/userspace/vmm.ts';
import { ServedModule } from './served-module.ts';
import type { GuestDirectory, GuestSlot, SlotRunner, TokenOwner } from './guest-slot.ts';

/** The scenario guest program that means "a wire client runs this TD". */
export const WIRE_GUEST_PROGRAM = 'wire';

/** The programs a `serve --td` scenario may name: the built-ins and `wire`. */
export const SERVE_CATALOGUE: ProgramCatalogue = {
  programs: [...GUEST_PROGRAMS, { name: WIRE_GUEST_PROGRAM, args: z.unknown() }],
};

export interface BuiltinTdReport {
  readonly token: string;
  readonly mrtd: string;
  readonly serial: string[];
  readonly vcpus: { index: number; stop: StopReason; error?: string }[];
  /** TDVMCALL<ReportFatalError> as the host saw it (KVM_SYSTEM_EVENT_TDX_FATAL). */
  readonly fatal?: { vcpu: number; message: string; errorCode: string };
  readonly teardown?: { reclaimed: number; leaked: number };
  readonly warnings: string[];
}

export interface BuiltinTdEvents {
  /** Each complete serial line the TD prints. */
  readonly onSerialLine?: (line: string) => void;
}

/** What the TD needs from the server. */
export interface BuiltinTdServer {
  readonly directory: GuestDirectory;
  own(r: { stop(): void }): void;
  disown(r: { stop(): void }): void;
}

/** Stops that end every vCPU of the VM (QEMU stops the VM). */
const VM_WIDE: ReadonlySet<StopReason> = new Set(['fatal_error', 'shutdown', 'vm_dead']);
const STOP_BY_KIND: Partial<Record<ExitKind, StopReason>> = {
  system_event: 'fatal_error',
  shutdown: 'shutdown',
  internal_error: 'internal_error',
  fail_entry: 'fail_entry',
  exception: 'exception',
};

/** One vCPU's run loop. */
class VcpuPump implements SlotRunner {
  stop: StopReason | undefined;
  error: string | undefined;
  last: ExitRecord | undefined;
  userExits = 0;

  constructor(
    readonly td: BuiltinTd,
    readonly vcpu: TdxVcpu,
  ) {}

  onGuestReady(): void {
    this.td.pump(this);
  }
}

export class BuiltinTd implements TokenOwner {
  readonly serial: string[] = [];
  readonly warnings: string[] = [];
  readonly done: Promise<BuiltinTdReport>;
  /** The token guest clients attach with; the boot page names `wire:<token>`. */
  readonly token: string;
  /** MRTD after TDH.MR.FINALIZE, hex. */
  mrtd = '';
  private resolveDone!: (r: BuiltinTdReport) => void;
  private readonly pumps: VcpuPump[];
  private readonly slots = new Map<Vcpu, GuestSlot>();
  private readonly user: Userspace;
  private readonly maxExits: number;
  private stopped = false;

  private constructor(
    private readonly server: BuiltinTdServer,
    readonly module: TdxModule,
    private readonly vm: TdxVm,
    scenario: Scenario,
    events: BuiltinTdEvents,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.token = server.directory.mint(module, module.platform.firmware, this).token;
    this.maxExits = scenario.userspace.maxExits;
    this.user = new Userspace(vm, {
      ...(scenario.userspace.mmioDevice !== undefined && { mmioDeviceGpa: scenario.userspace.mmioDevice }),
      quoteService: scenario.userspace.quote === 'none' ? null : undefined,
      eventNotify: scenario.userspace.eventNotify,
      onSerialLine: (l) => {
        this.serial.push(l);
        events.onSerialLine?.(l);
      },
    });
    this.pumps = vm.vcpus.map((v) => new VcpuPump(this, v));
  }

  /**
   * Bring up a fresh machine with the built-in host and build the scenario's TD with a wire guest
   * (guest.program must be "wire"). Throws HostError when the host refuses the scenario.
   */
  static create(server: BuiltinTdServer, scenario: Scenario, events: BuiltinTdEvents = {}): BuiltinTd {
    if (scenario.guest.program !== WIRE_GUEST_PROGRAM) throw new HostError('EINVAL', `a served TD runs a wire guest: guest.program must be "${WIRE_GUEST_PROGRAM}"`);
    const platform = new Platform({ packages: scenario.platform.packages, lpsPerPackage: scenario.platform.lpsPerPackage, memorySize: scenario.platform.memory });
    const module = new TdxModule(platform, DEFAULT_MODULE_IDENTITY);
    platform.loadModule(new ServedModule(module));
    registerGuestPrograms(platform.firmware);
    const warnings: string[] = [];
    const host = TdxHost.bringUp(platform, { warnings: { sink: (w) => warnings.push(formatWarning(w)) } });
    const s = scenario.td;
    const vm = host.createVm({
      attributes: s.attributes,
      ...(s.xfam !== undefined && { xfam: s.xfam }),
      maxVcpus: s.vcpus,
      gpaw: s.gpaw,
      ...(s.tscKhz !== undefined && { tscKhz: s.tscKhz }),
      ...(s.mrconfigid && { mrConfigId: s.mrconfigid }),
      ...(s.mrowner && { mrOwner: s.mrowner }),
      ...(s.mrownerconfig && { mrOwnerConfig: s.mrownerconfig }),
      memorySize: s.memory,
      exitOnMapGpa: scenario.userspace.mapGpa,
      ...(scenario.userspace.msrFilter && { msrFilter: scenario.userspace.msrFilter }),
      // A waiting vCPU's preemption exit must come back to the pump, not be re-entered in the kernel.
      maxInKernelExits: 1,
    });
    let td: BuiltinTd | undefined;
    try {
      for (let i = 0; i < s.vcpus; i++) vm.createVcpu();
      td = new BuiltinTd(server, module, vm, scenario, events);
      td.warnings.push(...warnings);
      vm.initMemRegion(BOOT_PAGE_GPA, encodeBootPage({ program: WIRE_PROGRAM_PREFIX + td.token, args: scenario.guest.args ?? {} }), { measure: true });
      for (const e of scenario.image) vm.initMemRegion(e.gpa, e.bytes, { measure: e.measure });
      vm.finalize();
      td.mrtd = Buffer.from(vm.mrtd()).toString('hex');
    } catch (e) {
      if (td) server.directory.revoke(td, DetachReason.VCPU_STOPPED);
      vm.destroy();
      throw e;
    }
    server.own(td);
    return td;
  }

  /** Start running every vCPU. */
  start(): void {
    for (const p of this.pumps) this.pump(p);
  }

  /** Stop every vCPU (server shutdown) and tear the TD down. */
  stop(): void {
    if (this.stopped) return;
    for (const p of this.pumps) if (!p.stop) this.halt(p, 'vm_stopped', DetachReason.SERVER_SHUTDOWN);
    this.finish();
  }

  slotBooted(slot: GuestSlot): void {
    if (slot.vcpu) this.slots.set(slot.vcpu, slot);
  }

  /** Run one vCPU until it stops or must wait for its client. */
  pump(p: VcpuPump): void {
    try {
      while (!p.stop && !this.stopped) {
        const slot = this.slotOf(p);
        if (slot?.waiting) {
          slot.runner = p;
          return;
        }
        this.step(p);
      }
    } catch (e) {
      // Not a party's input: a bug in the host or the server. Stop this TD, keep the server.
      p.error = e instanceof Error ? e.message : String(e);
      this.halt(p, 'internal_error', DetachReason.VCPU_STOPPED);
    }
    if (!this.stopped && this.pumps.every((q) => q.stop)) this.finish();
  }

  /** One run() and its handling by userspace (vcpu-loop.ts `step`). */
  private step(p: VcpuPump): void {
    let rec: ExitRecord;
    try {
      rec = p.vcpu.run();
    } catch (e) {
      if (!(e instanceof HostError)) throw e;
      p.error = e.message;
      return this.halt(p, 'vm_dead', DetachReason.VCPU_STOPPED);
    }
    p.last = rec;
    if (rec.kind === 'intr') return; // a preemption or in-kernel exit: run again (or wait)
    if (++p.userExits > this.maxExits) return this.halt(p, 'exit_limit', DetachReason.VCPU_STOPPED);
    if (rec.kind === 'hlt') return this.halt(p, 'halted', DetachReason.VCPU_STOPPED);
    if (this.user.handle(p.vcpu, rec).kind === 'continue') return;
    this.halt(p, STOP_BY_KIND[rec.kind] ?? 'unserved', DetachReason.VCPU_STOPPED);
  }

  private halt(p: VcpuPump, reason: StopReason, detach: number): void {
    p.stop = reason;
    this.slotOf(p)?.end(detach);
    if (VM_WIDE.has(reason)) {
      for (const q of this.pumps) {
        if (q.stop) continue;
        q.stop = reason === 'vm_dead' ? 'vm_dead' : 'vm_stopped';
        this.slotOf(q)?.end(DetachReason.VCPU_STOPPED);
      }
    }
  }

  private slotOf(p: VcpuPump): GuestSlot | undefined {
    const v = this.module.vcpu(p.vcpu.tdvprPa);
    return v && this.slots.get(v);
  }

  private finish(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.user.serial.pendingText) this.serial.push(this.user.serial.pendingText);
    const fatalPump = this.pumps.find((p) => p.last?.kind === 'system_event');
    const fatalRec = fatalPump?.last?.kind === 'system_event' ? fatalPump.last : undefined;
    const teardown = this.vm.destroy();
    this.server.directory.revoke(this, DetachReason.VCPU_STOPPED);
    this.server.disown(this);
    this.resolveDone({
      token: this.token,
      mrtd: this.mrtd,
      serial: this.serial,
      vcpus: this.pumps.map((p) => ({ index: p.vcpu.index, stop: p.stop ?? 'vm_stopped', ...(p.error !== undefined && { error: p.error }) })),
      ...(fatalPump && fatalRec && { fatal: { vcpu: fatalPump.vcpu.index, message: fatalRec.message, errorCode: hex64(fatalRec.data[12] ?? 0n) } }),
      teardown,
      warnings: this.warnings,
    });
  }
}
