/**
 * Logical processors and packages.
 *
 * A logical processor (LP) is where SEAMCALLs execute. It carries the CPU-mode facts that decide
 * whether SEAMCALL reaches the module at all: VMX root operation (else #UD) and SEAM enabled by
 * the BIOS (else #GP(0)); with no module loaded the instruction fails with VMfailInvalid. Those
 * three outcomes become the host's software status codes (TDX_SEAMCALL_UD / _GP / _VMFAILINVALID),
 * which can never collide with a module status (class 0xFF is never used by the module).
 */
import { RegisterFile, Gpr } from '../abi/registers.ts';
import { TdxSoftwareStatus } from '../abi/status.ts';
import type { Platform } from './platform.ts';
import { traceSeamcallReturn } from '../trace/crossings.ts';

export class Package {
  readonly lps: LogicalProcessor[] = [];
  constructor(readonly id: number) {}
}

export class LogicalProcessor {
  /** VMXON executed: the host VMM runs in VMX root operation. */
  vmxRoot = true;
  /** SEAM range enabled by the BIOS (IA32_SEAMRR). */
  seamEnabled = true;
  /** Counts completed SEAMCALLs that reached the module (for traces and benchmarks). */
  seamcalls = 0;
  /**
   * The host's extended (XSAVE) state on this LP beyond XMM0–15 (which travel in the SEAMCALL
   * register file): one entry per XSAVE state component, keyed by its XCR0/XFAM bit number
   * (0 = x87, 2 = upper YMM halves, 5–7 = AVX-512, 17–18 = AMX, …). An absent component is in its
   * INIT state. A TD exit resets every component the TD's XFAM covers, so a host that does not
   * save this state around TDH.VP.ENTER loses it (facts tdx-module.md §6.3).
   */
  readonly xstate = new Map<number, Uint8Array>();

  constructor(
    readonly platform: Platform,
    /** Global LP index (what the module calls the LP id). */
    readonly id: number,
    readonly pkg: Package,
  ) {}

  /**
   * Execute SEAMCALL with `regs` (RAX = leaf word). Results are written into `regs` in place and
   * the same object is returned. Never throws for any register values.
   */
  seamcall(regs: RegisterFile): RegisterFile {
    const g = regs.gpr;
    if (!this.vmxRoot) {
      g[Gpr.RAX] = TdxSoftwareStatus.TDX_SEAMCALL_UD;
      return regs;
    }
    if (!this.seamEnabled) {
      g[Gpr.RAX] = TdxSoftwareStatus.TDX_SEAMCALL_GP;
      return regs;
    }
    const module = this.platform.seamModule;
    if (!module || !module.loaded) {
      g[Gpr.RAX] = TdxSoftwareStatus.TDX_SEAMCALL_VMFAILINVALID;
      return regs;
    }
    this.seamcalls++;
    // Traced after the module returns; the inputs are copied first only while tracing is on.
    const traceIn = this.platform.tracer.enabled ? regs.clone() : undefined;
    module.seamcall(this, regs);
    if (traceIn) traceSeamcallReturn(this.platform.tracer, this.id, traceIn, regs);
    return regs;
  }

  /** Convenience: SEAMCALL with a fresh register file built from named values. */
  call(values: Parameters<typeof RegisterFile.from>[0]): RegisterFile {
    return this.seamcall(RegisterFile.from(values));
  }
}
