/**
 * The emit points wired into the simulator: a small TD runs with a RecordingTracer on its
 * platform, and the trace must show each crossing, in order, with its registers decoded — the
 * IO TDVMCALL round trip through all four parties, SEAMCALLs on error paths, page state changes
 * for AUG/ACCEPT, the MRTD blocks — and nothing at all with tracing off. Then the CLI's --trace.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GPA_AND_LEVEL, LEAF_WORD } from '../../src/abi/operands.ts';
import { RegisterFile } from '../../src/abi/registers.ts';
import { SeamcallLeaf } from '../../src/abi/seamcall-leaves.ts';
import { TdcallLeaf } from '../../src/abi/tdcall-leaves.ts';
import { TdvmcallSubfunction } from '../../src/abi/tdvmcall.ts';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';
import { tdcall } from '../../src/guest/tdcall.ts';
import { callLeaf } from '../../src/platform/leaf-call.ts';
import { SimClock } from '../../src/trace/clock.ts';
import type { ChromeTrace } from '../../src/trace/chrome.ts';
import type { TraceEvent } from '../../src/trace/events.ts';
import { parseJsonl } from '../../src/trace/jsonl.ts';
import { NULL_TRACER, RecordingTracer, type Tracer } from '../../src/trace/tracer.ts';
import { bootTd, halt, hostEnv, vmcall, type HostEnv } from '../host/host-env.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const IO = BigInt(TdvmcallSubfunction.IO.number);
const hex = (v: bigint): string => `0x${v.toString(16).toUpperCase().padStart(16, '0')}`;

/** A platform with the module up and a RecordingTracer installed before anything runs. */
function traced(): { env: HostEnv; tracer: RecordingTracer } {
  const env = hostEnv();
  const tracer = new RecordingTracer();
  env.platform.tracer = tracer;
  return { env, tracer };
}

describe('trace wiring: an IO TDVMCALL round trip', () => {
  const { env, tracer } = traced();
  let td: ReturnType<typeof bootTd>;
  let chain: TraceEvent[] = [];
  let refused: TraceEvent | undefined;

  before(() => {
    td = bootTd(env, function* (cpu) {
      yield* vmcall(cpu, IO, { R12: 2n, R13: 0n, R14: 0x71n }); // IN, 2 bytes, port 0x71
      yield* vmcall(cpu, 0x1_00ffn); // a sub-function no VMM implements
      yield* halt(cpu);
    });
    const { vcpu } = td;
    const start = tracer.events.length;
    assert.equal(vcpu.run().kind, 'io');
    vcpu.complete({ kind: 'io', data: 0xbeefn });
    assert.equal(vcpu.run().kind, 'hlt');
    const run = tracer.events.slice(start);
    const open = run.find((e) => e.kind === 'tdcall' && e.flowOut !== undefined)!;
    chain = run.filter((e) => e.seq === open.seq || e.flowIn === open.seq);
    refused = run.find((e) => e.kind === 'resume' && e.name.includes('0x00000000000100FF'));
  });
  after(() => td.vm.destroy());

  it('is one chain, in the order the parties act: guest, module, host, userspace, module, guest', () => {
    assert.deepEqual(
      chain.map((e) => `${e.party}:${e.kind}`),
      ['guest:tdcall', 'module:td_exit', 'host:tdvmcall', 'userspace:user_exit', 'userspace:user_complete', 'module:td_entry', 'guest:resume'],
    );
    const id = chain[0]!.seq;
    assert.equal(chain[0]!.flowOut, id);
    for (const e of chain.slice(1)) assert.equal(e.flowIn, id, `${e.kind} continues the chain`);
    // Consecutive events: nothing else happened on the way, and time only moves forward.
    assert.deepEqual(chain.map((e) => e.seq - id), [0, 1, 2, 3, 4, 5, 6]);
    for (let i = 1; i < chain.length; i++) assert.equal(chain[i]!.time, chain[i - 1]!.time + chain[i - 1]!.duration);
    for (const e of chain) {
      assert.equal(e.td, hex(td.vm.tdr));
      assert.equal(e.vcpu, 0);
      assert.equal(typeof e.lp, 'number');
    }
  });

  it('the guest TDCALL names the sub-function and decodes its operands', () => {
    const [call] = chain;
    assert.equal(call!.name, 'TDG.VP.VMCALL<Instruction.IO>');
    assert.equal(call!.in!.rax, hex(0n));
    assert.equal(call!.in!.r10, hex(0n));
    assert.equal(call!.in!.r11, hex(IO));
    assert.equal(call!.fields!['in.port'], hex(0x71n));
    assert.equal(call!.fields!['in.size'], hex(2n));
    assert.equal(call!.fields!['in.direction'], hex(0n));
    assert.equal(call!.status, undefined, 'no status yet: the TDCALL left the TD');
  });

  it('the TD exit returns exit reason TDCALL with the guest\'s registers, decoded', () => {
    const exit = chain[1]!;
    assert.equal(exit.name, 'TD exit: TDCALL');
    assert.equal(exit.out!.rax, hex(77n));
    assert.equal(exit.status!.name, 'TDX_SUCCESS');
    assert.equal(exit.status!.detail, 'TDCALL (77)');
    assert.equal(exit.out!.r14, hex(0x71n));
    assert.equal(exit.fields!['out.subfunction'], 'Instruction.IO');
  });

  it('the host handles it and userspace sees KVM_EXIT_IO, then answers', () => {
    const [, , host, userExit, complete] = chain;
    assert.equal(host!.name, 'Instruction.IO');
    assert.equal(host!.vmmStatus!.name, 'TDVMCALL_STATUS_SUCCESS');
    assert.equal(host!.vmmStatus!.domain, 'tdvmcall');
    assert.equal(host!.status, undefined, 'the host handling carries no module status');
    assert.equal(userExit!.name, 'KVM_EXIT_IO');
    assert.deepEqual(userExit!.data, { kind: 'io', exitReason: 2, direction: 'in', size: 2, port: 0x71, count: 1, data: hex(0n) });
    assert.equal(complete!.name, 'complete io');
    assert.deepEqual(complete!.data, { kind: 'io', data: hex(0xbeefn) });
  });

  it('TD entry carries the reply, and the guest resumes with RAX = 0 and R10 = SUCCESS, decoded apart', () => {
    const [, , , , , entry, resume] = chain;
    assert.equal(entry!.in!.r11, hex(0xbeefn));
    assert.equal(entry!.fields!['in.vcpu.tdvpr_page'], `0x${(td.vcpu.tdvprPa >> 12n).toString(16).toUpperCase()}`);
    assert.equal(resume!.name, 'TDG.VP.VMCALL<Instruction.IO>');
    assert.equal(resume!.out!.rax, hex(0n));
    assert.equal(resume!.out!.r10, hex(0n));
    assert.equal(resume!.out!.r11, hex(0xbeefn));
    assert.equal(resume!.fields!['out.data'], hex(0xbeefn));
    assert.equal(resume!.status!.name, 'TDX_SUCCESS');
    assert.equal(resume!.status!.domain, 'tdx');
    assert.equal(resume!.vmmStatus!.name, 'TDVMCALL_STATUS_SUCCESS');
  });

  it('a refusal by the VMM is an R10 error while RAX says the TDCALL succeeded', () => {
    assert.ok(refused);
    assert.equal(refused.status!.name, 'TDX_SUCCESS');
    assert.equal(refused.status!.error, false);
    assert.equal(refused.vmmStatus!.name, 'TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED');
    assert.equal(refused.vmmStatus!.error, true);
    assert.equal(refused.out!.r10, hex(TdvmcallStatus.SUBFUNC_UNSUPPORTED));
  });

  it('TDH.VP.ENTER is traced only as TD entry and TD exit, never as a SEAMCALL', () => {
    assert.equal(tracer.events.filter((e) => e.kind === 'seamcall' && e.name === 'TDH.VP.ENTER').length, 0);
    assert.ok(tracer.events.filter((e) => e.kind === 'td_entry').length >= 3);
  });
});

describe('trace wiring: SEAMCALLs on error paths', () => {
  const { env, tracer } = traced();

  it('a refused SEAMCALL records its operands and decoded status', () => {
    const lp = env.platform.lps[1]!;
    const gpaLevel = GPA_AND_LEVEL.encode({ gpa_page: 0x200n, level: 0n });
    const r = callLeaf(lp, SeamcallLeaf.TDH_MEM_PAGE_AUG, { gpaLevel, tdr: 0x1234_5000n, page: 0x4000_0000n });
    const e = tracer.events.at(-1)!;
    assert.equal(e.kind, 'seamcall');
    assert.equal(e.party, 'host');
    assert.equal(e.name, 'TDH.MEM.PAGE.AUG');
    assert.equal(e.lp, 1);
    assert.equal(e.td, hex(0x1234_5000n), 'the TD is the tdr operand');
    assert.equal(e.in!.rax, hex(LEAF_WORD.encode({ leaf: BigInt(SeamcallLeaf.TDH_MEM_PAGE_AUG.number) })));
    assert.equal(e.in!.rcx, hex(gpaLevel));
    assert.equal(e.in!.rdx, hex(0x1234_5000n));
    assert.equal(e.fields!['in.gpaLevel.gpa_page'], '0x200');
    assert.equal(e.out!.rax, hex(r.status));
    assert.equal(e.status!.value, hex(r.status));
    assert.equal(e.status!.error, true);
    assert.equal(e.status!.detailKind, 'operand');
    assert.equal(e.status!.detail, 'RDX');
    assert.ok(e.status!.name);
  });

  it('a leaf number no table knows is named by its number, with OPERAND_INVALID | RAX', () => {
    const regs = RegisterFile.from({ RAX: 0x7777n });
    env.platform.lps[0]!.seamcall(regs);
    const e = tracer.events.at(-1)!;
    assert.equal(e.name, 'SEAMCALL leaf 0x0000000000007777');
    assert.equal(e.status!.name, 'TDX_OPERAND_INVALID');
    assert.equal(e.status!.detail, 'RAX');
    assert.equal(e.fields, undefined);
  });

  it('a SEAMCALL that never reaches the module (#UD) is not a module crossing', () => {
    const lp = env.platform.lps[0]!;
    const before = tracer.events.length;
    lp.vmxRoot = false;
    try {
      lp.call({ RAX: 0n });
    } finally {
      lp.vmxRoot = true;
    }
    assert.equal(tracer.events.length, before);
  });
});

describe('trace wiring: pages and measurement', () => {
  const { env, tracer } = traced();
  const GPA = 0x30_0000n;
  let accepted: bigint | undefined;
  let td: ReturnType<typeof bootTd>;

  before(() => {
    td = bootTd(env, function* (cpu) {
      const r = yield* tdcall(cpu, TdcallLeaf.TDG_MEM_PAGE_ACCEPT, { gpaLevel: GPA });
      accepted = r.status;
      yield* halt(cpu);
    });
    assert.equal(td.vcpu.run().kind, 'hlt');
  });
  after(() => td.vm.destroy());

  it('PAGE.AUG makes the page PENDING and TDG.MEM.PAGE.ACCEPT makes it MAPPED, each inside its call', () => {
    assert.equal(accepted, 0n);
    const tdr = hex(td.vm.tdr);
    const pages = tracer.events.filter((e) => e.kind === 'page' && e.data!.gpa === hex(GPA));
    assert.deepEqual(
      pages.map((e) => [e.party, e.name, e.td, e.data]),
      [
        ['module', 'FREE → PENDING', tdr, { gpa: hex(GPA), from: 'FREE', to: 'PENDING', level: 0 }],
        ['module', 'PENDING → MAPPED', tdr, { gpa: hex(GPA), from: 'PENDING', to: 'MAPPED', level: 0 }],
      ],
    );
    // A state change happens inside the call that makes it: the instant comes first and sits at
    // the start of the call's span, which is emitted when the call returns.
    const byseq = (seq: number) => tracer.events.find((e) => e.seq === seq)!;
    const aug = byseq(pages[0]!.seq + 1);
    assert.equal(aug.name, 'TDH.MEM.PAGE.AUG');
    assert.equal(aug.status!.name, 'TDX_SUCCESS');
    assert.equal(aug.time, pages[0]!.time);
    const accept = byseq(pages[1]!.seq + 1);
    assert.equal(accept.kind, 'tdcall');
    assert.equal(accept.name, 'TDG.MEM.PAGE.ACCEPT');
    assert.equal(accept.status!.name, 'TDX_SUCCESS');
    assert.equal(accept.out!.rax, hex(0n));
    assert.equal(accept.time, pages[1]!.time);
    assert.equal(pages[0]!.duration, 0, 'state changes are instants');
  });

  it('MRTD: the PAGE.ADD block, one MR.EXTEND per 256 bytes, then MR.FINALIZE, each with the digest so far', () => {
    const measures = tracer.events.filter((e) => e.kind === 'measure');
    assert.deepEqual(
      measures.map((e) => e.name),
      ['MRTD MEM.PAGE.ADD', ...Array<string>(16).fill('MRTD MR.EXTEND'), 'MRTD MR.FINALIZE'],
    );
    const mrtd = Buffer.from(td.vm.mrtd()).toString('hex');
    assert.equal(measures.at(-1)!.data!.digest, mrtd);
    // "As if finalised now": after the last block, the running digest is already the final one.
    assert.equal(measures.at(-2)!.data!.digest, mrtd);
    assert.notEqual(measures[0]!.data!.digest, mrtd);
    assert.equal(measures[0]!.data!.gpa, measures[1]!.data!.gpa, 'the boot page is added, then its content measured');
    assert.equal(measures[2]!.data!.gpa, hex(BigInt(measures[1]!.data!.gpa as string) + 256n));
    for (const m of measures) assert.equal(m.data!.register, 'MRTD');
  });
});

describe('trace wiring: tracing off', () => {
  it('the platform starts with NULL_TRACER', () => {
    assert.equal(hostEnv().platform.tracer, NULL_TRACER);
  });

  it('a disabled tracer is never asked for a sequence number or given an event', () => {
    let calls = 0;
    const off: Tracer = {
      enabled: false,
      nextSeq: () => ++calls,
      emit: () => void calls++,
      clock: new SimClock(),
    };
    const env = hostEnv();
    env.platform.tracer = off;
    const { vm, vcpu } = bootTd(env, function* (cpu) {
      yield* tdcall(cpu, TdcallLeaf.TDG_MEM_PAGE_ACCEPT, { gpaLevel: 0x30_0000n });
      yield* vmcall(cpu, IO, { R12: 1n, R13: 1n, R14: 0x80n, R15: 1n });
      yield* halt(cpu);
    });
    assert.equal(vcpu.run().kind, 'io');
    assert.equal(vcpu.run().kind, 'hlt');
    vm.setMemoryAttributes(0x40_0000n, 0x1000n, false);
    vm.destroy();
    assert.equal(calls, 0);
    assert.equal(off.clock.now, 0);
  });
});

describe('trace wiring: tdxsim run --trace', () => {
  let dir: string;
  let scenario: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tdxsim-trace-cli-'));
    scenario = join(dir, 'tiny.json');
    writeFileSync(scenario, JSON.stringify({ name: 'tiny', td: { vcpus: 1, memory: '8M' }, guest: { program: 'hello', args: { message: 'hi' } } }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const tdxsim = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8' });

  it('writes JSON lines the validating reader accepts, and says so on stderr', () => {
    const out = join(dir, 'tiny.jsonl');
    const r = tdxsim('run', scenario, '--trace', out, '--json');
    assert.equal(r.status, 0, r.stderr);
    JSON.parse(r.stdout); // stdout stays one JSON document
    const t = parseJsonl(readFileSync(out, 'utf8'), { source: out });
    assert.equal(t.header.source, 'tiny');
    assert.match(r.stderr, new RegExp(`^trace: ${t.events.length} trace events written to .*tiny\\.jsonl \\(JSON lines\\)\\n$`));
    const kinds = new Set(t.events.map((e) => e.kind));
    for (const k of ['seamcall', 'measure', 'page', 'td_entry', 'td_exit', 'tdcall', 've', 'tdvmcall', 'user_exit', 'resume'] as const) assert.ok(kinds.has(k), `has ${k}`);
    // The same run again gives the same bytes: the trace is deterministic.
    const again = join(dir, 'again.jsonl');
    assert.equal(tdxsim('run', scenario, '--trace', again).status, 0);
    assert.equal(readFileSync(again, 'utf8'), readFileSync(out, 'utf8'));
  });

  it('--format chrome writes Trace Event JSON with one slice per crossing', () => {
    const jsonl = parseJsonl(readFileSync(join(dir, 'tiny.jsonl'), 'utf8'));
    const out = join(dir, 'tiny.chrome.json');
    const r = tdxsim('run', scenario, '--trace', out, '--format', 'chrome');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /\(Chrome Trace Event JSON\)\n$/);
    const chrome = JSON.parse(readFileSync(out, 'utf8')) as ChromeTrace;
    const slices = chrome.traceEvents.filter((e) => e.ph === 'X');
    assert.equal(slices.length, jsonl.events.filter((e) => e.duration > 0).length);
    assert.equal(chrome.otherData?.source, 'tiny');
    assert.ok(chrome.traceEvents.some((e) => e.ph === 's'), 'round trips are drawn as flows');
  });

  it('refuses a bad format, and --format without --trace (exit 2)', () => {
    const bad = tdxsim('demo', '--trace', join(dir, 'x'), '--format', 'csv');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--format csv: the trace format must be jsonl or chrome/);
    const lone = tdxsim('run', scenario, '--format', 'chrome');
    assert.equal(lone.status, 2);
    assert.match(lone.stderr, /--format chooses the trace file format: give the file with --trace FILE/);
  });
});
