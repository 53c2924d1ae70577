/**
 * The TDX module: global state, per-LP state, the tables it guards, and the SEAMCALL dispatcher.
 *
 * Dispatch follows the module's own order (facts tdx-module.md §1): decode RAX; reserved bits or
 * an unknown leaf → OPERAND_INVALID|RAX; a version above the leaf's maximum → OPERAND_INVALID|RAX;
 * after shutdown every leaf but TDH.SYS.LP.SHUTDOWN → TDX_SYS_SHUTDOWN; before SYS_READY only the
 * bring-up leaves run, others → TDX_SYS_NOT_READY. Then the leaf handler runs and its status goes
 * to RAX. Registers the handler does not write keep the caller's values.
 */
import { Gpr, type RegisterFile } from '../abi/registers.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { TdcallLeaf } from '../abi/tdcall-leaves.ts';
import { SysState, type SysStateValue } from '../abi/lifecycle.ts';
import { OperandId, TdxStatus, withOperand } from '../abi/status.ts';
import type { LogicalProcessor } from '../platform/processor.ts';
import type { Platform } from '../platform/platform.ts';
import type { SeamModule } from '../platform/seam.ts';
import type { LeafDef } from '../abi/leaf.ts';
import type { SeamcallHandler, TdcallHandler } from './context.ts';
import { LockTable } from './locks.ts';
import { Pamt } from './pamt.ts';
import { Kot } from './kot.ts';
import type { Td } from './td.ts';
import type { Vcpu } from './vcpu.ts';
import { SEAMCALL_HANDLERS, TDCALL_HANDLERS } from './dispatch.ts';
import { decodeLeafWord } from './leaf-word.ts';
import { PaMap } from './pa-map.ts';

/** Leaves allowed before SYS_READY (facts tdx-module.md §1, "SEAMCALL gating by module state"). */
const ALLOWED_BEFORE_READY: ReadonlySet<number> = new Set([
  SeamcallLeaf.TDH_SYS_INFO.number,
  SeamcallLeaf.TDH_SYS_RD.number,
  SeamcallLeaf.TDH_SYS_RDALL.number,
  SeamcallLeaf.TDH_SYS_INIT.number,
  SeamcallLeaf.TDH_SYS_LP_INIT.number,
  SeamcallLeaf.TDH_SYS_CONFIG.number,
  SeamcallLeaf.TDH_SYS_KEY_CONFIG.number,
  SeamcallLeaf.TDH_SYS_LP_SHUTDOWN.number,
  SeamcallLeaf.TDH_SYS_UPDATE.number,
]);

/** A configured TDMR (TDH.SYS.CONFIG) with its PAMT and reserved areas. */
export interface Tdmr {
  readonly base: bigint;
  readonly size: bigint;
  /** PAMT areas indexed by PAMT level (PamtPageSize): [4K, 2M, 1G]. */
  readonly pamt: readonly { base: bigint; size: bigint }[];
  readonly reserved: readonly { offset: bigint; size: bigint }[];
}

/** Per-logical-processor module state. */
export interface LpState {
  /** TDH.SYS.LP.INIT done on this LP. */
  lpInit: boolean;
  /** The vCPU that last ran on this LP (a different one needs INVEPT + IBPB at entry). */
  lastVcpu: Vcpu | undefined;
}

/** Build-time facts about the module the host can read through TDH.SYS.RD. */
export interface ModuleIdentity {
  readonly majorVersion: number;
  readonly minorVersion: number;
  readonly updateVersion: number;
  readonly buildNumber: number;
  /** YYYYMMDD. */
  readonly buildDate: number;
  /** TDX_FEATURES0 bits (NO_RBP_MOD etc.). */
  readonly features0: bigint;
}

/** A leaf the module dispatches: its table entry and its handler. */
export interface DispatchEntry<H> {
  readonly leaf: LeafDef;
  readonly handler: H;
}

/**
 * Leaf table and handler table joined into one array indexed by leaf number, built once: the
 * dispatchers run on every SEAMCALL and TDCALL and look a leaf up with one array read.
 */
function dispatchTable<H>(leaves: Record<string, LeafDef>, handlers: Readonly<Record<number, H>>): readonly (DispatchEntry<H> | undefined)[] {
  const table: (DispatchEntry<H> | undefined)[] = [];
  for (const leaf of Object.values(leaves)) {
    const handler = handlers[leaf.number];
    if (handler) table[leaf.number] = Object.freeze({ leaf, handler });
  }
  return Object.freeze(table);
}

const SEAMCALL_DISPATCH = dispatchTable<SeamcallHandler>(SeamcallLeaf, SEAMCALL_HANDLERS);
const TDCALL_DISPATCH = dispatchTable<TdcallHandler>(TdcallLeaf, TDCALL_HANDLERS);

const INVALID_RAX = withOperand(TdxStatus.TDX_OPERAND_INVALID, OperandId.RAX);

export class TdxModule implements SeamModule {
  loaded = true;
  sysState: SysStateValue = SysState.SYSINIT_PENDING;
  readonly locks = new LockTable();
  /** Per-LP state, by LP id. */
  readonly lpState: LpState[];
  numInitLps = 0;
  tdmrs: Tdmr[] = [];
  /** Empty until TDH.SYS.CONFIG installs the TDMRs. */
  pamt = new Pamt([]);
  /** The module's global private HKID (TDH.SYS.CONFIG). */
  globalHkid = 0;
  /** Packages whose global key is programmed (TDH.SYS.KEY.CONFIG). */
  readonly keyConfiguredPackages = new Set<number>();
  /** TDs by TDR physical address. */
  readonly tds = new PaMap<Td>();
  /** vCPUs by TDVPR physical address. */
  readonly vcpus = new PaMap<Vcpu>();
  /**
   * Guest instructions one TDH.VP.ENTER may run before the simulator preempts the vCPU with an
   * external-interrupt TD exit, standing in for the host's timer tick (vcpu-runner.ts).
   */
  stepBudget = 1_000_000;
  /** Key Ownership Table and the per-package cache write-back table. */
  readonly kot: Kot;

  constructor(
    readonly platform: Platform,
    readonly identity: ModuleIdentity,
  ) {
    this.lpState = platform.lps.map(() => ({ lpInit: false, lastVcpu: undefined }));
    this.kot = new Kot(platform.packages.length);
  }

  seamcall(lp: LogicalProcessor, regs: RegisterFile): void {
    regs.gpr[Gpr.RAX] = this.dispatch(lp, regs);
  }

  private dispatch(lp: LogicalProcessor, regs: RegisterFile): bigint {
    const word = decodeLeafWord(regs);
    if (!word) return INVALID_RAX;
    const { number, version } = word;
    const entry = SEAMCALL_DISPATCH[number];
    if (!entry) return INVALID_RAX;
    if (version > entry.leaf.maxVersion) return INVALID_RAX;
    if (this.sysState === SysState.SYS_SHUTDOWN && number !== SeamcallLeaf.TDH_SYS_LP_SHUTDOWN.number) {
      return TdxStatus.TDX_SYS_SHUTDOWN;
    }
    if (this.sysState !== SysState.SYS_READY && !ALLOWED_BEFORE_READY.has(number)) {
      return TdxStatus.TDX_SYS_NOT_READY;
    }
    return entry.handler({ module: this, lp, regs, version });
  }

  /** TDCALL leaf metadata and handler by number (used by the vCPU runner). */
  tdcallLeaf(number: number): DispatchEntry<TdcallHandler> | undefined {
    return TDCALL_DISPATCH[number];
  }

  /** The TD whose TDR is at `tdr`, if that page is a live TDR. */
  td(tdr: bigint): Td | undefined {
    return this.tds.get(tdr);
  }

  vcpu(tdvpr: bigint): Vcpu | undefined {
    return this.vcpus.get(tdvpr);
  }
}
