/**
 * The TDX module as a wire server loads it into a platform: the real module behind one extra rule
 * that only concerns vCPUs whose code is a wire client (guest-slot.ts).
 *
 * Rule: a vCPU whose client has not yet sent its next instruction cannot execute one. Its pending
 * "instruction" is the WAIT_FOR_CLIENT sentinel, so every TDH.VP.ENTER of it runs with the module's
 * step budget at 0 and the vCPU runner takes the host-timer preemption exit before executing
 * anything — what a real TD busy in non-trapping code shows its host. The proxy itself sets the
 * budget to 0 when it starts waiting mid-entry; after every SEAMCALL the budget is restored, so
 * other vCPUs and ordinary guest programs never see the change.
 *
 * Everything else is the module's own behaviour: registers in and out are untouched here.
 */
import { Gpr, type RegisterFile } from '../abi/registers.ts';
import { LEAF_WORD, VP_ENTER_RCX } from '../abi/operands.ts';
import { SeamcallLeaf } from '../abi/seamcall-leaves.ts';
import { PAGE_SHIFT } from '../abi/pamt.ts';
import type { LogicalProcessor } from '../platform/processor.ts';
import type { SeamModule } from '../platform/seam.ts';
import type { TdxModule } from '../module/module.ts';
import type { Vcpu } from '../module/vcpu.ts';
import { WAIT_FOR_CLIENT } from './guest-slot.ts';

/** RAX of TDH.VP.ENTER (leaf 0, version 0). */
export const VP_ENTER_LEAF_WORD = LEAF_WORD.encode({ leaf: SeamcallLeaf.TDH_VP_ENTER.number, version: 0 });

export class ServedModule implements SeamModule {
  constructor(readonly module: TdxModule) {}

  get loaded(): boolean {
    return this.module.loaded;
  }

  seamcall(lp: LogicalProcessor, regs: RegisterFile): void {
    const m = this.module;
    const budget = m.stepBudget;
    try {
      if (regs.gpr[Gpr.RAX] === VP_ENTER_LEAF_WORD && enteredVcpu(m, regs)?.pendingOp === WAIT_FOR_CLIENT) m.stepBudget = 0;
      m.seamcall(lp, regs);
    } finally {
      m.stepBudget = budget;
    }
  }
}

/** The vCPU a TDH.VP.ENTER register file names (RCX bits 51:12), if it exists. */
export function enteredVcpu(module: TdxModule, regs: RegisterFile): Vcpu | undefined {
  return module.vcpu(VP_ENTER_RCX.get(regs.gpr[Gpr.RCX]!, 'tdvpr_page') << PAGE_SHIFT);
}
