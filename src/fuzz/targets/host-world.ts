/**
 * The world of one `host` fuzz episode: a platform with a real TDX module, the host VMM
 * (TdxHost) brought up on it, one TD with one vCPU built through KVM's sequence, the default VMM
 * userspace, and the watches.
 *
 *   td          the TD runs the malicious guest program (host-guest.ts) on the real module
 *   synthetic   the TD is built the same way, but TDH.VP.ENTER of its vCPU is served by the
 *               synthetic TD (host-synthetic.ts): fast, so the exit handlers get millions of
 *               inputs; every other SEAMCALL still reaches the real module
 *
 * The VM hands at most one exit to the kernel per vcpu.run() (maxInKernelExits = 1), so each
 * guest action returns to the fuzz loop. Two private pages of the TD hold planted secrets; the
 * SEAM tap checks the status of every SEAMCALL the host makes and scans what TDH.VP.ENTER
 * returns for secrets.
 */
import { Platform } from '../../platform/platform.ts';
import type { SeamModule } from '../../platform/seam.ts';
import type { LogicalProcessor } from '../../platform/processor.ts';
import { BOOT_PAGE_GPA, encodeBootPage } from '../../platform/boot-image.ts';
import { Gpr, type RegisterFile } from '../../abi/registers.ts';
import { LEAF_WORD, VP_ENTER_RCX } from '../../abi/operands.ts';
import { SeamcallLeaf } from '../../abi/seamcall-leaves.ts';
import { GPAW_48, sharedBit as sharedBitOf } from '../../abi/gpa.ts';
import { TdxModule } from '../../module/module.ts';
import { DEFAULT_MODULE_IDENTITY } from '../../module/identity.ts';
import { TdxHost } from '../../host/tdx-host.ts';
import { FIRMWARE_SLOT, type TdxVm } from '../../host/vm.ts';
import type { TdxVcpu } from '../../host/vcpu.ts';
import { Userspace } from '../../host/userspace/vmm.ts';
import { MemoryWatch } from '../memory-watch.ts';
import { checkStatus, SecretWords, type Violation } from '../invariants.ts';
import { Rng } from '../rng.ts';
import type { Tracer } from '../../trace/tracer.ts';
import { SyntheticTd } from './host-synthetic.ts';
import { maliciousGuest, type GuestMailbox } from './host-guest.ts';
import type { GuestLayout } from './host-gen.ts';

export const HOST_PATHS = ['synthetic', 'td'] as const;
export type HostPath = (typeof HOST_PATHS)[number];

const MiB = 1n << 20n;
const RAM = 32n * MiB;
/** GPAs of the TD's secret pages, and where userspace's MMIO test device sits (below firmware). */
const SECRET_GPAS: readonly bigint[] = Object.freeze([16n << 12n, 17n << 12n]);
const MMIO_DEVICE = FIRMWARE_SLOT.base - MiB;
const SECRET_SEED = 99n;
const VP_ENTER = LEAF_WORD.encode({ leaf: SeamcallLeaf.TDH_VP_ENTER.number, version: 0 });
const TDVPR_FIELD = VP_ENTER_RCX.field('tdvpr_page').mask;

/**
 * Sits between the platform and the real module: checks every SEAMCALL's status, scans what
 * TDH.VP.ENTER hands the host for TD secrets, and routes the fuzzed vCPU's TDH.VP.ENTER to the
 * synthetic TD when there is one.
 */
export class SeamTap implements SeamModule {
  synthetic: SyntheticTd | undefined;
  /** TDVPR of the vCPU whose entries the synthetic TD serves. */
  tdvpr = -1n;
  found: Violation | undefined;

  constructor(
    readonly inner: SeamModule,
    readonly secrets: SecretWords,
  ) {}

  get loaded(): boolean {
    return this.inner.loaded;
  }

  seamcall(lp: LogicalProcessor, regs: RegisterFile): void {
    const g = regs.gpr;
    const enter = g[Gpr.RAX] === VP_ENTER;
    if (enter && this.synthetic && (g[Gpr.RCX]! & TDVPR_FIELD) === this.tdvpr) {
      g[Gpr.RAX] = this.synthetic.enter(regs);
      return;
    }
    this.inner.seamcall(lp, regs);
    const v = checkStatus(g[Gpr.RAX]!, 'host SEAMCALL') ?? (enter ? this.secrets.scanRegisters(regs, 'TDH.VP.ENTER output') : undefined);
    if (v) this.found ??= v;
  }
}

export interface HostWorld {
  readonly path: HostPath;
  readonly platform: Platform;
  readonly module: TdxModule;
  readonly host: TdxHost;
  readonly vm: TdxVm;
  readonly vcpu: TdxVcpu;
  readonly user: Userspace;
  readonly secrets: SecretWords;
  readonly memoryWatch: MemoryWatch;
  readonly tap: SeamTap;
  readonly layout: GuestLayout;
  readonly synthetic: SyntheticTd | undefined;
  readonly mailbox: GuestMailbox | undefined;
}

export function buildHostWorld(path: HostPath, tracer?: Tracer): HostWorld {
  const platform = new Platform({ packages: 1, lpsPerPackage: 2, memorySize: 1n << 30n });
  const module = new TdxModule(platform, DEFAULT_MODULE_IDENTITY);
  platform.loadModule(module);
  const secrets = new SecretWords();
  const tap = new SeamTap(module, secrets);
  platform.loadModule(tap);
  if (tracer) platform.tracer = tracer;
  const memoryWatch = new MemoryWatch(platform, secrets);
  memoryWatch.install();

  const host = TdxHost.bringUp(platform);
  const sharedBit = sharedBitOf(GPAW_48);
  const mailbox: GuestMailbox | undefined = path === 'td' ? { queue: [], waiting: false, current: undefined, found: undefined } : undefined;
  const program = 'fuzz-malicious-guest';
  platform.firmware.register(program, () => maliciousGuest(mailbox ?? { queue: [], waiting: false, current: undefined, found: undefined }, secrets, sharedBit));
  const vm = host.createVm({ memorySize: RAM, maxVcpus: 1, maxInKernelExits: 1, gpaw: GPAW_48 });
  const vcpu = vm.createVcpu();
  vm.initMemRegion(BOOT_PAGE_GPA, encodeBootPage({ program, args: null }), { measure: true });
  for (const gpa of SECRET_GPAS) vm.initMemRegion(gpa, new Uint8Array(4096));
  vm.finalize();
  const rng = new Rng(SECRET_SEED);
  for (const gpa of SECRET_GPAS) memoryWatch.plant(vm.guest.privatePages.get(gpa >> 12n)!, vm.hkid, rng.u64());
  const user = new Userspace(vm, { mmioDeviceGpa: MMIO_DEVICE });

  let synthetic: SyntheticTd | undefined;
  if (path === 'synthetic') {
    const real = module.vcpu(vcpu.tdvprPa);
    if (!real) throw new Error('the host built a vCPU the module does not know');
    synthetic = new SyntheticTd(module, real);
    tap.synthetic = synthetic;
    tap.tdvpr = vcpu.tdvprPa;
  }
  const layout: GuestLayout = {
    sharedBit,
    gpaw: GPAW_48,
    ramSize: RAM,
    privatePages: [BOOT_PAGE_GPA, ...SECRET_GPAS],
    mmioDevice: MMIO_DEVICE,
    realGuest: path === 'td',
  };
  return { path, platform, module, host, vm, vcpu, user, secrets, memoryWatch, tap, layout, synthetic, mailbox };
}
