/**
 * KVM's emulation of the MSRs a TD reaches through TDVMCALL<Instruction.RDMSR/WRMSR>, with
 * userspace MSR filters (KVM_X86_SET_MSR_FILTER).
 *
 * Only the MSRs of `tdx_has_emulated_msr()` are served (src/abi/kvm-msrs.ts); APICBASE, EFER and
 * FEATURE_CONTROL are read-only, as are the capability MSRs; x2APIC registers the CPU virtualises
 * (TPR, PPR, EOI, ISR, TMR, IRR) are refused. A refused or filtered access makes the TDVMCALL fail
 * with INVALID_OPERAND (facts linux-tdx.md §4.3). The values are KVM's defaults; writes to the
 * MTRRs, machine-check banks, MISC_ENABLE, TSC_DEADLINE and the other x2APIC registers are stored
 * and read back. A write to the x2APIC ICR sends a fixed-mode IPI through `sendIpi`.
 */
import {
  APIC_BASE_BSP,
  APIC_BASE_ENABLE,
  APIC_BASE_X2APIC_ENABLE,
  APIC_DEFAULT_PHYS_BASE,
  FEAT_CTL_LOCKED,
  ICR_DELIVERY_MODE_MASK,
  ICR_DELIVERY_MODE_SHIFT,
  ICR_DEST_SHIFT,
  ICR_VECTOR_MASK,
  KVM_MAX_MCE_BANKS,
  KvmMsr,
  MCE_MSRS_PER_BANK,
  TD_VCPU_EFER,
  X2APIC_VECTOR_BLOCK_REGS,
  X2APIC_VERSION_VALUE,
} from '../abi/kvm-msrs.ts';
import { PAT_INITIAL } from '../abi/msr.ts';

export type MsrAccess = 'read' | 'write';

/** One KVM_X86_SET_MSR_FILTER range: MSRs [base, base + count) for the given accesses. */
export interface MsrFilterRange {
  readonly base: number;
  readonly count: number;
  readonly accesses: readonly MsrAccess[];
  readonly action: 'allow' | 'deny';
}

export interface MsrFilter {
  /** What happens to an access no range covers (KVM_MSR_FILTER_DEFAULT_ALLOW/DENY). */
  readonly default: 'allow' | 'deny';
  readonly ranges: readonly MsrFilterRange[];
}

/** Whether the filter lets an access through: the first range covering it decides. */
export function msrAllowed(filter: MsrFilter | undefined, index: number, access: MsrAccess): boolean {
  if (!filter) return true;
  const r = filter.ranges.find((x) => index >= x.base && index < x.base + x.count && x.accesses.includes(access));
  return (r?.action ?? filter.default) === 'allow';
}

/** `tdx_has_emulated_msr()`. */
export function isKvmEmulatedMsr(index: number): boolean {
  const m = KvmMsr;
  if (index >= m.X2APIC_BASE && index <= m.X2APIC_LAST) return !isCpuVirtualizedX2apic(index);
  if (index >= m.MTRR_PHYS_BASE0 && index <= m.MTRR_FIX4K_F8000) return true;
  if (index >= m.IA32_MC0_CTL && index < m.IA32_MC0_CTL + KVM_MAX_MCE_BANKS * MCE_MSRS_PER_BANK) return true;
  if (index >= m.IA32_MC0_CTL2 && index < m.IA32_MC0_CTL2 + KVM_MAX_MCE_BANKS) return true;
  return EMULATED_SINGLE.has(index);
}

const EMULATED_SINGLE: ReadonlySet<number> = new Set([
  KvmMsr.IA32_UCODE_REV,
  KvmMsr.IA32_ARCH_CAPABILITIES,
  KvmMsr.IA32_POWER_CTL,
  KvmMsr.IA32_CR_PAT,
  KvmMsr.MTRRCAP,
  KvmMsr.MTRR_DEF_TYPE,
  KvmMsr.IA32_TSC_DEADLINE,
  KvmMsr.IA32_MISC_ENABLE,
  KvmMsr.PLATFORM_INFO,
  KvmMsr.MISC_FEATURES_ENABLES,
  KvmMsr.IA32_APICBASE,
  KvmMsr.IA32_EFER,
  KvmMsr.IA32_FEAT_CTL,
  KvmMsr.IA32_MCG_CAP,
  KvmMsr.IA32_MCG_STATUS,
  KvmMsr.IA32_MCG_CTL,
  KvmMsr.IA32_MCG_EXT_CTL,
  KvmMsr.KVM_POLL_CONTROL,
]);

/**
 * x2APIC registers backed by the virtual-APIC page, which KVM cannot see for a TD. (KVM's range
 * macros for ISR/TMR/IRR name the whole 8-register blocks; that is the intent modelled here.)
 */
function isCpuVirtualizedX2apic(index: number): boolean {
  const m = KvmMsr;
  const inBlock = (first: number) => index >= first && index < first + X2APIC_VECTOR_BLOCK_REGS;
  return index === m.X2APIC_TPR || index === m.X2APIC_PPR || index === m.X2APIC_EOI || inBlock(m.X2APIC_ISR0) || inBlock(m.X2APIC_TMR0) || inBlock(m.X2APIC_IRR0);
}

/** Read-only for the guest: `tdx_is_read_only_msr()` plus the capability MSRs KVM refuses writes to. */
const READ_ONLY: ReadonlySet<number> = new Set([
  KvmMsr.IA32_APICBASE,
  KvmMsr.IA32_EFER,
  KvmMsr.IA32_FEAT_CTL,
  KvmMsr.MTRRCAP,
  KvmMsr.IA32_ARCH_CAPABILITIES,
  KvmMsr.PLATFORM_INFO,
  KvmMsr.IA32_MCG_CAP,
  KvmMsr.X2APIC_ID,
  KvmMsr.X2APIC_VERSION,
]);

/** MSRs that exist only with a capability this host does not give TDs (LMCE, MCG_CTL_P). */
const UNAVAILABLE: ReadonlySet<number> = new Set([KvmMsr.IA32_MCG_EXT_CTL, KvmMsr.IA32_MCG_CTL]);

/** MTRRcap KVM reports: 8 variable ranges, fixed ranges and WC supported. */
const MTRRCAP_VALUE = 8n | (1n << 8n) | (1n << 10n);
/** MISC_ENABLE KVM presets: BTS and PEBS unavailable (bits 11 and 12). */
const MISC_ENABLE_DEFAULT = (1n << 11n) | (1n << 12n);
/** IA32_UCODE_REV KVM presets (revision in bits 63:32). */
const UCODE_REV_DEFAULT = 1n << 32n;
/** PAT memory types a PAT byte may hold (UC, WC, WT, WP, WB, UC-). */
const PAT_VALID_TYPES: ReadonlySet<number> = new Set([0, 1, 4, 5, 6, 7]);

export interface MsrResult {
  readonly ok: boolean;
  readonly value: bigint;
}

/** One vCPU's emulated MSRs. */
export class KvmMsrState {
  private readonly values = new Map<number, bigint>();

  constructor(
    readonly x2apicId: bigint,
    bsp: boolean,
    /** Called for a fixed-mode IPI written to the x2APIC ICR: destination x2APIC ID and vector. */
    private readonly sendIpi: (dest: bigint, vector: number) => void,
  ) {
    const apicBase = APIC_DEFAULT_PHYS_BASE | APIC_BASE_ENABLE | APIC_BASE_X2APIC_ENABLE | (bsp ? APIC_BASE_BSP : 0n);
    this.values.set(KvmMsr.IA32_APICBASE, apicBase);
    this.values.set(KvmMsr.IA32_EFER, TD_VCPU_EFER);
    this.values.set(KvmMsr.IA32_FEAT_CTL, FEAT_CTL_LOCKED);
    this.values.set(KvmMsr.IA32_CR_PAT, PAT_INITIAL);
    this.values.set(KvmMsr.MTRRCAP, MTRRCAP_VALUE);
    this.values.set(KvmMsr.IA32_MISC_ENABLE, MISC_ENABLE_DEFAULT);
    this.values.set(KvmMsr.IA32_UCODE_REV, UCODE_REV_DEFAULT);
    this.values.set(KvmMsr.IA32_MCG_CAP, BigInt(KVM_MAX_MCE_BANKS));
    this.values.set(KvmMsr.X2APIC_ID, x2apicId);
    this.values.set(KvmMsr.X2APIC_VERSION, X2APIC_VERSION_VALUE);
  }

  /** kvm_get_msr for a TD: refused unless emulated and available. */
  read(index: number): MsrResult {
    if (!isKvmEmulatedMsr(index) || UNAVAILABLE.has(index)) return { ok: false, value: 0n };
    return { ok: true, value: this.values.get(index) ?? 0n };
  }

  /** kvm_set_msr for a TD: refused for read-only, unavailable or invalid values. */
  write(index: number, value: bigint): boolean {
    if (!isKvmEmulatedMsr(index) || UNAVAILABLE.has(index) || READ_ONLY.has(index)) return false;
    if (index === KvmMsr.IA32_CR_PAT && !validPat(value)) return false;
    if (index === KvmMsr.X2APIC_ICR) return this.writeIcr(value);
    this.values.set(index, value);
    return true;
  }

  private writeIcr(value: bigint): boolean {
    this.values.set(KvmMsr.X2APIC_ICR, value);
    // Fixed delivery (mode 0) is the only IPI a TD sends through KVM; INIT/SIPI are not
    // supported for TDs (KVM warns on INIT), so other modes are accepted and dropped.
    if (((value >> ICR_DELIVERY_MODE_SHIFT) & ICR_DELIVERY_MODE_MASK) === 0n) {
      this.sendIpi(value >> ICR_DEST_SHIFT, Number(value & ICR_VECTOR_MASK));
    }
    return true;
  }
}

function validPat(v: bigint): boolean {
  for (let i = 0n; i < 8n; i++) if (!PAT_VALID_TYPES.has(Number((v >> (8n * i)) & 0xffn))) return false;
  return true;
}
