/**
 * Test helpers for the memory leaves: build the Secure-EPT path to a GPA, add vCPUs, finalise,
 * and encode GPA|level operands, all through the real SEAMCALLs on top of module-harness.ts.
 *
 *   const env = bringUp();
 *   const t = createTd(env);
 *   addSeptPath(env, t, 0n, 1);      // SEPT.ADD at levels 3, 2, 1 for GPA 0
 *   addVcpu(env, t); finalize(env, t);
 */
import { GPA_AND_LEVEL, TDR_AND_SEPT_ADD_FLAGS } from '../../src/abi/operands.ts';
import { TDVPS_BASE_PAGES } from '../../src/abi/lifecycle.ts';
import { TdxStatus } from '../../src/abi/status.ts';
import { hex64 } from '../../src/abi/bitfield.ts';
import { levelSize } from '../../src/abi/sept.ts';
import type { CreatedTd, ModuleEnv } from './module-harness.ts';
import { expectStatus } from './module-harness.ts';

/** GPA|level operand (RCX of the SEPT leaves and of TDG.MEM.PAGE.ACCEPT). */
export function gpaLevel(gpa: bigint, level: number): bigint {
  return GPA_AND_LEVEL.encode({ level, gpa_page: gpa >> 12n });
}

/** TDH.MEM.SEPT.ADD RDX: the TDR with the ALLOW_EXISTING flag. */
export function tdrFlags(tdr: bigint, allowExisting = false): bigint {
  return TDR_AND_SEPT_ADD_FLAGS.encode({ tdr_page: tdr >> 12n, allow_existing: allowExisting ? 1 : 0 });
}

/**
 * TDH.MEM.SEPT.ADD for every missing level from the root down to `downTo` (≥ 1) for `gpa`.
 * Returns the SEPT pages added, highest level first.
 */
export function addSeptPath(env: ModuleEnv, t: CreatedTd, gpa: bigint, downTo = 1): bigint[] {
  const added: bigint[] = [];
  const sept = t.td.sept!;
  for (let level = sept.maxLevel; level >= downTo; level--) {
    const base = gpa & ~(levelSize(level) - 1n);
    const walk = sept.walk(base, level);
    if (walk.reached && walk.stateName !== 'FREE') continue;
    const page = env.alloc.alloc4k();
    expectStatus(env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(base, level), tdrFlags: tdrFlags(t.tdr), page }), `SEPT.ADD level ${level}`);
    added.push(page);
  }
  return added;
}

/** TDH.VP.CREATE, TDH.VP.ADDCX × 5, TDH.VP.INIT on LP 0. Returns the TDVPR PA. */
export function addVcpu(env: ModuleEnv, t: CreatedTd): bigint {
  const tdvpr = env.alloc.alloc4k();
  expectStatus(env.tdh.VP_CREATE({ tdvpr, tdr: t.tdr }), 'TDH.VP.CREATE');
  for (let i = 1; i < TDVPS_BASE_PAGES; i++) expectStatus(env.tdh.VP_ADDCX({ page: env.alloc.alloc4k(), tdvpr }), 'TDH.VP.ADDCX');
  expectStatus(env.tdh.VP_INIT({ tdvpr, initialRcx: 0n }), 'TDH.VP.INIT');
  return tdvpr;
}

/** TDH.MR.FINALIZE (the TD needs a vCPU first). */
export function finalize(env: ModuleEnv, t: CreatedTd): void {
  expectStatus(env.tdh.MR_FINALIZE({ tdr: t.tdr }), 'TDH.MR.FINALIZE');
}

/** A host page holding `bytes` (KeyID 0), for PAGE.ADD's source. */
export function hostPage(env: ModuleEnv, bytes: Uint8Array): bigint {
  const pa = env.shared.alloc4k();
  env.platform.memory.write(pa, bytes, 0);
  return pa;
}

/** PAGE.ADD of `bytes` at `gpa` (the SEPT path must exist). Returns the target HPA. */
export function addPage(env: ModuleEnv, t: CreatedTd, gpa: bigint, bytes: Uint8Array = new Uint8Array(4096)): bigint {
  const page = env.alloc.alloc4k();
  const r = env.tdh.MEM_PAGE_ADD({ gpaLevel: gpaLevel(gpa, 0), tdr: t.tdr, page, source: hostPage(env, bytes) });
  if (r.status !== TdxStatus.TDX_SUCCESS) throw new Error(`PAGE.ADD ${hex64(gpa)}: ${hex64(r.status)}`);
  return page;
}

/** A deterministic page of test data. */
export function patternPage(seed: number): Uint8Array {
  const out = new Uint8Array(4096);
  for (let i = 0; i < out.length; i++) out[i] = (seed * 31 + i * 7) & 255;
  return out;
}

/**
 * Completion statuses as literal values from the module's error table (tdx-module.md §3.2), so
 * tests check the exact RAX independently of src/abi.
 */
export const ST = Object.freeze({
  SUCCESS: 0n,
  OPERAND_INVALID: 0xc000_0100_0000_0000n,
  OPERAND_ADDR_RANGE_ERROR: 0xc000_0101_0000_0000n,
  OPERAND_BUSY: 0x8000_0200_0000_0000n,
  PREVIOUS_TLB_EPOCH_BUSY: 0x8000_0201_0000_0000n,
  PAGE_METADATA_INCORRECT: 0xc000_0300_0000_0000n,
  TD_FATAL: 0xe000_0604_0000_0000n,
  OP_STATE_INCORRECT: 0xc000_0608_0000_0000n,
  NO_VCPUS: 0xc000_0609_0000_0000n,
  EPT_WALK_FAILED: 0xc000_0b00_0000_0000n,
  EPT_ENTRY_NOT_PRESENT: 0xc000_0b03_0000_0000n,
  GPA_RANGE_NOT_BLOCKED: 0xc000_0b06_0000_0000n,
  GPA_RANGE_ALREADY_BLOCKED: 0x0000_0b07_0000_0000n,
  TLB_TRACKING_NOT_DONE: 0xc000_0b08_0000_0000n,
  PAGE_ALREADY_ACCEPTED: 0x0000_0b0a_0000_0000n,
  PAGE_SIZE_MISMATCH: 0xc000_0b0b_0000_0000n,
  EPT_ENTRY_STATE_INCORRECT: 0xc000_0b0d_0000_0000n,
  EPT_PAGE_NOT_FREE: 0xc000_0b0e_0000_0000n,
});

/** Operand ids (tdx-module.md §3.3). */
export const OP = Object.freeze({ RCX: 1n, RDX: 2n, R8: 8n, R9: 9n, R10: 10n, SEPT_TREE: 146n, TD_EPOCH: 169n, OP_STATE: 172n });

/**
 * Secure-EPT entries as the host sees them (RCX of SEPT.RD and the EPT errors), computed by hand
 * from the module's bit assignments (tdx-module.md §4.7): RWX 0x7, XU 0x400, MT WB 0x30,
 * IPAT 0x40, PS 0x80, SVE bit 63.
 */
export const ARCH = Object.freeze({
  FREE: 0x8000_0000_0000_0000n,
  NON_LEAF_MAPPED: 0x407n,
  NON_LEAF_BLOCKED: 0n,
  /** | page PA */
  MAPPED: 0x8000_0000_0000_04f7n,
  /** | page PA: PENDING, BLOCKED, PENDING_BLOCKED (no permissions) */
  LEAF_NO_PERMS: 0x8000_0000_0000_00f0n,
});

/** SEPT_ENTRY_INFO (RDX): level | public state << 8. */
export function septInfo(level: number, state: number): bigint {
  return BigInt(level) | (BigInt(state) << 8n);
}
