/**
 * Write test/fixtures/traces/demo.jsonl: a trace recorded from a real simulator run — the demo
 * scenario (`tdxsim demo`: same machine, same TD attributes, same userspace) running a smaller
 * guest program, so the file stays under 1 MB while still holding every kind of crossing:
 *
 *   platform bring-up and the TD build (SEAMCALLs, MRTD blocks, MR.FINALIZE);
 *   early init (TDG.VP.INFO, #VE handler, SEPT #VE policy) and a small heap accepted
 *   (PAGE.AUG → PENDING on the private-memory fault, TDG.MEM.PAGE.ACCEPT → MAPPED);
 *   a page converted to shared and back (MapGPA → KVM_EXIT_HYPERCALL, BLOCK/REMOVE, SHARED);
 *   a misaligned MapGPA and an unknown sub-function the VMM refuses (R10 = ALIGN_ERROR,
 *   SUBFUNC_UNSUPPORTED; RAX = TDX_SUCCESS), and a page accepted twice (TDX_PAGE_ALREADY_ACCEPTED);
 *   an event measured into RTMR2, a TDREPORT and a GetQuote (KVM_EXIT_TDX);
 *   one byte on the serial console (#VE → TDVMCALL<Instruction.IO> → KVM_EXIT_IO);
 *   HLT, and the teardown; then one host mistake — TDH.MEM.PAGE.ADD to the TD that is gone —
 *   so the trace holds a SEAMCALL the module refuses.
 *
 * The demo program itself prints several lines, one #VE round trip per byte, which would make the
 * file several MB; this one prints one byte. Runs are deterministic (the simulated clock, fixed
 * REPORTDATA and event; the host allocates pages in a fixed order), so regenerating gives the same
 * bytes — test/trace/jsonl.test.ts checks that.
 *
 *   npx tsx scripts/make-fixture-trace.ts [out.jsonl]
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { TcgEventType } from '../src/abi/td-guest.ts';
import { REPORTDATA_SIZE } from '../src/abi/tdreport.ts';
import { DEMO_SCENARIO } from '../src/cli/commands/demo.ts';
import { scenarioPlatform } from '../src/cli/commands/run.ts';
import { getQuote, getReport, measureEvent } from '../src/guest/attestation.ts';
import { mapGpa } from '../src/guest/ghci.ts';
import { tdxHypercall } from '../src/guest/hypercall.ts';
import { earlyInit, haltForever } from '../src/guest/kernel.ts';
import { acceptMemory, setMemoryPrivate, setMemoryShared } from '../src/guest/memory.ts';
import { panic } from '../src/guest/panic.ts';
import { defineProgram, programFactory } from '../src/guest/programs/define.ts';
import { GUEST_PROGRAMS } from '../src/guest/programs/index.ts';
import { runScenario } from '../src/host/scenario-run.ts';
import { SeamcallLeaf } from '../src/abi/seamcall-leaves.ts';
import { callLeaf } from '../src/platform/leaf-call.ts';
import { parseScenario } from '../src/host/scenario.ts';
import type { TraceEvent } from '../src/trace/events.ts';
import { formatJsonl } from '../src/trace/jsonl.ts';
import { RecordingTracer } from '../src/trace/tracer.ts';

const PAGE = 4096n;
/** Guest memory the program uses: a 4-page heap at 1 MiB and 2 more pages accepted at 2 MiB. */
const HEAP = { gpa: 1n << 20n, size: 4n * PAGE };
const ACCEPT = { gpa: 2n << 20n, size: 2n * PAGE };
/** A GHCI sub-function number (R11) that no VMM implements. */
const UNKNOWN_SUBFUNCTION = 0x1_00ffn;

/** The fixture's guest program: the demo's steps, with one byte on the console. */
const fixtureProgram = defineProgram({
  name: 'trace-fixture',
  summary: 'the demo steps in miniature, for the trace fixture',
  args: z.strictObject({}),
  *run(cpu) {
    const k = yield* earlyInit(cpu, { heap: HEAP });
    const accepted = yield* acceptMemory(k, ACCEPT.gpa, ACCEPT.size);
    if (!accepted.ok) return yield* panic(cpu, 'fixture: accept failed');
    const page = k.pages.alloc() ?? (yield* panic(cpu, 'fixture: no free page'));
    const shared = yield* setMemoryShared(k, page, PAGE);
    const back = yield* setMemoryPrivate(k, page, PAGE);
    if (!shared.ok || !back.ok) return yield* panic(cpu, 'fixture: conversion failed');
    k.pages.free(page);
    // A MapGPA that is not page-aligned: the VMM refuses it in R10 while RAX says TDCALL succeeded.
    yield* mapGpa(cpu, (page | k.sharedBit) + 8n, PAGE);
    yield* tdxHypercall(cpu, UNKNOWN_SUBFUNCTION);
    yield* acceptMemory(k, ACCEPT.gpa, PAGE);
    const measured = yield* measureEvent(k, 2, TcgEventType.EV_IPL, new TextEncoder().encode('tdxsim trace fixture'));
    if (!measured.ok) return yield* panic(cpu, 'fixture: RTMR extend failed');
    const reportData = new Uint8Array(REPORTDATA_SIZE);
    reportData.set(new TextEncoder().encode('tdxsim trace fixture'));
    const rep = yield* getReport(k, reportData);
    if (!rep.ok) return yield* panic(cpu, 'fixture: TDREPORT failed');
    const q = yield* getQuote(k, rep.report, { pages: 1 });
    if (!q.ok) return yield* panic(cpu, 'fixture: GetQuote failed');
    yield* k.console.write('!');
    yield* haltForever(cpu);
  },
});

/** The demo scenario with the fixture program and a smaller TD. */
const FIXTURE_SCENARIO = Object.freeze({
  ...DEMO_SCENARIO,
  name: 'trace-fixture',
  description: 'The demo scenario with a miniature guest program (scripts/make-fixture-trace.ts)',
  td: { ...DEMO_SCENARIO.td, memory: '8M' },
  guest: { program: fixtureProgram.name, args: {} },
  // The envelope quote, not a DCAP one: DCAP quotes are signed with fresh keys, and the fixture
  // must come out byte-identical every time.
  userspace: { ...DEMO_SCENARIO.userspace, quote: 'simulated' },
});

export const DEMO_TRACE_SOURCE = 'tdxsim demo scenario, trace-fixture guest (scripts/make-fixture-trace.ts)';

/** Run the fixture scenario with tracing on and return its events. */
export function buildDemoTrace(): TraceEvent[] {
  const scenario = parseScenario(FIXTURE_SCENARIO, { programs: [...GUEST_PROGRAMS, fixtureProgram] }, process.cwd(), 'trace fixture');
  const platform = scenarioPlatform(scenario);
  platform.firmware.register(fixtureProgram.name, programFactory(fixtureProgram));
  const tracer = new RecordingTracer();
  platform.tracer = tracer;
  const run = runScenario(scenario, platform);
  if (run.error !== undefined || run.fatal !== undefined) throw new Error(`the fixture run failed: ${run.error ?? run.fatal?.message}`);
  const tdr = tracer.events.find((e) => e.name === SeamcallLeaf.TDH_MNG_CREATE.mnemonic)!.in!.rcx!;
  callLeaf(platform.lps[0]!, SeamcallLeaf.TDH_MEM_PAGE_ADD, { gpaLevel: 0n, tdr: BigInt(tdr), page: 0n, source: 0n });
  return tracer.events;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[2] ?? fileURLToPath(new URL('../test/fixtures/traces/demo.jsonl', import.meta.url));
  const events = buildDemoTrace();
  writeFileSync(out, formatJsonl(events, DEMO_TRACE_SOURCE));
  console.log(`wrote ${events.length} events to ${out}`);
}
