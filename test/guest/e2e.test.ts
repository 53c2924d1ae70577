/**
 * End to end: built-in guest programs booted from their boot page in a real TD (module harness,
 * real SEAMCALLs and TDH.VP.ENTER), against a small scripted host that answers TDVMCALL exits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegisterFile } from '../../src/abi/registers.ts';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';
import { TdvmcallSubfunction } from '../../src/abi/tdvmcall.ts';
import { GET_QUOTE_HEADER, GET_QUOTE_HEADER_SIZE } from '../../src/abi/get-quote.ts';
import { tdreportOffset } from '../../src/abi/tdreport.ts';
import { KEYID_NONE } from '../../src/platform/memory.ts';
import { encodeBootPage } from '../../src/platform/boot-image.ts';
import { decodeFatalError, type GuestPanic } from '../../src/guest/panic.ts';
import { registerGuestPrograms } from '../../src/guest/programs/index.ts';
import { bringUp, type ModuleEnv } from '../helpers/module-harness.ts';
import { attachSharedEpt, buildRunnableTd, HostLoop, type TdExit } from '../helpers/td-runner.ts';

const SHARED = 1n << 47n;
const Sub = TdvmcallSubfunction;

interface Story {
  serial: string;
  calls: string[];
  panic?: GuestPanic;
  halted: boolean;
  last: TdExit;
}

/** What the scripted host does for one TDVMCALL besides the defaults; undefined = default. */
type Handler = (exit: TdExit, reply: RegisterFile, env: ModuleEnv) => RegisterFile | 'stop';

/** Boot `program` with `args` from its boot page and run it until it halts or panics. */
interface BootOptions {
  handlers?: Record<number, Handler>;
  /** Private pages added (and so accepted) at build. */
  pages?: bigint[];
  attributes?: bigint;
  setup?: (env: ModuleEnv, td: ReturnType<typeof buildRunnableTd>) => void;
}

function boot(program: string, args: unknown, opts: BootOptions = {}) {
  const env = bringUp();
  registerGuestPrograms(env.platform.firmware);
  const td = buildRunnableTd(env, {
    program: function* () {}, // unused: the boot page below names the catalogue program
    bootPage: encodeBootPage({ program, args }),
    pages: (opts.pages ?? []).map((gpa) => ({ gpa })),
    ...(opts.attributes !== undefined && { attributes: opts.attributes }),
  });
  opts.setup?.(env, td);
  const story: Story = { serial: '', calls: [], halted: false, last: undefined as never };
  const host = new HostLoop(env, td.vcpus[0]!.tdvpr);
  story.last = host.run((exit) => {
    if (!exit.tdvmcall) {
      story.calls.push(`exit ${exit.reason} status 0x${exit.status.toString(16)}`);
      return 'stop';
    }
    const regs = exit.regs;
    const sub = Number(regs.get('R11'));
    const name = Object.values(Sub).find((s) => s.number === sub)?.name ?? `0x${sub.toString(16)}`;
    const reply = regs.clone();
    reply.set('R10', TdvmcallStatus.SUCCESS);
    if (sub === Sub.IO.number && regs.get('R13') === 1n && regs.get('R14') === 0x3f8n) {
      story.serial += String.fromCharCode(Number(regs.get('R15') & 0xffn));
      return reply;
    }
    story.calls.push(name);
    if (sub === Sub.REPORT_FATAL_ERROR.number) {
      story.panic = decodeFatalError(regs);
      return 'stop';
    }
    if (sub === Sub.HLT.number && regs.get('R12') === 1n) {
      story.halted = true;
      return 'stop';
    }
    const handler = opts.handlers?.[sub];
    return handler ? handler(exit, reply, env) : reply;
  }, 100_000);
  return { env, td, story };
}

test('hello boots from its boot page, prints over COM1 and halts with interrupts blocked', () => {
  const { story } = boot('hello', { message: 'hello, TD' });
  assert.equal(story.serial, 'hello, TD\n');
  assert.deepEqual(story.calls, ['Instruction.HLT']);
  assert.equal(story.halted, true);
  assert.equal(story.panic, undefined);
});

test('panic reports its message and code through ReportFatalError', () => {
  const { story } = boot('panic', { message: 'e2e panic', code: 7 });
  assert.deepEqual(story.panic, { errorCode: 7n << 32n, tdSpecificCode: 7n, message: 'e2e panic' });
  assert.deepEqual(story.calls, ['ReportFatalError']);
});

test('a production TD built without SEPT_VE_DISABLE is refused by the guest', () => {
  const { story } = boot('hello', {}, { attributes: 0n });
  assert.equal(story.panic?.message, 'SEPT #VE must be disabled in a production TD');
  assert.equal(story.serial, '');
});

test('io-echo: IN and OUT through #VE and Instruction.IO', () => {
  const ins: bigint[] = [];
  const { story } = boot('io-echo', { inPort: 0x60, outPort: 0x3f8, count: 2 }, {
    handlers: { [Sub.IO.number]: (e, r) => (ins.push(e.regs.get('R14')), r.set('R11', 0x41n + BigInt(ins.length - 1))) },
  });
  assert.deepEqual(ins, [0x60n, 0x60n]);
  assert.equal(story.serial, 'AB');
  assert.equal(story.halted, true);
});

test('idle: the HLT instruction is a #VE the kernel turns into TDVMCALL<HLT>', () => {
  const { story } = boot('idle', {});
  assert.deepEqual(story.calls, ['Instruction.HLT']);
  assert.equal(story.halted, true);
});

test('cpuid-msr: hypervisor CPUID and KVM MSRs reach the VMM; module leaves do not', () => {
  const { story } = boot(
    'cpuid-msr',
    { cpuid: [{ leaf: 0x21 }, { leaf: 0x40000000 }], rdmsr: [0x1b], wrmsr: [{ msr: 0x4b564d05, value: 1 }] },
    {
      handlers: {
        [Sub.CPUID.number]: (_e, r) => r.set('R12', 0x40000001n).set('R13', 0x4b4d564bn).set('R14', 0x564b4d56n).set('R15', 0x4dn),
        [Sub.RDMSR.number]: (_e, r) => r.set('R11', 0xfee00900n),
      },
    },
  );
  assert.deepEqual(story.calls, ['Instruction.CPUID', 'Instruction.RDMSR', 'Instruction.WRMSR', 'Instruction.HLT']);
  assert.equal(
    story.serial,
    [
      'cpuid 0x21.0 = 0x0 0x65746e49 0x20202020 0x5844546c',
      'cpuid 0x40000000.0 = 0x40000001 0x4b4d564b 0x564b4d56 0x4d',
      'rdmsr 0x1b = 0xfee00900',
      'wrmsr 0x4b564d05 = 0x1',
      '',
    ].join('\n'),
  );
});

test('mmio-probe: accesses to a shared page the host marked MMIO come back as #VE.RequestMMIO', () => {
  const device = 0xfed0_0000n;
  const seen: bigint[][] = [];
  const { story } = boot(
    'mmio-probe',
    { gpa: Number(device), ops: [{ op: 'write', offset: 8, size: 4, value: 0x1234 }, { op: 'read', offset: 8, size: 2 }] },
    {
      setup: (env, td) => attachSharedEpt(env, td.vcpus[0]!).mapMmio(SHARED | device),
      handlers: {
        [Sub.MMIO.number]: (e, r) => {
          seen.push(['R12', 'R13', 'R14', 'R15'].map((n) => e.regs.get(n as 'R12')));
          return r.set('R11', 0xabcdn);
        },
      },
    },
  );
  assert.deepEqual(seen, [
    [4n, 1n, SHARED | (device + 8n), 0x1234n],
    [2n, 0n, SHARED | (device + 8n), 0n],
  ]);
  assert.equal(story.serial, 'mmio write +0x8/4 = 0x1234\nmmio read +0x8/2 = 0xabcd\n');
  assert.equal(story.halted, true);
});

test('demo: accept, share and back, RTMR2, TDREPORT and a quote through the shared buffer', () => {
  const heap = 0x10_0000n;
  const pages = Array.from({ length: 6 }, (_, i) => heap + BigInt(i) * 0x1000n);
  const sharedHpa = new Map<bigint, bigint>();
  let quoteIn: Uint8Array | undefined;
  const { story } = boot(
    'demo',
    { heap: { gpa: Number(heap), size: 0x4000 }, accept: { gpa: Number(heap + 0x4000n), size: 0x2000 }, reportData: 'c0ffee' },
    {
      pages,
      // The host backs the shared alias of every page with host memory (what KVM does on a
      // shared fault after MapGPA).
      setup: (env, td) => {
        const ept = attachSharedEpt(env, td.vcpus[0]!);
        for (const gpa of pages) {
          const hpa = env.shared.alloc4k();
          ept.map(SHARED | gpa, hpa);
          sharedHpa.set(SHARED | gpa, hpa);
        }
      },
      handlers: {
        // A quote service that answers at once: it reads the TDREPORT and writes a quote.
        [Sub.GET_QUOTE.number]: (e, r, env) => {
          const hpa = sharedHpa.get(e.regs.get('R12'))!;
          quoteIn = env.platform.memory.read(hpa, GET_QUOTE_HEADER_SIZE + 1024, KEYID_NONE);
          const quote = new TextEncoder().encode('SIMULATED QUOTE');
          env.platform.memory.write(hpa, GET_QUOTE_HEADER.encode({ version: 1n, status: 0n, in_len: 1024, out_len: quote.length }), KEYID_NONE);
          env.platform.memory.write(hpa + BigInt(GET_QUOTE_HEADER_SIZE), quote, KEYID_NONE);
          return r;
        },
      },
    },
  );
  assert.equal(story.panic, undefined, story.panic?.message);
  assert.deepEqual(story.calls, ['MapGPA', 'MapGPA', 'MapGPA', 'GetQuote', 'MapGPA', 'Instruction.HLT']);
  const lines = story.serial.split('\n');
  assert.deepEqual(lines.slice(0, 3), ['tdxsim demo: vCPU 0 of 1, GPAW 48', 'accepted 0x2000 bytes at 0x104000', 'page 0x100000 converted to shared and back']);
  assert.deepEqual(lines.slice(4), ['TDREPORT carries our REPORTDATA and the logged RTMR2', 'quote: 15 bytes', 'demo done', '']);
  // The TDREPORT the guest handed over really carries the REPORTDATA it asked for.
  const header = GET_QUOTE_HEADER.decode(quoteIn!);
  assert.deepEqual([header.version, header.in_len], [1n, 1024]);
  const at = GET_QUOTE_HEADER_SIZE + tdreportOffset('reportmacstruct', 'reportdata');
  assert.deepEqual(quoteIn!.subarray(at, at + 4), Uint8Array.of(0xc0, 0xff, 0xee, 0));
});
