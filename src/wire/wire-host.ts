/**
 * A small host VMM written against the wire protocol alone — the TypeScript twin of
 * clients/c/examples/host.c, and what tests and the benchmark use to play the host of a wire
 * guest. It does what KVM does for a one-page TD (facts linux-tdx.md §1.5, tdx-module.md §5.2),
 * each step a real SEAMCALL through the server:
 *
 *   build     TDH.MNG.CREATE, TDH.MNG.KEY.CONFIG on each package, TDH.MNG.ADDCX × TDCS pages,
 *             TDH.MNG.INIT with TD_PARAMS, per vCPU TDH.VP.CREATE, TDH.VP.ADDCX × (TDVPS pages −
 *             1), TDH.VP.INIT; TDH.MEM.SEPT.ADD for each paging level above the boot page,
 *             TDH.MEM.PAGE.ADD of the boot page (naming the guest program), TDH.MR.EXTEND × 16,
 *             TDH.MR.FINALIZE
 *   run       TDH.VP.ENTER with the reply registers the caller chooses
 *   destroy   TDH.VP.FLUSH, TDH.MNG.VPFLUSHDONE, TDH.PHYMEM.CACHE.WB per package,
 *             TDH.MNG.KEY.FREEID, TDH.PHYMEM.PAGE.RECLAIM of every TD page (TDR last), then
 *             TDH.PHYMEM.PAGE.WBINVD of the TDR with the global KeyID, and FREE_PAGES
 * The module must already be up (`SETUP_PLATFORM`, or the client's own bring-up). A SEAMCALL that
 * fails during build or destroy is a WireHostError naming the leaf and status.
 */
import { Gpr, RegisterFile } from '../abi/registers.ts';
import { LEAF_WORD, GPA_AND_LEVEL, VP_ENTER_RCX } from '../abi/operands.ts';
import { readOperands, writeOperands, type LeafDef, type OperandValues } from '../abi/leaf.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { TdxStatus, statusCode } from '../abi/status.ts';
import { metadataFieldByName } from '../abi/metadata.ts';
import { PAGE_SIZE } from '../abi/pamt.ts';
import { SeptLevel, levelSize } from '../abi/sept.ts';
import { GPAW_48, eptLevels } from '../abi/gpa.ts';
import { MR_EXTEND_CHUNK_BYTES } from '../abi/measurement.ts';
import { TD_CONFIG_FLAGS, TD_PARAMS, EPTP_CONTROLS_4LEVEL } from '../abi/td-params.ts';
import { TSC_FREQUENCY_UNIT_HZ, TdAttributesBit, XFAM_FIXED1 } from '../abi/td-config.ts';
import { WireResult } from '../abi/wire.ts';
import { BOOT_PAGE_GPA, encodeBootPage } from '../platform/boot-image.ts';
import type { WireClient } from './client.ts';

export class WireHostError extends Error {
  override readonly name = 'WireHostError';
}

export interface WireLeafResult<L extends LeafDef> {
  readonly status: bigint;
  readonly ok: boolean;
  readonly outputs: OperandValues<L['outputs']>;
  readonly regs: RegisterFile;
}

/** One SEAMCALL leaf over the wire with named operands (the wire twin of platform/leaf-call.ts). */
export async function wireLeaf<L extends LeafDef>(
  client: WireClient,
  lp: number,
  leaf: L,
  inputs: Partial<OperandValues<L['inputs']>> = {},
  version = 0,
): Promise<WireLeafResult<L>> {
  const regs = new RegisterFile();
  regs.gpr[Gpr.RAX] = LEAF_WORD.encode({ leaf: leaf.number, version });
  writeOperands(leaf.inputs, regs, inputs);
  const out = await client.seamcall(lp, regs);
  const status = out.gpr[Gpr.RAX]!;
  return { status, ok: status === TdxStatus.TDX_SUCCESS, outputs: readOperands(leaf.outputs as L['outputs'], out), regs: out };
}

async function check<L extends LeafDef>(client: WireClient, lp: number, leaf: L, inputs: Partial<OperandValues<L['inputs']>>, version = 0): Promise<WireLeafResult<L>> {
  const r = await wireLeaf(client, lp, leaf, inputs, version);
  if (!r.ok) throw new WireHostError(`${leaf.mnemonic} failed with status 0x${r.status.toString(16).padStart(16, '0')}`);
  return r;
}

export interface WireTdOptions {
  /** Program the boot page names (a built-in program, or `wire:<token>`). */
  readonly program: string;
  readonly args?: unknown;
  readonly vcpus?: number;
  /** HKID for the TD (a TDX KeyID other than the global one). */
  readonly hkid: number;
  /** The global private KeyID (for the TDR's final WBINVD). */
  readonly globalKeyId: number;
  /** TD ATTRIBUTES; default SEPT_VE_DISABLE. */
  readonly attributes?: bigint;
}

/** A TD built by a wire host client. */
export class WireTd {
  /** TDVPR of each vCPU, by VCPU_INDEX. */
  readonly tdvprs: bigint[] = [];
  /** Every page the TD owns except the TDR, in the order they were given. */
  private readonly tdPages: bigint[] = [];
  private constructor(
    private readonly client: WireClient,
    readonly tdr: bigint,
    private readonly options: WireTdOptions,
    private readonly lpCount: number,
    private readonly packageLeaders: number[],
  ) {}

  /** Build and finalize a TD whose boot page names `options.program`. */
  static async build(client: WireClient, options: WireTdOptions): Promise<WireTd> {
    const info = await client.platformInfo();
    const leaders = Array.from({ length: info.packages }, (_, p) => p * info.lpsPerPackage);
    const page = async (count = 1, alignment = 0): Promise<bigint> => {
      const r = await client.allocPages(count, alignment);
      if (r.result !== WireResult.OK) throw new WireHostError(`ALLOC_PAGES(${count}) failed with result ${r.result}`);
      return r.base;
    };
    const rd = async (name: string): Promise<bigint> => {
      const f = metadataFieldByName(name);
      if (!f) throw new Error(`no metadata field ${name}`);
      return (await check(client, 0, SeamcallLeaf.TDH_SYS_RD, { fieldId: f.id })).outputs.value;
    };
    const tdcsPages = Number((await rd('TDCS_BASE_SIZE')) / PAGE_SIZE);
    const tdvpsPages = Number((await rd('TDVPS_BASE_SIZE')) / PAGE_SIZE);

    const tdr = await page();
    const td = new WireTd(client, tdr, options, info.lpCount, leaders);
    await check(client, 0, SeamcallLeaf.TDH_MNG_CREATE, { tdr, hkid: BigInt(options.hkid) });
    for (const lp of leaders) await check(client, lp, SeamcallLeaf.TDH_MNG_KEY_CONFIG, { tdr });
    for (let i = 0; i < tdcsPages; i++) {
      const p = await page();
      await check(client, 0, SeamcallLeaf.TDH_MNG_ADDCX, { page: p, tdr });
      td.tdPages.push(p);
    }
    const vcpus = options.vcpus ?? 1;
    const params = await page(); // 4K-aligned, so TD_PARAMS_ALIGNMENT too
    await client.memWrite(
      params,
      TD_PARAMS.encode({
        attributes: options.attributes ?? 1n << BigInt(TdAttributesBit.SEPT_VE_DISABLE),
        xfam: XFAM_FIXED1,
        max_vcpus: vcpus,
        eptp_controls: EPTP_CONTROLS_4LEVEL,
        config_flags: TD_CONFIG_FLAGS.encode({ no_rbp_mod: 1 }),
        tsc_frequency: TSC_FREQUENCY_25MHZ_UNITS,
      }),
    );
    await check(client, 0, SeamcallLeaf.TDH_MNG_INIT, { tdr, tdParams: params });
    await client.freePages(params, 1);

    for (let v = 0; v < vcpus; v++) {
      const lp = v % info.lpCount;
      const tdvpr = await page();
      await check(client, lp, SeamcallLeaf.TDH_VP_CREATE, { tdvpr, tdr });
      td.tdPages.push(tdvpr);
      for (let i = 0; i < tdvpsPages - 1; i++) {
        const p = await page();
        await check(client, lp, SeamcallLeaf.TDH_VP_ADDCX, { page: p, tdvpr });
        td.tdPages.push(p);
      }
      await check(client, lp, SeamcallLeaf.TDH_VP_INIT, { tdvpr, initialRcx: 0n });
      td.tdvprs.push(tdvpr);
    }

    // The boot page: S-EPT levels above it, then the page itself, measured.
    for (let level = eptLevels(GPAW_48) - 1; level >= SeptLevel.PD; level--) {
      const p = await page();
      const base = BOOT_PAGE_GPA & ~(levelSize(level) - 1n);
      await check(client, 0, SeamcallLeaf.TDH_MEM_SEPT_ADD, { gpaLevel: GPA_AND_LEVEL.encode({ level, gpa_page: base >> 12n }), tdrFlags: tdr, page: p });
      td.tdPages.push(p);
    }
    const source = await page();
    await client.memWrite(source, encodeBootPage({ program: options.program, args: options.args ?? {} }));
    const boot = await page();
    await check(client, 0, SeamcallLeaf.TDH_MEM_PAGE_ADD, { gpaLevel: GPA_AND_LEVEL.encode({ level: SeptLevel.PT, gpa_page: BOOT_PAGE_GPA >> 12n }), tdr, page: boot, source });
    td.tdPages.push(boot);
    await client.freePages(source, 1);
    for (let off = 0n; off < PAGE_SIZE; off += BigInt(MR_EXTEND_CHUNK_BYTES)) await check(client, 0, SeamcallLeaf.TDH_MR_EXTEND, { gpa: BOOT_PAGE_GPA + off, tdr });
    await check(client, 0, SeamcallLeaf.TDH_MR_FINALIZE, { tdr });
    return td;
  }

  /** The LP vCPU `index` was initialised on (every vCPU-scope SEAMCALL must run there). */
  lpOf(index: number): number {
    return index % this.lpCount;
  }

  /** TDH.VP.ENTER of vCPU `index` with the reply registers `regs` (RCX is set here). */
  async enter(index: number, regs: RegisterFile = new RegisterFile()): Promise<RegisterFile> {
    const r = regs.clone();
    r.gpr[Gpr.RAX] = LEAF_WORD.encode({ leaf: SeamcallLeaf.TDH_VP_ENTER.number, version: 0 });
    r.gpr[Gpr.RCX] = VP_ENTER_RCX.encode({ tdvpr_page: this.tdvprs[index]! >> 12n });
    return this.client.seamcall(this.lpOf(index), r);
  }

  /** Tear the TD down and give every page back; returns how many pages were reclaimed. */
  async destroy(): Promise<number> {
    const c = this.client;
    for (let i = 0; i < this.tdvprs.length; i++) {
      const r = await wireLeaf(c, this.lpOf(i), SeamcallLeaf.TDH_VP_FLUSH, { tdvpr: this.tdvprs[i]! });
      if (!r.ok && statusCode(r.status) !== TdxStatus.TDX_VCPU_NOT_ASSOCIATED) throw new WireHostError(`TDH.VP.FLUSH failed with 0x${r.status.toString(16)}`);
    }
    await check(c, 0, SeamcallLeaf.TDH_MNG_VPFLUSHDONE, { tdr: this.tdr });
    for (const lp of this.packageLeaders) {
      // Interruptible: resume while the module says INTERRUPTED_RESUMABLE.
      let r = await wireLeaf(c, lp, SeamcallLeaf.TDH_PHYMEM_CACHE_WB, { resume: 0n });
      while (statusCode(r.status) === TdxStatus.TDX_INTERRUPTED_RESUMABLE) r = await wireLeaf(c, lp, SeamcallLeaf.TDH_PHYMEM_CACHE_WB, { resume: 1n });
      if (!r.ok && statusCode(r.status) !== TdxStatus.TDX_NO_HKID_READY_TO_WBCACHE) throw new WireHostError(`TDH.PHYMEM.CACHE.WB failed with 0x${r.status.toString(16)}`);
    }
    await check(c, 0, SeamcallLeaf.TDH_MNG_KEY_FREEID, { tdr: this.tdr });
    let reclaimed = 0;
    for (const p of this.tdPages) {
      await check(c, 0, SeamcallLeaf.TDH_PHYMEM_PAGE_RECLAIM, { page: p });
      await c.freePages(p, 1);
      reclaimed++;
    }
    await check(c, 0, SeamcallLeaf.TDH_PHYMEM_PAGE_RECLAIM, { page: this.tdr });
    const info = await c.platformInfo();
    await check(c, 0, SeamcallLeaf.TDH_PHYMEM_PAGE_WBINVD, { page: this.tdr | (BigInt(this.options.globalKeyId) << BigInt(info.keyIdShift)) });
    await c.freePages(this.tdr, 1);
    return reclaimed + 1;
  }
}

/** TD_PARAMS.TSC_FREQUENCY: a 2.5 GHz TSC in the field's units. */
const TSC_FREQUENCY_25MHZ_UNITS = 2_500_000_000 / TSC_FREQUENCY_UNIT_HZ;
