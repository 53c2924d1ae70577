/**
 * `tdxsim abi`: print the ABI tables the simulator is built on.
 *
 *   tdxsim abi                  every table, grouped in sections with aligned columns
 *   tdxsim abi seamcall         one section (see ABI_SECTIONS for the names)
 *   tdxsim abi --json           the whole catalog as JSON (docs/abi-json.md)
 *
 * Everything printed comes from `abi/catalog.ts`; this file only lays it out. Colours are used
 * only when stdout is a terminal and NO_COLOR is not set.
 */
import type { Command } from 'commander';
import Table from 'cli-table3';
import pc from 'picocolors';
import { buildAbiCatalog, type AbiCatalog, type BitfieldJson, type LayoutJson, type LeafJson, type NamedValue, type OperandJson } from '../../abi/catalog.ts';
import { UsageError } from '../errors.ts';

/** Sections of the human output, in print order. */
export const ABI_SECTIONS = [
  'seamcall',
  'tdcall',
  'tdvmcall',
  'status',
  'operands',
  'metadata',
  'layouts',
  'bitfields',
  'enums',
] as const;
export type AbiSection = (typeof ABI_SECTIONS)[number];

export interface AbiOutput {
  /** Receives the text to print (default: stdout). */
  write(text: string): void;
  /** Whether to colour the output (default: stdout is a TTY and NO_COLOR is unset). */
  color?: boolean;
  /** Width to fit tables into (default: the terminal's columns when stdout is a TTY, else none). */
  width?: number;
}

/**
 * Standard output. A reader that goes away early (`tdxsim abi | head`) closes the pipe; that is
 * not an error worth a stack trace, so EPIPE ends the process quietly.
 */
const stdoutOutput: AbiOutput = {
  write: (text) => {
    process.stdout.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
    process.stdout.write(text);
  },
};

type Colors = ReturnType<typeof pc.createColors>;

/** How to render: colours (or none) and the width to fit tables into (undefined = no limit). */
export interface RenderContext {
  readonly c: Colors;
  readonly width?: number;
}

type Cell = string | number;

/** Visible length of a cell (colour escapes do not take space). */
function visibleLength(text: string): number {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, '').length;
}

/**
 * One aligned table, without cli-table3's own colouring (we colour through picocolors, or not at
 * all). Columns listed in `wrap` are narrowed, and their text wrapped, when the table would be
 * wider than `ctx.width`; `right` columns are right-aligned (numbers).
 */
function renderTable(
  head: readonly string[],
  rows: readonly (readonly Cell[])[],
  ctx: RenderContext,
  opts: { wrap?: readonly number[]; right?: readonly number[] } = {},
): string {
  const natural = head.map((h, i) => Math.max(visibleLength(h), ...rows.map((r) => visibleLength(String(r[i] ?? '')))) + 2);
  let colWidths: (number | null)[] = natural.map(() => null);
  const wrap = opts.wrap ?? [];
  const total = natural.reduce((a, b) => a + b, 0) + head.length + 1;
  if (ctx.width !== undefined && total > ctx.width && wrap.length > 0) {
    const fixed = natural.reduce((a, w, i) => (wrap.includes(i) ? a : a + w), 0) + head.length + 1;
    const share = Math.max(20, Math.floor((ctx.width - fixed) / wrap.length));
    colWidths = natural.map((w, i) => (wrap.includes(i) ? Math.min(w, share) : null));
  }
  const t = new Table({
    head: head.map((h) => ctx.c.bold(h)),
    style: { head: [], border: [], compact: true },
    colWidths,
    wordWrap: true,
    colAligns: head.map((_, i) => ((opts.right ?? []).includes(i) ? 'right' : 'left')),
  });
  for (const r of rows) t.push([...r]);
  return t.toString();
}

function operands(ops: readonly OperandJson[]): string {
  return ops.map((o) => `${o.reg}=${o.name}`).join(' ');
}

/** Register use of a leaf: inputs → outputs (RAX, the leaf/status, is implied). */
function registerUse(l: { inputs: readonly OperandJson[]; outputs: readonly OperandJson[] }): string {
  const ins = operands(l.inputs);
  const outs = operands(l.outputs);
  if (!ins && !outs) return '–';
  return `${ins || '–'}${outs ? ` → ${outs}` : ''}`;
}

function leafTable(leaves: readonly LeafJson[], ctx: RenderContext): string {
  const { c } = ctx;
  const rows = leaves.map((l) => [
    l.number,
    l.mnemonic,
    l.maxVersion === 0 ? '0' : `0–${l.maxVersion}`,
    l.implemented ? c.green('yes') : c.dim('no'),
    l.purpose,
    registerUse(l),
  ]);
  return renderTable(['#', 'Leaf', 'Ver', 'Sim', 'Purpose', 'Registers (in → out)'], rows, ctx, { wrap: [4, 5], right: [0] });
}

function hexNumber(n: number): string {
  return '0x' + n.toString(16).toUpperCase();
}

function enumLine(title: string, values: readonly NamedValue<number>[]): string {
  return `${title}: ${values.map((v) => `${v.name}=${v.value}`).join(', ')}`;
}

function layoutTable(l: LayoutJson, ctx: RenderContext): string {
  const { c } = ctx;
  const rows = l.fields.map((f) => [f.offset, f.size, f.kind, f.kind === 'reserved' ? c.dim(f.name) : f.name, f.doc ?? '']);
  return `${c.bold(l.name)} (${l.size} bytes)\n${renderTable(['Offset', 'Size', 'Kind', 'Field', 'Meaning'], rows, ctx, { wrap: [4], right: [0, 1] })}`;
}

function bitfieldTable(title: string, b: BitfieldJson, ctx: RenderContext): string {
  const { c } = ctx;
  const rows = b.fields.map((f) => [
    f.width === 1 ? `${f.lsb}` : `${f.lsb + f.width - 1}:${f.lsb}`,
    f.name.startsWith('reserved') ? c.dim(f.name) : f.name,
    f.doc ?? '',
  ]);
  return `${c.bold(title)}\n${renderTable(['Bits', 'Field', 'Meaning'], rows, ctx, { wrap: [2], right: [0] })}`;
}

function access(read: boolean, write: boolean): string {
  return read ? (write ? 'RW' : 'R') : write ? 'W' : '–';
}

/** Render one section of the catalog as text. */
export function renderAbiSection(cat: AbiCatalog, section: AbiSection, ctx: RenderContext): string {
  const { c } = ctx;
  const heading = (s: string): string => `${c.bold(c.cyan(`== ${s} ==`))}\n`;
  switch (section) {
    case 'seamcall':
      return (
        heading(`SEAMCALL leaves (host → TDX module ${cat.tdxModuleVersion}; RAX = leaf | version << 16 in, status out)`) +
        leafTable(cat.seamcallLeaves, ctx)
      );
    case 'tdcall':
      return heading('TDCALL leaves (guest → TDX module; RAX = leaf | version << 16 in, status out)') + leafTable(cat.tdcallLeaves, ctx);
    case 'tdvmcall': {
      const v = cat.tdvmcall;
      const subs = v.subfunctions.map((s) => [
        s.number > 0xff ? hexNumber(s.number) : s.number,
        s.name,
        s.purpose,
        registerUse({ inputs: s.inputs, outputs: s.outputs }),
      ]);
      const statuses = v.statuses.map((s) => [s.value, s.name, s.error ? 'yes' : 'no', s.definedByLinux ? 'yes' : c.dim('no')]);
      return (
        heading('TDG.VP.VMCALL sub-functions (R10 = 0: standard GHCI call; R11 = sub-function)') +
        `GPRs Linux exposes (RCX): ${v.exposeRegsMask}; never exposable: ${v.forbiddenGprMask}\n` +
        renderTable(['R11', 'Sub-function', 'Purpose', 'Registers (in → out)'], subs, ctx, { wrap: [2, 3], right: [0] }) +
        '\n' +
        heading("TDVMCALL status (R10 on return: the VMM's answer)") +
        renderTable(['R10 value', 'Status', 'Error', 'Linux'], statuses, ctx)
      );
    }
    case 'status': {
      const flags = (s: AbiCatalog['statusCodes'][number]): string =>
        [s.error && 'E', s.nonRecoverable && 'NR', s.fatal && 'F', s.hostRecoverabilityHint && 'HRH'].filter(Boolean).join(' ') ||
        c.dim('ok/warning');
      const rows = [...cat.statusCodes, ...cat.softwareStatusCodes].map((s) => [
        s.value,
        s.name,
        `${hexNumber(s.class)} ${s.className ?? ''}`.trim(),
        flags(s),
      ]);
      return (
        heading('Completion status codes (RAX out; bits 31:0 carry the operand ID or other details)') +
        'Flags: E error (bit 63), NR non-recoverable (62), F fatal (61), HRH host recoverability hint (60)\n' +
        renderTable(['Value', 'Name', 'Class', 'Flags'], rows, ctx)
      );
    }
    case 'operands': {
      const rows = cat.operandIds.map((o) => [o.value, o.name]);
      return heading('Operand IDs (status bits 31:0 on an operand error)') + renderTable(['ID', 'Operand'], rows, ctx, { right: [0] });
    }
    case 'metadata': {
      const rows = cat.metadataFields.map((m) => {
        const count = m.fields * m.elementsPerField;
        return [
          m.id,
          m.context,
          m.name,
          count === 1 ? `${m.elementSize}` : `${m.elementSize}×${count}`,
          access(m.hostReadable, m.hostWritable),
          access(m.debugReadable, m.debugWritable),
          access(m.guestReadable, m.guestWritable),
          m.doc,
        ];
      });
      return (
        heading('Metadata fields (TDH.SYS/MNG/VP.RD/WR and TDG.SYS/VM/VP.RD/WR)') +
        'Size: bytes per element × elements. Host: production TD; Debug: host on a debug TD.\n' +
        renderTable(['Field ID', 'Ctx', 'Name', 'Size', 'Host', 'Debug', 'Guest', 'Meaning'], rows, ctx, { wrap: [7] })
      );
    }
    case 'layouts':
      return heading('Byte layouts (little-endian)') + cat.layouts.map((l) => layoutTable(l, ctx)).join('\n');
    case 'bitfields':
      return (
        heading('Register layouts (bitfields, from bit 0 up)') +
        cat.bitfields.map((b) => bitfieldTable(`${b.exportName}: ${b.name} (${b.module})`, b, ctx)).join('\n')
      );
    case 'enums': {
      const l = cat.lifecycle;
      return (
        heading('States and enumerations') +
        [
          enumLine('Secure-EPT levels', cat.septLevels.map((s) => ({ name: `${s.name}(${s.label})`, value: s.value }))),
          enumLine('Secure-EPT states', cat.septStates),
          enumLine('PAMT page types', cat.pamtPageTypes),
          enumLine('PAMT page sizes', cat.pamtPageSizes),
          enumLine('Module state', l.sysStates),
          enumLine('KOT (HKID) states', l.kotStates),
          enumLine('TD life-cycle', l.tdLifecycleStates),
          enumLine('TD OP_STATE', l.opStates),
          enumLine('vCPU state', l.vcpuStates),
          enumLine('Last TD exit', l.lastTdExit),
          enumLine('VMX exit reasons', cat.vmx.exitReasons),
          enumLine('Extended exit qualification types', cat.vmx.extExitQualTypes),
          enumLine('Injected vectors', cat.vmx.vectors),
          enumLine('TD ATTRIBUTES bits', cat.tdConfig.attributesBits),
          enumLine('XFAM bits', cat.tdConfig.xfamBits),
          enumLine('CONFIG_FLAGS bits', cat.tdConfig.configFlagsBits),
          enumLine('TD_CTLS bits', cat.tdConfig.tdCtlsBits),
          enumLine('TDX_FEATURES0 bits', cat.tdxFeatures0),
        ].join('\n')
      );
    }
  }
}

/** The whole human-readable listing, or one section of it. */
export function renderAbi(cat: AbiCatalog, ctx: RenderContext, only?: AbiSection): string {
  const sections = only ? [only] : ABI_SECTIONS;
  return sections.map((s) => renderAbiSection(cat, s, ctx)).join('\n\n') + '\n';
}

export function registerAbiCommand(program: Command, out: AbiOutput = stdoutOutput): void {
  program
    .command('abi')
    .description('Print the TDX ABI tables: leaves, TDVMCALLs, status codes, operand IDs, metadata fields, layouts')
    .argument('[section]', `print one section only: ${ABI_SECTIONS.join(', ')}`)
    .option('--json', 'print the whole catalog as JSON (64-bit values as 0x… strings); see docs/abi-json.md')
    .action((section: string | undefined, opts: { json?: boolean }) => {
      if (section !== undefined && !(ABI_SECTIONS as readonly string[]).includes(section)) {
        throw new UsageError(`abi: unknown section '${section}'; choose one of ${ABI_SECTIONS.join(', ')}`);
      }
      if (opts.json && section !== undefined) {
        throw new UsageError('abi: --json prints the whole catalog; drop the section name, or filter the JSON');
      }
      const cat = buildAbiCatalog();
      if (opts.json) {
        out.write(JSON.stringify(cat, null, 2) + '\n');
        return;
      }
      const color = out.color ?? (process.stdout.isTTY === true && !process.env.NO_COLOR);
      const width = out.width ?? (process.stdout.isTTY === true ? process.stdout.columns : undefined);
      out.write(renderAbi(cat, { c: pc.createColors(color), ...(width !== undefined && { width }) }, section as AbiSection | undefined));
    });
}
