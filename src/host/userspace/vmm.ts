/**
 * The default VMM userspace (what QEMU is to KVM): it owns the devices and services a TD talks
 * to, and answers each exit record `vcpu.run()` returns.
 *
 *   io            the serial port at 0x3F8; any other port reads all ones and ignores writes, as an
 *                 unclaimed ISA port does
 *   mmio          the MMIO test device (if configured); other addresses read all ones
 *   hypercall     MapGPA chunks → memory conversion
 *   memory_fault  implicit conversion
 *   tdx           GetQuote → the quote service; GetTdVmCallInfo(1) → R11 bit 1 when this VMM
 *                 supports SetupEventNotifyInterrupt; SetupEventNotifyInterrupt → remember the
 *                 vector and raise it when a quote completes
 * Everything else ends the vCPU's loop (vcpu-loop.ts decides how).
 */
import { USER_TDVMCALLINFO_1_R11 } from '../../abi/kvm.ts';
import { TdvmcallStatus } from '../../abi/tdvmcall-status.ts';
import type { DecodedTdReport } from '../../abi/tdreport.ts';
import type { ExitRecord } from '../exit-records.ts';
import type { TdxVcpu } from '../vcpu.ts';
import type { TdxVm } from '../vm.ts';
import { IoBus } from '../devices.ts';
import { MemoryConverter } from './memory-conversion.ts';
import { MmioTestDevice } from './mmio-test-device.ts';
import { SerialPort } from './serial.ts';
import { serveGetQuote, SimulatedQuoteService, type QuoteService } from './quote-service.ts';

export interface UserspaceOptions {
  /** Base GPA (shared bit stripped) of the MMIO test device; none if absent. */
  readonly mmioDeviceGpa?: bigint;
  /** Quote service; default SimulatedQuoteService; `null` for none (SERVICE_UNAVAILABLE). */
  readonly quoteService?: QuoteService | null;
  /** Offer SetupEventNotifyInterrupt (GetTdVmCallInfo leaf 1 R11 bit 1). Default true. */
  readonly eventNotify?: boolean;
  /** Called with each complete serial line. */
  readonly onSerialLine?: (line: string) => void;
}

/** What userspace did with an exit: keep running, or why the vCPU should stop. */
export type Handled = { readonly kind: 'continue' } | { readonly kind: 'stop' };

const CONTINUE: Handled = Object.freeze({ kind: 'continue' });
const STOP: Handled = Object.freeze({ kind: 'stop' });
/** What an unclaimed port or MMIO address reads. */
const ALL_ONES = (bytes: number) => (1n << BigInt(8 * bytes)) - 1n;

export class Userspace {
  readonly serial: SerialPort;
  readonly mmio: MmioTestDevice | undefined;
  readonly quoteService: QuoteService | undefined;
  readonly converter: MemoryConverter;
  readonly bus = new IoBus();
  /** Notification vector per vCPU index (SetupEventNotifyInterrupt). */
  readonly notifyVectors = new Map<number, number>();
  /** The last TDREPORT a GetQuote carried (its TDINFO has the RTMRs). */
  lastReport: DecodedTdReport | undefined;
  /** The last quote served. */
  lastQuote: Uint8Array | undefined;
  quotes = 0;
  private readonly eventNotify: boolean;

  constructor(
    readonly vm: TdxVm,
    options: UserspaceOptions = {},
  ) {
    this.serial = new SerialPort(options.onSerialLine ? { onLine: options.onSerialLine } : {});
    this.bus.addPortDevice(this.serial);
    if (options.mmioDeviceGpa !== undefined) {
      this.mmio = new MmioTestDevice(options.mmioDeviceGpa);
      this.bus.addMmioDevice(this.mmio);
    }
    this.quoteService = options.quoteService === null ? undefined : (options.quoteService ?? new SimulatedQuoteService());
    this.eventNotify = options.eventNotify ?? true;
    this.converter = new MemoryConverter(vm);
  }

  /** Answer one exit of `vcpu`. */
  handle(vcpu: TdxVcpu, rec: ExitRecord): Handled {
    switch (rec.kind) {
      case 'io':
        if (rec.direction === 'out') this.bus.writePort(rec.port, rec.size, rec.data);
        else vcpu.complete({ kind: 'io', data: this.bus.readPort(rec.port, rec.size) ?? ALL_ONES(rec.size) });
        return CONTINUE;
      case 'mmio':
        if (rec.isWrite) this.bus.writeMmio(rec.physAddr, rec.len, rec.data);
        else vcpu.complete({ kind: 'mmio', data: this.bus.readMmio(rec.physAddr, rec.len) ?? ALL_ONES(rec.len) });
        return CONTINUE;
      case 'hypercall':
        vcpu.complete({ kind: 'hypercall', ret: this.converter.mapGpaRange(rec) });
        return CONTINUE;
      case 'memory_fault':
        return this.converter.memoryFault(rec) ? CONTINUE : STOP;
      case 'tdx':
        return this.handleTdx(vcpu, rec);
      case 'intr':
        return CONTINUE;
      default:
        return STOP;
    }
  }

  private handleTdx(vcpu: TdxVcpu, rec: Extract<ExitRecord, { kind: 'tdx' }>): Handled {
    switch (rec.call) {
      case 'get_tdvmcall_info':
        vcpu.complete({ kind: 'tdx', ret: TdvmcallStatus.SUCCESS, r11: this.eventNotify ? USER_TDVMCALLINFO_1_R11 : 0n, r12: 0n, r13: 0n, r14: 0n });
        return CONTINUE;
      case 'setup_event_notify':
        if (!this.eventNotify) return CONTINUE; // the preset SUBFUNC_UNSUPPORTED stands
        this.notifyVectors.set(vcpu.index, Number(rec.setupEventNotify.vector));
        vcpu.complete({ kind: 'tdx', ret: TdvmcallStatus.SUCCESS });
        return CONTINUE;
      case 'get_quote': {
        const r = serveGetQuote(this.vm.guest, rec.getQuote, this.quoteService);
        if (r.report) this.lastReport = r.report;
        if (r.quoteBytes !== undefined) this.quotes++;
        if (r.quote) this.lastQuote = r.quote;
        if (r.problem) this.vm.host.warnings.warn(vcpu.index, 'get-quote', r.bufferStatus === undefined ? 'guest' : 'vmm-policy', `GetQuote: ${r.problem}`);
        vcpu.complete({ kind: 'tdx', ret: r.ret });
        const vector = this.notifyVectors.get(vcpu.index);
        if (vector !== undefined && r.bufferStatus !== undefined) vcpu.postInterrupt(vector);
        return CONTINUE;
      }
    }
  }
}
