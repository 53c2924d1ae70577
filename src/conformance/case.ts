/**
 * The conformance case model.
 *
 * A case states one behaviour a TDX party must show — "TDH.SYS.INIT with RCX ≠ 0 fails with
 * OPERAND_INVALID|RCX and writes no output register" — names the spec section it comes from, and
 * checks it by driving the simulation through its public interfaces only (SEAMCALL, TDCALL,
 * TDG.VP.VMCALL, the host API). Expectations are exact register values, including the output
 * registers the ABI says are zero or unchanged; a mismatch is a CaseFailure listing each
 * difference, decoded (expect.ts).
 *
 * Two shapes:
 *   - a module case (`run`) drives SEAMCALLs and TDCALLs itself;
 *   - a TD case runs a TD: its guest part is the program the vCPU boots into, its host part says
 *     how the VMM side answers, and `check` judges the outcome. `party` says which pluggable
 *     party is under test: the host's exit handlers (`host`), the guest library (`guest`), or
 *     neither (`module`: the TDX module's own behaviour, with the built-in host and raw guest
 *     instructions around it).
 *
 * Each case lists what it covers (`covers`): ABI items — SEAMCALL/TDCALL leaves, TDVMCALL
 * sub-functions — and whether it exercises their success or failure path. coverage.ts derives
 * from the ABI tables what must be covered and checks the suite against it.
 */
import type { LeafDef } from '../abi/leaf.ts';
import type { TdvmcallSubfunction } from '../abi/tdvmcall.ts';
import type { CaseContext } from './interfaces.ts';
import type { TdCaseSpec, TdOutcome } from './td-run.ts';

/** The architectural areas the suite is organised by (the lkvs TDX-compliance layout). */
export const AREAS = Object.freeze([
  { id: 'bring-up', title: 'Module bring-up', doc: 'TDH.SYS.* from SYSINIT_PENDING to SYS_READY, dispatcher gating, global metadata' },
  { id: 'td-build', title: 'TD build and measurement', doc: 'TDR/TDCS/TDVPS creation, TD_PARAMS checks, private pages, MRTD recomputed independently' },
  { id: 'sept', title: 'Secure EPT and private pages', doc: 'SEPT.ADD/RD/REMOVE, PAGE.AUG/REMOVE, BLOCK/UNBLOCK/TRACK and their state rules' },
  { id: 'metadata', title: 'Metadata access', doc: 'TDH.SYS/MNG/VP.RD/WR and RDALL: field ids, masks, outputs on error' },
  { id: 'vcpu', title: 'vCPU entry and exit images', doc: 'TDH.VP.ENTER checks, TD-exit register images, resume after TDVMCALL' },
  { id: 'tdcall', title: 'TDCALL leaves', doc: 'every TDG.* leaf the module implements, with its exact outputs' },
  { id: 'tdvmcall-host', title: 'TDVMCALL handling by the host', doc: "the VMM's answer to each GHCI sub-function, as the guest sees it" },
  { id: 'tdvmcall-guest', title: 'TDVMCALLs issued by the guest', doc: 'what the guest library puts on the wire and how it reads the answer' },
  { id: 've', title: 'Virtualization exceptions', doc: '#VE injection, VE_INFO, and the guest #VE handler' },
  { id: 'memory', title: 'Memory accept and conversion', doc: 'TDG.MEM.PAGE.ACCEPT, MapGPA, private↔shared conversion' },
  { id: 'isolation', title: 'Private memory isolation', doc: 'what the host can and cannot see or do to TD-private memory' },
  { id: 'attestation', title: 'Attestation', doc: 'TDREPORT fields and MAC, RTMR extend, GetQuote' },
  { id: 'teardown', title: 'Teardown', doc: 'flush, HKID release, reclaim: every page back, PAMT back to its initial state' },
] as const);

export type AreaId = (typeof AREAS)[number]['id'];

/** Which path of an ABI item a case exercises. */
export type CoveragePath = 'success' | 'failure';

/** An ABI item a case exercises. */
export type CoverageItem =
  | { readonly kind: 'leaf'; readonly leaf: LeafDef }
  | { readonly kind: 'tdvmcall'; readonly sub: TdvmcallSubfunction };

export interface Coverage {
  readonly item: CoverageItem;
  readonly path: CoveragePath;
}

/** Which pluggable party a case judges. */
export type Party = 'module' | 'host' | 'guest';

interface CaseBase {
  readonly area: AreaId;
  /** Unique name, kebab-case: what `--case` selects. */
  readonly name: string;
  /** One sentence: what must happen. */
  readonly behaviour: string;
  /** The spec or source section checked, e.g. "TDX module 1.5 ABI, TDH.MEM.PAGE.AUG; facts §4.7". */
  readonly spec: string;
  readonly covers: readonly Coverage[];
  readonly party: Party;
}

/** A case that drives the module directly. */
export interface ModuleCase extends CaseBase {
  readonly kind: 'module';
  readonly run: (ctx: CaseContext) => void;
}

/** A case that runs a TD (guest part + host part) and checks what happened. */
export interface TdCase extends CaseBase, TdCaseSpec {
  readonly kind: 'td';
  readonly check: (outcome: TdOutcome, ctx: CaseContext) => void;
}

export type ConformanceCase = ModuleCase | TdCase;

/** Coverage helpers: `ok(SeamcallLeaf.TDH_SYS_INIT)`, `fails(TdvmcallSubfunction.IO)`. */
export function ok(x: LeafDef | TdvmcallSubfunction): Coverage {
  return { item: coverageItem(x), path: 'success' };
}
export function fails(x: LeafDef | TdvmcallSubfunction): Coverage {
  return { item: coverageItem(x), path: 'failure' };
}

function coverageItem(x: LeafDef | TdvmcallSubfunction): CoverageItem {
  return 'kind' in x ? { kind: 'leaf', leaf: x } : { kind: 'tdvmcall', sub: x };
}

/** A readable key of a coverage item: `TDH.SYS.INIT`, `TDVMCALL<Instruction.IO>`. */
export function coverageKey(item: CoverageItem): string {
  return item.kind === 'leaf' ? item.leaf.mnemonic : `TDVMCALL<${item.sub.name}>`;
}

/**
 * A case failed: each entry is one difference between what the behaviour requires and what
 * happened, already decoded for people (`RAX: expected …, got …`).
 */
export class CaseFailure extends Error {
  override readonly name = 'CaseFailure';
  constructor(readonly differences: readonly string[]) {
    super(differences.join('; '));
  }
}

/** Fail the running case with one explanation. */
export function fail(message: string): never {
  throw new CaseFailure([message]);
}

/** Define module cases of one area (the area is filled in, so each case names it only once). */
export function moduleCases(area: AreaId, party: Party, cases: readonly Omit<ModuleCase, 'area' | 'kind' | 'party'>[]): ConformanceCase[] {
  return cases.map((c) => Object.freeze({ ...c, area, party, kind: 'module' as const }));
}

/** Define TD cases of one area. */
export function tdCases(area: AreaId, party: Party, cases: readonly Omit<TdCase, 'area' | 'kind' | 'party'>[]): ConformanceCase[] {
  return cases.map((c) => Object.freeze({ ...c, area, party, kind: 'td' as const }));
}
