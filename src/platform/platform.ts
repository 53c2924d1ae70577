/**
 * The simulated machine: packages of logical processors, sparse physical memory with its
 * convertible memory ranges (CMRs), MKTME/TDX KeyIDs, and the SEAM range a TDX module is loaded
 * into.
 *
 * KeyIDs follow IA32_MKTME_KEYID_PARTITIONING: KeyIDs 1..mktmeKeyIds are MKTME (shared) KeyIDs,
 * the next tdxKeyIds are TDX private KeyIDs (HKIDs). The host takes the first private KeyID as
 * the module's global KeyID and hands the rest to TDs, as Linux does.
 */
import { PhysicalMemory } from './memory.ts';
import { LogicalProcessor, Package } from './processor.ts';
import type { SeamModule } from './seam.ts';
import { FirmwareCatalogue } from './boot-image.ts';
import { randomBytes } from 'node:crypto';
import type { SharedEpt } from './shared-ept.ts';
import { SEPTE_PA_MASK } from '../abi/sept.ts';
import { NULL_TRACER, type Tracer } from '../trace/tracer.ts';

/** A convertible memory range: memory the BIOS verified can hold TDX private data. */
export interface Cmr {
  readonly base: bigint;
  readonly size: bigint;
}

export interface PlatformConfig {
  /** Number of packages (sockets). Default 1. */
  packages?: number;
  /** Logical processors per package. Default 2. */
  lpsPerPackage?: number;
  /** Physical memory size in bytes. Default 4 GiB (sparse: untouched pages cost nothing). */
  memorySize?: bigint;
  /** CMRs; default: one CMR covering all memory above 1 MiB. */
  cmrs?: Cmr[];
  /** MKTME KeyIDs before the TDX range. Default 15. */
  mktmeKeyIds?: number;
  /** TDX private KeyIDs. Default 48. */
  tdxKeyIds?: number;
  /** Physical address width (MAX_PA). Default 52. */
  maxPa?: number;
}

export class PlatformConfigError extends Error {
  override readonly name = 'PlatformConfigError';
}

export class Platform {
  readonly packages: Package[] = [];
  readonly lps: LogicalProcessor[] = [];
  readonly memory: PhysicalMemory;
  readonly cmrs: readonly Cmr[];
  readonly mktmeKeyIds: number;
  readonly tdxKeyIds: number;
  readonly maxPa: number;
  /** The TDX module loaded into the SEAM range, if any. */
  seamModule: SeamModule | undefined;
  /** Guest programs a TD image can name in its boot page. */
  readonly firmware = new FirmwareCatalogue();
  /**
   * The CPU's report key: what the SEAMOPS that builds a REPORTMACSTRUCT MACs it with, and what
   * local verification (TDG.MR.VERIFYREPORT / EVERIFYREPORT2) checks against. Real CPUs derive it
   * inside the processor and never reveal it or the MAC algorithm (facts tdx-module.md §12);
   * tdxsim makes it random per platform and uses HMAC-SHA-256, so a report verifies only on the
   * platform that produced it.
   */
  readonly reportKey: Uint8Array = new Uint8Array(randomBytes(32));
  /**
   * Where every layer's trace events go (host via its Platform, module via module.platform, the
   * vCPU runner via its module). Tracing off by default; set a RecordingTracer or JsonlTracer to
   * record a run. Each emit point reads `tracer.enabled` once and does nothing more when it is off.
   */
  tracer: Tracer = NULL_TRACER;
  /** Shared EPTs in host memory, by the physical address of their root table. */
  private readonly sharedEpts = new Map<bigint, SharedEpt>();

  constructor(config: PlatformConfig = {}) {
    const packages = config.packages ?? 1;
    const perPkg = config.lpsPerPackage ?? 2;
    if (!Number.isInteger(packages) || packages < 1) throw new PlatformConfigError(`packages must be ≥ 1, got ${packages}`);
    if (!Number.isInteger(perPkg) || perPkg < 1) throw new PlatformConfigError(`lpsPerPackage must be ≥ 1, got ${perPkg}`);
    const size = config.memorySize ?? 4n << 30n;
    if (size <= 0n || size % 4096n !== 0n) throw new PlatformConfigError(`memorySize must be a positive multiple of 4096`);
    this.memory = new PhysicalMemory(size);
    this.cmrs = config.cmrs ?? [{ base: 1n << 20n, size: size - (1n << 20n) }];
    for (const c of this.cmrs) {
      if (c.base < 0n || c.size <= 0n || c.base + c.size > size || c.base % 4096n || c.size % 4096n) {
        throw new PlatformConfigError(`CMR [${c.base}, +${c.size}) must be 4K-aligned and inside memory`);
      }
    }
    this.mktmeKeyIds = config.mktmeKeyIds ?? 15;
    this.tdxKeyIds = config.tdxKeyIds ?? 48;
    if (this.tdxKeyIds < 2) throw new PlatformConfigError('TDX needs at least 2 private KeyIDs');
    this.maxPa = config.maxPa ?? 52;
    this.keyIdBits = Math.ceil(Math.log2(this.mktmeKeyIds + this.tdxKeyIds + 1));
    this.keyIdShift = this.maxPa - this.keyIdBits;
    this.keyIdPaMask = ((1n << BigInt(this.keyIdBits)) - 1n) << BigInt(this.keyIdShift);
    this.paLimit = 1n << BigInt(this.maxPa);
    for (let p = 0; p < packages; p++) {
      const pkg = new Package(p);
      this.packages.push(pkg);
      for (let i = 0; i < perPkg; i++) {
        const lp = new LogicalProcessor(this, this.lps.length, pkg);
        pkg.lps.push(lp);
        this.lps.push(lp);
      }
    }
  }

  /** First TDX private KeyID (HKID). */
  get firstTdxKeyId(): number {
    return this.mktmeKeyIds + 1;
  }

  /** True if `keyId` is a TDX private KeyID. */
  isPrivateKeyId(keyId: number): boolean {
    return keyId >= this.firstTdxKeyId && keyId < this.firstTdxKeyId + this.tdxKeyIds;
  }

  /** Number of PA bits the KeyID occupies: the KeyID sits in PA bits [maxPa-keyIdBits, maxPa). */
  readonly keyIdBits: number;
  /** Lowest PA bit that holds the KeyID (Linux: x86_phys_bits after MKTME reduces it). */
  readonly keyIdShift: number;
  /** The KeyID bits of a physical address, in place (for the module's per-SEAMCALL HPA checks). */
  readonly keyIdPaMask: bigint;
  /** 2^MAX_PA: every physical address is below it. */
  readonly paLimit: bigint;

  /** True if `[base, base+size)` lies entirely inside one CMR. */
  inCmr(base: bigint, size: bigint): boolean {
    return this.cmrs.some((c) => base >= c.base && base + size <= c.base + c.size);
  }

  /**
   * Make a shared EPT reachable at `rootPa`, as if the host had built it in memory there; a vCPU
   * whose SHARED_EPTP names that root translates its shared GPAs through `table`.
   */
  registerSharedEpt(rootPa: bigint, table: SharedEpt): void {
    this.sharedEpts.set(rootPa & SEPTE_PA_MASK, table);
  }

  /** The shared EPT an EPTP value points at (root address in bits 51:12), if one is registered. */
  sharedEptAt(eptp: bigint): SharedEpt | undefined {
    return this.sharedEpts.get(eptp & SEPTE_PA_MASK);
  }

  /** Load a TDX module into the SEAM range (what P-SEAMLDR does). */
  loadModule(module: SeamModule): void {
    this.seamModule = module;
  }
}
