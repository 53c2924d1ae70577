/**
 * Fuzz target `module`: a malicious host against a real TDX module.
 *
 * Each step is one SEAMCALL (or one direct access to physical memory) from module-gen.ts, run on
 * the chosen logical processor of a world from module-world.ts, then checked:
 *   - no exception escaped the SEAMCALL (no-exception);
 *   - RAX is a defined status (status-defined);
 *   - no TD secret is in the output registers, and the memory watch saw no host access with a
 *     private KeyID, no host read returning a secret and no module write of one into host memory
 *     (no-plaintext-leak);
 *   - the canary guest saw no unexposed register change across its TDVMCALLs (unexposed-registers);
 *   - no finalised TD's MRTD changed (mrtd-immutable);
 *   - PAMT, Secure EPT and CHLDCNT agree and a reclaimed page is free (pamt-sept-consistent);
 *   - no module lock is held (locks-idle).
 * Coverage counts each leaf issued and each (leaf, status) outcome.
 */
import { z } from 'zod';
import { Gpr, GPR_NAMES, RegisterFile, type GprName } from '../../abi/registers.ts';
import { LEAF_WORD } from '../../abi/operands.ts';
import { SeamcallLeaf } from '../../abi/seamcall-leaves.ts';
import { SysState } from '../../abi/lifecycle.ts';
import { TdxStatus } from '../../abi/status.ts';
import { decodeStatus } from '../../abi/status-decode.ts';
import { hex64 } from '../../abi/bitfield.ts';
import { U64_JSON } from '../case.ts';
import { checkReclaimed, checkStatus, exceptionViolation, type Violation } from '../invariants.ts';
import type { Coverage } from '../coverage.ts';
import type { Rng } from '../rng.ts';
import type { Episode, FuzzTarget, OpenOptions } from '../target.ts';
import { buildModuleWorld, MODULE_SETUPS, type ModuleSetup, type ModuleWorld } from './module-world.ts';
import { ModuleGenerator, type ModuleAction, type SeamcallAction } from './module-gen.ts';

const LEAF_NAMES = new Map(Object.values(SeamcallLeaf).map((l) => [l.number, l.mnemonic]));
const RECLAIM = SeamcallLeaf.TDH_PHYMEM_PAGE_RECLAIM.number;

const GPR_KEYS = GPR_NAMES.map((n) => n.toLowerCase()) as Lowercase<GprName>[];

const SeamcallActionSchema = z.object({
  kind: z.literal('seamcall'),
  lp: z.number().int().min(0),
  regs: z.partialRecord(z.enum(GPR_KEYS as [Lowercase<GprName>, ...Lowercase<GprName>[]]), U64_JSON),
  contended: z.object({ key: z.union([z.string(), z.number().int()]), mode: z.enum(['shared', 'exclusive']) }).optional(),
  note: z.string().optional(),
});
const HostMemorySchema = z.object({
  kind: z.enum(['host-read', 'host-write']),
  pa: U64_JSON,
  keyId: z.number().int().min(0),
  value: U64_JSON,
});

export const ModuleActionSchema: z.ZodType<ModuleAction> = z.union([SeamcallActionSchema, HostMemorySchema]) as z.ZodType<ModuleAction>;
export const ModuleSetupSchema: z.ZodType<ModuleSetup> = z.enum(MODULE_SETUPS);

/** Name of a leaf word's leaf for coverage (`leaf 0x…` for numbers no table names). */
function leafName(rax: bigint): string {
  if (LEAF_WORD.hasReservedBits(rax)) return 'RAX with reserved bits';
  const n = Number(LEAF_WORD.get(rax, 'leaf'));
  return LEAF_NAMES.get(n) ?? `leaf ${n}`;
}

/** One module episode over a world from buildModuleWorld (tests may hand it a world they altered). */
export class ModuleEpisode implements Episode<ModuleAction> {
  private readonly gen: ModuleGenerator;
  private readonly regs = new RegisterFile();

  constructor(
    readonly world: ModuleWorld,
    readonly coverage: Coverage,
  ) {
    this.gen = new ModuleGenerator(world);
  }

  get live(): boolean {
    return this.world.w.module.sysState !== SysState.SYS_SHUTDOWN;
  }

  next(rng: Rng): ModuleAction {
    return this.gen.next(rng);
  }

  step(action: ModuleAction): Violation | undefined {
    try {
      const v = action.kind === 'seamcall' ? this.seamcall(action) : this.hostMemory(action);
      return v ?? this.checkWorld();
    } catch (e) {
      return exceptionViolation(action.kind === 'seamcall' ? leafName(action.regs.rax ?? 0n) : action.kind, e);
    }
  }

  private seamcall(a: SeamcallAction): Violation | undefined {
    const w = this.world.w;
    const lp = w.lps[a.lp % w.lps.length]!;
    const g = this.regs.gpr;
    for (let i = 0; i < g.length; i++) g[i] = a.regs[GPR_KEYS[i]!] ?? 0n;
    this.regs.xmm.fill(0n);
    const rax = g[Gpr.RAX]!;
    const name = leafName(rax);
    this.coverage.hit(name);
    // Another LP holding a lock the leaf needs: released as soon as the call returns.
    const release = a.contended ? w.module.locks.hold(a.contended.key, a.contended.mode) : undefined;
    try {
      lp.seamcall(this.regs);
    } catch (e) {
      return exceptionViolation(`SEAMCALL ${name} on LP ${lp.id}`, e);
    } finally {
      release?.();
    }
    const status = g[Gpr.RAX]!;
    this.coverage.outcome(name, decodeStatus(status).name ?? hex64(status));
    const where = `SEAMCALL ${name} on LP ${lp.id}`;
    const v = checkStatus(status, where) ?? this.world.secrets.scanRegisters(this.regs, `${where} output`);
    if (v) return v;
    if (status === TdxStatus.TDX_SUCCESS && !LEAF_WORD.hasReservedBits(rax) && Number(LEAF_WORD.get(rax, 'leaf')) === RECLAIM) {
      return checkReclaimed(w.module, a.regs.rcx ?? 0n);
    }
    return undefined;
  }

  /** The host touching memory with one of its own (shared) KeyIDs. */
  private hostMemory(a: Extract<ModuleAction, { kind: 'host-read' | 'host-write' }>): Violation | undefined {
    const w = this.world.w;
    this.coverage.hit(a.kind);
    // The host can only name memory that exists and KeyIDs it owns; anything else is a bug in
    // the case file, not an action a host could take, so it is skipped.
    if (a.keyId > w.platform.mktmeKeyIds || !w.platform.memory.contains(a.pa, 8)) return undefined;
    if (a.kind === 'host-read') w.platform.memory.read(a.pa, 8, a.keyId);
    else w.platform.memory.writeU64(a.pa, a.value, a.keyId);
    return undefined;
  }

  private checkWorld(): Violation | undefined {
    const world = this.world;
    const canary = world.canary.violation;
    world.canary.violation = undefined;
    return (
      world.memoryWatch.take() ?? canary ?? world.mrtd.check(world.w.module) ?? world.state.check(world.w.module)
    );
  }
}

export const moduleTarget: FuzzTarget<ModuleAction, ModuleSetup> = {
  name: 'module',
  summary: 'a malicious host issuing SEAMCALLs against a real TDX module',
  episodeLength: () => 400,
  chooseSetup(rng: Rng): ModuleSetup {
    const r = rng.float();
    return r < 0.1 ? 'loaded' : r < 0.25 ? 'ready' : 'tds';
  },
  open(setup: ModuleSetup, coverage: Coverage, options: OpenOptions = {}): Episode<ModuleAction> {
    return new ModuleEpisode(buildModuleWorld(setup, options.tracer), coverage);
  },
  setupSchema: ModuleSetupSchema,
  actionSchema: ModuleActionSchema,
};
