/**
 * Scenario files: a JSON description of a TD run (`tdxsim run scenario.json`), validated with zod.
 *
 *   {
 *     "name": "hello",
 *     "platform":  { "packages": 2, "lpsPerPackage": 2, "memory": "4G" },
 *     "td":        { "attributes": ["SEPT_VE_DISABLE"], "xfam": "0x3", "vcpus": 1, "memory": "64M",
 *                    "gpaw": 48, "tscKhz": 2500000, "mrconfigid": "00…" },
 *     "image":     [ { "gpa": "0x200000", "hex": "90 90 f4", "measure": true },
 *                    { "gpa": "0x300000", "file": "payload.bin" } ],
 *     "guest":     { "program": "hello", "args": { "message": "hi" } },
 *     "userspace": { "mmioDevice": "0xfeb00000", "quote": "dcap", "eventNotify": true,
 *                    "mapGpa": true, "msrFilter": { "default": "allow", "ranges": [] }, "maxExits": 1000000 }
 *   }
 *
 * 64-bit values are hex strings ("0x…") or JSON integers; sizes may also be "64K", "64M", "1G".
 * Every mistake is reported with its JSON path (`td.vcpus: …`), all at once, as a
 * ScenarioError the CLI prints before exiting with status 2. The guest program's arguments are
 * checked against that program's own schema, supplied by the caller (the host does not import
 * the guest library), and image files are read relative to the scenario file.
 * `scenarioJsonSchema()` is what `tdxsim run --schema` prints for editors.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { TdAttributesBit, XfamBit } from '../abi/td-config.ts';
import { GPAW_48, GPAW_52 } from '../abi/gpa.ts';
import { SHA384_SIZE } from '../abi/td-params.ts';
import { PAGE_SIZE } from '../abi/pamt.ts';
import { U64_MASK } from '../abi/bitfield.ts';
import { BOOT_PAGE_GPA } from '../platform/boot-image.ts';
import { FIRMWARE_SLOT } from './vm.ts';

/** A user mistake in a scenario; `issues` are `path: message` lines. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  constructor(
    readonly source: string,
    readonly issues: readonly string[],
  ) {
    super(`${source}: invalid scenario\n${issues.map((i) => `  ${i}`).join('\n')}`);
  }
}

const SIZE_UNITS: Readonly<Record<string, bigint>> = { '': 1n, K: 1n << 10n, M: 1n << 20n, G: 1n << 30n };

const U64_HINT = 'expected a hex string like "0x1000" (at most 16 digits) or a non-negative integer';
const SIZE_HINT = 'expected a size like 4096, "0x1000", "64K", "64M" or "1G"';

/** A u64: a "0x…" hex string or a non-negative JSON integer. */
const u64 = z
  .union([z.string().regex(/^0x[0-9a-fA-F]{1,16}$/, U64_HINT), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)], { error: U64_HINT })
  .transform((v) => BigInt(v));

/** A byte size: an integer, a hex string, or a decimal with a K/M/G suffix ("64M"). */
const size = z
  .union([z.number().int().positive().max(Number.MAX_SAFE_INTEGER), z.string().regex(/^(0x[0-9a-fA-F]{1,16}|\d+[KMG]?)$/, SIZE_HINT)], { error: SIZE_HINT })
  .transform((v) => {
    if (typeof v === 'number') return BigInt(v);
    if (v.startsWith('0x')) return BigInt(v);
    const unit = /[KMG]$/.test(v) ? v.slice(-1) : '';
    return BigInt(unit ? v.slice(0, -1) : v) * SIZE_UNITS[unit]!;
  });

/** A bit set: an array of bit names, or a u64. */
function bitSet<T extends Record<string, number>>(bits: T, what: string) {
  const names = Object.keys(bits) as [string, ...string[]];
  return z
    .union([z.array(z.enum(names)), u64], { error: `expected an array of ${what} bit names (${names.join(', ')}) or a hex value` })
    .transform((v) =>
    Array.isArray(v) ? v.reduce((acc, n) => acc | (1n << BigInt(bits[n]!)), 0n) : v,
  );
}

/** Hex bytes (spaces allowed), at most `max` bytes. */
function hexBytes(max?: number) {
  return z
    .string()
    .transform((s) => s.replace(/\s+/g, '').replace(/^0x/, ''))
    .refine((s) => /^([0-9a-fA-F]{2})*$/.test(s), 'expected hex bytes (an even number of hex digits)')
    .refine((s) => max === undefined || s.length <= 2 * max, `at most ${max} bytes`)
    .transform((s) => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16)));
}

/** A 48-byte measurement field given as up to 48 hex bytes, zero-padded. */
const measurement = hexBytes(SHA384_SIZE).transform((b) => {
  const out = new Uint8Array(SHA384_SIZE);
  out.set(b);
  return out;
});

const imageEntry = z
  .strictObject({
    gpa: u64.describe('private GPA of the first page (4K-aligned)'),
    hex: hexBytes().optional().describe('page contents as hex bytes (zero-padded to whole pages)'),
    file: z.string().min(1).optional().describe('file with the contents, relative to the scenario file'),
    measure: z.boolean().default(true).describe('extend MRTD with the contents (16 × TDH.MR.EXTEND per page)'),
  })
  .refine((e) => (e.hex === undefined) !== (e.file === undefined), { message: 'give exactly one of "hex" or "file"' });

const msrFilter = z.strictObject({
  default: z.enum(['allow', 'deny']).default('allow'),
  ranges: z
    .array(
      z.strictObject({
        base: u64.transform((v) => Number(v)),
        count: z.number().int().positive(),
        accesses: z.array(z.enum(['read', 'write'])).min(1),
        action: z.enum(['allow', 'deny']),
      }),
    )
    .default([]),
});

export const ScenarioSchema = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().min(1).max(100).default('scenario'),
  description: z.string().optional(),
  platform: z
    .strictObject({
      packages: z.number().int().min(1).max(8).default(2),
      lpsPerPackage: z.number().int().min(1).max(64).default(2),
      memory: size.prefault('4G').describe('physical memory of the simulated machine'),
    })
    .prefault({}),
  td: z.strictObject({
    attributes: bitSet(TdAttributesBit, 'TD attribute').prefault(['SEPT_VE_DISABLE']),
    xfam: bitSet(XfamBit, 'XFAM').optional().describe("default: the module's XFAM_FIXED1 (x87, SSE)"),
    vcpus: z.number().int().min(1).max(64).default(1),
    memory: size.describe('guest RAM at GPA 0'),
    gpaw: z.union([z.literal(GPAW_48), z.literal(GPAW_52)]).default(GPAW_48),
    tscKhz: z.number().int().positive().optional(),
    mrconfigid: measurement.optional(),
    mrowner: measurement.optional(),
    mrownerconfig: measurement.optional(),
  }),
  image: z.array(imageEntry).default([]),
  guest: z.strictObject({
    program: z.string().min(1).describe('a built-in guest program (see the catalogue)'),
    args: z.unknown().optional().describe("the program's arguments (JSON), checked by the program"),
  }),
  userspace: z
    .strictObject({
      mmioDevice: u64.optional().describe('GPA of the MMIO test device (shared bit stripped)'),
      quote: z
        .enum(['dcap', 'simulated', 'none'])
        .default('dcap')
        .describe('dcap: DCAP quotes from the simulated quoting infrastructure; simulated: the TDREPORT in a plain envelope; none: no quoting service'),
      eventNotify: z.boolean().default(true),
      mapGpa: z.boolean().default(true).describe('KVM_CAP_EXIT_HYPERCALL for MapGPA'),
      msrFilter: msrFilter.optional(),
      maxExits: z.number().int().positive().default(1_000_000),
    })
    .prefault({}),
});

export type ScenarioInput = z.input<typeof ScenarioSchema>;
type Parsed = z.output<typeof ScenarioSchema>;

/** A validated scenario with image contents loaded. */
export interface Scenario extends Omit<Parsed, 'image'> {
  readonly image: readonly { readonly gpa: bigint; readonly bytes: Uint8Array; readonly measure: boolean }[];
}

/** What the caller knows of the guest programs: their names and argument schemas. */
export interface ProgramCatalogue {
  readonly programs: readonly { readonly name: string; readonly args: z.ZodType }[];
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '') || '(root)';
}

const issueLine = (path: readonly PropertyKey[], message: string) => `${formatPath(path)}: ${message}`;

/**
 * Validate a parsed JSON value as a scenario. `baseDir` resolves image files. Throws
 * ScenarioError listing every problem with its JSON path.
 */
export function parseScenario(json: unknown, catalogue: ProgramCatalogue, baseDir: string, source = 'scenario'): Scenario {
  const res = ScenarioSchema.safeParse(json);
  if (!res.success) throw new ScenarioError(source, res.error.issues.map((i) => issueLine(i.path, i.message)));
  const s = res.data;
  const issues: string[] = [];

  const prog = catalogue.programs.find((p) => p.name === s.guest.program);
  if (!prog) {
    issues.push(issueLine(['guest', 'program'], `unknown guest program "${s.guest.program}"; known: ${catalogue.programs.map((p) => p.name).join(', ')}`));
  } else {
    const a = prog.args.safeParse(s.guest.args ?? {});
    if (!a.success) for (const i of a.error.issues) issues.push(issueLine(['guest', 'args', ...i.path], i.message));
  }
  const lps = s.platform.packages * s.platform.lpsPerPackage;
  if (s.td.vcpus > lps) issues.push(issueLine(['td', 'vcpus'], `${s.td.vcpus} vCPUs need at least as many logical processors; the platform has ${lps}`));
  if (s.td.memory % PAGE_SIZE !== 0n) issues.push(issueLine(['td', 'memory'], 'must be a multiple of 4 KiB'));
  if (s.td.memory > FIRMWARE_SLOT.base) issues.push(issueLine(['td', 'memory'], `at most 0x${FIRMWARE_SLOT.base.toString(16)} bytes (the firmware slot sits below 4 GiB)`));
  if (s.td.memory >= s.platform.memory) issues.push(issueLine(['td', 'memory'], 'must be smaller than the platform memory'));

  const image: { gpa: bigint; bytes: Uint8Array; measure: boolean }[] = [];
  const taken: { start: bigint; end: bigint; at: number }[] = [{ start: BOOT_PAGE_GPA, end: BOOT_PAGE_GPA + PAGE_SIZE, at: -1 }];
  s.image.forEach((e, i) => {
    const path = ['image', i];
    let bytes: Uint8Array | undefined = e.hex;
    if (e.file !== undefined) {
      try {
        bytes = new Uint8Array(readFileSync(resolve(baseDir, e.file)));
      } catch (err) {
        issues.push(issueLine([...path, 'file'], `cannot read ${e.file}: ${(err as Error).message}`));
        return;
      }
    }
    if (!bytes || bytes.length === 0) return void issues.push(issueLine(path, 'the contents are empty'));
    if (e.gpa % PAGE_SIZE !== 0n) return void issues.push(issueLine([...path, 'gpa'], 'must be 4K-aligned'));
    const pages = BigInt(Math.ceil(bytes.length / Number(PAGE_SIZE)));
    const end = e.gpa + pages * PAGE_SIZE;
    const inRam = end <= s.td.memory;
    const inFw = e.gpa >= FIRMWARE_SLOT.base && end <= FIRMWARE_SLOT.base + FIRMWARE_SLOT.size;
    if (!inRam && !inFw) return void issues.push(issueLine([...path, 'gpa'], 'the pages must lie in td.memory or in the firmware slot below 4 GiB'));
    const clash = taken.find((t) => e.gpa < t.end && end > t.start);
    if (clash) {
      return void issues.push(issueLine([...path, 'gpa'], clash.at < 0 ? 'overlaps the boot page at 0xfffff000' : `overlaps image[${clash.at}]`));
    }
    taken.push({ start: e.gpa, end, at: i });
    const padded = new Uint8Array(Number(pages * PAGE_SIZE));
    padded.set(bytes);
    image.push({ gpa: e.gpa & U64_MASK, bytes: padded, measure: e.measure });
  });
  if (issues.length) throw new ScenarioError(source, issues);
  return { ...s, image };
}

/** Read and validate a scenario file. Unreadable or non-JSON files are ScenarioErrors too. */
export function loadScenario(path: string, catalogue: ProgramCatalogue): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ScenarioError(path, [`cannot read the file: ${(e as Error).message}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ScenarioError(path, [`not valid JSON: ${(e as Error).message}`]);
  }
  return parseScenario(json, catalogue, dirname(resolve(path)), path);
}

/** JSON Schema of the scenario format (for editors; `tdxsim run --schema`). */
export function scenarioJsonSchema(): unknown {
  return z.toJSONSchema(ScenarioSchema, { io: 'input', unrepresentable: 'any' });
}
