/**
 * Tracing a replayed fuzz case: a SEAM interposer that reports every SEAMCALL of the run through
 * the trace helpers (src/trace/record.ts) — TDH.VP.ENTER as a TD entry and the TD exit it returns
 * with, every other leaf as one `seamcall` event — so `tdxsim fuzz --replay case.json --trace
 * out.jsonl` shows what the host did to the module, step by step. Events the core emits itself
 * (guest TDCALLs, exit handling) join the same trace once its emit points use this tracer.
 */
import { Gpr, type RegisterFile } from '../abi/registers.ts';
import { LEAF_WORD } from '../abi/operands.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import type { LeafDef } from '../abi/leaf.ts';
import type { Platform } from '../platform/platform.ts';
import type { LogicalProcessor } from '../platform/processor.ts';
import type { SeamModule } from '../platform/seam.ts';
import type { Tracer } from '../trace/tracer.ts';
import { traceSeamcall, traceTdEntry, traceTdExit } from '../trace/record.ts';

const LEAVES = new Map<number, LeafDef>(Object.values(SeamcallLeaf).map((l) => [l.number, l]));
const VP_ENTER = SeamcallLeaf.TDH_VP_ENTER.number;

/** Route the platform's SEAMCALLs through a tracer (call before any other interposer). */
export function traceSeamcalls(platform: Platform, tracer: Tracer): void {
  const inner = platform.seamModule;
  if (!inner) return;
  const tap: SeamModule = {
    get loaded() {
      return inner.loaded;
    },
    seamcall(lp: LogicalProcessor, regs: RegisterFile): void {
      const rax = regs.gpr[Gpr.RAX]!;
      const leaf = LEAF_WORD.hasReservedBits(rax) ? undefined : LEAVES.get(Number(LEAF_WORD.get(rax, 'leaf')));
      const before = regs.clone();
      if (leaf?.number === VP_ENTER) traceTdEntry(tracer, { lp: lp.id }, before);
      inner.seamcall(lp, regs);
      if (leaf?.number === VP_ENTER) traceTdExit(tracer, { lp: lp.id }, regs);
      else if (leaf) traceSeamcall(tracer, lp.id, leaf, before, regs);
    },
  };
  platform.loadModule(tap);
}
