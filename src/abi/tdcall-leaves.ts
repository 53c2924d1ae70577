/**
 * TDCALL (guest → TDX module, "TDG.*") leaves of the TDX 1.5 module.
 *
 * Numbers: `tdcall_leaf_opcode_e` in the module's `include/tdx_api_defs.h`; register use: the
 * module's handlers (`src/td_dispatcher/vm_exits/`) and Linux's `arch/x86/coco/tdx`. RAX is the
 * leaf word on input and the completion status on output. Only TDG.VM.RD accepts version 1.
 */
import { defineLeaf, type LeafDef } from './leaf.ts';
import {
  CPUIDVE_FLAGS,
  FIELD_ID,
  GPA_AND_LEVEL,
  TDVMCALL_CONTROL,
  VEINFO_R10,
  VP_INFO_R10,
  VP_INFO_R8,
  VP_INFO_RCX,
} from './operands.ts';

const tdcall = <const I extends readonly LeafDef['inputs'][number][], const O extends readonly LeafDef['outputs'][number][]>(
  def: Omit<LeafDef<I, O>, 'kind'>,
) => defineLeaf<I, O>({ kind: 'tdcall', ...def });

export const TdcallLeaf = Object.freeze({
  TDG_VP_VMCALL: tdcall({
    mnemonic: 'TDG.VP.VMCALL',
    number: 0,
    maxVersion: 0,
    purpose: 'Call the host VMM (TD exit); the GHCI defines the sub-functions',
    implemented: true,
    inputs: [{ reg: 'RCX', name: 'control', doc: 'GPRs and XMMs exposed to the VMM', layout: TDVMCALL_CONTROL }],
    outputs: [],
    notes:
      'The exposed registers carry the GHCI payload both ways (R10 = VMM status, R11 = sub-function/result). A bad control word fails with OPERAND_INVALID|RCX and no TD exit.',
  }),
  TDG_VP_INFO: tdcall({
    mnemonic: 'TDG.VP.INFO',
    number: 1,
    maxVersion: 0,
    purpose: 'Get TD execution environment information',
    implemented: true,
    inputs: [],
    outputs: [
      { reg: 'RCX', name: 'gpaw', doc: 'guest physical address width', layout: VP_INFO_RCX },
      { reg: 'RDX', name: 'attributes', doc: 'TD ATTRIBUTES' },
      { reg: 'R8', name: 'vcpus', doc: 'NUM_VCPUS | MAX_VCPUS', layout: VP_INFO_R8 },
      { reg: 'R9', name: 'vcpuIndex', doc: "this vCPU's index" },
      { reg: 'R10', name: 'features', doc: 'bit 0: TDG.SYS.RD available', layout: VP_INFO_R10 },
      { reg: 'R11', name: 'reserved11', doc: '0' },
    ],
  }),
  TDG_MR_RTMR_EXTEND: tdcall({
    mnemonic: 'TDG.MR.RTMR.EXTEND',
    number: 2,
    maxVersion: 0,
    purpose: 'Extend a runtime measurement register with 48 bytes of guest memory',
    implemented: true,
    inputs: [
      { reg: 'RCX', name: 'gpa', doc: 'GPA of the 48-byte extend data (64-byte-aligned, private)' },
      { reg: 'RDX', name: 'index', doc: 'RTMR index (0..3)' },
    ],
    outputs: [],
  }),
  TDG_VP_VEINFO_GET: tdcall({
    mnemonic: 'TDG.VP.VEINFO.GET',
    number: 3,
    maxVersion: 0,
    purpose: 'Get the information of the pending #VE and mark it consumed',
    implemented: true,
    inputs: [],
    outputs: [
      { reg: 'RCX', name: 'exitReason', doc: 'exit reason (32 bits)' },
      { reg: 'RDX', name: 'exitQualification', doc: 'exit qualification' },
      { reg: 'R8', name: 'gla', doc: 'guest linear address' },
      { reg: 'R9', name: 'gpa', doc: 'guest physical address' },
      { reg: 'R10', name: 'instruction', doc: 'instruction length | instruction info', layout: VEINFO_R10 },
    ],
  }),
  TDG_MR_REPORT: tdcall({
    mnemonic: 'TDG.MR.REPORT',
    number: 4,
    maxVersion: 0,
    purpose: 'Create a TDREPORT_STRUCT with caller-supplied REPORTDATA',
    implemented: true,
    inputs: [
      { reg: 'RCX', name: 'report', doc: 'TDREPORT output GPA (1024-aligned)' },
      { reg: 'RDX', name: 'reportData', doc: 'REPORTDATA GPA (64-aligned)' },
      { reg: 'R8', name: 'subtype', doc: 'report subtype (must be 0)' },
    ],
    outputs: [],
  }),
  TDG_VP_CPUIDVE_SET: tdcall({
    mnemonic: 'TDG.VP.CPUIDVE.SET',
    number: 5,
    maxVersion: 0,
    purpose: 'Choose whether CPUID raises #VE unconditionally',
    implemented: true,
    inputs: [{ reg: 'RCX', name: 'flags', doc: 'bit 0: CPL 0, bit 1: CPL > 0', layout: CPUIDVE_FLAGS }],
    outputs: [],
  }),
  TDG_MEM_PAGE_ACCEPT: tdcall({
    mnemonic: 'TDG.MEM.PAGE.ACCEPT',
    number: 6,
    maxVersion: 0,
    purpose: 'Accept a PENDING private page (4K or 2M) into the TD',
    implemented: true,
    inputs: [{ reg: 'RCX', name: 'gpaLevel', doc: 'GPA | level (0 or 1)', layout: GPA_AND_LEVEL }],
    outputs: [],
    notes: 'PAGE_ALREADY_ACCEPTED and PAGE_SIZE_MISMATCH carry the SEPT level in status bits 31:0.',
  }),
  TDG_VM_RD: tdcall({
    mnemonic: 'TDG.VM.RD',
    number: 7,
    maxVersion: 1,
    purpose: 'Read a TD-scope metadata field',
    implemented: true,
    inputs: [
      { reg: 'RCX', name: 'vm', doc: 'VM index (0 = L1)' },
      { reg: 'RDX', name: 'fieldId', doc: 'field identifier', layout: FIELD_ID },
    ],
    outputs: [
      { reg: 'RDX', name: 'nextFieldId', doc: 'version 1: next field id' },
      { reg: 'R8', name: 'value', doc: 'field value' },
    ],
  }),
  TDG_VM_WR: tdcall({
    mnemonic: 'TDG.VM.WR',
    number: 8,
    maxVersion: 0,
    purpose: 'Write a TD-scope metadata field',
    implemented: true,
    inputs: [
      { reg: 'RCX', name: 'vm', doc: 'VM index (0 = L1)' },
      { reg: 'RDX', name: 'fieldId', doc: 'field identifier', layout: FIELD_ID },
      { reg: 'R8', name: 'value', doc: 'new value' },
      { reg: 'R9', name: 'mask', doc: 'write mask' },
    ],
    outputs: [{ reg: 'R8', name: 'oldValue', doc: 'previous value' }],
  }),
  TDG_VP_RD: tdcall({
    mnemonic: 'TDG.VP.RD',
    number: 9,
    maxVersion: 0,
    purpose: "Read a field of this vCPU's metadata",
    implemented: true,
    inputs: [
      { reg: 'RDX', name: 'fieldId', doc: 'field identifier', layout: FIELD_ID },
      { reg: 'RCX', name: 'vm', doc: 'must be 0 (else OPERAND_INVALID|RCX; `tdg_vp_rd_wr`)' },
    ],
    outputs: [
      { reg: 'RDX', name: 'nextFieldId', doc: 'next field id' },
      { reg: 'R8', name: 'value', doc: 'field value' },
    ],
  }),
  TDG_VP_WR: tdcall({
    mnemonic: 'TDG.VP.WR',
    number: 10,
    maxVersion: 0,
    purpose: "Write a field of this vCPU's metadata",
    implemented: true,
    inputs: [
      { reg: 'RDX', name: 'fieldId', doc: 'field identifier', layout: FIELD_ID },
      { reg: 'R8', name: 'value', doc: 'new value' },
      { reg: 'R9', name: 'mask', doc: 'write mask' },
      { reg: 'RCX', name: 'vm', doc: 'must be 0 (else OPERAND_INVALID|RCX; `tdg_vp_rd_wr`)' },
    ],
    outputs: [{ reg: 'R8', name: 'oldValue', doc: 'previous value' }],
  }),
  TDG_SYS_RD: tdcall({
    mnemonic: 'TDG.SYS.RD',
    number: 11,
    maxVersion: 0,
    purpose: 'Read a global (platform) metadata field',
    implemented: true,
    inputs: [{ reg: 'RDX', name: 'fieldId', doc: 'field identifier (the null id, all ones, asks for the first field)', layout: FIELD_ID }],
    outputs: [
      { reg: 'RDX', name: 'nextFieldId', doc: 'next field id' },
      { reg: 'R8', name: 'value', doc: 'field value' },
    ],
  }),
  TDG_SYS_RDALL: tdcall({
    mnemonic: 'TDG.SYS.RDALL',
    number: 12,
    maxVersion: 0,
    purpose: 'Read all global metadata into a list in guest memory',
    implemented: false,
    inputs: [
      { reg: 'RDX', name: 'list', doc: 'metadata list GPA' },
      { reg: 'R8', name: 'fieldId', doc: 'first field id' },
    ],
    outputs: [{ reg: 'R8', name: 'nextFieldId', doc: 'next field id' }],
  }),
  TDG_SERVTD_RD: tdcall({ mnemonic: 'TDG.SERVTD.RD', number: 18, maxVersion: 0, purpose: "Service TD: read a bound target TD's metadata", implemented: false, inputs: [], outputs: [] }),
  TDG_SERVTD_WR: tdcall({ mnemonic: 'TDG.SERVTD.WR', number: 20, maxVersion: 0, purpose: "Service TD: write a bound target TD's metadata", implemented: false, inputs: [], outputs: [] }),
  TDG_MR_VERIFYREPORT: tdcall({ mnemonic: 'TDG.MR.VERIFYREPORT', number: 22, maxVersion: 0, purpose: 'Verify a REPORTMACSTRUCT produced on this platform', implemented: false, inputs: [{ reg: 'RCX', name: 'reportMac', doc: 'REPORTMACSTRUCT GPA (256-aligned)' }], outputs: [] }),
  TDG_MEM_PAGE_ATTR_RD: tdcall({ mnemonic: 'TDG.MEM.PAGE.ATTR.RD', number: 23, maxVersion: 0, purpose: 'TD partitioning: read L2 page attributes', implemented: false, inputs: [], outputs: [] }),
  TDG_MEM_PAGE_ATTR_WR: tdcall({ mnemonic: 'TDG.MEM.PAGE.ATTR.WR', number: 24, maxVersion: 0, purpose: 'TD partitioning: write L2 page attributes', implemented: false, inputs: [], outputs: [] }),
  TDG_VP_ENTER: tdcall({ mnemonic: 'TDG.VP.ENTER', number: 25, maxVersion: 0, purpose: 'TD partitioning: the L1 VMM enters an L2 VM', implemented: false, inputs: [], outputs: [] }),
  TDG_VP_INVEPT: tdcall({ mnemonic: 'TDG.VP.INVEPT', number: 26, maxVersion: 0, purpose: 'TD partitioning: invalidate L2 EPT translations', implemented: false, inputs: [], outputs: [] }),
  TDG_VP_INVVPID: tdcall({ mnemonic: 'TDG.VP.INVVPID', number: 27, maxVersion: 0, purpose: 'TD partitioning: invalidate L2 VPID translations', implemented: false, inputs: [], outputs: [] }),
});

export type TdcallLeafName = keyof typeof TdcallLeaf;
