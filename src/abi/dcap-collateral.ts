/**
 * DCAP verification collateral as Intel's PCS (Provisioning Certification Service) API v4 serves
 * it: the names, versions and status words a verifier compares, so that they live in one place.
 *
 * - TDX TCB Info, version 3 (`GET /tdx/certification/v4/tcb?fmspc=…`): the body is
 *   `{"tcbInfo":{…},"signature":"<hex r‖s>"}`; the signature is ECDSA P-256 / SHA-256 by the TCB
 *   Signing key over the exact bytes of the `tcbInfo` value. `tcbInfo` carries `tdxModule`,
 *   `tdxModuleIdentities` (one per TDX module major version, id `TDX_<2-digit hex>`) and
 *   `tcbLevels`, each with 16 `sgxtcbcomponents`, `pcesvn` and 16 `tdxtcbcomponents`.
 * - TD QE Identity, version 2 (`GET /tdx/certification/v4/qe/identity`): the body is
 *   `{"enclaveIdentity":{…},"signature":"<hex>"}` with id `TD_QE`.
 * - CRLs: the root CA CRL and the PCK (Platform or Processor) CA CRL, DER.
 *
 * Source: Intel PCS API v4 documentation ("TDX TCB Info", "TDX QE Identity"); Intel
 * SGX-TDX-DCAP-QuoteVerificationLibrary `TdxModuleCheck` (module identity by TEE_TCB_SVN[1],
 * level by TEE_TCB_SVN[0]) and `TcbLevelCheck` (for TEE_TCB_SVN[1] > 0 the TDX components 0 and 1
 * are matched through the module identity, not the platform level), as described by the public
 * re-implementations; `@phala/dcap-qvl` 0.3.9 `src/verify.js`, `src/tcb_info.js`,
 * `src/qe_identity.js`.
 */

/** `tcbInfo.id` and `version` of a TDX TCB Info. */
export const TDX_TCB_INFO_ID = 'TDX';
export const TDX_TCB_INFO_VERSION = 3;
/** `enclaveIdentity.id` and `version` of the TD QE identity (dcap-qvl accepts versions 2 and 3). */
export const TD_QE_IDENTITY_ID = 'TD_QE';
export const TD_QE_IDENTITY_VERSION = 2;
/** ISVPRODID of the TD QE. */
export const TD_QE_ISV_PROD_ID = 2;

/** `tcbType` 0: the TCB components are compared one by one. */
export const TCB_TYPE_COMPONENT_WISE = 0;
/** Number of `sgxtcbcomponents` and of `tdxtcbcomponents` in a TCB level. */
export const TCB_COMPONENT_COUNT = 16;

/** Index in TEE_TCB_SVN of the TDX module's SVN (matched against a module identity's levels). */
export const TEE_TCB_SVN_MODULE_SVN_INDEX = 0;
/** Index in TEE_TCB_SVN of the TDX module's major version (selects the module identity). */
export const TEE_TCB_SVN_MODULE_VERSION_INDEX = 1;
/** `tdxModuleIdentities[].id` for a module major version: `TDX_` and two hex digits. */
export function tdxModuleIdentityId(majorVersion: number): string {
  return `TDX_${majorVersion.toString(16).toUpperCase().padStart(2, '0')}`;
}

/**
 * TCB status words, best first. A verifier merges the platform's and the QE's status by taking
 * the worse; `Revoked` is never acceptable.
 */
export const TCB_STATUSES = Object.freeze([
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
] as const);
export type TcbStatus = (typeof TCB_STATUSES)[number];

/**
 * `attributesMask` of Intel's published TD QE identity: every SECS.ATTRIBUTES flag bit is compared
 * except MODE64BIT (bit 2), and XFRM is not compared. 16 bytes, hex, in report byte order.
 */
export const TD_QE_ATTRIBUTES_MASK_HEX = 'FBFFFFFFFFFFFFFF0000000000000000';
/** `miscselectMask` of the TD QE identity: all MISCSELECT bits are compared. */
export const TD_QE_MISCSELECT_MASK_HEX = 'FFFFFFFF';
/** `tdxModule.attributesMask`: every SEAM attribute bit is compared. */
export const TDX_MODULE_ATTRIBUTES_MASK_HEX = 'FFFFFFFFFFFFFFFF';
