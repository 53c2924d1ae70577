/**
 * Model-based test of the Secure-EPT and measurement leaves.
 *
 * fast-check generates sequences of SEAMCALLs (SEPT.ADD, PAGE.ADD, PAGE.AUG, RANGE.BLOCK,
 * RANGE.UNBLOCK, MEM.TRACK, PAGE.REMOVE, SEPT.REMOVE, MR.EXTEND, MR.FINALIZE) over a small set of
 * GPAs, levels and host pages, runs them against a real module, and checks each RAX (and RCX/RDX
 * where the leaf reports an entry or returns a page) against an abstract model written
 * independently from the implementation: a map of SEPT entries by (level, GPA), page ownership,
 * the TD epoch, OP_STATE, CHLDCNT and the expected MRTD. After every command the module's SEPT
 * leaves, PAMT types and CHLDCNT must agree with the model and no lock may be held.
 *
 * Replay a failure with FC_SEED=<seed> (and FC_PATH=<path> from the report).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, type Hash } from 'node:crypto';
import fc from 'fast-check';
import { bringUp, createTd, type CreatedTd, type ModuleEnv } from '../helpers/module-harness.ts';
import { addSeptPath, addVcpu, ARCH, gpaLevel, hostPage, OP, patternPage, septInfo, ST, tdrFlags } from '../helpers/td-memory.ts';
import { PamtPageType } from '../../src/abi/pamt.ts';
import type { LeafCallResult } from '../../src/platform/leaf-call.ts';
import type { LeafDef } from '../../src/abi/leaf.ts';

const SEED = Number(process.env.FC_SEED ?? 20251122);
const NUM_RUNS = Number(process.env.FC_RUNS ?? 1000);

const KiB4 = 0x1000n;
const MiB2 = 0x20_0000n;
const GPAS = [0x0n, 0x1000n, 0x20_0000n, 0x20_1000n, 0x4000_0000n] as const;
const POOL_4K = 6;
const POOL_2M = 2;
const size = (level: number): bigint => KiB4 << BigInt(9 * level);
const base = (gpa: bigint, level: number): bigint => gpa & ~(size(level) - 1n);

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

type LeafState = 'MAPPED' | 'PENDING' | 'BLOCKED' | 'PENDING_BLOCKED';
type Entry =
  | { kind: 'table'; pa: bigint; blocked: boolean; bepoch: bigint }
  | { kind: 'leaf'; state: LeafState; hpa: bigint; bepoch: bigint; data?: Uint8Array };

const PUBLIC_STATE: Record<LeafState, number> = { MAPPED: 4, PENDING: 2, BLOCKED: 1, PENDING_BLOCKED: 3 };

interface Model {
  entries: Map<string, Entry>;
  /** 4K pages in use, by PA: what the module made of them. */
  used4k: Map<bigint, 'sept' | 'reg'>;
  /** 2M pages in use, by base PA. */
  used2m: Set<bigint>;
  /** OP_STATE RUNNABLE (after MR.FINALIZE); INITIALIZED before. */
  runnable: boolean;
  epoch: bigint;
  childCount: bigint;
  mrtd: Hash;
}

interface Real {
  env: ModuleEnv;
  t: CreatedTd;
  pool: bigint[];
  /** CHLDCNT before the commands (TDCS and vCPU pages). */
  baseChildren: bigint;
  /** RAX of the last SEAMCALL (for the statistics). */
  lastStatus: bigint;
}

const key = (level: number, gpa: bigint) => `${level}:${base(gpa, level).toString(16)}`;

interface Walk {
  reached: boolean;
  level: number;
  entry: Entry | undefined;
}

/** The module's walk, restated: stop at the level, or at a FREE, blocked-table or leaf entry. */
function walk(m: Model, gpa: bigint, level: number): Walk {
  for (let l = 3; ; l--) {
    const entry = m.entries.get(key(l, gpa));
    if (l === level) return { reached: true, level: l, entry };
    if (!entry || entry.kind === 'leaf' || entry.blocked) return { reached: false, level: l, entry };
  }
}

function arch(e: Entry | undefined): bigint {
  if (!e) return ARCH.FREE;
  if (e.kind === 'table') return e.blocked ? ARCH.NON_LEAF_BLOCKED : ARCH.NON_LEAF_MAPPED;
  return (e.state === 'MAPPED' ? ARCH.MAPPED : ARCH.LEAF_NO_PERMS) | e.hpa;
}

function publicState(e: Entry | undefined): number {
  if (!e) return 0;
  if (e.kind === 'table') return e.blocked ? 0x81 : 0x84;
  return PUBLIC_STATE[e.state];
}

interface Expected {
  rax: bigint;
  rcx?: bigint;
  rdx?: bigint;
}

const fail = (rax: bigint): Expected => ({ rax, rcx: 0n, rdx: 0n });
const withEntry = (rax: bigint, w: Walk, level = w.level): Expected => ({ rax, rcx: arch(w.entry), rdx: septInfo(level, publicState(w.entry)) });

const isBlocked = (e: Entry | undefined) => !!e && (e.kind === 'table' ? e.blocked : e.state === 'BLOCKED' || e.state === 'PENDING_BLOCKED');
/** With no vCPU running, a range blocked in epoch b is tracked once TD_EPOCH > b. */
const tracked = (m: Model, e: Entry) => e.bepoch < m.epoch;

function pageInUse(m: Model, pa: bigint): boolean {
  return m.used4k.has(pa) || m.used2m.has(base(pa, 1));
}

function rangeInUse(m: Model, pa: bigint): boolean {
  if (m.used2m.has(pa)) return true;
  for (const p of m.used4k.keys()) if (p >= pa && p < pa + MiB2) return true;
  return false;
}

function levelOk(gpa: bigint, level: number, min: number, max: number): boolean {
  return level >= min && level <= max && gpa % size(level) === 0n;
}

function check(r: LeafCallResult<LeafDef>, e: Expected, what: string, real?: Real): void {
  if (real) real.lastStatus = r.status;
  const got: Expected = { rax: r.status };
  if (e.rcx !== undefined) got.rcx = r.regs.get('RCX');
  if (e.rdx !== undefined) got.rdx = r.regs.get('RDX');
  assert.deepEqual(got, e, what);
}

/** Invariants between commands: the module agrees with the model on what exists. */
function checkInvariants(m: Model, real: Real): void {
  const { env, t } = real;
  assert.equal(env.module.locks.idle(), true, 'no lock held between SEAMCALLs');
  assert.equal(t.td.childCount, real.baseChildren + m.childCount, 'CHLDCNT');
  const leaves = [...t.td.sept!.leaves()].map((l) => `${l.level}:${l.gpa.toString(16)}`).sort();
  const modelLeaves = [...m.entries].filter(([, e]) => e.kind === 'leaf').map(([k]) => k).sort();
  assert.deepEqual(leaves, modelLeaves, 'SEPT leaves');
  for (const pa of real.pool) {
    const entry = env.module.pamt.lookup(pa)!;
    const want = m.used2m.has(base(pa, 1)) || m.used4k.get(pa) === 'reg' ? PamtPageType.PT_REG : m.used4k.get(pa) === 'sept' ? PamtPageType.PT_EPT : PamtPageType.PT_NDA;
    assert.equal(entry.type, want, `PAMT type of ${pa.toString(16)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

abstract class Cmd implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  /** Issue the SEAMCALL, compare with the model's prediction, update the model. */
  abstract exec(m: Model, r: Real): void;
  abstract toString(): string;
  run(m: Model, r: Real): void {
    this.exec(m, r);
    count(this, r.lastStatus);
    checkInvariants(m, r);
  }
}

class SeptAdd extends Cmd {
  constructor(readonly gpa: bigint, readonly level: number, readonly page: number, readonly allowExisting: boolean) {
    super();
  }
  exec(m: Model, r: Real): void {
    const page = r.pool[this.page]!;
    const res = r.env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(this.gpa, this.level), tdrFlags: tdrFlags(r.t.tdr, this.allowExisting), page });
    let e: Expected;
    if (!levelOk(this.gpa, this.level, 1, 3)) e = fail(ST.OPERAND_INVALID | OP.RCX);
    else {
      const w = walk(m, this.gpa, this.level);
      if (!w.reached) e = withEntry(ST.EPT_WALK_FAILED | OP.RCX, w);
      else if (w.entry?.kind === 'table' && !w.entry.blocked && this.allowExisting) e = fail(ST.SUCCESS);
      else if (w.entry) e = withEntry(ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, w);
      else if (pageInUse(m, page)) e = fail(ST.PAGE_METADATA_INCORRECT | OP.R8);
      else {
        e = fail(ST.SUCCESS);
        m.entries.set(key(this.level, this.gpa), { kind: 'table', pa: page, blocked: false, bepoch: 0n });
        m.used4k.set(page, 'sept');
        m.childCount += 1n;
      }
    }
    check(res, e, this.toString(), r);
  }
  toString(): string {
    return `SEPT.ADD(${this.gpa.toString(16)}, L${this.level}, page ${this.page}${this.allowExisting ? ', allow' : ''})`;
  }
}

class PageAdd extends Cmd {
  constructor(readonly gpa: bigint, readonly page: number) {
    super();
  }
  exec(m: Model, r: Real): void {
    const page = r.pool[this.page]!;
    const data = patternPage(this.page * 17 + Number(this.gpa >> 12n));
    const res = r.env.tdh.MEM_PAGE_ADD({ gpaLevel: gpaLevel(this.gpa, 0), tdr: r.t.tdr, page, source: hostPage(r.env, data) });
    let e: Expected;
    const w = walk(m, this.gpa, 0);
    if (m.runnable) e = fail(ST.OP_STATE_INCORRECT);
    else if (!w.reached) e = withEntry(ST.EPT_WALK_FAILED | OP.RCX, w);
    else if (w.entry) e = withEntry(ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, w);
    else if (pageInUse(m, page)) e = fail(ST.PAGE_METADATA_INCORRECT | OP.R8);
    else {
      e = fail(ST.SUCCESS);
      m.entries.set(key(0, this.gpa), { kind: 'leaf', state: 'MAPPED', hpa: page, bepoch: 0n, data });
      m.used4k.set(page, 'reg');
      m.childCount += 1n;
      const block = Buffer.alloc(128);
      block.write('MEM.PAGE.ADD', 'latin1');
      block.writeBigUInt64LE(this.gpa, 16);
      m.mrtd.update(block);
    }
    check(res, e, this.toString(), r);
  }
  toString(): string {
    return `PAGE.ADD(${this.gpa.toString(16)}, page ${this.page})`;
  }
}

class Aug extends Cmd {
  constructor(readonly gpa: bigint, readonly level: number, readonly page: number) {
    super();
  }
  exec(m: Model, r: Real): void {
    const page = r.pool[this.page]!;
    const res = r.env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(this.gpa, this.level), tdr: r.t.tdr, page });
    let e: Expected;
    if (!levelOk(this.gpa, this.level, 0, 1)) e = fail(ST.OPERAND_INVALID | OP.RCX);
    else {
      const w = walk(m, this.gpa, this.level);
      if (!w.reached) e = withEntry(ST.EPT_WALK_FAILED | OP.RCX, w);
      else if (w.entry) e = withEntry(ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, w);
      else if (this.level === 1 && page % MiB2 !== 0n) e = fail(ST.OPERAND_INVALID | OP.R8);
      else if (this.level === 1 ? rangeInUse(m, page) : pageInUse(m, page)) e = fail(ST.PAGE_METADATA_INCORRECT | OP.R8);
      else {
        e = fail(ST.SUCCESS);
        m.entries.set(key(this.level, this.gpa), { kind: 'leaf', state: 'PENDING', hpa: page, bepoch: 0n });
        if (this.level === 1) m.used2m.add(page);
        else m.used4k.set(page, 'reg');
        m.childCount += size(this.level) / KiB4;
      }
    }
    check(res, e, this.toString(), r);
  }
  toString(): string {
    return `PAGE.AUG(${this.gpa.toString(16)}, L${this.level}, page ${this.page})`;
  }
}

class Block extends Cmd {
  constructor(readonly gpa: bigint, readonly level: number) {
    super();
  }
  exec(m: Model, r: Real): void {
    const res = r.env.tdh.MEM_RANGE_BLOCK({ gpaLevel: gpaLevel(this.gpa, this.level), tdr: r.t.tdr });
    let e: Expected;
    if (!levelOk(this.gpa, this.level, 0, 3)) e = fail(ST.OPERAND_INVALID | OP.RCX);
    else {
      const w = walk(m, this.gpa, this.level);
      if (!w.reached) e = withEntry(ST.EPT_WALK_FAILED | OP.RCX, w);
      else if (!w.entry) e = withEntry(ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, w);
      else if (isBlocked(w.entry)) e = withEntry(ST.GPA_RANGE_ALREADY_BLOCKED | OP.RCX, w);
      else {
        e = fail(ST.SUCCESS);
        const en = w.entry;
        en.bepoch = m.epoch;
        if (en.kind === 'table') en.blocked = true;
        else en.state = en.state === 'MAPPED' ? 'BLOCKED' : 'PENDING_BLOCKED';
      }
    }
    check(res, e, this.toString(), r);
  }
  toString(): string {
    return `BLOCK(${this.gpa.toString(16)}, L${this.level})`;
  }
}

class Unblock extends Cmd {
  constructor(readonly gpa: bigint, readonly level: number) {
    super();
  }
  exec(m: Model, r: Real): void {
    const res = r.env.tdh.MEM_RANGE_UNBLOCK({ gpaLevel: gpaLevel(this.gpa, this.level), tdr: r.t.tdr });
    let e: Expected;
    if (!levelOk(this.gpa, this.level, 0, 3)) e = fail(ST.OPERAND_INVALID | OP.RCX);
    else {
      const w = walk(m, this.gpa, this.level);
      if (!w.reached) e = withEntry(ST.EPT_WALK_FAILED | OP.RCX, w);
      else if (!isBlocked(w.entry)) e = withEntry(ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, w);
      else if (m.runnable && !tracked(m, w.entry!)) e = fail(ST.TLB_TRACKING_NOT_DONE | OP.SEPT_TREE);
      else {
        e = fail(ST.SUCCESS);
        const en = w.entry!;
        if (en.kind === 'table') en.blocked = false;
        else en.state = en.state === 'BLOCKED' ? 'MAPPED' : 'PENDING';
      }
    }
    check(res, e, this.toString(), r);
  }
  toString(): string {
    return `UNBLOCK(${this.gpa.toString(16)}, L${this.level})`;
  }
}

class Track extends Cmd {
  exec(m: Model, r: Real): void {
    check(r.env.tdh.MEM_TRACK({ tdr: r.t.tdr }), { rax: ST.SUCCESS }, this.toString(), r);
    m.epoch += 1n;
  }
  toString(): string {
    return 'TRACK';
  }
}

/** Removal of a page or SEPT page while RUNNABLE needs BLOCK then TRACK. */
function removalGate(m: Model, w: Walk): Expected | undefined {
  if (!m.runnable) return undefined;
  if (!isBlocked(w.entry)) return withEntry(ST.GPA_RANGE_NOT_BLOCKED | OP.RCX, w);
  if (!tracked(m, w.entry!)) return fail(ST.TLB_TRACKING_NOT_DONE | OP.RCX);
  return undefined;
}

class Remove extends Cmd {
  constructor(readonly gpa: bigint, readonly level: number) {
    super();
  }
  exec(m: Model, r: Real): void {
    const res = r.env.tdh.MEM_PAGE_REMOVE({ gpaLevel: gpaLevel(this.gpa, this.level), tdr: r.t.tdr });
    let e: Expected;
    if (!levelOk(this.gpa, this.level, 0, 2)) e = fail(ST.OPERAND_INVALID | OP.RCX);
    else {
      const w = walk(m, this.gpa, this.level);
      if (!w.reached) e = withEntry(ST.EPT_WALK_FAILED | OP.RCX, w);
      else if (w.entry?.kind !== 'leaf') e = withEntry(ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, w);
      else {
        const gate = removalGate(m, w);
        if (gate) e = gate;
        else {
          const hpa = w.entry.hpa;
          e = { rax: ST.SUCCESS, rcx: hpa, rdx: 0n };
          m.entries.delete(key(this.level, this.gpa));
          if (this.level === 1) m.used2m.delete(hpa);
          else m.used4k.delete(hpa);
          m.childCount -= size(this.level) / KiB4;
        }
      }
    }
    check(res, e, this.toString(), r);
  }
  toString(): string {
    return `PAGE.REMOVE(${this.gpa.toString(16)}, L${this.level})`;
  }
}

class SeptRemove extends Cmd {
  constructor(readonly gpa: bigint, readonly level: number) {
    super();
  }
  exec(m: Model, r: Real): void {
    const res = r.env.tdh.MEM_SEPT_REMOVE({ gpaLevel: gpaLevel(this.gpa, this.level), tdr: r.t.tdr });
    let e: Expected;
    if (!levelOk(this.gpa, this.level, 1, 3)) e = fail(ST.OPERAND_INVALID | OP.RCX);
    else {
      const w = walk(m, this.gpa, this.level);
      if (!w.reached) e = withEntry(ST.EPT_WALK_FAILED | OP.RCX, w);
      else if (w.entry?.kind !== 'table') e = withEntry(ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, w);
      else {
        const gate = removalGate(m, w);
        const lo = base(this.gpa, this.level);
        const childLevel = `${this.level - 1}:`;
        const hasChild = [...m.entries.keys()].some((k) => {
          if (!k.startsWith(childLevel)) return false;
          const g = BigInt('0x' + k.slice(childLevel.length));
          return g >= lo && g < lo + size(this.level);
        });
        if (gate) e = gate;
        else if (hasChild) e = withEntry(ST.EPT_PAGE_NOT_FREE | OP.RCX, w);
        else {
          e = { rax: ST.SUCCESS, rcx: w.entry.pa, rdx: 0n };
          m.entries.delete(key(this.level, this.gpa));
          m.used4k.delete(w.entry.pa);
          m.childCount -= 1n;
        }
      }
    }
    check(res, e, this.toString(), r);
  }
  toString(): string {
    return `SEPT.REMOVE(${this.gpa.toString(16)}, L${this.level})`;
  }
}

class MrExtend extends Cmd {
  constructor(readonly gpa: bigint, readonly chunk: number) {
    super();
  }
  exec(m: Model, r: Real): void {
    const gpa = this.gpa + BigInt(this.chunk * 256);
    const res = r.env.tdh.MR_EXTEND({ gpa, tdr: r.t.tdr });
    let e: Expected;
    const w = walk(m, gpa, 0);
    const en = w.entry;
    if (m.runnable) e = fail(ST.OP_STATE_INCORRECT);
    else if (en?.kind !== 'leaf' || en.state !== 'MAPPED') e = withEntry(ST.EPT_ENTRY_NOT_PRESENT | OP.RCX, w);
    else {
      e = fail(ST.SUCCESS);
      const block = Buffer.alloc(128);
      block.write('MR.EXTEND', 'latin1');
      block.writeBigUInt64LE(gpa, 16);
      m.mrtd.update(block);
      m.mrtd.update(en.data!.subarray(this.chunk * 256, this.chunk * 256 + 256));
    }
    check(res, e, this.toString(), r);
  }
  toString(): string {
    return `MR.EXTEND(${this.gpa.toString(16)} + ${this.chunk}*256)`;
  }
}

class Finalize extends Cmd {
  exec(m: Model, r: Real): void {
    const res = r.env.tdh.MR_FINALIZE({ tdr: r.t.tdr });
    if (m.runnable) {
      check(res, { rax: ST.OP_STATE_INCORRECT }, this.toString(), r);
      return;
    }
    check(res, { rax: ST.SUCCESS }, this.toString(), r);
    m.runnable = true;
    assert.equal(Buffer.from(r.t.td.mrtd).toString('hex'), m.mrtd.digest('hex'), 'MRTD');
  }
  toString(): string {
    return 'MR.FINALIZE';
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * A GPA for a level: mostly one aligned to the level's page size (so that trees get built and
 * leaves mapped), sometimes any GPA of the set (misaligned operands).
 */
const gpaFor = (lvl: number) =>
  fc.oneof(
    { weight: 9, arbitrary: fc.constantFrom(...GPAS.filter((g) => g % size(lvl) === 0n)) },
    { weight: 1, arbitrary: fc.constantFrom(...GPAS) },
  );
/**
 * A (GPA, level) pair with level in [min, max], lower levels more likely: blocking or removing a
 * high-level entry cuts off a whole subtree, so it should not dominate the runs.
 */
const atLevel = (min: number, max: number) =>
  fc
    .oneof(...Array.from({ length: max - min + 1 }, (_, i) => ({ weight: 2 ** (max - min - i), arbitrary: fc.constant(min + i) })))
    .chain((l) => gpaFor(l).map((g) => [g, l] as const));
const page = fc.integer({ min: 0, max: POOL_4K + POOL_2M - 1 });

/**
 * Weights: the build-up leaves most often; MR.FINALIZE rarely (about half the runs finalise), since
 * it ends the build phase for the rest of the run.
 */
const weighted: fc.WeightedArbitrary<Cmd>[] = [
  { weight: 20, arbitrary: fc.tuple(atLevel(1, 3), page, fc.boolean()).map(([[g, l], p, a]) => new SeptAdd(g, l, p, a)) },
  { weight: 12, arbitrary: fc.tuple(gpaFor(0), page).map(([g, p]) => new PageAdd(g, p)) },
  { weight: 12, arbitrary: fc.tuple(atLevel(0, 1), page).map(([[g, l], p]) => new Aug(g, l, p)) },
  { weight: 12, arbitrary: atLevel(0, 3).map(([g, l]) => new Block(g, l)) },
  { weight: 8, arbitrary: atLevel(0, 3).map(([g, l]) => new Unblock(g, l)) },
  { weight: 8, arbitrary: fc.constant(new Track()) },
  { weight: 8, arbitrary: atLevel(0, 2).map(([g, l]) => new Remove(g, l)) },
  { weight: 8, arbitrary: atLevel(1, 3).map(([g, l]) => new SeptRemove(g, l)) },
  { weight: 8, arbitrary: fc.tuple(gpaFor(0), fc.integer({ min: 0, max: 15 })).map(([g, c]) => new MrExtend(g, c)) },
  { weight: 1, arbitrary: fc.constant(new Finalize()) },
];

const commands = fc.commands([fc.oneof(...weighted)], { maxCommands: 50, size: 'max' });

/** Outcome counts by command and status (printed with FC_STATS=1, to see what the runs cover). */
const stats = new Map<string, number>();
function count(cmd: Cmd, status: bigint): void {
  const k = `${cmd.constructor.name} ${status.toString(16)}`;
  stats.set(k, (stats.get(k) ?? 0) + 1);
}

test('Secure-EPT leaves follow the abstract page-state model', (t) => {
  t.diagnostic(`fast-check seed ${SEED}, ${NUM_RUNS} runs (replay with FC_SEED=${SEED})`);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 }), commands, (prebuilt, cmds) => {
      const env = bringUp();
      const created = createTd(env);
      addVcpu(env, created);
      // Two thirds of the runs start with level-0 SEPT pages for GPA 0 (and 2M) already built,
      // so that the commands reach leaves; the others build every level themselves.
      const path = prebuilt > 0 ? addSeptPath(env, created, 0n, 1) : [];
      const second = prebuilt > 1 ? addSeptPath(env, created, MiB2, 1) : [];
      const pool = [...Array.from({ length: POOL_4K }, () => env.alloc.alloc4k()), ...Array.from({ length: POOL_2M }, () => env.alloc.alloc2m())];
      const baseChildren = created.td.childCount;
      const model: Model = {
        entries: new Map([
          ...path.map((pa, i): [string, Entry] => [key(3 - i, 0n), { kind: 'table', pa, blocked: false, bepoch: 0n }]),
          ...second.map((pa): [string, Entry] => [key(1, MiB2), { kind: 'table', pa, blocked: false, bepoch: 0n }]),
        ]),
        used4k: new Map(),
        used2m: new Set(),
        runnable: false,
        epoch: created.td.tdEpoch,
        childCount: 0n,
        mrtd: createHash('sha384'),
      };
      const real: Real = { env, t: created, pool, baseChildren, lastStatus: 0n };
      fc.modelRun(() => ({ model, real }), cmds);
    }),
    { seed: SEED, numRuns: NUM_RUNS, path: process.env.FC_PATH },
  );
  if (process.env.FC_STATS) for (const [k, n] of [...stats].sort()) t.diagnostic(`${k}: ${n}`);
});
