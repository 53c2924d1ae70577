/**
 * EPT-violation TD exits (reason 48): KVM's `tdx_handle_ept_violation` (facts linux-tdx.md §4.4).
 *
 * Private GPA (shared bit clear):
 *   - extended exit qualification type PENDING_EPT_VIOLATION (6) with no permission bits in the
 *     exit qualification means the guest touched a page it had not accepted (SEPT_VE_DISABLE
 *     turns that #VE into a TD exit): "Guest access before accepting" — KVM kills the VM (EIO);
 *   - otherwise it is a fault KVM resolves as a write fault: TDH.MEM.SEPT.ADD as needed and
 *     TDH.MEM.PAGE.AUG of a fresh 4K page, then re-entry (the guest's TDG.MEM.PAGE.ACCEPT or
 *     access retries). OPERAND_BUSY re-enters and lets the fault recur; a GFN whose attribute is
 *     shared is a KVM_EXIT_MEMORY_FAULT for userspace.
 * Shared GPA: an instruction fetch from shared memory is a KVM bug (EIO); otherwise the host page
 * is mapped in the shared EPT (or the MMIO marker outside memslots) and the guest re-enters; a
 * GFN whose attribute is private is a KVM_EXIT_MEMORY_FAULT.
 */
import { Gpr } from '../abi/registers.ts';
import { EPT_VIOLATION_EXIT_QUAL, EXT_EXIT_QUAL } from '../abi/operands.ts';
import { ExtExitQualType } from '../abi/vmx.ts';
import { KVM_MEMORY_EXIT_FLAG_PRIVATE, KvmExitReason } from '../abi/kvm.ts';
import { PAGE_SIZE } from '../abi/pamt.ts';
import { HostError } from './errors.ts';
import { isPrivateGpa, stripShared } from './tdvmcall-args.ts';
import { RESUME, type ExitAction, type ExitContext } from './exit-action.ts';
import type { FaultResult } from './vm-memory.ts';

export function handleEptViolation(ctx: ExitContext): ExitAction {
  const { vcpu, regs } = ctx;
  const vm = vcpu.vm;
  const exitQual = regs.gpr[Gpr.RCX]!;
  const eeq = regs.gpr[Gpr.RDX]!;
  const gpa = regs.gpr[Gpr.R8]!;
  const where = `GPA 0x${gpa.toString(16)} on vCPU ${vcpu.index}`;
  if (isPrivateGpa(gpa, vm.addressing)) {
    const q = EPT_VIOLATION_EXIT_QUAL.decode(exitQual);
    const noPermission = q.gpa_readable === 0n && q.gpa_writable === 0n && q.gpa_executable === 0n && q.gpa_exec_user === 0n;
    if (EXT_EXIT_QUAL.get(eeq, 'type') === BigInt(ExtExitQualType.PENDING_EPT_VIOLATION) && noPermission) {
      vm.host.warnings.warn(vcpu.index, 'access-before-accept', 'guest', `Guest access before accepting ${where}`);
      return { kind: 'dead', error: new HostError('EIO', `Guest access before accepting ${where}: the VM is dead`) };
    }
    return settle(ctx, vm.guest.faultPrivate(vcpu.lp, gpa), gpa, true);
  }
  if (EPT_VIOLATION_EXIT_QUAL.get(exitQual, 'insn_fetch') === 1n) {
    vm.host.warnings.warn(vcpu.index, 'shared-fetch', 'module', `instruction fetch from shared ${where}`);
    return { kind: 'dead', error: new HostError('EIO', `EPT violation on an instruction fetch from shared ${where} (KVM_BUG_ON)`) };
  }
  return settle(ctx, vm.guest.faultShared(gpa), gpa, false);
}

function settle(ctx: ExitContext, r: FaultResult, gpa: bigint, priv: boolean): ExitAction {
  switch (r.kind) {
    case 'mapped':
    case 'busy':
      return RESUME;
    case 'error':
      return { kind: 'dead', error: r.error };
    case 'memory_fault':
      return {
        kind: 'user',
        record: {
          kind: 'memory_fault',
          exitReason: KvmExitReason.MEMORY_FAULT,
          flags: priv ? KVM_MEMORY_EXIT_FLAG_PRIVATE : 0n,
          gpa: stripShared(gpa, ctx.vcpu.vm.addressing) & ~(PAGE_SIZE - 1n),
          size: PAGE_SIZE,
        },
      };
  }
}
