/**
 * Test wiring for the host: a platform with a loaded TDX module and the built-in guest programs,
 * brought up by TdxHost, and TDs booted the KVM way with a guest program of the test's own.
 *
 *   const env = hostEnv();
 *   const { vm, vcpu } = bootTd(env, function* (cpu) { … yield* vmcall(cpu, …) … });
 *   const rec = vcpu.run();
 */
import { Platform, type PlatformConfig } from '../../src/platform/platform.ts';
import { TdxModule, type ModuleIdentity } from '../../src/module/module.ts';
import { DEFAULT_MODULE_IDENTITY } from '../../src/module/identity.ts';
import { registerGuestPrograms } from '../../src/guest/programs/index.ts';
import { BOOT_PAGE_GPA, encodeBootPage } from '../../src/platform/boot-image.ts';
import type { GuestCpu, GuestGen, GuestProgram } from '../../src/platform/guest-cpu.ts';
import { Gpr, type GprName } from '../../src/abi/registers.ts';
import { TDVMCALL_EXPOSE_REGS_MASK, TdvmcallSubfunction } from '../../src/abi/tdvmcall.ts';
import { TdcallLeaf } from '../../src/abi/tdcall-leaves.ts';
import { TdxHost, type TdxHostOptions } from '../../src/host/tdx-host.ts';
import type { TdxVm, VmConfig } from '../../src/host/vm.ts';
import type { TdxVcpu } from '../../src/host/vcpu.ts';

export interface HostEnv {
  readonly platform: Platform;
  readonly module: TdxModule;
  readonly host: TdxHost;
}

export function newPlatform(config: PlatformConfig = {}, identity: ModuleIdentity = DEFAULT_MODULE_IDENTITY): { platform: Platform; module: TdxModule } {
  const platform = new Platform({ packages: 2, lpsPerPackage: 2, memorySize: 2n << 30n, ...config });
  const module = new TdxModule(platform, identity);
  platform.loadModule(module);
  registerGuestPrograms(platform.firmware);
  return { platform, module };
}

export function hostEnv(config: PlatformConfig = {}, options: TdxHostOptions = {}): HostEnv {
  const { platform, module } = newPlatform(config);
  return { platform, module, host: TdxHost.bringUp(platform, options) };
}

let serial = 0;

/** Register a test guest program under a fresh name. */
export function register(env: HostEnv, program: GuestProgram): string {
  const name = `host-test-${++serial}`;
  env.platform.firmware.register(name, () => program);
  return name;
}

export interface BootOptions {
  readonly vcpus?: number;
  readonly config?: Partial<VmConfig>;
  /** Boot a catalogue program by name with these arguments instead. */
  readonly args?: unknown;
}

/** Build, measure, finalise a TD whose vCPUs run `program` (a function or a catalogue name). */
export function bootTd(env: HostEnv, program: GuestProgram | string, options: BootOptions = {}): { vm: TdxVm; vcpu: TdxVcpu; vcpus: TdxVcpu[] } {
  const name = typeof program === 'string' ? program : register(env, program);
  const vm = env.host.createVm({ memorySize: 64n << 20n, ...options.config });
  for (let i = 0; i < (options.vcpus ?? 1); i++) vm.createVcpu();
  vm.initMemRegion(BOOT_PAGE_GPA, encodeBootPage({ program: name, args: options.args ?? {} }), { measure: true });
  vm.finalize();
  return { vm, vcpu: vm.vcpus[0]!, vcpus: vm.vcpus };
}

/** What a guest saw after a TDVMCALL: RAX (module status) and the registers it exposed. */
export interface VmcallResult {
  readonly rax: bigint;
  readonly r10: bigint;
  readonly r11: bigint;
  readonly r12: bigint;
  readonly r13: bigint;
  readonly r14: bigint;
  readonly r15: bigint;
}

/**
 * A raw TDG.VP.VMCALL exposing RDX, RBX, RSI, RDI, R8–R15 (as Linux does), with R10 = call type
 * (0: GHCI), R11 = sub-function and the given registers.
 */
export function* vmcall(cpu: GuestCpu, r11: bigint, regs: Partial<Record<GprName, bigint>> = {}, r10 = 0n): GuestGen<VmcallResult> {
  const g = cpu.regs.gpr;
  g[Gpr.RAX] = BigInt(TdcallLeaf.TDG_VP_VMCALL.number);
  g[Gpr.RCX] = TDVMCALL_EXPOSE_REGS_MASK;
  g[Gpr.R10] = r10;
  g[Gpr.R11] = r11;
  for (const [k, v] of Object.entries(regs) as [GprName, bigint][]) g[Gpr[k]] = v;
  yield* cpu.tdcall();
  return { rax: g[Gpr.RAX]!, r10: g[Gpr.R10]!, r11: g[Gpr.R11]!, r12: g[Gpr.R12]!, r13: g[Gpr.R13]!, r14: g[Gpr.R14]!, r15: g[Gpr.R15]! };
}

/** HLT with interrupts blocked, forever: a clean end for a test program. */
export function* halt(cpu: GuestCpu): GuestGen<never> {
  for (;;) yield* vmcall(cpu, BigInt(TdvmcallSubfunction.HLT.number), { R12: 1n });
}
