/**
 * The Intel SGX extension of a PCK (Provisioning Certification Key) certificate: what a DCAP
 * verifier reads from the leaf of the quote's certificate chain to learn which platform and which
 * TCB level signed the QE report.
 *
 * The extension (OID 1.2.840.113741.1.13.1, non-critical) is a SEQUENCE of SEQUENCE { OID, value }:
 *
 *   .1  PPID           OCTET STRING (16)   platform provisioning ID
 *   .2  TCB            SEQUENCE of SEQUENCE { OID, value }:
 *         .2.1 … .2.16  INTEGER            CPUSVN components 1..16 (SGX TCB components)
 *         .2.17         INTEGER            PCESVN
 *         .2.18         OCTET STRING (16)  CPUSVN as raw bytes
 *   .3  PCE-ID         OCTET STRING (2)
 *   .4  FMSPC          OCTET STRING (6)    family-model-stepping-platform-customSKU
 *   .5  SGX Type       ENUMERATED          0 Standard, 1 Scalable, 2 Scalable with integrity
 *   .6  PlatformInstanceID OCTET STRING (16)  (Platform CA leaves only)
 *   .7  Configuration  SEQUENCE { .7.1 dynamicPlatform, .7.2 cachedKeys, .7.3 SMTEnabled: BOOLEAN }
 *
 * Source: Intel "SGX PCK Certificate and Certificate Revocation List Profile Specification";
 * `@phala/dcap-qvl` 0.3.9 `src/oids.js`, `src/utils.js` (`getFmspc`, `getCpuSvn`, `getPceSvn`),
 * `src/intel.js`; facts ecosystem.md §5.
 */

/** The SGX extension and its members. */
export const SgxExtensionOid = Object.freeze({
  SGX_EXTENSION: '1.2.840.113741.1.13.1',
  PPID: '1.2.840.113741.1.13.1.1',
  TCB: '1.2.840.113741.1.13.1.2',
  PCEID: '1.2.840.113741.1.13.1.3',
  FMSPC: '1.2.840.113741.1.13.1.4',
  SGX_TYPE: '1.2.840.113741.1.13.1.5',
  PLATFORM_INSTANCE_ID: '1.2.840.113741.1.13.1.6',
  CONFIGURATION: '1.2.840.113741.1.13.1.7',
  CONFIGURATION_DYNAMIC_PLATFORM: '1.2.840.113741.1.13.1.7.1',
  CONFIGURATION_CACHED_KEYS: '1.2.840.113741.1.13.1.7.2',
  CONFIGURATION_SMT_ENABLED: '1.2.840.113741.1.13.1.7.3',
} as const);

/** Number of SGX TCB components (CPUSVN bytes), OIDs TCB.1 … TCB.16. */
export const SGX_TCB_COMPONENT_COUNT = 16;
/** OID of SGX TCB component `n` (1-based, 1..16). */
export function sgxTcbComponentOid(n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > SGX_TCB_COMPONENT_COUNT) throw new RangeError(`SGX TCB component ${n} is not in 1..16`);
  return `${SgxExtensionOid.TCB}.${n}`;
}
/** OID of PCESVN inside TCB. */
export const SGX_TCB_PCESVN_OID = `${SgxExtensionOid.TCB}.17`;
/** OID of the raw CPUSVN inside TCB. */
export const SGX_TCB_CPUSVN_OID = `${SgxExtensionOid.TCB}.18`;

/** Sizes of the fixed-size members. */
export const PPID_SIZE = 16;
export const CPUSVN_SIZE = 16;
export const PCEID_SIZE = 2;
export const FMSPC_SIZE = 6;
export const PLATFORM_INSTANCE_ID_SIZE = 16;

/** SGX Type: the platform's SGX flavour. TDX platforms (Xeon Scalable) report 1. */
export const SgxType = Object.freeze({ STANDARD: 0, SCALABLE: 1, SCALABLE_WITH_INTEGRITY: 2 } as const);
