/**
 * VMX event information that crosses the TD boundary: the VM-exit interruption-information word
 * (R9 of an asynchronous TD exit), the interruption types it names, the page-fault error code the
 * module builds when it turns an EPT violation into a #PF, and the host vector the simulator uses
 * for its preemption exits.
 *
 * Sources: Intel SDM Vol. 3C §25.9.2 "Information for VM Exits Due to Vectored Events" (Table
 * 25-19) and Vol. 3A §4.7 "Page-Fault Exceptions" (Figure 4-12); TDX module 1.5 `vmcs_defs.h`
 * (`vmx_exit_inter_info_t`) and `x86_defs.h` (`pfec_t`); facts tdx-module.md §6.3–6.4.
 */
import { bitfield } from './bitfield.ts';

/** VM-exit interruption information (`vmx_exit_inter_info_t`): R9 on an async TD exit. */
export const INTERRUPTION_INFO = bitfield('vmx_exit_inter_info_t', [
  { name: 'vector', width: 8, doc: 'vector of the interrupt or exception' },
  { name: 'interruption_type', width: 3, doc: 'InterruptionType' },
  { name: 'error_code_valid', width: 1 },
  { name: 'nmi_unblocking_due_to_iret', width: 1 },
  { name: 'reserved0', width: 18 },
  { name: 'valid', width: 1, doc: 'the word describes an event' },
  { name: 'reserved1', width: 32 },
]);

/** Interruption types (Intel SDM Vol. 3C Table 25-19). */
export const InterruptionType = Object.freeze({
  EXTERNAL_INTERRUPT: 0,
  NMI: 2,
  HARDWARE_EXCEPTION: 3,
  SOFTWARE_INTERRUPT: 4,
  PRIVILEGED_SOFTWARE_EXCEPTION: 5,
  SOFTWARE_EXCEPTION: 6,
} as const);

/** Page-fault error code (`pfec_t`): what a #PF tells the guest about the failed access. */
export const PFEC = bitfield('pfec_t', [
  { name: 'p', width: 1, doc: '1: a protection (here: reserved-bit) violation, not a non-present page' },
  { name: 'wr', width: 1, doc: 'the access was a write' },
  { name: 'us', width: 1, doc: 'the access was at CPL 3' },
  { name: 'rsvd', width: 1, doc: 'a reserved bit was set in a paging entry (a GPA above the TD width)' },
  { name: 'id', width: 1, doc: 'the access was an instruction fetch' },
  { name: 'pk', width: 1 },
  { name: 'ss', width: 1, doc: 'shadow-stack access' },
  { name: 'reserved0', width: 8 },
  { name: 'sgx', width: 1 },
  { name: 'reserved1', width: 48 },
]);

/**
 * The host interrupt the simulator reports when it preempts a guest that used up its instruction
 * budget for one TDH.VP.ENTER (an external-interrupt TD exit, as a host timer tick would cause).
 * The value is Linux's LOCAL_TIMER_VECTOR (`arch/x86/include/asm/irq_vectors.h`); the host only
 * needs to see a valid external-interrupt exit and re-enter.
 */
export const HOST_TIMER_VECTOR = 0xec;
