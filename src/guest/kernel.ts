/**
 * Guest kernel early initialisation, as Linux's `tdx_early_init` / `tdx_setup`
 * (arch/x86/coco/tdx/tdx.c; facts linux-tdx.md §6.1), and the `GuestKernel` it returns.
 *
 * Order:
 *   1. CPUID(0x21) must carry the TDX signature; anything else means this is not a TD and the
 *      rest would be meaningless (panic).
 *   2. TDG.VP.INFO — cannot legitimately fail — gives GPAW (so the shared bit), the TD's
 *      ATTRIBUTES and the vCPU index.
 *   3. The #VE handler goes into the IDT: from here on IN/OUT, HLT, MSRs and MMIO work.
 *   4. TDG.VM.WR NOTIFY_ENABLES = 0: the kernel does not want notification #VEs (result ignored,
 *      as in Linux).
 *   5. The SEPT #VE policy. A #VE on a pending private page would let the host make the guest
 *      touch a page it never accepted, at a time the host chooses — so a production TD must have
 *      SEPT #VE disabled: either ATTRIBUTES.SEPT_VE_DISABLE was set at build, or (with
 *      CONFIG_FLAGS.FLEXIBLE_PENDING_VE) the guest sets TD_CTLS.PENDING_VE_DISABLE itself. A
 *      production TD that can do neither panics; a debug TD only gets a warning (and keeps the
 *      #VEs, useful for debugging).
 *   6. The heap, if configured, is accepted and becomes the page allocator's pool.
 */
import { hex64, U64_MASK } from '../abi/bitfield.ts';
import { CPUID_TDX_LEAF, CPUID_TDX_SIGNATURE } from '../abi/cpuid.ts';
import { metadataFieldByName } from '../abi/metadata.ts';
import { VP_INFO_R8, VP_INFO_RCX } from '../abi/operands.ts';
import { ConfigFlagsBit, TdAttributesBit, TdCtlsBit } from '../abi/td-config.ts';
import { TdcallLeaf } from '../abi/tdcall-leaves.ts';
import { sharedBit as sharedBitOf } from '../abi/gpa.ts';
import type { GuestCpu, GuestGen } from '../platform/guest-cpu.ts';
import { SerialConsole } from './console.ts';
import { RtmrEventLog } from './event-log.ts';
import { acceptMemory, describeMemoryFailure } from './memory.ts';
import { GuestPageAllocator } from './pages.ts';
import { panic } from './panic.ts';
import { tdcall, tdcallOrPanic } from './tdcall.ts';
import { installVeHandler } from './ve.ts';
import * as ghci from './ghci.ts';

export interface GuestKernelOptions {
  /** Private memory the kernel accepts and hands out for its own buffers. Default: none. */
  readonly heap?: { readonly gpa: bigint; readonly size: bigint };
}

/** What early init learned and set up; what every later guest call needs. */
export class GuestKernel {
  /** Warnings early init raised (a debug TD that keeps SEPT #VE). */
  readonly warnings: string[] = [];
  readonly console: SerialConsole;
  readonly eventLog = new RtmrEventLog();

  constructor(
    readonly cpu: GuestCpu,
    /** Guest physical address width: 48 or 52. */
    readonly gpaw: number,
    /** The shared-bit mask, bit GPAW-1. */
    readonly sharedBit: bigint,
    readonly vcpuIndex: number,
    readonly numVcpus: number,
    readonly maxVcpus: number,
    /** TD ATTRIBUTES from TDG.VP.INFO. */
    readonly attributes: bigint,
    readonly pages: GuestPageAllocator,
  ) {
    this.console = new SerialConsole(cpu);
  }

  get debug(): boolean {
    return hasBit(this.attributes, TdAttributesBit.DEBUG);
  }
}

/** Early init (see the module comment). Panics on anything the guest cannot run without. */
export function* earlyInit(cpu: GuestCpu, options: GuestKernelOptions = {}): GuestGen<GuestKernel> {
  const id = yield* cpu.cpuid(CPUID_TDX_LEAF, 0);
  if (id.ebx !== CPUID_TDX_SIGNATURE.ebx || id.edx !== CPUID_TDX_SIGNATURE.edx || id.ecx !== CPUID_TDX_SIGNATURE.ecx) {
    return yield* panic(cpu, 'CPUID(0x21) has no TDX signature: not a TD');
  }

  const info = yield* tdcallOrPanic(cpu, TdcallLeaf.TDG_VP_INFO);
  const gpaw = Number(VP_INFO_RCX.get(info.gpaw, 'gpaw'));
  const sharedBit = sharedBitOf(gpaw);
  installVeHandler(cpu, { sharedBit });

  yield* tdcall(cpu, TdcallLeaf.TDG_VM_WR, { fieldId: fieldId('NOTIFY_ENABLES'), value: 0n, mask: U64_MASK });

  const warnings: string[] = [];
  yield* enforceSeptVePolicy(cpu, info.attributes, warnings);

  let pages = new GuestPageAllocator(0n, 0n);
  if (options.heap) {
    const accepted = yield* acceptMemory({ cpu, sharedBit }, options.heap.gpa, options.heap.size);
    if (!accepted.ok) return yield* panic(cpu, `heap: ${describeMemoryFailure(accepted)}`);
    pages = new GuestPageAllocator(options.heap.gpa, options.heap.size);
  }

  const kernel = new GuestKernel(
    cpu,
    gpaw,
    sharedBit,
    Number(info.vcpuIndex),
    Number(VP_INFO_R8.get(info.vcpus, 'num_vcpus')),
    Number(VP_INFO_R8.get(info.vcpus, 'max_vcpus')),
    info.attributes,
    pages,
  );
  kernel.warnings.push(...warnings);
  return kernel;
}

/** Step 5 of early init: Linux's `disable_sept_ve`. */
function* enforceSeptVePolicy(cpu: GuestCpu, attributes: bigint, warnings: string[]): GuestGen<void> {
  const debug = hasBit(attributes, TdAttributesBit.DEBUG);
  // A failed read leaves the flags as 0, as Linux's unchecked read would: the strict path below.
  const config = yield* readTdField(cpu, 'CONFIG_FLAGS');
  if (!hasBit(config, ConfigFlagsBit.FLEXIBLE_PENDING_VE)) {
    if (hasBit(attributes, TdAttributesBit.SEPT_VE_DISABLE)) return;
    const msg = 'SEPT #VE must be disabled in a production TD';
    if (debug) {
      warnings.push(`${msg} (debug TD: continuing)`);
      return;
    }
    return yield* panic(cpu, msg);
  }
  const controls = yield* readTdField(cpu, 'TD_CTLS');
  if (hasBit(controls, TdCtlsBit.PENDING_VE_DISABLE)) return;
  if (debug) return; // keep #VEs on pending pages for debugging
  const bit = 1n << BigInt(TdCtlsBit.PENDING_VE_DISABLE);
  const res = yield* tdcall(cpu, TdcallLeaf.TDG_VM_WR, { fieldId: fieldId('TD_CTLS'), value: bit, mask: bit });
  // Linux ignores this result; a TD left with SEPT #VE enabled is exactly what the policy forbids.
  if (!res.ok) return yield* panic(cpu, `TD_CTLS.PENDING_VE_DISABLE write failed ${hex64(res.status)}`);
}

/** TDG.VM.RD of a TD-scope field; 0 if the module refuses. */
function* readTdField(cpu: GuestCpu, name: string): GuestGen<bigint> {
  const res = yield* tdcall(cpu, TdcallLeaf.TDG_VM_RD, { fieldId: fieldId(name) });
  return res.ok ? res.out.value : 0n;
}

function fieldId(name: string): bigint {
  const f = metadataFieldByName(name);
  if (!f) throw new Error(`metadata table has no field ${name}`);
  return f.id;
}

function hasBit(value: bigint, bit: number): boolean {
  return ((value >> BigInt(bit)) & 1n) === 1n;
}

/**
 * The clean way for a TD to stop: TDVMCALL<Instruction.HLT> with interrupts blocked, so nothing
 * but an NMI could wake it — and if the VMM resumes it anyway, it halts again.
 */
export function* haltForever(cpu: GuestCpu): GuestGen<never> {
  for (;;) yield* ghci.hlt(cpu, true);
}
