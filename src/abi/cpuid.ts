/**
 * CPUID as a TD sees it: the leaves the TDX module virtualises, the values of the simulated CPU
 * behind them, and the ranges that always raise #VE.
 *
 * The real module answers a guest CPUID from a table computed at TDH.MNG.INIT: the CPU's native
 * value, with the bits the host may configure (TD_PARAMS.CPUID_CONFIG, see cpuid-config.ts) taken
 * from the host, and fixed bits forced. A leaf or sub-leaf that is not in its lookup table, and
 * every leaf in the hypervisor range 0x40000000–0x4FFFFFFF, raises #VE so the guest can ask the
 * VMM (TDG.VP.VMCALL<Instruction.CPUID>). Source: TDX module 1.5 `td_cpuid.c`,
 * `include/auto_gen/cpuid_configurations.c`; facts tdx-module.md §6.4, linux-tdx.md §6.1, §6.3.
 *
 * tdxsim has no native CPU to sample, so `SIMULATED_CPUID` stands in for it: the values of a
 * simulated Sapphire-Rapids-class TDX host (family 6, model 0x8F), reduced to what a TD may see.
 * They are simulated, not measured from hardware. Leaves the simulated CPU does not list raise #VE
 * exactly as unknown leaves do on the real module.
 */
import { bitfield } from './bitfield.ts';

/** CPUID leaf 0x21: the TDX identification leaf the module answers itself. */
export const CPUID_TDX_LEAF = 0x21;

/**
 * CPUID(0x21, 0): EAX = maximum sub-leaf (0), then "IntelTDX    " spread over EBX ("Inte"),
 * EDX ("lTDX") and ECX ("    "), little-endian (`cpuid_configurations.c` fixed1 values of leaf
 * 0x21; Linux `TDX_IDENT`).
 */
export const CPUID_TDX_SIGNATURE = Object.freeze({ eax: 0, ebx: 0x6574_6e49, ecx: 0x2020_2020, edx: 0x5844_546c });

/** The hypervisor CPUID range: always #VE in a TD (`CPUID_RESERVED_START`..`_END`). */
export const CPUID_HYPERVISOR_FIRST = 0x4000_0000;
export const CPUID_HYPERVISOR_LAST = 0x4fff_ffff;

/** First extended CPUID leaf; leaves below it form the basic range. */
export const CPUID_FIRST_EXTENDED_LEAF = 0x8000_0000;

/** Marks a table entry whose leaf has no sub-leaves (any ECX selects it). */
export const CPUID_ANY_SUBLEAF = -1;

/** CPUID(1).EBX: the APIC-id field the module fills per vCPU (`cpuid_01_ebx_t`). */
export const CPUID1_EBX = bitfield('cpuid_01_ebx_t', [
  { name: 'brand_index', width: 8 },
  { name: 'clflush_line_size', width: 8, doc: 'in 8-byte units' },
  { name: 'max_logical_processors', width: 8 },
  { name: 'initial_apic_id', width: 8, doc: 'VCPU_INDEX, or the x2APIC id when TD_CTLS.ENUM_TOPOLOGY' },
  { name: 'reserved0', width: 32, doc: 'upper half of RBX, cleared by CPUID' },
]);

/** CPUID(0x80000008).EAX: address widths; the physical width a TD sees is its GPAW. */
export const CPUID_80000008_EAX = bitfield('cpuid_80000008_eax_t', [
  { name: 'physical_address_bits', width: 8 },
  { name: 'linear_address_bits', width: 8 },
  { name: 'guest_physical_address_bits', width: 8 },
  { name: 'reserved0', width: 40 },
]);

/** CPUID(1): version and feature information (its EBX carries the initial APIC id). */
export const CPUID_VERSION_LEAF = 0x1;
/** CPUID(0x80000008): address sizes (its EAX[7:0] is the TD's GPAW). */
export const CPUID_ADDRESS_SIZES_LEAF = 0x8000_0008;

export interface SimulatedCpuidLeaf {
  readonly leaf: number;
  /** Sub-leaf, or CPUID_ANY_SUBLEAF. */
  readonly subleaf: number;
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
}

const leaf = (l: SimulatedCpuidLeaf): SimulatedCpuidLeaf => Object.freeze(l);

/**
 * The simulated CPU's CPUID values for the leaves the module virtualises (simulated values).
 * Configurable bits of these leaves are replaced by the TD's CPUID_CONFIG at run time.
 */
export const SIMULATED_CPUID: readonly SimulatedCpuidLeaf[] = Object.freeze([
  // Maximum basic leaf 0x23 and the vendor string "GenuineIntel" (EBX, EDX, ECX).
  leaf({ leaf: 0x0, subleaf: CPUID_ANY_SUBLEAF, eax: 0x23, ebx: 0x756e_6547, ecx: 0x6c65_746e, edx: 0x4965_6e69 }),
  // Family 6 model 0x8F stepping 8; CLFLUSH 64 B; SSE3..AVX, RDRAND, x2APIC, hypervisor (bit 31).
  leaf({ leaf: CPUID_VERSION_LEAF, subleaf: CPUID_ANY_SUBLEAF, eax: 0x0008_06f8, ebx: 0x0000_0800, ecx: 0xf6f8_3203, edx: 0x1f8b_fbff }),
  // Deterministic cache parameters (configured by the host; native values are not modelled).
  leaf({ leaf: 0x4, subleaf: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 }),
  leaf({ leaf: 0x4, subleaf: 1, eax: 0, ebx: 0, ecx: 0, edx: 0 }),
  leaf({ leaf: 0x4, subleaf: 2, eax: 0, ebx: 0, ecx: 0, edx: 0 }),
  leaf({ leaf: 0x4, subleaf: 3, eax: 0, ebx: 0, ecx: 0, edx: 0 }),
  // Structured extended features: max sub-leaf 2; FSGSBASE, BMI1/2, AVX2, SMEP, SMAP, AVX-512 …
  leaf({ leaf: 0x7, subleaf: 0, eax: 0x2, ebx: 0xf19f_07a9, ecx: 0, edx: 0 }),
  leaf({ leaf: 0x7, subleaf: 1, eax: 0, ebx: 0, ecx: 0, edx: 0 }),
  leaf({ leaf: 0x7, subleaf: 2, eax: 0, ebx: 0, ecx: 0, edx: 0 }),
  // Architectural performance monitoring: not exposed unless ATTRIBUTES.PERFMON (not modelled).
  leaf({ leaf: 0xa, subleaf: CPUID_ANY_SUBLEAF, eax: 0, ebx: 0, ecx: 0, edx: 0 }),
  // Architectural LBR: not exposed.
  leaf({ leaf: 0x1c, subleaf: CPUID_ANY_SUBLEAF, eax: 0, ebx: 0, ecx: 0, edx: 0 }),
  // The TDX identification leaf.
  leaf({ leaf: CPUID_TDX_LEAF, subleaf: 0, ...CPUID_TDX_SIGNATURE }),
  // Architectural performance monitoring extended leaf: not exposed.
  leaf({ leaf: 0x23, subleaf: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 }),
  // Maximum extended leaf 0x80000008.
  leaf({ leaf: 0x8000_0000, subleaf: CPUID_ANY_SUBLEAF, eax: 0x8000_0008, ebx: 0, ecx: 0, edx: 0 }),
  // LAHF/SAHF, LZCNT, PREFETCHW; SYSCALL, NX, 1G pages, RDTSCP, long mode.
  leaf({ leaf: 0x8000_0001, subleaf: CPUID_ANY_SUBLEAF, eax: 0, ebx: 0, ecx: 0x121, edx: 0x2c10_0800 }),
  // Address widths: the physical width is filled with the TD's GPAW at run time.
  leaf({ leaf: CPUID_ADDRESS_SIZES_LEAF, subleaf: CPUID_ANY_SUBLEAF, eax: 0x3034, ebx: 0, ecx: 0, edx: 0 }),
]);
