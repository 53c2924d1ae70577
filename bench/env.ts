/**
 * The simulated machine every benchmark runs on: a platform with a loaded TDX module, the
 * built-in guest programs, a host brought up the KVM way, and TDs booted with a benchmark's own
 * guest program.
 *
 * Benchmarks drive the simulator only through the public APIs real users have — the host's
 * `TdxHost` / `TdxVm` / `TdxVcpu` (KVM-shaped), the SEAMCALL instruction on a logical processor,
 * and guest programs written with the guest library — so what they measure is what a user gets.
 */
import { Platform, type PlatformConfig } from '../src/platform/platform.ts';
import { TdxModule } from '../src/module/module.ts';
import { DEFAULT_MODULE_IDENTITY } from '../src/module/identity.ts';
import { registerGuestPrograms } from '../src/guest/programs/index.ts';
import { BOOT_PAGE_GPA, encodeBootPage } from '../src/platform/boot-image.ts';
import type { GuestProgram } from '../src/platform/guest-cpu.ts';
import { TdxHost } from '../src/host/tdx-host.ts';
import type { TdxVm, VmConfig } from '../src/host/vm.ts';
import type { TdxVcpu } from '../src/host/vcpu.ts';
import type { ExitRecord } from '../src/host/exit-records.ts';

export interface BenchMachine {
  readonly platform: Platform;
  readonly module: TdxModule;
  readonly host: TdxHost;
}

/** Default machine: one package of two LPs (the benchmark machine's shape) and 4 GiB of memory. */
export function machine(config: PlatformConfig = {}): BenchMachine {
  const platform = new Platform({ packages: 1, lpsPerPackage: 2, memorySize: 4n << 30n, ...config });
  const module = new TdxModule(platform, DEFAULT_MODULE_IDENTITY);
  platform.loadModule(module);
  registerGuestPrograms(platform.firmware);
  return { platform, module, host: TdxHost.bringUp(platform) };
}

let programSerial = 0;

/** Register a benchmark guest program under a fresh name; returns the name. */
export function registerProgram(m: BenchMachine, program: GuestProgram): string {
  const name = `bench-${++programSerial}`;
  m.platform.firmware.register(name, () => program);
  return name;
}

export interface TdOptions {
  /** Guest RAM (a memslot at GPA 0); default 64 MiB. */
  readonly memorySize?: bigint;
  /** Initial image added and measured before the boot page (PAGE.ADD + 16 × MR.EXTEND a page). */
  readonly image?: { readonly gpa: bigint; readonly bytes: Uint8Array };
  readonly config?: Partial<VmConfig>;
}

export interface BenchTd {
  readonly machine: BenchMachine;
  readonly vm: TdxVm;
  readonly vcpu: TdxVcpu;
}

/** Create, build, measure and finalise a one-vCPU TD whose vCPU boots into `program`. */
export function bootTd(m: BenchMachine, program: GuestProgram, options: TdOptions = {}): BenchTd {
  const vm = m.host.createVm({ memorySize: options.memorySize ?? 64n << 20n, maxVcpus: 1, ...options.config });
  const vcpu = vm.createVcpu();
  if (options.image) vm.initMemRegion(options.image.gpa, options.image.bytes, { measure: true });
  vm.initMemRegion(BOOT_PAGE_GPA, encodeBootPage({ program: registerProgram(m, program), args: {} }), { measure: true });
  vm.finalize();
  return { machine: m, vm, vcpu };
}

/** A benchmark saw the simulator do something other than what it measures: its figure is void. */
export class BenchError extends Error {
  override readonly name = 'BenchError';
}

/** Run the vCPU and insist on an OUT to `port`; returns the value written. */
export function expectOut(vcpu: TdxVcpu, port: number): bigint {
  const rec = vcpu.run();
  if (rec.kind !== 'io' || rec.direction !== 'out' || rec.port !== port) throw new BenchError(`expected an OUT to port ${port}, got ${describe(rec)}`);
  return rec.data;
}

/** One line naming an exit record, for BenchError messages. */
export function describe(rec: ExitRecord): string {
  return rec.kind === 'internal_error' ? `internal_error (${rec.reason})` : rec.kind === 'io' ? `io ${rec.direction} port ${rec.port}` : rec.kind;
}
