/**
 * The invariants every fuzz step is checked against, whatever the target.
 *
 * Each check returns a Violation (which invariant, what happened) or undefined. They are the
 * promises tdxsim makes about parties that behave badly (DESIGN.md, "malicious rubbish"):
 *
 *   no-exception                nothing a party inside the simulation sends — SEAMCALL operands,
 *                               guest registers, VMM replies — makes a SEAMCALL, TDCALL or exit
 *                               handler throw; every outcome is a status
 *   status-defined              every completion status is a code the tables define (or a
 *                               software SEAMCALL code); every TDVMCALL status is a GHCI one
 *   no-plaintext-leak           the host never sees a TD's private data: not through a read with
 *                               its own KeyIDs, not in a SEAMCALL's output registers, not in host
 *                               memory the module writes, not in guest registers the TD did not
 *                               expose on a TDVMCALL
 *   unexposed-registers         a VMM reply changes only the guest registers the TDVMCALL exposed
 *   mrtd-immutable              a finalised TD's MRTD never changes
 *   pamt-sept-consistent        every page has one owner and every structure that names a page
 *                               agrees with its PAMT entry (type, owner, level); TDR.CHLDCNT counts
 *                               exactly the pages the TD owns; a reclaimed page is PT_NDA
 *   locks-idle                  no module lock is held between calls
 *   guest-refuses-bad-reply     the guest library rejects the VMM replies it must reject
 *   vmm-reply-contract          the VMM's answer to a TDVMCALL keeps the GHCI's promises (RETRY only
 *                               for MapGPA, with R11 inside the range the guest asked for)
 *   host-survives-guest         nothing a guest does makes one of the host's own SEAMCALLs fail
 *                               (the KVM_BUG_ON class: the host kills the VM for its own mistake)
 *
 * The secret watch (memory-watch.ts) implements the memory half of no-plaintext-leak.
 */
import { decodeStatus, decodeTdvmcallStatus } from '../abi/status-decode.ts';
import { hex64 } from '../abi/bitfield.ts';
import { PamtPageType } from '../abi/pamt.ts';
import { OpState, TdLifecycle } from '../abi/lifecycle.ts';
import { GPR_COUNT, GPR_NAMES, type RegisterFile } from '../abi/registers.ts';
import type { TdxModule } from '../module/module.ts';
import type { Pamt } from '../module/pamt.ts';
import type { Td } from '../module/td.ts';
import { tdPages, type TdPage } from './td-pages.ts';

export const Invariant = Object.freeze({
  NO_EXCEPTION: 'no-exception',
  STATUS_DEFINED: 'status-defined',
  NO_PLAINTEXT_LEAK: 'no-plaintext-leak',
  UNEXPOSED_REGISTERS: 'unexposed-registers',
  MRTD_IMMUTABLE: 'mrtd-immutable',
  PAMT_SEPT_CONSISTENT: 'pamt-sept-consistent',
  LOCKS_IDLE: 'locks-idle',
  GUEST_REFUSES_BAD_REPLY: 'guest-refuses-bad-reply',
  VMM_REPLY_CONTRACT: 'vmm-reply-contract',
  HOST_SURVIVES_GUEST: 'host-survives-guest',
} as const);

export type InvariantId = (typeof Invariant)[keyof typeof Invariant];

export const INVARIANT_IDS: readonly InvariantId[] = Object.freeze(Object.values(Invariant));

export interface Violation {
  readonly invariant: InvariantId;
  /** What happened, with the values involved. */
  readonly message: string;
}

export function violation(invariant: InvariantId, message: string): Violation {
  return { invariant, message };
}

/** An exception that escaped `where` (a SEAMCALL, TDCALL, exit handler, guest operation…). */
export function exceptionViolation(where: string, err: unknown): Violation {
  const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return violation(Invariant.NO_EXCEPTION, `${where} threw ${what}`);
}

// ---------------------------------------------------------------------------------------------
// Status values.

/** Decoding is pure, so each distinct value is decoded once per process. */
const knownStatus = new Map<bigint, boolean>();
const knownTdvmcall = new Map<bigint, boolean>();
const MEMO_LIMIT = 1 << 16;

function memo(cache: Map<bigint, boolean>, value: bigint, compute: (v: bigint) => boolean): boolean {
  let known = cache.get(value);
  if (known === undefined) {
    known = compute(value);
    if (cache.size >= MEMO_LIMIT) cache.clear();
    cache.set(value, known);
  }
  return known;
}

/**
 * RAX after a SEAMCALL or TDCALL must be a defined completion status: a module code the tables
 * name (bits 31:0 are its operand or exit reason), or a software code of the SEAMCALL helper.
 * Protects the host, which decides what to do from the code alone.
 */
export function checkStatus(status: bigint, where: string): Violation | undefined {
  if (memo(knownStatus, status, (v) => decodeStatus(v).known)) return undefined;
  return violation(Invariant.STATUS_DEFINED, `${where} returned undefined status ${hex64(status)}`);
}

/**
 * R10 after the VMM answered a standard TDVMCALL must be a GHCI status. Protects the guest,
 * which (like Linux) only knows those codes.
 */
export function checkTdvmcallStatus(r10: bigint, where: string): Violation | undefined {
  if (memo(knownTdvmcall, r10, (v) => decodeTdvmcallStatus(v).known)) return undefined;
  return violation(Invariant.STATUS_DEFINED, `${where} answered undefined TDVMCALL status ${hex64(r10)}`);
}

// ---------------------------------------------------------------------------------------------
// Secrets in registers.

/**
 * Values only a TD knows (its private memory contents, the registers it did not expose): none of
 * them may ever appear in a register the host can read.
 */
export class SecretWords {
  private readonly words = new Set<bigint>();

  add(word: bigint): void {
    this.words.add(word);
  }

  has(word: bigint): boolean {
    return this.words.has(word);
  }

  get size(): number {
    return this.words.size;
  }

  /** The first GPR of `regs` holding a secret word, as a violation. */
  scanRegisters(regs: RegisterFile, where: string): Violation | undefined {
    if (this.words.size === 0) return undefined;
    const g = regs.gpr;
    for (let i = 0; i < GPR_COUNT; i++) {
      if (this.words.has(g[i]!)) return violation(Invariant.NO_PLAINTEXT_LEAK, `${where}: ${GPR_NAMES[i]} holds TD secret ${hex64(g[i]!)}`);
    }
    const x = regs.xmm;
    for (let i = 0; i < x.length; i++) {
      if (this.words.has(x[i]!)) return violation(Invariant.NO_PLAINTEXT_LEAK, `${where}: XMM${i >> 1} holds TD secret ${hex64(x[i]!)}`);
    }
    return undefined;
  }

  /**
   * The first secret among the 8-byte-aligned words of `bytes`, which were read from or written
   * to physical address `pa` (secrets are planted as aligned words, so only offsets where
   * `pa + offset` is a multiple of 8 can hold one).
   */
  scanBytes(bytes: Uint8Array, pa: bigint): bigint | undefined {
    if (this.words.size === 0 || bytes.length < 8) return undefined;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let off = Number((8n - (pa & 7n)) & 7n); off + 8 <= bytes.length; off += 8) {
      const w = dv.getBigUint64(off, true);
      if (this.words.has(w)) return w;
    }
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Guest registers across a TDVMCALL.

/**
 * After a TDVMCALL, every GPR the guest did not select must hold what the guest had before it,
 * except RAX (the TDCALL status). `before` is the guest's file at the TDCALL, `after` what the
 * guest sees when it resumes. Protects the guest from a VMM writing registers it never lent.
 */
export function checkUnexposedRegisters(before: RegisterFile, after: RegisterFile, gprSelect: bigint, where: string): Violation | undefined {
  for (let i = 1; i < GPR_COUNT; i++) {
    if ((gprSelect >> BigInt(i)) & 1n) continue;
    if (before.gpr[i] !== after.gpr[i]) {
      return violation(
        Invariant.UNEXPOSED_REGISTERS,
        `${where}: unexposed ${GPR_NAMES[i]} changed from ${hex64(before.gpr[i]!)} to ${hex64(after.gpr[i]!)} (gpr_select ${hex64(gprSelect)})`,
      );
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Measurement.

/** Remembers each finalised TD's MRTD and reports any later change. */
export class MrtdWatch {
  private readonly seen = new Map<Td, string>();

  check(module: TdxModule): Violation | undefined {
    for (const td of module.tds.values()) {
      if (td.mrtdHash !== undefined) continue; // still being measured
      if (td.opState === OpState.UNINITIALIZED) continue; // MRTD is not meaningful before MNG.INIT
      const now = Buffer.from(td.mrtd).toString('hex');
      const before = this.seen.get(td);
      if (before === undefined) this.seen.set(td, now);
      else if (before !== now) {
        return violation(Invariant.MRTD_IMMUTABLE, `MRTD of TD ${hex64(td.tdr)} changed after finalisation: ${before} → ${now}`);
      }
    }
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// PAMT, Secure EPT, CHLDCNT, locks.

interface Claim {
  readonly type: number;
  readonly owner: bigint;
  readonly level: number;
  readonly what: string;
}

const TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(PamtPageType).map(([n, v]) => [v, n]));
const typeName = (t: number): string => TYPE_NAMES[t] ?? `type ${t}`;

/** The PAMT type each role of page must have. */
const CLAIM_TYPE: Readonly<Record<TdPage['role'], number>> = {
  tdr: PamtPageType.PT_TDR,
  tdcs: PamtPageType.PT_TDCX,
  sept: PamtPageType.PT_EPT,
  private: PamtPageType.PT_REG,
  tdvpr: PamtPageType.PT_TDVPR,
  tdvps: PamtPageType.PT_TDCX,
};
const ROLE_NAMES: Readonly<Record<TdPage['role'], string>> = {
  tdr: 'TDR',
  tdcs: 'TDCS page',
  sept: 'Secure-EPT page',
  private: 'private page',
  tdvpr: 'TDVPR',
  tdvps: 'TDVPS page',
};

/**
 * Checks the module's page bookkeeping after every step. Cheap checks run every time: the pages
 * each live TD's structures name (TDR, TDCS, TDVPS pages, Secure-EPT pages, mapped private pages)
 * against their PAMT entries, their uniqueness, and CHLDCNT against them; the lock table. The
 * full PAMT scan (every non-free entry has a live owner and is accounted for) runs only when the
 * PAMT changed since the last scan.
 */
export class ModuleStateWatch {
  private scannedPamt: Pamt | undefined;
  private scannedChanges = -1;

  check(module: TdxModule): Violation | undefined {
    if (!module.locks.idle()) return violation(Invariant.LOCKS_IDLE, 'a module lock is still held between SEAMCALLs');
    const claims = new Map<bigint, Claim>();
    for (const td of module.tds.values()) {
      const v = this.claimTd(module, td, claims);
      if (v) return v;
    }
    for (const [pa, vcpu] of module.vcpus) {
      if (module.tds.get(vcpu.td.tdr) !== vcpu.td) {
        return violation(Invariant.PAMT_SEPT_CONSISTENT, `vCPU ${hex64(pa)} belongs to TD ${hex64(vcpu.td.tdr)}, which the module no longer has`);
      }
    }
    for (const [pa, c] of claims) {
      const e = module.pamt.lookup(pa);
      if (!e || e.type !== c.type || e.owner !== c.owner || e.level !== c.level || e.base !== pa) {
        const got = e ? `${typeName(e.type)} owner ${hex64(e.owner)} level ${e.level} base ${hex64(e.base)}` : 'no PAMT entry';
        return violation(
          Invariant.PAMT_SEPT_CONSISTENT,
          `${c.what} ${hex64(pa)} should be ${typeName(c.type)} owner ${hex64(c.owner)} level ${c.level}; PAMT has ${got}`,
        );
      }
    }
    if (module.pamt === this.scannedPamt && module.pamt.changes === this.scannedChanges) return undefined;
    const v = this.scanPamt(module, claims);
    this.scannedPamt = module.pamt;
    this.scannedChanges = module.pamt.changes;
    return v;
  }

  /** Record the pages a TD's structures name; a page named twice is a violation. */
  private claimTd(module: TdxModule, td: Td, claims: Map<bigint, Claim>): Violation | undefined {
    const tdr = td.tdr;
    // In TEARDOWN the host reclaims pages one by one and the module no longer keeps its
    // structures in step; only the PAMT (checked by the scan) says what the TD still owns.
    const pages = td.lifecycle === TdLifecycle.TD_TEARDOWN ? [{ pa: tdr, role: 'tdr' as const, level: 0 }] : tdPages(module, td);
    let owned = 0n;
    for (const p of pages) {
      const c: Claim = {
        type: CLAIM_TYPE[p.role],
        owner: p.role === 'tdr' ? 0n : tdr,
        level: p.level,
        what: `${ROLE_NAMES[p.role]} of TD ${hex64(tdr)}${p.vcpu !== undefined ? ` (vCPU ${hex64(p.vcpu)})` : ''}`,
      };
      const prior = claims.get(p.pa);
      if (prior) return violation(Invariant.PAMT_SEPT_CONSISTENT, `page ${hex64(p.pa)} is both ${prior.what} and ${c.what}`);
      claims.set(p.pa, c);
      if (p.role !== 'tdr') owned += 512n ** BigInt(p.level);
    }
    if (td.lifecycle !== TdLifecycle.TD_TEARDOWN && owned !== td.childCount) {
      return violation(Invariant.PAMT_SEPT_CONSISTENT, `TD ${hex64(tdr)}: CHLDCNT is ${td.childCount} but its structures name ${owned} pages`);
    }
    return undefined;
  }

  /** Every non-free PAMT entry belongs to a live TD and is one of the pages it accounts for. */
  private scanPamt(module: TdxModule, claims: Map<bigint, Claim>): Violation | undefined {
    const owned = new Map<bigint, bigint>();
    let found: Violation | undefined;
    module.pamt.forEachEntry((e) => {
      if (found || e.type === PamtPageType.PT_RSVD) return;
      if (e.type === PamtPageType.PT_TDR) {
        if (!module.tds.has(e.base)) found = violation(Invariant.PAMT_SEPT_CONSISTENT, `PAMT has TDR ${hex64(e.base)} but the module has no such TD`);
        return;
      }
      const td = module.tds.get(e.owner);
      if (!td) {
        found = violation(Invariant.PAMT_SEPT_CONSISTENT, `${typeName(e.type)} page ${hex64(e.base)} is owned by ${hex64(e.owner)}, which is not a live TDR`);
        return;
      }
      owned.set(e.owner, (owned.get(e.owner) ?? 0n) + 512n ** BigInt(e.level));
      if (td.lifecycle !== TdLifecycle.TD_TEARDOWN && !claims.has(e.base)) {
        found = violation(Invariant.PAMT_SEPT_CONSISTENT, `${typeName(e.type)} page ${hex64(e.base)} is owned by TD ${hex64(e.owner)} but none of its structures names it`);
      }
    });
    if (found) return found;
    for (const td of module.tds.values()) {
      const n = owned.get(td.tdr) ?? 0n;
      if (n !== td.childCount) {
        return violation(Invariant.PAMT_SEPT_CONSISTENT, `TD ${hex64(td.tdr)}: CHLDCNT is ${td.childCount} but the PAMT gives it ${n} pages`);
      }
    }
    return undefined;
  }
}

/** After a successful TDH.PHYMEM.PAGE.RECLAIM the page must be free (PT_NDA). */
export function checkReclaimed(module: TdxModule, page: bigint): Violation | undefined {
  const e = module.pamt.lookup(page);
  if (!e || e.type === PamtPageType.PT_NDA) return undefined;
  return violation(Invariant.PAMT_SEPT_CONSISTENT, `page ${hex64(page)} was reclaimed but its PAMT entry is ${typeName(e.type)}`);
}
