import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import type { AbiCatalog } from '../../src/abi/catalog.ts';
import type { LeafDef } from '../../src/abi/leaf.ts';
import { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';
import { TdcallLeaf } from '../../src/abi/tdcall-leaves.ts';
import { TdvmcallSubfunction } from '../../src/abi/tdvmcall.ts';
import { ABI_SECTIONS, registerAbiCommand, type AbiOutput } from '../../src/cli/commands/abi.ts';
import { UsageError } from '../../src/cli/errors.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[/;

/** Run `tdxsim abi …` in-process with the output captured. */
async function abi(args: string[], opts: Omit<AbiOutput, 'write'> = { color: false }): Promise<string> {
  let text = '';
  const program = new Command('tdxsim').exitOverride();
  registerAbiCommand(program, { write: (t) => void (text += t), ...opts });
  await program.parseAsync(['node', 'tdxsim', 'abi', ...args]);
  return text;
}

const ALL_LEAVES = [...Object.values(SeamcallLeaf), ...Object.values(TdcallLeaf)] as LeafDef[];

describe('tdxsim abi --json', () => {
  it('prints the catalog as JSON containing every leaf', async () => {
    const cat = JSON.parse(await abi(['--json'])) as AbiCatalog;
    assert.equal(cat.schemaVersion, 1);
    const mnemonics = new Set([...cat.seamcallLeaves, ...cat.tdcallLeaves].map((l) => l.mnemonic));
    for (const l of ALL_LEAVES) assert.ok(mnemonics.has(l.mnemonic), `${l.mnemonic} missing`);
    assert.equal(cat.seamcallLeaves.length + cat.tdcallLeaves.length, ALL_LEAVES.length);
  });

  it('refuses a section together with --json', async () => {
    await assert.rejects(abi(['--json', 'status']), UsageError);
  });
});

describe('tdxsim abi (human form)', () => {
  it('prints every section heading, leaf, sub-function and layout', async () => {
    const out = await abi([]);
    assert.doesNotMatch(out, ANSI);
    for (const heading of ['SEAMCALL leaves', 'TDCALL leaves', 'TDG.VP.VMCALL sub-functions', 'Completion status codes', 'Operand IDs', 'Metadata fields', 'Byte layouts', 'Register layouts', 'States and enumerations']) {
      assert.ok(out.includes(heading), heading);
    }
    for (const l of ALL_LEAVES) assert.ok(out.includes(l.mnemonic), l.mnemonic);
    for (const s of Object.values(TdvmcallSubfunction)) assert.ok(out.includes(s.name), s.name);
    for (const name of ['TD_PARAMS (1024 bytes)', 'TDREPORT_STRUCT (1024 bytes)', 'TDMR_INFO (320 bytes)', 'TDSYSINFO_STRUCT (1024 bytes)']) {
      assert.ok(out.includes(name), name);
    }
  });

  it('lays out a leaf row with its number, versions, implemented mark and register use', async () => {
    const out = await abi(['seamcall']);
    const row = out.split('\n').find((l) => l.includes('TDH.MNG.RD '));
    assert.ok(row, 'no TDH.MNG.RD row');
    const cells = row.split('│').map((c) => c.trim());
    assert.deepEqual(cells.slice(1, 5), ['11', 'TDH.MNG.RD', '0–1', 'yes']);
    assert.equal(cells[6], 'RCX=tdr RDX=fieldId → RDX=nextFieldId R8=value');
    // Columns are aligned: every table line has the same width.
    const tableLines = out.split('\n').filter((l) => /^[┌│├└]/.test(l));
    assert.equal(new Set(tableLines.map((l) => l.length)).size, 1);
  });

  it('prints status codes with their values and flags, and operand IDs with their numbers', async () => {
    const status = await abi(['status']);
    assert.match(status, /0xC000010000000000 │ TDX_OPERAND_INVALID\s+│ 0x1 operand\s+│ E /);
    assert.match(status, /0x8000FF000000000D │ TDX_SEAMCALL_GP/);
    const operands = await abi(['operands']);
    assert.match(operands, /│\s+146 │ SEPT_TREE\s+│/);
  });

  it('prints only the requested section', async () => {
    for (const section of ABI_SECTIONS) {
      const out = await abi([section]);
      assert.equal((out.match(/^== /gm) ?? []).length, section === 'tdvmcall' ? 2 : 1, section);
    }
  });

  it('colours only when asked to', async () => {
    assert.match(await abi(['operands'], { color: true }), ANSI);
    assert.doesNotMatch(await abi(['operands'], { color: false }), ANSI);
  });

  it('wraps the long columns to fit a given width', async () => {
    const out = await abi(['seamcall'], { color: false, width: 120 });
    for (const line of out.split('\n').slice(1)) assert.ok(line.length <= 120, `${line.length}: ${line}`);
    const wide = await abi(['seamcall'], { color: false });
    assert.ok(Math.max(...wide.split('\n').map((l) => l.length)) > 120, 'the unconstrained table should be wider');
  });

  it('refuses an unknown section with a usage error naming the choices', async () => {
    await assert.rejects(abi(['leafs']), (e: unknown) => e instanceof UsageError && /unknown section 'leafs'.*seamcall/.test(e.message));
  });
});

describe('tdxsim abi from the command line', () => {
  it('is registered in main.ts and prints JSON with every leaf', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'abi', '--json'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    const cat = JSON.parse(r.stdout) as AbiCatalog;
    assert.equal(cat.seamcallLeaves.length, Object.keys(SeamcallLeaf).length);
    assert.equal(cat.tdcallLeaves.length, Object.keys(TdcallLeaf).length);
  });

  it('exits with status 2 on an unknown section', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'abi', 'nope'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown section 'nope'/);
  });
});
