import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { bringUp, createTd, type CreatedTd, type ModuleEnv } from '../helpers/module-harness.ts';
import {
  addPage,
  addSeptPath,
  addVcpu,
  ARCH,
  finalize,
  gpaLevel,
  hostPage,
  OP,
  patternPage,
  septInfo,
  ST,
  tdrFlags,
} from '../helpers/td-memory.ts';
import { LockKey } from '../../src/module/locks.ts';
import { RegisterFile } from '../../src/abi/registers.ts';
import { PamtPageType } from '../../src/abi/pamt.ts';
import { TdAttributesBit } from '../../src/abi/td-config.ts';
import type { LeafCallResult } from '../../src/platform/leaf-call.ts';
import type { LeafDef } from '../../src/abi/leaf.ts';

const NULL_PA = 0xffff_ffff_ffff_ffffn;
const GIB = 1n << 30n;

function setup(opts: Parameters<typeof createTd>[1] = {}): { env: ModuleEnv; t: CreatedTd } {
  const env = bringUp();
  const t = createTd(env, opts);
  return { env, t };
}

/** Assert RAX, RCX and RDX after a SEAMCALL. */
function expectRegs(r: LeafCallResult<LeafDef>, rax: bigint, rcx: bigint, rdx: bigint): void {
  assert.deepEqual(
    { rax: r.status, rcx: r.regs.get('RCX'), rdx: r.regs.get('RDX') },
    { rax, rcx, rdx },
  );
}

/** A register file with recognisable values in the registers no SEPT leaf should touch. */
function markedRegs(): RegisterFile {
  const regs = new RegisterFile();
  for (const r of ['RBX', 'RSI', 'RDI', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15'] as const) regs.set(r, 0x5a5a_0000n + BigInt(r.length));
  return regs;
}

function assertUntouched(r: LeafCallResult<LeafDef>, regs: RegisterFile, names: readonly ('RBX' | 'RSI' | 'RDI' | 'R8' | 'R9' | 'R10' | 'R11' | 'R12')[]): void {
  for (const n of names) assert.equal(r.regs.get(n), regs.get(n), `${n} preserved`);
}

const pamtType = (env: ModuleEnv, pa: bigint) => env.module.pamt.lookup(pa)!.type;

// ---------------------------------------------------------------------------------------------
// Checks shared by the Secure-EPT leaves, in the module's order (sept-leaf.ts).
// ---------------------------------------------------------------------------------------------

type SeptLeafCall = (env: ModuleEnv, t: CreatedTd, rcx: bigint, tdr: bigint) => LeafCallResult<LeafDef>;

const SEPT_LEAVES: Record<string, SeptLeafCall> = {
  'TDH.MEM.SEPT.ADD': (env, _t, rcx, tdr) => env.tdh.MEM_SEPT_ADD({ gpaLevel: rcx, tdrFlags: tdr, page: env.alloc.alloc4k() }),
  'TDH.MEM.PAGE.AUG': (env, _t, rcx, tdr) => env.tdh.MEM_PAGE_AUG({ gpaLevel: rcx, tdr, page: env.alloc.alloc2m() }),
  'TDH.MEM.RANGE.BLOCK': (env, _t, rcx, tdr) => env.tdh.MEM_RANGE_BLOCK({ gpaLevel: rcx, tdr }),
  'TDH.MEM.RANGE.UNBLOCK': (env, _t, rcx, tdr) => env.tdh.MEM_RANGE_UNBLOCK({ gpaLevel: rcx, tdr }),
  'TDH.MEM.PAGE.REMOVE': (env, _t, rcx, tdr) => env.tdh.MEM_PAGE_REMOVE({ gpaLevel: rcx, tdr }),
  'TDH.MEM.SEPT.REMOVE': (env, _t, rcx, tdr) => env.tdh.MEM_SEPT_REMOVE({ gpaLevel: rcx, tdr }),
  'TDH.MEM.SEPT.RD': (env, _t, rcx, tdr) => env.tdh.MEM_SEPT_RD({ gpaLevel: rcx, tdr }),
};

for (const [name, call] of Object.entries(SEPT_LEAVES)) {
  describe(`${name}: common checks`, () => {
    // A TD with the SEPT path for GPA 0 down to level 2: the level-1 entry for GPA 0 is FREE.
    const ready = () => {
      const s = setup();
      addSeptPath(s.env, s.t, 0n, 2);
      return s;
    };
    const rcx = gpaLevel(0n, 1);

    test('a page that is not a TDR → PAGE_METADATA_INCORRECT | RDX, RCX = RDX = 0', () => {
      const { env, t } = ready();
      expectRegs(call(env, t, rcx, t.tdcx[0]!), ST.PAGE_METADATA_INCORRECT | OP.RDX, 0n, 0n);
    });

    test('a misaligned TDR → OPERAND_INVALID | RDX', () => {
      const { env, t } = ready();
      expectRegs(call(env, t, rcx, t.tdr + 0x2000n + 0x800n), ST.OPERAND_INVALID | OP.RDX, 0n, 0n);
    });

    test('a TDR held exclusively by another leaf → OPERAND_BUSY | RDX', () => {
      const { env, t } = ready();
      env.module.locks.hold(LockKey.pamt(t.tdr >> 12n), 'exclusive');
      expectRegs(call(env, t, rcx, t.tdr), ST.OPERAND_BUSY | OP.RDX, 0n, 0n);
    });

    test('a fatal TD → TDX_TD_FATAL', () => {
      const { env, t } = ready();
      t.td.fatal = true;
      expectRegs(call(env, t, rcx, t.tdr), ST.TD_FATAL, 0n, 0n);
    });

    test('OP_STATE lock held → OPERAND_BUSY | OP_STATE', () => {
      const { env, t } = ready();
      env.module.locks.hold(LockKey.opState(t.td.tdrPfn), 'exclusive');
      expectRegs(call(env, t, rcx, t.tdr), ST.OPERAND_BUSY | OP.OP_STATE, 0n, 0n);
    });

    test('before TDH.MNG.INIT → TDX_OP_STATE_INCORRECT', () => {
      const env = bringUp();
      const t = createTd(env, { until: 'addcx' });
      expectRegs(call(env, t, rcx, t.tdr), ST.OP_STATE_INCORRECT, 0n, 0n);
    });

    test('reserved bits in GPA|level → OPERAND_INVALID | RCX', () => {
      const { env, t } = ready();
      expectRegs(call(env, t, rcx | 0x8n, t.tdr), ST.OPERAND_INVALID | OP.RCX, 0n, 0n);
      expectRegs(call(env, t, rcx | (1n << 60n), t.tdr), ST.OPERAND_INVALID | OP.RCX, 0n, 0n);
    });

    test('a GPA not aligned to the level → OPERAND_INVALID | RCX', () => {
      const { env, t } = ready();
      expectRegs(call(env, t, gpaLevel(0x1000n, 1), t.tdr), ST.OPERAND_INVALID | OP.RCX, 0n, 0n);
    });

    test('a shared GPA (bit 47 with GPAW 48) or one above the GPA width → OPERAND_INVALID | RCX', () => {
      const { env, t } = ready();
      expectRegs(call(env, t, gpaLevel(1n << 47n, 1), t.tdr), ST.OPERAND_INVALID | OP.RCX, 0n, 0n);
      expectRegs(call(env, t, gpaLevel(1n << 48n, 1), t.tdr), ST.OPERAND_INVALID | OP.RCX, 0n, 0n);
    });

    test('SEPT tree held exclusively → OPERAND_BUSY | SEPT_TREE', () => {
      const { env, t } = ready();
      env.module.locks.hold(LockKey.septTree(t.td.tdrPfn), 'exclusive');
      expectRegs(call(env, t, rcx, t.tdr), ST.OPERAND_BUSY | OP.SEPT_TREE, 0n, 0n);
    });

    test('walk stops above the level → EPT_WALK_FAILED | RCX with the entry found', () => {
      const { env, t } = ready();
      // GPA 2 GiB: PML4 entry 0 exists, its PDPT entry 2 is FREE (level 2).
      expectRegs(call(env, t, gpaLevel(2n * GIB, 1), t.tdr), ST.EPT_WALK_FAILED | OP.RCX, ARCH.FREE, septInfo(2, 0));
    });

    test('SEPT entry locked → OPERAND_BUSY | RCX with the entry', () => {
      const { env, t } = ready();
      env.module.locks.hold(LockKey.septEntry(t.td.tdrPfn, 0n, 1), 'exclusive');
      expectRegs(call(env, t, rcx, t.tdr), ST.OPERAND_BUSY | OP.RCX, ARCH.FREE, septInfo(1, 0));
    });

    test('every lock is released after the call', () => {
      const { env, t } = ready();
      call(env, t, rcx, t.tdr);
      assert.equal(env.module.locks.idle(), true);
    });
  });
}

// ---------------------------------------------------------------------------------------------

describe('TDH.MEM.SEPT.ADD', () => {
  test('adds a SEPT page: NL_MAPPED entry, PT_EPT page, CHLDCNT + 1, RCX = RDX = 0, R8 kept', () => {
    const { env, t } = setup();
    const page = env.alloc.alloc4k();
    const before = t.td.childCount;
    const regs = markedRegs();
    const r = env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(0n, 3), tdrFlags: tdrFlags(t.tdr), page }, { regs });
    expectRegs(r, ST.SUCCESS, 0n, 0n);
    assert.equal(r.regs.get('R8'), page, 'version 0 does not write R8');
    assertUntouched(r, regs, ['RBX', 'RSI', 'RDI', 'R9', 'R10', 'R11', 'R12']);
    assert.equal(t.td.childCount, before + 1n);
    const entry = env.module.pamt.lookup(page)!;
    assert.deepEqual([entry.type, entry.owner, entry.level], [PamtPageType.PT_EPT, t.tdr, 0]);
    const rd = env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(0n, 3), tdr: t.tdr });
    expectRegs(rd, ST.SUCCESS, ARCH.NON_LEAF_MAPPED, septInfo(3, 0x84));
  });

  test('builds the whole path 3, 2, 1 and then refuses a level-0 or level-4 request', () => {
    const { env, t } = setup();
    assert.equal(addSeptPath(env, t, 0x1234_5600_0000n, 1).length, 3);
    const page = env.alloc.alloc4k();
    expectRegs(env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(0n, 0), tdrFlags: tdrFlags(t.tdr), page }), ST.OPERAND_INVALID | OP.RCX, 0n, 0n);
    expectRegs(env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(0n, 4), tdrFlags: tdrFlags(t.tdr), page }), ST.OPERAND_INVALID | OP.RCX, 0n, 0n);
  });

  test('a 5-level TD (GPAW 52) accepts level 4', () => {
    const env = bringUp();
    const t = createTd(env, { gpaw52: true });
    assert.equal(t.td.sept!.maxLevel, 4);
    const r = env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(1n << 48n, 4), tdrFlags: tdrFlags(t.tdr), page: env.alloc.alloc4k() });
    expectRegs(r, ST.SUCCESS, 0n, 0n);
    // Bit 51 is the shared bit for GPAW 52.
    expectRegs(env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(1n << 51n, 4), tdr: t.tdr }), ST.OPERAND_INVALID | OP.RCX, 0n, 0n);
  });

  test('reserved bits in RDX → OPERAND_INVALID | RDX', () => {
    const { env, t } = setup();
    const r = env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(0n, 3), tdrFlags: tdrFlags(t.tdr) | 0x2n, page: env.alloc.alloc4k() });
    expectRegs(r, ST.OPERAND_INVALID | OP.RDX, 0n, 0n);
  });

  test('an existing SEPT page without ALLOW_EXISTING → EPT_ENTRY_STATE_INCORRECT | RCX with the entry', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n, 3);
    const r = env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(0n, 3), tdrFlags: tdrFlags(t.tdr), page: env.alloc.alloc4k() });
    expectRegs(r, ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, ARCH.NON_LEAF_MAPPED, septInfo(3, 0x84));
  });

  test('ALLOW_EXISTING (version 0): success, the page is not used', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n, 3);
    const page = env.alloc.alloc4k();
    const before = t.td.childCount;
    const r = env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(0n, 3), tdrFlags: tdrFlags(t.tdr, true), page });
    expectRegs(r, ST.SUCCESS, 0n, 0n);
    assert.equal(r.regs.get('R8'), page);
    assert.equal(pamtType(env, page), PamtPageType.PT_NDA);
    assert.equal(t.td.childCount, before);
  });

  test('version 1: R8 = NULL_PA once the page is added, R9–R11 = NULL_PA', () => {
    const { env, t } = setup();
    const regs = markedRegs();
    regs.set('R9', NULL_PA).set('R10', NULL_PA).set('R11', NULL_PA);
    const r = env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(0n, 3), tdrFlags: tdrFlags(t.tdr), page: env.alloc.alloc4k() }, { version: 1, regs });
    expectRegs(r, ST.SUCCESS, 0n, 0n);
    assert.deepEqual([r.regs.get('R8'), r.regs.get('R9'), r.regs.get('R10'), r.regs.get('R11')], [NULL_PA, NULL_PA, NULL_PA, NULL_PA]);
  });

  test('version 1 with ALLOW_EXISTING: R8 = page | bit 63 (not used)', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n, 3);
    const page = env.alloc.alloc4k();
    const regs = new RegisterFile().set('R9', NULL_PA).set('R10', NULL_PA).set('R11', NULL_PA);
    const r = env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(0n, 3), tdrFlags: tdrFlags(t.tdr, true), page }, { version: 1, regs });
    expectRegs(r, ST.SUCCESS, 0n, 0n);
    assert.equal(r.regs.get('R8'), page | (1n << 63n));
  });

  test('version 1 with R8 = NULL_PA: success if the SEPT page exists, else STATE_INCORRECT', () => {
    const { env, t } = setup();
    const regs = new RegisterFile().set('R9', NULL_PA).set('R10', NULL_PA).set('R11', NULL_PA);
    let r = env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(0n, 3), tdrFlags: tdrFlags(t.tdr), page: NULL_PA }, { version: 1, regs });
    expectRegs(r, ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, ARCH.FREE, septInfo(3, 0));
    assert.equal(r.regs.get('R8'), NULL_PA);
    addSeptPath(env, t, 0n, 3);
    r = env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(0n, 3), tdrFlags: tdrFlags(t.tdr), page: NULL_PA }, { version: 1, regs });
    expectRegs(r, ST.SUCCESS, 0n, 0n);
    assert.equal(r.regs.get('R8'), NULL_PA);
  });

  test('version 0 with R8 = NULL_PA → OPERAND_INVALID | R8', () => {
    const { env, t } = setup();
    const r = env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(0n, 3), tdrFlags: tdrFlags(t.tdr), page: NULL_PA });
    expectRegs(r, ST.OPERAND_INVALID | OP.R8, 0n, 0n);
  });

  test('bit 63 of R8 is ignored on input', () => {
    const { env, t } = setup();
    const page = env.alloc.alloc4k();
    const r = env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(0n, 3), tdrFlags: tdrFlags(t.tdr), page: page | (1n << 63n) });
    expectRegs(r, ST.SUCCESS, 0n, 0n);
    assert.equal(pamtType(env, page), PamtPageType.PT_EPT);
  });

  test('version 1 with an L2 SEPT page (no L2 VMs) → OPERAND_INVALID | R9, nothing added', () => {
    const { env, t } = setup();
    const page = env.alloc.alloc4k();
    const l2 = env.alloc.alloc4k();
    const regs = new RegisterFile().set('R9', l2).set('R10', NULL_PA).set('R11', NULL_PA);
    const r = env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(0n, 3), tdrFlags: tdrFlags(t.tdr), page }, { version: 1, regs });
    expectRegs(r, ST.OPERAND_INVALID | OP.R9, 0n, 0n);
    assert.deepEqual([r.regs.get('R8'), r.regs.get('R9')], [page, l2]);
    assert.equal(pamtType(env, page), PamtPageType.PT_NDA);
  });

  test('a leaf at the level → EPT_ENTRY_STATE_INCORRECT with the leaf', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n, 2);
    const large = env.alloc.alloc2m();
    assert.equal(env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr, page: large }).status, ST.SUCCESS);
    const r = env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(0n, 1), tdrFlags: tdrFlags(t.tdr), page: env.alloc.alloc4k() });
    expectRegs(r, ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, ARCH.LEAF_NO_PERMS | large, septInfo(1, 2));
  });

  describe('the new page (R8)', () => {
    const attempt = (env: ModuleEnv, t: CreatedTd, page: bigint) =>
      env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(0n, 3), tdrFlags: tdrFlags(t.tdr), page });

    test('misaligned or with KeyID bits → OPERAND_INVALID | R8', () => {
      const { env, t } = setup();
      expectRegs(attempt(env, t, env.alloc.alloc4k() + 0x10n), ST.OPERAND_INVALID | OP.R8, 0n, 0n);
      const keyed = env.alloc.alloc4k() | (BigInt(t.hkid) << BigInt(env.platform.keyIdShift));
      expectRegs(attempt(env, t, keyed), ST.OPERAND_INVALID | OP.R8, 0n, 0n);
    });

    test('outside the TDMRs → OPERAND_ADDR_RANGE_ERROR | R8', () => {
      const { env, t } = setup();
      expectRegs(attempt(env, t, env.shared.alloc4k()), ST.OPERAND_ADDR_RANGE_ERROR | OP.R8, 0n, 0n);
    });

    test('in use (a TDCS page) → PAGE_METADATA_INCORRECT | R8', () => {
      const { env, t } = setup();
      expectRegs(attempt(env, t, t.tdcx[2]!), ST.PAGE_METADATA_INCORRECT | OP.R8, 0n, 0n);
    });

    test('the TDR itself: its PAMT entry is held by this leaf → OPERAND_BUSY | R8', () => {
      const { env, t } = setup();
      expectRegs(attempt(env, t, t.tdr), ST.OPERAND_BUSY | OP.R8, 0n, 0n);
    });

    test('its PAMT entry locked → OPERAND_BUSY | R8', () => {
      const { env, t } = setup();
      const page = env.alloc.alloc4k();
      env.module.locks.hold(LockKey.pamt(page >> 12n), 'shared');
      expectRegs(attempt(env, t, page), ST.OPERAND_BUSY | OP.R8, 0n, 0n);
    });
  });

  test('allowed while RUNNABLE', () => {
    const { env, t } = setup();
    addVcpu(env, t);
    finalize(env, t);
    expectRegs(env.tdh.MEM_SEPT_ADD({ gpaLevel: gpaLevel(0n, 3), tdrFlags: tdrFlags(t.tdr), page: env.alloc.alloc4k() }), ST.SUCCESS, 0n, 0n);
  });
});

// ---------------------------------------------------------------------------------------------

describe('TDH.MEM.PAGE.ADD', () => {
  const add = (env: ModuleEnv, t: CreatedTd, gpa: bigint, page: bigint, source: bigint, level = 0) =>
    env.tdh.MEM_PAGE_ADD({ gpaLevel: gpaLevel(gpa, level), tdr: t.tdr, page, source });

  test('copies the source under the TD key and maps the page MAPPED', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    const data = patternPage(3);
    const source = hostPage(env, data);
    const page = env.alloc.alloc4k();
    const before = t.td.childCount;
    const regs = markedRegs();
    const r = env.tdh.MEM_PAGE_ADD({ gpaLevel: gpaLevel(0x5000n, 0), tdr: t.tdr, page, source }, { regs });
    expectRegs(r, ST.SUCCESS, 0n, 0n);
    assert.equal(r.regs.get('R8'), page);
    assert.equal(r.regs.get('R9'), source);
    assertUntouched(r, regs, ['RBX', 'RSI', 'RDI', 'R10', 'R11', 'R12']);
    assert.deepEqual(env.platform.memory.read(page, 4096, t.hkid), data);
    assert.equal(t.td.childCount, before + 1n);
    const e = env.module.pamt.lookup(page)!;
    assert.deepEqual([e.type, e.owner, e.bepoch], [PamtPageType.PT_REG, t.tdr, 0n]);
    expectRegs(env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(0x5000n, 0), tdr: t.tdr }), ST.SUCCESS, ARCH.MAPPED | page, septInfo(0, 4));
  });

  test('level other than 0 → OPERAND_INVALID | RCX', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    expectRegs(add(env, t, 0n, env.alloc.alloc4k(), hostPage(env, patternPage(1)), 1), ST.OPERAND_INVALID | OP.RCX, 0n, 0n);
  });

  test('a shared GPA → OPERAND_INVALID | RCX', () => {
    const { env, t } = setup();
    expectRegs(add(env, t, 1n << 47n, env.alloc.alloc4k(), hostPage(env, patternPage(1))), ST.OPERAND_INVALID | OP.RCX, 0n, 0n);
  });

  test('no level-0 SEPT page → EPT_WALK_FAILED | RCX with the level-1 entry', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n, 2);
    expectRegs(add(env, t, 0n, env.alloc.alloc4k(), hostPage(env, patternPage(1))), ST.EPT_WALK_FAILED | OP.RCX, ARCH.FREE, septInfo(1, 0));
  });

  test('the GPA is already mapped → EPT_ENTRY_STATE_INCORRECT | RCX with the leaf', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    const first = addPage(env, t, 0n);
    expectRegs(add(env, t, 0n, env.alloc.alloc4k(), hostPage(env, patternPage(1))), ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, ARCH.MAPPED | first, septInfo(0, 4));
  });

  test('a source with a private KeyID, misaligned or above MAX_PA → OPERAND_INVALID | R9', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    const src = hostPage(env, patternPage(1));
    const privateKeyed = src | (BigInt(t.hkid) << BigInt(env.platform.keyIdShift));
    expectRegs(add(env, t, 0n, env.alloc.alloc4k(), privateKeyed), ST.OPERAND_INVALID | OP.R9, 0n, 0n);
    expectRegs(add(env, t, 0n, env.alloc.alloc4k(), src + 8n), ST.OPERAND_INVALID | OP.R9, 0n, 0n);
    expectRegs(add(env, t, 0n, env.alloc.alloc4k(), 1n << 52n), ST.OPERAND_INVALID | OP.R9, 0n, 0n);
  });

  test('a source with a shared MKTME KeyID is read with that KeyID', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    const data = patternPage(9);
    const src = env.shared.alloc4k();
    env.platform.memory.write(src, data, 1);
    const page = env.alloc.alloc4k();
    expectRegs(add(env, t, 0n, page, src | (1n << BigInt(env.platform.keyIdShift))), ST.SUCCESS, 0n, 0n);
    assert.deepEqual(env.platform.memory.read(page, 4096, t.hkid), data);
  });

  test('the target page: misaligned, outside TDMRs, in use, busy', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    const src = hostPage(env, patternPage(1));
    expectRegs(add(env, t, 0n, env.alloc.alloc4k() + 0x100n, src), ST.OPERAND_INVALID | OP.R8, 0n, 0n);
    expectRegs(add(env, t, 0n, env.shared.alloc4k(), src), ST.OPERAND_ADDR_RANGE_ERROR | OP.R8, 0n, 0n);
    expectRegs(add(env, t, 0n, t.tdcx[1]!, src), ST.PAGE_METADATA_INCORRECT | OP.R8, 0n, 0n);
    const page = env.alloc.alloc4k();
    const release = env.module.locks.hold(LockKey.pamt(page >> 12n), 'exclusive');
    expectRegs(add(env, t, 0n, page, src), ST.OPERAND_BUSY | OP.R8, 0n, 0n);
    release();
    expectRegs(add(env, t, 0n, page, src), ST.SUCCESS, 0n, 0n);
  });

  test('needs the TDR exclusively: a shared holder → OPERAND_BUSY | RDX', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    env.module.locks.hold(LockKey.pamt(t.tdr >> 12n), 'shared');
    expectRegs(add(env, t, 0n, env.alloc.alloc4k(), hostPage(env, patternPage(1))), ST.OPERAND_BUSY | OP.RDX, 0n, 0n);
  });

  test('takes no SEPT tree lock (the exclusive TDR lock covers the tree)', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    env.module.locks.hold(LockKey.septTree(t.td.tdrPfn), 'exclusive');
    expectRegs(add(env, t, 0n, env.alloc.alloc4k(), hostPage(env, patternPage(1))), ST.SUCCESS, 0n, 0n);
  });

  test('after TDH.MR.FINALIZE → TDX_OP_STATE_INCORRECT', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    addVcpu(env, t);
    finalize(env, t);
    expectRegs(add(env, t, 0n, env.alloc.alloc4k(), hostPage(env, patternPage(1))), ST.OP_STATE_INCORRECT, 0n, 0n);
  });

  test('a TD whose keys are being torn down → TDX_TD_KEYS_NOT_CONFIGURED', () => {
    const env = bringUp();
    const t = createTd(env, { until: 'create' });
    expectRegs(add(env, t, 0n, env.alloc.alloc4k(), hostPage(env, patternPage(1))), 0x8000_0810_0000_0000n, 0n, 0n);
  });
});

// ---------------------------------------------------------------------------------------------

describe('TDH.MEM.PAGE.AUG', () => {
  test('4K: PENDING leaf, PT_REG, CHLDCNT + 1, the page content left as it was', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    const page = env.alloc.alloc4k();
    const junk = patternPage(5);
    env.platform.memory.write(page, junk, 0);
    const before = t.td.childCount;
    const r = env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0x7000n, 0), tdr: t.tdr, page });
    expectRegs(r, ST.SUCCESS, 0n, 0n);
    assert.deepEqual(env.platform.memory.read(page, 4096, 0), junk, 'AUG does not zero the page');
    assert.equal(t.td.childCount, before + 1n);
    const e = env.module.pamt.lookup(page)!;
    assert.deepEqual([e.type, e.owner, e.level, e.bepoch], [PamtPageType.PT_REG, t.tdr, 0, 0n]);
    expectRegs(env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(0x7000n, 0), tdr: t.tdr }), ST.SUCCESS, ARCH.LEAF_NO_PERMS | page, septInfo(0, 2));
  });

  test('2M: one PENDING level-1 leaf over 512 free 4K pages, CHLDCNT + 512', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n, 2);
    const page = env.alloc.alloc2m();
    const before = t.td.childCount;
    expectRegs(env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0x20_0000n, 1), tdr: t.tdr, page }), ST.SUCCESS, 0n, 0n);
    assert.equal(t.td.childCount, before + 512n);
    const e = env.module.pamt.lookup(page + 0x1000n)!;
    assert.deepEqual([e.type, e.level, e.base], [PamtPageType.PT_REG, 1, page]);
    expectRegs(env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(0x20_0000n, 1), tdr: t.tdr }), ST.SUCCESS, ARCH.LEAF_NO_PERMS | page, septInfo(1, 2));
  });

  test('2M with a 4K page of the range in use → PAGE_METADATA_INCORRECT | R8', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    const range = env.alloc.alloc2m();
    // Make one 4K page of the range a TD page.
    assert.equal(env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr, page: range + 0x3000n }).status, ST.SUCCESS);
    addSeptPath(env, t, 0x4000_0000n, 2);
    expectRegs(env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0x4000_0000n, 1), tdr: t.tdr, page: range }), ST.PAGE_METADATA_INCORRECT | OP.R8, 0n, 0n);
  });

  test('2M target only 4K aligned → OPERAND_INVALID | R8; level 2 → OPERAND_INVALID | RCX', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n, 2);
    expectRegs(env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr, page: env.alloc.alloc2m() + 0x1000n }), ST.OPERAND_INVALID | OP.R8, 0n, 0n);
    expectRegs(env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0n, 2), tdr: t.tdr, page: env.alloc.alloc2m() }), ST.OPERAND_INVALID | OP.RCX, 0n, 0n);
  });

  test('an entry already in use → EPT_ENTRY_STATE_INCORRECT with the entry', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    const first = env.alloc.alloc4k();
    env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr, page: first });
    expectRegs(env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr, page: env.alloc.alloc4k() }), ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, ARCH.LEAF_NO_PERMS | first, septInfo(0, 2));
    // 2M over an existing SEPT page.
    expectRegs(env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr, page: env.alloc.alloc2m() }), ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, ARCH.NON_LEAF_MAPPED, septInfo(1, 0x84));
  });

  test('target page checks come after the entry: outside TDMRs → OPERAND_ADDR_RANGE_ERROR | R8', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    expectRegs(env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr, page: env.shared.alloc4k() }), ST.OPERAND_ADDR_RANGE_ERROR | OP.R8, 0n, 0n);
  });

  test('allowed while RUNNABLE', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    addVcpu(env, t);
    finalize(env, t);
    expectRegs(env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr, page: env.alloc.alloc4k() }), ST.SUCCESS, 0n, 0n);
  });
});

// ---------------------------------------------------------------------------------------------

describe('TDH.MEM.RANGE.BLOCK / UNBLOCK / TRACK', () => {
  test('BLOCK of a MAPPED page: BLOCKED, BEPOCH = TD_EPOCH; a second BLOCK is the ALREADY_BLOCKED warning', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    const page = addPage(env, t, 0x3000n);
    t.td.tdEpoch = 7n;
    expectRegs(env.tdh.MEM_RANGE_BLOCK({ gpaLevel: gpaLevel(0x3000n, 0), tdr: t.tdr }), ST.SUCCESS, 0n, 0n);
    assert.equal(env.module.pamt.lookup(page)!.bepoch, 7n);
    expectRegs(env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(0x3000n, 0), tdr: t.tdr }), ST.SUCCESS, ARCH.LEAF_NO_PERMS | page, septInfo(0, 1));
    expectRegs(env.tdh.MEM_RANGE_BLOCK({ gpaLevel: gpaLevel(0x3000n, 0), tdr: t.tdr }), ST.GPA_RANGE_ALREADY_BLOCKED | OP.RCX, ARCH.LEAF_NO_PERMS | page, septInfo(0, 1));
  });

  test('BLOCK of a PENDING page → PENDING_BLOCKED; of a SEPT page → NL_BLOCKED with BEPOCH on the SEPT page', () => {
    const { env, t } = setup();
    const [, , l1] = addSeptPath(env, t, 0n);
    const page = env.alloc.alloc4k();
    env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr, page });
    expectRegs(env.tdh.MEM_RANGE_BLOCK({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr }), ST.SUCCESS, 0n, 0n);
    expectRegs(env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr }), ST.SUCCESS, ARCH.LEAF_NO_PERMS | page, septInfo(0, 3));
    t.td.tdEpoch = 3n;
    expectRegs(env.tdh.MEM_RANGE_BLOCK({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr }), ST.SUCCESS, 0n, 0n);
    assert.equal(env.module.pamt.lookup(l1!)!.bepoch, 3n);
    expectRegs(env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr }), ST.SUCCESS, ARCH.NON_LEAF_BLOCKED, septInfo(1, 0x81));
    // Below an NL_BLOCKED entry every walk stops.
    expectRegs(env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr }), ST.EPT_WALK_FAILED | OP.RCX, ARCH.NON_LEAF_BLOCKED, septInfo(1, 0x81));
  });

  test('BLOCK of a FREE entry → EPT_ENTRY_STATE_INCORRECT with the entry', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    expectRegs(env.tdh.MEM_RANGE_BLOCK({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr }), ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, ARCH.FREE, septInfo(0, 0));
  });

  test('BLOCK and UNBLOCK need the SEPT tree exclusively', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    addPage(env, t, 0n);
    env.module.locks.hold(LockKey.septTree(t.td.tdrPfn), 'shared');
    expectRegs(env.tdh.MEM_RANGE_BLOCK({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr }), ST.OPERAND_BUSY | OP.SEPT_TREE, 0n, 0n);
    expectRegs(env.tdh.MEM_RANGE_UNBLOCK({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr }), ST.OPERAND_BUSY | OP.SEPT_TREE, 0n, 0n);
  });

  test('UNBLOCK before finalisation needs no tracking', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    const page = addPage(env, t, 0n);
    env.tdh.MEM_RANGE_BLOCK({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr });
    expectRegs(env.tdh.MEM_RANGE_UNBLOCK({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr }), ST.SUCCESS, 0n, 0n);
    expectRegs(env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr }), ST.SUCCESS, ARCH.MAPPED | page, septInfo(0, 4));
  });

  test('UNBLOCK of an entry that is not blocked → EPT_ENTRY_STATE_INCORRECT with the entry', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    const page = addPage(env, t, 0n);
    expectRegs(env.tdh.MEM_RANGE_UNBLOCK({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr }), ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, ARCH.MAPPED | page, septInfo(0, 4));
  });

  test('UNBLOCK while RUNNABLE: TLB_TRACKING_NOT_DONE | SEPT_TREE until a TRACK; then MAPPED again', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    const page = addPage(env, t, 0n);
    addVcpu(env, t);
    finalize(env, t);
    env.tdh.MEM_RANGE_BLOCK({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr });
    expectRegs(env.tdh.MEM_RANGE_UNBLOCK({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr }), ST.TLB_TRACKING_NOT_DONE | OP.SEPT_TREE, 0n, 0n);
    assert.equal(env.tdh.MEM_TRACK({ tdr: t.tdr }).status, ST.SUCCESS);
    expectRegs(env.tdh.MEM_RANGE_UNBLOCK({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr }), ST.SUCCESS, 0n, 0n);
    expectRegs(env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr }), ST.SUCCESS, ARCH.MAPPED | page, septInfo(0, 4));
  });

  test('UNBLOCK of an NL_BLOCKED entry restores NL_MAPPED', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    env.tdh.MEM_RANGE_BLOCK({ gpaLevel: gpaLevel(0n, 2), tdr: t.tdr });
    expectRegs(env.tdh.MEM_RANGE_UNBLOCK({ gpaLevel: gpaLevel(0n, 2), tdr: t.tdr }), ST.SUCCESS, 0n, 0n);
    expectRegs(env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(0n, 2), tdr: t.tdr }), ST.SUCCESS, ARCH.NON_LEAF_MAPPED, septInfo(2, 0x84));
  });

  test('TRACK: epoch + 1; RCX and RDX are not written', () => {
    const { env, t } = setup();
    const regs = new RegisterFile().set('RDX', 0x1234n);
    const epoch = t.td.tdEpoch;
    const r = env.tdh.MEM_TRACK({ tdr: t.tdr }, { regs });
    expectRegs(r, ST.SUCCESS, t.tdr, 0x1234n);
    assert.equal(t.td.tdEpoch, epoch + 1n);
  });

  test('TRACK: epoch lock held → OPERAND_BUSY | TD_EPOCH; a vCPU in the previous epoch → PREVIOUS_TLB_EPOCH_BUSY', () => {
    const { env, t } = setup();
    const release = env.module.locks.hold(LockKey.tdEpoch(t.td.tdrPfn), 'shared');
    assert.equal(env.tdh.MEM_TRACK({ tdr: t.tdr }).status, ST.OPERAND_BUSY | OP.TD_EPOCH);
    release();
    const epoch = t.td.tdEpoch;
    t.td.epochRefcount[Number((epoch + 1n) & 1n)] = 1; // a vCPU still counted in the other parity
    assert.equal(env.tdh.MEM_TRACK({ tdr: t.tdr }).status, ST.PREVIOUS_TLB_EPOCH_BUSY);
    assert.equal(t.td.tdEpoch, epoch);
    assert.equal(env.module.locks.idle(), true);
  });

  test('TRACK: the TDR operand is RCX; before MNG.INIT → OP_STATE_INCORRECT', () => {
    const { env, t } = setup();
    assert.equal(env.tdh.MEM_TRACK({ tdr: t.tdcx[0]! }).status, ST.PAGE_METADATA_INCORRECT | OP.RCX);
    const env2 = bringUp();
    const t2 = createTd(env2, { until: 'addcx' });
    assert.equal(env2.tdh.MEM_TRACK({ tdr: t2.tdr }).status, ST.OP_STATE_INCORRECT);
  });
});

// ---------------------------------------------------------------------------------------------

describe('TDH.MEM.PAGE.REMOVE', () => {
  test('before finalisation: a MAPPED page is removed directly; RCX = its HPA, RDX = 0', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    const page = addPage(env, t, 0x9000n);
    const before = t.td.childCount;
    const r = env.tdh.MEM_PAGE_REMOVE({ gpaLevel: gpaLevel(0x9000n, 0), tdr: t.tdr });
    expectRegs(r, ST.SUCCESS, page, 0n);
    assert.equal(t.td.childCount, before - 1n);
    assert.equal(pamtType(env, page), PamtPageType.PT_NDA);
    expectRegs(env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(0x9000n, 0), tdr: t.tdr }), ST.SUCCESS, ARCH.FREE, septInfo(0, 0));
  });

  test('while RUNNABLE: not blocked → GPA_RANGE_NOT_BLOCKED with the entry; not tracked → TLB_TRACKING_NOT_DONE | RCX', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    const page = addPage(env, t, 0n);
    addVcpu(env, t);
    finalize(env, t);
    const remove = () => env.tdh.MEM_PAGE_REMOVE({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr });
    expectRegs(remove(), ST.GPA_RANGE_NOT_BLOCKED | OP.RCX, ARCH.MAPPED | page, septInfo(0, 4));
    env.tdh.MEM_RANGE_BLOCK({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr });
    expectRegs(remove(), ST.TLB_TRACKING_NOT_DONE | OP.RCX, 0n, 0n);
    env.tdh.MEM_TRACK({ tdr: t.tdr });
    t.td.epochRefcount[Number((t.td.tdEpoch - 1n) & 1n)] = 1; // a vCPU still runs in the blocking epoch
    expectRegs(remove(), ST.TLB_TRACKING_NOT_DONE | OP.RCX, 0n, 0n);
    t.td.epochRefcount[Number((t.td.tdEpoch - 1n) & 1n)] = 0;
    expectRegs(remove(), ST.SUCCESS, page, 0n);
  });

  test('a PENDING page may be removed while RUNNABLE only once blocked and tracked too', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    addVcpu(env, t);
    finalize(env, t);
    const page = env.alloc.alloc4k();
    env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr, page });
    expectRegs(env.tdh.MEM_PAGE_REMOVE({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr }), ST.GPA_RANGE_NOT_BLOCKED | OP.RCX, ARCH.LEAF_NO_PERMS | page, septInfo(0, 2));
    env.tdh.MEM_RANGE_BLOCK({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr });
    env.tdh.MEM_TRACK({ tdr: t.tdr });
    expectRegs(env.tdh.MEM_PAGE_REMOVE({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr }), ST.SUCCESS, page, 0n);
  });

  test('a 2M page: CHLDCNT - 512, the 2M PAMT entry freed', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n, 2);
    const page = env.alloc.alloc2m();
    env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr, page });
    const before = t.td.childCount;
    expectRegs(env.tdh.MEM_PAGE_REMOVE({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr }), ST.SUCCESS, page, 0n);
    assert.equal(t.td.childCount, before - 512n);
    assert.deepEqual([env.module.pamt.lookup(page)!.level, pamtType(env, page)], [0, PamtPageType.PT_NDA]);
  });

  test('a 4K request inside a 2M page → EPT_WALK_FAILED with the 2M leaf', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n, 2);
    const page = env.alloc.alloc2m();
    env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr, page });
    expectRegs(env.tdh.MEM_PAGE_REMOVE({ gpaLevel: gpaLevel(0x1000n, 0), tdr: t.tdr }), ST.EPT_WALK_FAILED | OP.RCX, ARCH.LEAF_NO_PERMS | page, septInfo(1, 2));
  });

  test('a non-leaf or FREE entry → EPT_ENTRY_STATE_INCORRECT with the entry; level 3 → OPERAND_INVALID', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    expectRegs(env.tdh.MEM_PAGE_REMOVE({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr }), ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, ARCH.NON_LEAF_MAPPED, septInfo(1, 0x84));
    expectRegs(env.tdh.MEM_PAGE_REMOVE({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr }), ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, ARCH.FREE, septInfo(0, 0));
    expectRegs(env.tdh.MEM_PAGE_REMOVE({ gpaLevel: gpaLevel(0n, 3), tdr: t.tdr }), ST.OPERAND_INVALID | OP.RCX, 0n, 0n);
  });

  test("the removed page's PAMT entry locked → OPERAND_BUSY | RCX", () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    const page = addPage(env, t, 0n);
    env.module.locks.hold(LockKey.pamt(page >> 12n), 'shared');
    expectRegs(env.tdh.MEM_PAGE_REMOVE({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr }), ST.OPERAND_BUSY | OP.RCX, 0n, 0n);
  });
});

// ---------------------------------------------------------------------------------------------

describe('TDH.MEM.SEPT.REMOVE', () => {
  test('an empty SEPT page: RCX = its PA, RDX = 0, PT_NDA, CHLDCNT - 1', () => {
    const { env, t } = setup();
    const [, , l1] = addSeptPath(env, t, 0n);
    const before = t.td.childCount;
    const r = env.tdh.MEM_SEPT_REMOVE({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr });
    expectRegs(r, ST.SUCCESS, l1!, 0n);
    assert.equal(t.td.childCount, before - 1n);
    assert.equal(pamtType(env, l1!), PamtPageType.PT_NDA);
    expectRegs(env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr }), ST.SUCCESS, ARCH.FREE, septInfo(1, 0));
  });

  test('a SEPT page with a used entry → EPT_PAGE_NOT_FREE | RCX with the parent entry', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    addPage(env, t, 0x1f_f000n);
    expectRegs(env.tdh.MEM_SEPT_REMOVE({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr }), ST.EPT_PAGE_NOT_FREE | OP.RCX, ARCH.NON_LEAF_MAPPED, septInfo(1, 0x84));
    expectRegs(env.tdh.MEM_SEPT_REMOVE({ gpaLevel: gpaLevel(0n, 2), tdr: t.tdr }), ST.EPT_PAGE_NOT_FREE | OP.RCX, ARCH.NON_LEAF_MAPPED, septInfo(2, 0x84));
  });

  test('a FREE or leaf entry → EPT_ENTRY_STATE_INCORRECT; level 0 → OPERAND_INVALID | RCX', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n, 2);
    expectRegs(env.tdh.MEM_SEPT_REMOVE({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr }), ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, ARCH.FREE, septInfo(1, 0));
    const large = env.alloc.alloc2m();
    env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr, page: large });
    expectRegs(env.tdh.MEM_SEPT_REMOVE({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr }), ST.EPT_ENTRY_STATE_INCORRECT | OP.RCX, ARCH.LEAF_NO_PERMS | large, septInfo(1, 2));
    expectRegs(env.tdh.MEM_SEPT_REMOVE({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr }), ST.OPERAND_INVALID | OP.RCX, 0n, 0n);
  });

  test('while RUNNABLE: must be blocked (NOT_BLOCKED) and tracked (TLB_TRACKING_NOT_DONE | RCX)', () => {
    const { env, t } = setup();
    const [, , l1] = addSeptPath(env, t, 0n);
    addVcpu(env, t);
    finalize(env, t);
    const remove = () => env.tdh.MEM_SEPT_REMOVE({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr });
    expectRegs(remove(), ST.GPA_RANGE_NOT_BLOCKED | OP.RCX, ARCH.NON_LEAF_MAPPED, septInfo(1, 0x84));
    env.tdh.MEM_RANGE_BLOCK({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr });
    expectRegs(remove(), ST.TLB_TRACKING_NOT_DONE | OP.RCX, 0n, 0n);
    env.tdh.MEM_TRACK({ tdr: t.tdr });
    expectRegs(remove(), ST.SUCCESS, l1!, 0n);
  });

  test('version 1 returns R9–R11 = NULL_PA (no L2 SEPT pages), also on failure', () => {
    const { env, t } = setup();
    addSeptPath(env, t, 0n);
    let r = env.tdh.MEM_SEPT_REMOVE({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr }, { version: 1 });
    expectRegs(r, ST.OPERAND_INVALID | OP.RCX, 0n, 0n);
    assert.deepEqual([r.regs.get('R9'), r.regs.get('R10'), r.regs.get('R11')], [NULL_PA, NULL_PA, NULL_PA]);
    r = env.tdh.MEM_SEPT_REMOVE({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr }, { version: 1 });
    assert.equal(r.status, ST.SUCCESS);
    assert.deepEqual([r.regs.get('R9'), r.regs.get('R10'), r.regs.get('R11')], [NULL_PA, NULL_PA, NULL_PA]);
  });

  test("the removed SEPT page's PAMT entry locked → OPERAND_BUSY | RCX", () => {
    const { env, t } = setup();
    const [, , l1] = addSeptPath(env, t, 0n);
    env.module.locks.hold(LockKey.pamt(l1! >> 12n), 'shared');
    expectRegs(env.tdh.MEM_SEPT_REMOVE({ gpaLevel: gpaLevel(0n, 1), tdr: t.tdr }), ST.OPERAND_BUSY | OP.RCX, 0n, 0n);
  });
});

// ---------------------------------------------------------------------------------------------

describe('TDH.MEM.SEPT.RD', () => {
  test('reads any level for any TD; R8 is not written without the L2 flag', () => {
    const { env, t } = setup();
    const regs = new RegisterFile().set('R8', 0x77n);
    let r = env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(5n << 39n, 3), tdr: t.tdr }, { regs });
    expectRegs(r, ST.SUCCESS, ARCH.FREE, septInfo(3, 0));
    assert.equal(r.regs.get('R8'), 0x77n);
    addSeptPath(env, t, 0n);
    r = env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(0n, 0), tdr: t.tdr });
    expectRegs(r, ST.SUCCESS, ARCH.FREE, septInfo(0, 0));
  });

  test('L2-attributes flag: non-debug TD → OPERAND_INVALID | RDX; debug TD → R8 = 0', () => {
    const { env, t } = setup();
    expectRegs(env.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(0n, 3), tdr: t.tdr | 1n }), ST.OPERAND_INVALID | OP.RDX, 0n, 0n);
    const env2 = bringUp();
    const dbg = createTd(env2, { attributes: 1n << BigInt(TdAttributesBit.DEBUG) });
    const regs = new RegisterFile().set('R8', 0x77n);
    const r = env2.tdh.MEM_SEPT_RD({ gpaLevel: gpaLevel(0n, 3), tdr: dbg.tdr | 1n }, { regs });
    expectRegs(r, ST.SUCCESS, ARCH.FREE, septInfo(3, 0));
    assert.equal(r.regs.get('R8'), 0n);
  });
});
