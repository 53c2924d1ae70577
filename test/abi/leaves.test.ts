import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Bitfield } from '../../src/abi/bitfield.ts';
import { operandReg, readOperands, writeOperands, type LeafDef, type RegOperand } from '../../src/abi/leaf.ts';
import { GPR_NAMES, RegisterFile, type GprName } from '../../src/abi/registers.ts';
import { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';
import { TdcallLeaf } from '../../src/abi/tdcall-leaves.ts';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';
import { FATAL_ERROR_MESSAGE_REGS, TDVMCALL_EXPOSE_REGS_MASK, TDVMCALL_FORBIDDEN_GPR_MASK, TdvmcallSubfunction } from '../../src/abi/tdvmcall.ts';

const TABLES: [string, Readonly<Record<string, LeafDef>>, 'seamcall' | 'tdcall', string][] = [
  ['SeamcallLeaf', SeamcallLeaf, 'seamcall', 'TDH.'],
  ['TdcallLeaf', TdcallLeaf, 'tdcall', 'TDG.'],
];

/** No value may appear twice in `values`; the message names the duplicates. */
function assertUnique<T>(what: string, values: readonly T[]): void {
  const seen = new Set<T>();
  const dups = values.filter((v) => (seen.has(v) ? true : (seen.add(v), false)));
  assert.deepEqual(dups, [], `${what}: duplicates ${dups.map(String).join(', ')}`);
}

/** Operand registers: a GPR, never RAX (leaf/status) or RSP (never an operand). */
function assertOperandRegs(where: string, ops: readonly RegOperand[]): void {
  for (const op of ops) {
    assert.ok((GPR_NAMES as readonly string[]).includes(op.reg), `${where}.${op.name}: ${op.reg} is not a GPR`);
    assert.notEqual(op.reg, 'RAX', `${where}.${op.name} uses RAX`);
    assert.notEqual(op.reg, 'RSP', `${where}.${op.name} uses RSP`);
    assert.ok(op.name.length > 0 && op.doc.length > 0, `${where}.${op.name}: name and doc required`);
    if (op.layout !== undefined) assert.ok(op.layout instanceof Bitfield, `${where}.${op.name}: layout is not a Bitfield`);
  }
  assertUnique(`${where} registers`, ops.map((o) => o.reg));
  assertUnique(`${where} names`, ops.map((o) => o.name));
}

for (const [tableName, table, kind, prefix] of TABLES) {
  describe(`${tableName}`, () => {
    const leaves = Object.entries(table);

    it('has no duplicate leaf numbers, mnemonics or keys', () => {
      assertUnique('numbers', leaves.map(([, l]) => l.number));
      assertUnique('mnemonics', leaves.map(([, l]) => l.mnemonic));
    });

    it(`names every leaf ${prefix}*, keyed by its mnemonic, of kind ${kind}`, () => {
      for (const [key, l] of leaves) {
        assert.ok(l.mnemonic.startsWith(prefix), l.mnemonic);
        assert.equal(key, l.mnemonic.replaceAll('.', '_'), `key ${key} does not match ${l.mnemonic}`);
        assert.equal(l.kind, kind, l.mnemonic);
        assert.ok(Number.isInteger(l.number) && l.number >= 0 && l.number <= 0xffff, `${l.mnemonic}: number ${l.number}`);
        assert.ok(l.maxVersion === 0 || l.maxVersion === 1, `${l.mnemonic}: maxVersion ${l.maxVersion}`);
        assert.ok(l.purpose.length > 0, `${l.mnemonic}: purpose`);
      }
    });

    it('uses only GPRs other than RAX and RSP for operands, each at most once per direction', () => {
      for (const [, l] of leaves) {
        assertOperandRegs(`${l.mnemonic} inputs`, l.inputs);
        assertOperandRegs(`${l.mnemonic} outputs`, l.outputs);
      }
    });
  });
}

describe('leaf numbers and versions (tdx-module.md §1, §2; linux-tdx.md §1.1–1.2)', () => {
  it('numbers the leaves Linux uses as Linux does', () => {
    const expected: Record<string, number> = {
      'TDH.VP.ENTER': 0,
      'TDH.MNG.ADDCX': 1,
      'TDH.MEM.PAGE.ADD': 2,
      'TDH.MEM.SEPT.ADD': 3,
      'TDH.VP.ADDCX': 4,
      'TDH.MEM.PAGE.AUG': 6,
      'TDH.MEM.RANGE.BLOCK': 7,
      'TDH.MNG.KEY.CONFIG': 8,
      'TDH.MNG.CREATE': 9,
      'TDH.VP.CREATE': 10,
      'TDH.MNG.RD': 11,
      'TDH.MR.EXTEND': 16,
      'TDH.MR.FINALIZE': 17,
      'TDH.VP.FLUSH': 18,
      'TDH.MNG.VPFLUSHDONE': 19,
      'TDH.MNG.KEY.FREEID': 20,
      'TDH.MNG.INIT': 21,
      'TDH.VP.INIT': 22,
      'TDH.PHYMEM.PAGE.RDMD': 24,
      'TDH.VP.RD': 26,
      'TDH.PHYMEM.PAGE.RECLAIM': 28,
      'TDH.MEM.PAGE.REMOVE': 29,
      'TDH.SYS.KEY.CONFIG': 31,
      'TDH.SYS.INIT': 33,
      'TDH.SYS.RD': 34,
      'TDH.SYS.LP.INIT': 35,
      'TDH.SYS.TDMR.INIT': 36,
      'TDH.MEM.TRACK': 38,
      'TDH.PHYMEM.CACHE.WB': 40,
      'TDH.PHYMEM.PAGE.WBINVD': 41,
      'TDH.VP.WR': 43,
      'TDH.SYS.CONFIG': 45,
      'TDG.VP.VMCALL': 0,
      'TDG.VP.INFO': 1,
      'TDG.MR.RTMR.EXTEND': 2,
      'TDG.VP.VEINFO.GET': 3,
      'TDG.MR.REPORT': 4,
      'TDG.MEM.PAGE.ACCEPT': 6,
      'TDG.VM.RD': 7,
      'TDG.VM.WR': 8,
    };
    const all = [...Object.values(SeamcallLeaf), ...Object.values(TdcallLeaf)] as LeafDef[];
    for (const [mnemonic, number] of Object.entries(expected)) {
      const l = all.find((x) => x.mnemonic === mnemonic);
      assert.ok(l, `${mnemonic} missing`);
      assert.equal(l.number, number, mnemonic);
    }
  });

  it('lets only the documented leaves take version 1', () => {
    // The module's five (SEPT.ADD, MNG.RD, PROMOTE, VP.RD, SEPT.REMOVE) plus VP.INIT, which Linux
    // issues as version 1 to pass the x2APIC ID.
    const seamV1 = (Object.values(SeamcallLeaf) as LeafDef[]).filter((l) => l.maxVersion > 0).map((l) => l.number);
    assert.deepEqual(seamV1.sort((a, b) => a - b), [3, 11, 22, 23, 26, 30]);
    const tdV1 = (Object.values(TdcallLeaf) as LeafDef[]).filter((l) => l.maxVersion > 0).map((l) => l.mnemonic);
    assert.deepEqual(tdV1, ['TDG.VM.RD']);
  });
});

describe('operand accessors built from the tables', () => {
  it('read and write operands by name in the registers the table names', () => {
    const leaf = SeamcallLeaf.TDH_MNG_WR;
    const regs = new RegisterFile();
    writeOperands(leaf.inputs, regs, { tdr: 0x1000n, fieldId: 0x1110_0003_0000_0017n, value: 5n, mask: 7n });
    assert.equal(regs.get('RCX'), 0x1000n);
    assert.equal(regs.get('RDX'), 0x1110_0003_0000_0017n);
    assert.equal(regs.get('R8'), 5n);
    assert.equal(regs.get('R9'), 7n);
    assert.deepEqual(readOperands(leaf.inputs, regs), { tdr: 0x1000n, fieldId: 0x1110_0003_0000_0017n, value: 5n, mask: 7n });
    assert.equal(operandReg(leaf.outputs, 'oldValue'), 'R8');
  });

  it('leave registers that are not given untouched', () => {
    const regs = RegisterFile.from({ RCX: 1n, RDX: 2n });
    writeOperands(SeamcallLeaf.TDH_MNG_RD.inputs, regs, { fieldId: 9n });
    assert.equal(regs.get('RCX'), 1n);
    assert.equal(regs.get('RDX'), 9n);
  });
});

describe('TDVMCALL sub-functions and statuses', () => {
  const subs = Object.values(TdvmcallSubfunction);

  it('have no duplicate numbers or names', () => {
    assertUnique('sub-function numbers', subs.map((s) => s.number));
    assertUnique('sub-function names', subs.map((s) => s.name));
    assertUnique('TDVMCALL statuses', Object.values(TdvmcallStatus));
  });

  it('use only registers Linux exposes (never RAX, RCX, RSP; R10/R11 only for results)', () => {
    const exposed = (reg: GprName): boolean => ((TDVMCALL_EXPOSE_REGS_MASK >> BigInt(GPR_NAMES.indexOf(reg))) & 1n) === 1n;
    const forbidden = (reg: GprName): boolean => ((TDVMCALL_FORBIDDEN_GPR_MASK >> BigInt(GPR_NAMES.indexOf(reg))) & 1n) === 1n;
    for (const s of subs) {
      for (const op of [...s.inputs, ...s.outputs]) {
        assert.ok(exposed(op.reg), `${s.name}.${op.name}: ${op.reg} is not exposed`);
        assert.ok(!forbidden(op.reg), `${s.name}.${op.name}: ${op.reg} cannot be exposed`);
      }
      for (const op of s.inputs) assert.ok(op.reg !== 'R10' && op.reg !== 'R11', `${s.name}: R10/R11 carry the call itself`);
      assertUnique(`${s.name} inputs`, s.inputs.map((o) => o.reg));
      assertUnique(`${s.name} outputs`, s.outputs.map((o) => o.reg));
    }
  });

  it('number the GHCI sub-functions as Linux does (linux-tdx.md §2.3)', () => {
    assert.equal(TdvmcallSubfunction.GET_TD_VM_CALL_INFO.number, 0x10000);
    assert.equal(TdvmcallSubfunction.MAP_GPA.number, 0x10001);
    assert.equal(TdvmcallSubfunction.GET_QUOTE.number, 0x10002);
    assert.equal(TdvmcallSubfunction.REPORT_FATAL_ERROR.number, 0x10003);
    assert.equal(TdvmcallSubfunction.SETUP_EVENT_NOTIFY_INTERRUPT.number, 0x10004);
    assert.equal(TdvmcallSubfunction.IO.number, 30);
    assert.equal(TdvmcallSubfunction.MMIO.number, 48);
  });

  it('pack the ReportFatalError message into eight distinct exposed registers', () => {
    assert.equal(FATAL_ERROR_MESSAGE_REGS.length, 8);
    assertUnique('message registers', FATAL_ERROR_MESSAGE_REGS);
  });
});
