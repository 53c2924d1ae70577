/**
 * VMX facts the TDX exits carry: basic exit reasons, extended exit qualification types, and the
 * exception vectors the module injects. Source: Intel SDM Vol. 3C Appendix C; TDX module 1.5
 * `vmcs_defs.h`. Facts: tdx-module.md §6.3–6.4.
 */

export const VmxExitReason = Object.freeze({
  EXCEPTION_OR_NMI: 0,
  EXTERNAL_INTERRUPT: 1,
  TRIPLE_FAULT: 2,
  INIT: 3,
  SIPI: 4,
  SMI: 5,
  OTHER_SMI: 6,
  INTERRUPT_WINDOW: 7,
  NMI_WINDOW: 8,
  TASK_SWITCH: 9,
  CPUID: 10,
  GETSEC: 11,
  HLT: 12,
  INVD: 13,
  INVLPG: 14,
  RDPMC: 15,
  RDTSC: 16,
  VMCALL: 18,
  CR_ACCESS: 28,
  DR_ACCESS: 29,
  IO_INSTRUCTION: 30,
  RDMSR: 31,
  WRMSR: 32,
  ENTRY_FAILURE_GUEST_STATE: 33,
  ENTRY_FAILURE_MSR_LOADING: 34,
  MWAIT: 36,
  MONITOR_TRAP_FLAG: 37,
  MONITOR: 39,
  PAUSE: 40,
  ENTRY_FAILURE_MACHINE_CHECK: 41,
  TPR_BELOW_THRESHOLD: 43,
  APIC_ACCESS: 44,
  VIRTUALIZED_EOI: 45,
  GDTR_IDTR_ACCESS: 46,
  LDTR_TR_ACCESS: 47,
  EPT_VIOLATION: 48,
  EPT_MISCONFIGURATION: 49,
  INVEPT: 50,
  RDTSCP: 51,
  PREEMPTION_TIMER: 52,
  INVVPID: 53,
  WBINVD: 54,
  XSETBV: 55,
  APIC_WRITE: 56,
  RDRAND: 57,
  INVPCID: 58,
  VMFUNC: 59,
  ENCLS: 60,
  RDSEED: 61,
  PML_FULL: 62,
  XSAVES: 63,
  XRSTORS: 64,
  UMWAIT: 67,
  TPAUSE: 68,
  BUS_LOCK: 74,
  NOTIFICATION: 75,
  SEAMCALL: 76,
  TDCALL: 77,
} as const);
export type VmxExitReasonName = keyof typeof VmxExitReason;

/** Extended exit qualification types (RDX bits 3:0 on an async TD exit). */
export const ExtExitQualType = Object.freeze({
  NONE: 0,
  /** TDG.MEM.PAGE.ACCEPT could not find a PENDING page at the requested level. */
  ACCEPT: 1,
  GPA_DETAILS: 2,
  TD_ENTRY_MSR_LOAD_FAILURE: 3,
  TD_ENTRY_XSTATE_LOAD_FAILURE: 4,
  ATTR_WR: 5,
  /** The guest touched a PENDING page and SEPT_VE_DISABLE is set. */
  PENDING_EPT_VIOLATION: 6,
} as const);

/** Exception vectors the TDX module injects into a TD. */
export const Vector = Object.freeze({
  /** Non-maskable interrupt (delivered for TDVPS PEND_NMI). */
  NMI: 2,
  UD: 6,
  DF: 8,
  GP: 13,
  PF: 14,
  VE: 20,
} as const);

/** VE_INFO.VALID is set to all ones while a #VE is pending consumption by TDG.VP.VEINFO.GET. */
export const VE_INFO_VALID = 0xffff_ffffn;

/** Instruction lengths the simulated guest CPU reports in VE_INFO (x86 encodings). */
export const InstructionLength = Object.freeze({
  /** 66 0F 01 CC */
  TDCALL: 4,
  /** 0F A2 */
  CPUID: 2,
  /** F4 */
  HLT: 1,
  /** 0F 32 / 0F 30 */
  RDMSR: 2,
  WRMSR: 2,
  /** IN/OUT with DX: EC/ED/EE/EF (plus 66 prefix for 16-bit). */
  IO_DX: 1,
  /** 0F 01 C1 */
  VMCALL: 3,
  /** 0F 09 */
  WBINVD: 2,
} as const);

/**
 * TD VMCS fields the host reaches through TDH.VP.RD/WR (metadata class 0, field code = the VMCS
 * field encoding). Encodings: Intel SDM Vol. 3D Appendix B; TDX module 1.5 `vmcs_defs.h`.
 */
export const TdVmcsField = Object.freeze({
  /** 16-bit: posted-interrupt notification vector. */
  POSTED_INTR_NV: 0x0002,
  /** 64-bit: host physical address of the 64-byte posted-interrupt descriptor. */
  POSTED_INTR_DESC_ADDR: 0x2016,
  /** 64-bit: root of the host's shared EPT (what translates the TD's shared GPAs). */
  SHARED_EPTP: 0x203c,
  /** 32-bit: pin-based VM-execution controls (bit 7 = process posted interrupts). */
  PIN_BASED_VM_EXEC_CONTROL: 0x4000,
} as const);

/** A VMCS field encoding's bit 0: 1 = the HIGH half of a 64-bit field (SDM Vol. 3C §25.11.2). */
export const VMCS_ENCODING_ACCESS_HIGH = 1;

/**
 * POSTED_INTR_NV until the host writes it: an illegal vector (POSTED_INTERRUPT_NOTFICATION_VECTOR_INIT
 * in the module's `vmcs_defs.h`). Enabling posted interrupts is refused while it is still this.
 */
export const POSTED_INTR_NV_INIT = 0xffff;
/** Notification vectors TDH.VP.WR accepts: 0..255 (POSTED_INTERRUPT_NOTFICATION_VECTOR_MIN/MAX). */
export const POSTED_INTR_NV_MAX = 255;

/** A physical-address field nobody has written yet holds NULL_PA, all ones (`NULL_PA` in the module). */
export const NULL_PA = 0xffff_ffff_ffff_ffffn;
