/**
 * Packed register operands: one bitfield per register layout that the leaves use.
 *
 * Names follow the module's own type names (`tdx_api_defs.h`) where it has one. Widths are listed
 * from bit 0 upwards and are checked to sum to 64 when the module loads.
 */
import { bitfield } from './bitfield.ts';

/** RAX on SEAMCALL/TDCALL entry (`tdx_leaf_and_version_t`). Reserved bits must be 0. */
export const LEAF_WORD = bitfield('tdx_leaf_and_version_t', [
  { name: 'leaf', width: 16, doc: 'leaf number' },
  { name: 'version', width: 8, doc: 'leaf version (0, or 1 for the few leaves that have one)' },
  { name: 'reserved0', width: 8 },
  { name: 'reserved1', width: 32 },
]);

/**
 * GPA and mapping level in one register (`page_info_api_input_t`): RCX of the Secure-EPT leaves
 * and of TDG.MEM.PAGE.ACCEPT. The GPA must be aligned to the level's page size.
 */
export const GPA_AND_LEVEL = bitfield('page_info_api_input_t', [
  { name: 'level', width: 3, doc: 'Secure-EPT level: 0 = 4K, 1 = 2M, 2 = 1G, 3 = PML4, 4 = PML5' },
  { name: 'reserved0', width: 9 },
  { name: 'gpa_page', width: 40, doc: 'GPA bits 51:12' },
  { name: 'reserved1', width: 12 },
]);

/** TDH.MEM.SEPT.ADD RDX: the TDR page with a flag in bit 0. */
export const TDR_AND_SEPT_ADD_FLAGS = bitfield('tdr_and_sept_add_flags', [
  { name: 'allow_existing', width: 1, doc: 'succeed if the entry is already NL_MAPPED' },
  { name: 'reserved0', width: 11 },
  { name: 'tdr_page', width: 40, doc: 'TDR physical address bits 51:12' },
  { name: 'reserved1', width: 12 },
]);

/** TDH.VP.ENTER RCX (`vcpu_and_flags_t`). */
export const VP_ENTER_RCX = bitfield('vcpu_and_flags_t', [
  { name: 'reserved0', width: 12 },
  { name: 'tdvpr_page', width: 40, doc: 'TDVPR physical address bits 51:12' },
  { name: 'host_recoverability_hint', width: 1, doc: 'copied to bit 60 of the guest TDCALL status after an async trap' },
  { name: 'resume_l1', width: 1, doc: 'TD partitioning: resume the L1 VMM' },
  { name: 'reserved1', width: 10 },
]);

/** TDH.MNG.CREATE RDX: the private HKID to assign. */
export const HKID_OPERAND = bitfield('hkid_api_input_t', [
  { name: 'hkid', width: 16 },
  { name: 'reserved0', width: 48 },
]);

/**
 * RDX after a Secure-EPT error (`sept_entry_arch_info_t`): where the walk stopped and the public
 * state of the entry it found. RCX carries the architectural SEPT entry.
 */
export const SEPT_ENTRY_INFO = bitfield('sept_entry_arch_info_t', [
  { name: 'level', width: 3 },
  { name: 'reserved0', width: 5 },
  { name: 'state', width: 8, doc: 'public SEPT state (SeptPublicState)' },
  { name: 'vm', width: 2, doc: '0 = L1' },
  { name: 'reserved1', width: 46 },
]);

/** TDG.VP.VMCALL RCX (`tdvmcall_control_t`): which registers the guest exposes to the VMM. */
export const TDVMCALL_CONTROL = bitfield('tdvmcall_control_t', [
  { name: 'gpr_select', width: 16, doc: 'bit i exposes GPR i (RAX, RCX and RSP may not be set)' },
  { name: 'xmm_select', width: 16, doc: 'bit i exposes XMM i' },
  { name: 'reserved0', width: 32 },
]);

/** TDH.VP.ENTER RCX output after a TDVMCALL exit: the control word plus the VM index. */
export const TDVMCALL_EXIT_RCX = bitfield('tdvmcall_exit_rcx', [
  { name: 'gpr_select', width: 16 },
  { name: 'xmm_select', width: 16 },
  { name: 'vm', width: 2, doc: '0 = L1' },
  { name: 'reserved0', width: 30 },
]);

/** TDG.VP.INFO RCX output. */
export const VP_INFO_RCX = bitfield('td_gpaw_t', [
  { name: 'gpaw', width: 6, doc: 'guest physical address width: 48 or 52' },
  { name: 'reserved0', width: 58 },
]);

/** TDG.VP.INFO R8 output. */
export const VP_INFO_R8 = bitfield('td_num_of_vcpus_t', [
  { name: 'num_vcpus', width: 32, doc: 'vCPUs initialised so far' },
  { name: 'max_vcpus', width: 32 },
]);

/** TDG.VP.INFO R10 output. */
export const VP_INFO_R10 = bitfield('td_info_features_t', [
  { name: 'sys_rd', width: 1, doc: 'TDG.SYS.RD is available (1 on TDX 1.5)' },
  { name: 'reserved0', width: 63 },
]);

/** TDG.VP.VEINFO.GET R10 output. */
export const VEINFO_R10 = bitfield('veinfo_instr_t', [
  { name: 'instr_len', width: 32 },
  { name: 'instr_info', width: 32 },
]);

/** TDG.VP.CPUIDVE.SET RCX. */
export const CPUIDVE_FLAGS = bitfield('cpuidve_flags_t', [
  { name: 'supervisor', width: 1, doc: '#VE on CPUID at CPL 0' },
  { name: 'user', width: 1, doc: '#VE on CPUID at CPL > 0' },
  { name: 'reserved0', width: 62 },
]);

/** Metadata field identifier (`md_field_id_t`), RDX of the RD/WR leaves. */
export const FIELD_ID = bitfield('md_field_id_t', [
  { name: 'field_code', width: 24 },
  { name: 'reserved0', width: 8 },
  { name: 'element_size_code', width: 2, doc: '0 = 1 byte, 1 = 2, 2 = 4, 3 = 8' },
  { name: 'last_element_in_field', width: 4 },
  { name: 'last_field_in_sequence', width: 9 },
  { name: 'reserved1', width: 3 },
  { name: 'inc_size', width: 1 },
  { name: 'write_mask_valid', width: 1 },
  { name: 'context_code', width: 3, doc: '0 = SYS (platform), 1 = TD, 2 = VP; ignored on input' },
  { name: 'reserved2', width: 1 },
  { name: 'class_code', width: 6 },
  { name: 'reserved3', width: 1 },
  { name: 'non_arch', width: 1 },
]);

/**
 * Extended exit qualification (RDX on an asynchronous TD exit). `info` is type-specific; for
 * type ACCEPT see `EEQ_ACCEPT`.
 */
export const EXT_EXIT_QUAL = bitfield('vmx_ext_exit_qual_t', [
  { name: 'type', width: 4, doc: 'ExtExitQualType' },
  { name: 'reserved0', width: 28 },
  { name: 'info', width: 32 },
]);

/** Extended exit qualification of type ACCEPT (`tdaccept_vmx_eeq_info_t` in bits 63:32). */
export const EEQ_ACCEPT = bitfield('tdaccept_vmx_eeq', [
  { name: 'type', width: 4 },
  { name: 'reserved0', width: 28 },
  { name: 'req_level', width: 3, doc: 'level the guest asked to accept' },
  { name: 'err_level', width: 3, doc: 'level where the walk stopped' },
  { name: 'err_sept_state', width: 8, doc: 'public SEPT state found there' },
  { name: 'err_is_leaf', width: 1 },
  { name: 'reserved1', width: 5 },
  { name: 'vm', width: 2 },
  { name: 'reserved2', width: 10 },
]);

/** VMX exit qualification of an I/O instruction (Intel SDM Vol. 3C, Table 28-5). */
export const IO_EXIT_QUAL = bitfield('vmx_exit_qual_io_t', [
  { name: 'size_minus_1', width: 3, doc: '0 = 1 byte, 1 = 2 bytes, 3 = 4 bytes' },
  { name: 'direction_in', width: 1, doc: '1 = IN, 0 = OUT' },
  { name: 'string', width: 1 },
  { name: 'rep', width: 1 },
  { name: 'operand_encoding', width: 1, doc: '1 = immediate port' },
  { name: 'reserved0', width: 9 },
  { name: 'port', width: 16 },
  { name: 'reserved1', width: 32 },
]);

/** VMX exit qualification of an EPT violation (Intel SDM Vol. 3C, Table 28-7), the bits TDX uses. */
export const EPT_VIOLATION_EXIT_QUAL = bitfield('vmx_exit_qual_ept_violation_t', [
  { name: 'data_read', width: 1 },
  { name: 'data_write', width: 1 },
  { name: 'insn_fetch', width: 1 },
  { name: 'gpa_readable', width: 1 },
  { name: 'gpa_writable', width: 1 },
  { name: 'gpa_executable', width: 1 },
  { name: 'gpa_exec_user', width: 1 },
  { name: 'gla_valid', width: 1 },
  { name: 'gla_translation', width: 1 },
  { name: 'reserved0', width: 3 },
  { name: 'nmi_unblocking', width: 1 },
  { name: 'reserved1', width: 19 },
  { name: 'vm', width: 2, doc: 'TDX: VM index (0 = L1) in bits 33:32 of the exit RCX' },
  { name: 'reserved2', width: 30 },
]);

/** VMX basic exit reason word (RAX bits 31:0 on a TD exit). */
export const EXIT_REASON_WORD = bitfield('vm_exit_reason_t', [
  { name: 'basic_reason', width: 16 },
  { name: 'reserved0', width: 10 },
  { name: 'bus_lock_preempted', width: 1, doc: 'sticky flag: a bus lock was preempted' },
  { name: 'reserved1', width: 4 },
  { name: 'failed_vmentry', width: 1 },
  { name: 'status', width: 32, doc: 'TD exit: the completion status code (bits 63:32 of RAX)' },
]);

/** GHCI ReportFatalError R12: the error code. */
export const FATAL_ERROR_CODE = bitfield('tdvmcall_report_fatal_error_r12', [
  { name: 'reserved0', width: 32, doc: 'must be 0' },
  { name: 'td_specific', width: 31, doc: 'TD-specific error code' },
  { name: 'gpa_valid', width: 1, doc: 'R13 holds the GPA of extra data in shared memory' },
]);
