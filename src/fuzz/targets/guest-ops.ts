/**
 * The `guest` target's actions: one guest-library operation, and the hostile VMM's answers to
 * the TDVMCALLs it will make.
 *
 * Operations are what a TD kernel does that involves the VMM: private↔shared conversion (MapGPA,
 * with accept on the way back), attestation (TDREPORT + GetQuote through a shared buffer),
 * instructions the #VE handler emulates (CPUID, RDMSR/WRMSR, IN/OUT, MMIO loads and stores),
 * HLT, GetTdVmCallInfo and SetupEventNotifyInterrupt, and accepting memory.
 *
 * Replies are consumed in order, one per TDVMCALL exit of the operation; once they run out the
 * VMM answers honestly-looking (R10 = SUCCESS, R11–R15 = 0). Each reply chooses R10 among the
 * GHCI statuses and arbitrary values, R11 (MapGPA's resume GPA, results) inside, at the edges of
 * and outside the range being converted, and R12–R15 freely. For GetQuote the VMM also writes the
 * shared buffer's header status and length.
 */
import { TdvmcallStatus } from '../../abi/tdvmcall-status.ts';
import { GetQuoteStatus } from '../../abi/get-quote.ts';
import { CPUID_HYPERVISOR_FIRST, CPUID_TDX_LEAF } from '../../abi/cpuid.ts';
import { COM1_BASE, MMIO_TEST_DEVICE_SIZE } from '../../abi/pc-devices.ts';
import { Msr } from '../../abi/msr.ts';
import { KvmMsr } from '../../abi/kvm-msrs.ts';
import type { Rng } from '../rng.ts';
import { boundary } from '../values.ts';

export type GuestOpKind =
  | 'convert-shared'
  | 'convert-private'
  | 'get-quote'
  | 'cpuid'
  | 'rdmsr'
  | 'wrmsr'
  | 'io-in'
  | 'io-out'
  | 'mmio-read'
  | 'mmio-write'
  | 'hlt'
  | 'tdvmcall-info'
  | 'setup-notify'
  | 'accept';

export const GUEST_OP_KINDS: readonly GuestOpKind[] = [
  'convert-shared',
  'convert-private',
  'get-quote',
  'cpuid',
  'rdmsr',
  'wrmsr',
  'io-in',
  'io-out',
  'mmio-read',
  'mmio-write',
  'hlt',
  'tdvmcall-info',
  'setup-notify',
  'accept',
];

/** What the VMM leaves in the exposed registers (and, for GetQuote, the buffer header). */
export interface VmmReply {
  readonly r10: bigint;
  readonly r11: bigint;
  readonly r12: bigint;
  readonly r13: bigint;
  readonly r14: bigint;
  readonly r15: bigint;
  /** GetQuote only: header status and out_len the VMM writes before resuming the guest. */
  readonly quoteStatus?: bigint;
  readonly quoteLength?: number;
}

export interface GuestAction {
  readonly op: GuestOpKind;
  /** GPA / leaf / MSR / port, by operation. */
  readonly a: bigint;
  /** Size / sub-leaf / value, by operation. */
  readonly b: bigint;
  readonly replies: readonly VmmReply[];
}

/** The guest's address space as the generator needs it. */
export interface GuestSpace {
  /** Private heap the driver's kernel owns: [heap, heap + heapPages·4K). */
  readonly heap: bigint;
  readonly heapPages: number;
  /** Shared GPA (shared bit set) of the MMIO region the VMM emulates. */
  readonly mmio: bigint;
}

const PAGE = 4096n;
const STATUSES: readonly bigint[] = Object.values(TdvmcallStatus);
const QUOTE_STATUSES: readonly bigint[] = Object.values(GetQuoteStatus);
const MSRS: readonly number[] = [...Object.values(Msr), ...Object.values(KvmMsr)];

export function nextGuestAction(rng: Rng, space: GuestSpace): GuestAction {
  const op = rng.pick(GUEST_OP_KINDS);
  let a = 0n;
  let b = 0n;
  let range: { start: bigint; end: bigint } | undefined;
  switch (op) {
    case 'convert-shared':
    case 'convert-private':
    case 'accept': {
      const first = rng.int(space.heapPages);
      const count = rng.range(1, Math.min(4, space.heapPages - first));
      a = space.heap + BigInt(first) * PAGE;
      b = BigInt(count) * PAGE;
      range = { start: a, end: a + b };
      break;
    }
    case 'get-quote':
      range = { start: space.heap, end: space.heap + BigInt(space.heapPages) * PAGE };
      break;
    case 'cpuid':
      a = BigInt(rng.chance(0.5) ? CPUID_HYPERVISOR_FIRST + rng.int(16) : rng.chance(0.3) ? CPUID_TDX_LEAF : rng.u32());
      b = BigInt(rng.int(4));
      break;
    case 'rdmsr':
    case 'wrmsr':
      a = BigInt(rng.chance(0.7) ? rng.pick(MSRS) : rng.u32());
      b = rng.u64();
      break;
    case 'io-in':
    case 'io-out':
      a = BigInt(rng.chance(0.5) ? COM1_BASE + rng.int(8) : rng.int(65536));
      b = BigInt(rng.pick([1, 2, 4])) | (rng.bits(32) << 8n);
      break;
    case 'mmio-read':
    case 'mmio-write': {
      const size = rng.pick([1, 2, 4, 8]);
      a = space.mmio + BigInt(rng.int(MMIO_TEST_DEVICE_SIZE / size) * size);
      b = BigInt(size) | (rng.u64() << 8n);
      break;
    }
    case 'setup-notify':
      a = BigInt(rng.int(300));
      break;
    case 'tdvmcall-info':
      a = BigInt(rng.int(3));
      break;
    case 'hlt':
      break;
  }
  const replies: VmmReply[] = [];
  const n = rng.range(1, 6);
  // An instruction the #VE handler emulates dies on any failed status (as Linux does), ending
  // the episode; those mostly get SUCCESS so the guest lives long enough to be fuzzed further.
  const emulated = op === 'cpuid' || op === 'rdmsr' || op === 'wrmsr' || op.startsWith('io-') || op.startsWith('mmio-');
  for (let i = 0; i < n; i++) replies.push(emulated && rng.chance(0.85) ? { ...reply(rng, range), r10: TdvmcallStatus.SUCCESS } : reply(rng, range));
  return { op, a, b, replies };
}

function reply(rng: Rng, range: { start: bigint; end: bigint } | undefined): VmmReply {
  // Mostly SUCCESS (and RETRY where the guest converts memory), so operations get past their
  // first call; the rest any GHCI status or any value at all.
  const x = rng.float();
  const r10 = x < 0.55 ? TdvmcallStatus.SUCCESS : range && x < 0.8 ? TdvmcallStatus.RETRY : rng.chance(0.8) ? rng.pick(STATUSES) : boundary(rng);
  let r11 = boundary(rng);
  if (range && rng.chance(0.7)) {
    const pages = (range.end - range.start) / PAGE;
    r11 = rng.pick([
      range.start,
      range.start + PAGE * BigInt(rng.int(Number(pages))),
      range.end,
      range.end - 1n,
      range.start - PAGE,
      range.start + 1n,
    ]);
  }
  const r: VmmReply = {
    r10,
    r11,
    r12: rng.chance(0.5) ? boundary(rng) : BigInt(rng.u32()),
    r13: rng.chance(0.5) ? boundary(rng) : BigInt(rng.u32()),
    r14: rng.chance(0.5) ? boundary(rng) : BigInt(rng.u32()),
    r15: rng.chance(0.5) ? boundary(rng) : BigInt(rng.u32()),
  };
  if (!rng.chance(0.5)) return r;
  return { ...r, quoteStatus: rng.chance(0.8) ? rng.pick(QUOTE_STATUSES) : boundary(rng), quoteLength: rng.chance(0.7) ? rng.int(8192) : rng.u32() };
}
