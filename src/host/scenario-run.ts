/**
 * Running a scenario on a platform: bring the TDX module up the Linux way, build the TD the KVM
 * way (boot page naming the guest program, image pages, measured), run every vCPU with the default
 * userspace, tear the TD down, and tell the story — each phase, MRTD and the RTMRs, the exits by
 * kind, how each vCPU ended, and whether every page came back.
 *
 * The caller supplies the platform with a TDX module loaded and the guest programs registered
 * (the host never constructs the module or imports the guest library). Failures the host reports
 * (HostError) end the run with an `error` in the result rather than an exception.
 */
import type { QuoteService } from './userspace/quote-service.ts';
import { hex64 } from '../abi/bitfield.ts';
import { TdAttributesBit, XfamBit } from '../abi/td-config.ts';
import { PAGE_SIZE } from '../abi/pamt.ts';
import { BOOT_PAGE_GPA, encodeBootPage } from '../platform/boot-image.ts';
import type { Platform } from '../platform/platform.ts';
import { HostError } from './errors.ts';
import { TdxHost } from './tdx-host.ts';
import { formatWarning } from './warn.ts';
import type { Scenario } from './scenario.ts';
import { Userspace } from './userspace/vmm.ts';
import { runVm, type StopReason } from './userspace/vcpu-loop.ts';
import type { SystemEventExit } from './exit-records.ts';
import type { TdxVm } from './vm.ts';

export interface Phase {
  readonly phase: string;
  readonly lines: string[];
}

export interface ScenarioRun {
  readonly name: string;
  readonly phases: Phase[];
  /** MRTD after TDH.MR.FINALIZE, hex; undefined if the TD was not built. */
  mrtd?: string;
  /** RTMR0..3 from the last TDREPORT the guest sent with GetQuote (the host cannot read them). */
  rtmrs?: string[];
  /** The last quote the quoting service produced for the guest. */
  quote?: Uint8Array;
  /** TD exits by reason (as the host saw them) and records returned to userspace by kind. */
  readonly exits: { td: Record<string, number>; user: Record<string, number> };
  readonly vcpus: { index: number; stop: StopReason; error?: string }[];
  readonly fatal?: { vcpu: number; message: string; errorCode: string };
  readonly serial: string[];
  readonly warnings: string[];
  /** SEAMCALLs issued, by leaf, over the whole run. */
  readonly seamcalls: Record<string, number>;
  teardown?: { reclaimed: number; leaked: number; hostPagesRestored: boolean };
  /** The HostError that stopped the run, if one did. */
  error?: string;
}

const hexBytes = (b: Uint8Array) => Buffer.from(b).toString('hex');
const mib = (v: bigint) => (v % (1n << 20n) === 0n ? `${v >> 20n} MiB` : v % 1024n === 0n ? `${v >> 10n} KiB` : `${v} bytes`);

function bitNames(value: bigint, bits: Readonly<Record<string, number>>): string {
  const names = Object.entries(bits).filter(([, b]) => (value >> BigInt(b)) & 1n).map(([n]) => n);
  return names.length ? names.join('|') : 'none';
}

function counts(map: Map<string, number>, into: Record<string, number>): void {
  for (const [k, v] of map) into[k] = (into[k] ?? 0) + v;
}

export interface ScenarioRunOptions {
  /**
   * The quoting service behind GetQuote when the scenario asks for DCAP quotes. The host does not
   * build one itself: quoting infrastructure is the caller's (as QGS is to QEMU). Without it a
   * `dcap` scenario's GetQuote reports SERVICE_UNAVAILABLE.
   */
  readonly quoteService?: QuoteService;
}

/** The quote service a scenario's userspace uses: null = none (SERVICE_UNAVAILABLE), undefined = the envelope. */
function quoteServiceFor(s: Scenario, options: ScenarioRunOptions): QuoteService | null | undefined {
  if (s.userspace.quote === 'none') return null;
  if (s.userspace.quote === 'simulated') return undefined;
  return options.quoteService ?? null;
}

/** Run a validated scenario on `platform` (module loaded, guest programs registered). */
export function runScenario(s: Scenario, platform: Platform, options: ScenarioRunOptions = {}): ScenarioRun {
  const warnings: string[] = [];
  const serial: string[] = [];
  const run: ScenarioRun = { name: s.name, phases: [], exits: { td: {}, user: {} }, vcpus: [], serial, warnings, seamcalls: {} };
  const phase = (name: string, ...lines: string[]) => run.phases.push({ phase: name, lines });
  let host: TdxHost | undefined;
  let vm: TdxVm | undefined;
  try {
    host = TdxHost.bringUp(platform, { warnings: { sink: (w) => warnings.push(formatWarning(w)) } });
    const info = host.sysinfo;
    const c = host.sc.log.counts;
    phase(
      'bring-up',
      `TDX module ${info.version.major}.${info.version.minor}.${info.version.update}, TDX_FEATURES0 ${hex64(info.features0)}`,
      `KeyIDs: global ${host.globalKeyId}, ${host.hkids.count} for TDs`,
      ...host.tdmrs.map((t) => `TDMR [0x${t.base.toString(16)}, +${mib(t.size)}): PAMT ${mib(t.pamt4k.size + t.pamt2m.size + t.pamt1g.size)}, ${t.reserved.length} reserved areas`),
      `SEAMCALLs: ${[...c].map(([k, v]) => `${v}× ${k}`).join(', ')}`,
    );
    const hostPagesBefore = host.memory.pagesInUse;

    vm = host.createVm({
      attributes: s.td.attributes,
      ...(s.td.xfam !== undefined && { xfam: s.td.xfam }),
      maxVcpus: s.td.vcpus,
      gpaw: s.td.gpaw,
      ...(s.td.tscKhz !== undefined && { tscKhz: s.td.tscKhz }),
      ...(s.td.mrconfigid && { mrConfigId: s.td.mrconfigid }),
      ...(s.td.mrowner && { mrOwner: s.td.mrowner }),
      ...(s.td.mrownerconfig && { mrOwnerConfig: s.td.mrownerconfig }),
      memorySize: s.td.memory,
      exitOnMapGpa: s.userspace.mapGpa,
      ...(s.userspace.msrFilter && { msrFilter: s.userspace.msrFilter }),
    });
    for (let i = 0; i < s.td.vcpus; i++) vm.createVcpu();
    phase(
      'TD created',
      `HKID ${vm.hkid}, attributes ${bitNames(s.td.attributes, TdAttributesBit)}, XFAM ${bitNames(s.td.xfam ?? host.sysinfo.xfamFixed1, XfamBit)}, GPAW ${vm.addressing.gpaw}`,
      `${s.td.vcpus} vCPU(s): ${vm.vcpus.map((v) => `vCPU ${v.index} on LP ${v.lp.id}`).join(', ')}; RAM ${mib(s.td.memory)}`,
    );

    vm.initMemRegion(BOOT_PAGE_GPA, encodeBootPage({ program: s.guest.program, args: s.guest.args ?? {} }), { measure: true });
    for (const e of s.image) vm.initMemRegion(e.gpa, e.bytes, { measure: e.measure });
    vm.finalize();
    run.mrtd = hexBytes(vm.mrtd());
    const pages = s.image.reduce((n, e) => n + e.bytes.length / Number(PAGE_SIZE), 0);
    phase('TD finalized', `boot page at 0x${BOOT_PAGE_GPA.toString(16)} runs "${s.guest.program}"; ${pages} image page(s)`, `MRTD ${run.mrtd}`);

    const user = new Userspace(vm, {
      ...(s.userspace.mmioDevice !== undefined && { mmioDeviceGpa: s.userspace.mmioDevice }),
      quoteService: quoteServiceFor(s, options),
      eventNotify: s.userspace.eventNotify,
      onSerialLine: (l) => serial.push(l),
    });
    const outcomes = runVm(vm, user, { maxExits: s.userspace.maxExits });
    if (user.serial.pendingText) serial.push(user.serial.pendingText);
    for (const v of vm.vcpus) {
      counts(v.stats.tdExits, run.exits.td);
      counts(v.stats.userExits, run.exits.user);
    }
    for (const o of outcomes) run.vcpus.push({ index: o.vcpu, stop: o.stop, ...(o.error !== undefined && { error: o.error }) });
    const fatal = outcomes.find((o) => o.last?.kind === 'system_event');
    if (fatal) {
      const ev = fatal.last as SystemEventExit;
      Object.assign(run, { fatal: { vcpu: fatal.vcpu, message: ev.message, errorCode: hex64(ev.data[12] ?? 0n) } });
    }
    if (user.lastQuote) run.quote = user.lastQuote;
    if (user.lastReport) {
      const t = user.lastReport.tdInfo;
      run.rtmrs = [t.rtmr0, t.rtmr1, t.rtmr2, t.rtmr3].map(hexBytes);
    }
    phase(
      'run',
      ...serial.map((l) => `| ${l}`),
      `TD exits: ${fmtCounts(run.exits.td)}`,
      `userspace exits: ${fmtCounts(run.exits.user)}`,
      ...run.vcpus.map((v) => `vCPU ${v.index}: ${v.stop}${v.error ? ` (${v.error})` : ''}`),
      ...(run.fatal ? [`fatal error from vCPU ${run.fatal.vcpu}: "${run.fatal.message}" (code ${run.fatal.errorCode})`] : []),
      ...(run.rtmrs ? run.rtmrs.map((r, i) => `RTMR${i} ${r}`) : ['RTMRs: not visible to the host (no TDREPORT was sent with GetQuote)']),
      ...(user.quotes ? [`quotes served: ${user.quotes} (${user.quoteService?.name ?? 'none'})`] : []),
    );

    const report = vm.destroy();
    vm = undefined;
    run.teardown = { ...report, hostPagesRestored: host.memory.pagesInUse === hostPagesBefore };
    phase('teardown', `reclaimed ${report.reclaimed} pages, leaked ${report.leaked}; host memory back to its state before the TD: ${run.teardown.hostPagesRestored ? 'yes' : 'no'}`);
  } catch (e) {
    if (!(e instanceof HostError)) throw e;
    run.error = e.message;
    phase('failed', e.message);
    vm?.destroy();
  }
  if (host) for (const [k, v] of host.sc.log.counts) run.seamcalls[k] = v;
  return run;
}

function fmtCounts(c: Record<string, number>): string {
  const e = Object.entries(c).sort(([a], [b]) => a.localeCompare(b));
  return e.length ? e.map(([k, v]) => `${k} ${v}`).join(', ') : 'none';
}

/** The readable story of a run, one line per fact, phases as headings. */
export function formatStory(run: ScenarioRun): string {
  const out = [`scenario: ${run.name}`];
  for (const p of run.phases) {
    out.push(`== ${p.phase}`);
    for (const l of p.lines) out.push(`   ${l}`);
  }
  if (run.warnings.length) {
    out.push('== host warnings');
    for (const w of run.warnings) out.push(`   ${w}`);
  }
  return out.join('\n') + '\n';
}
