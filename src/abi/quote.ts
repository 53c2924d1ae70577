/**
 * The Intel DCAP quote, versions 4 and 5, for a TDX TD: the bytes a quoting enclave (the TD QE)
 * makes from a TDREPORT_STRUCT, and that a relying party verifies.
 *
 *   v4:  header (48) | TD report body TD10 (584)                        | u32 size | signature data
 *   v5:  header (48) | body descriptor (6) | TD10 (584) or TD15 (648)   | u32 size | signature data
 *
 * The quote signature (ECDSA P-256 over SHA-256) covers everything before the u32 size: header,
 * the v5 descriptor, and the body. The body therefore starts at offset 48 in v4 and at offset 54
 * in v5; reading a v5 body at 48 silently shifts every measurement by six bytes (facts
 * ecosystem.md §5, aleph-vm#1186).
 *
 * Signature data (both versions, "ECDSA 256-bit quote signature data structure v4"):
 *
 *   ECDSA signature (64, r‖s big-endian) | attestation public key (64, X‖Y big-endian)
 *   | certification data: type u16 = 6 (QE report certification data), size u32, then
 *       QE report (384, an SGX enclave report) | QE report signature (64, by the PCK key)
 *       | QE authentication data: size u16, bytes
 *       | certification data: type u16 = 5 (PCK certificate chain), size u32, PEM text
 *
 * The QE report's REPORTDATA binds the attestation key: its first 32 bytes are
 * SHA-256(attestation public key ‖ QE authentication data), the rest zero.
 *
 * All integers are little-endian; signatures and keys are big-endian byte strings.
 *
 * Sources: Intel "TDX DCAP Quote Generation Library and Quote Verification Library" appendix A
 * (quote format v4 and v5), as implemented by Intel's `sgx_quote_4.h`/`sgx_quote_5.h` and parsed by
 * `@phala/dcap-qvl` 0.3.9 (`src/quote.js`, `src/constants.js`), which the tests use as the
 * independent check of every offset here; facts ecosystem.md §5.
 */
import { defineLayout } from './layout.ts';
import { SHA384_SIZE } from './td-params.ts';

/** `version` of a quote. */
export const QuoteVersion = Object.freeze({ V4: 4, V5: 5 } as const);
export type QuoteVersionNumber = (typeof QuoteVersion)[keyof typeof QuoteVersion];

/** `att_key_type`: the attestation key's algorithm. Only ECDSA-256-with-P-256 is in use. */
export const AttestationKeyType = Object.freeze({ ECDSA_P256: 2, ECDSA_P384: 3 } as const);

/** `tee_type`: 0 for SGX, 0x81 for TDX (the same value as REPORTTYPE.TYPE of a TDREPORT). */
export const TeeType = Object.freeze({ SGX: 0x00000000, TDX: 0x00000081 } as const);

/** Size of the quote header. */
export const QUOTE_HEADER_SIZE = 48;
/** Size of the v5 body descriptor (`type` u16, `size` u32). */
export const QUOTE_BODY_DESCRIPTOR_SIZE = 6;
/** Where the body starts: right after the header in v4, after the descriptor in v5. */
export const QUOTE_V4_BODY_OFFSET = QUOTE_HEADER_SIZE;
export const QUOTE_V5_BODY_OFFSET = QUOTE_HEADER_SIZE + QUOTE_BODY_DESCRIPTOR_SIZE;
/** Size of the u32 that gives the length of the signature data. */
export const QUOTE_SIGNATURE_DATA_LEN_SIZE = 4;

/** Size of the QE vendor ID in the header. */
export const QE_VENDOR_ID_SIZE = 16;
/** Intel's QE vendor ID (939A7233-F79C-4CA9-940A-0DB3957F0607), as Intel's QEs write it. */
export const INTEL_QE_VENDOR_ID: Uint8Array = Uint8Array.of(
  0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
);
/**
 * The vendor ID tdxsim's simulated QE writes: the 16 ASCII bytes "tdxsim-SIMULATED", so a quote
 * from the simulator cannot be mistaken for one from Intel's QE (facts ecosystem.md §7, item 4:
 * keep mock attestation clearly labelled). Verifiers that insist on Intel's vendor ID reject it;
 * dcap-qvl does not check the vendor ID.
 */
export const TDXSIM_QE_VENDOR_ID: Uint8Array = new TextEncoder().encode('tdxsim-SIMULATED');
/** `user_data`: the QE writes its QE ID (16 bytes) here, then 4 zero bytes. */
export const QUOTE_USER_DATA_SIZE = 20;
export const QE_ID_SIZE = 16;

/** Quote header (`sgx_quote4_header_t`), bytes 0..47 of every quote version. */
export const QUOTE_HEADER = defineLayout('QUOTE_HEADER', QUOTE_HEADER_SIZE, [
  { name: 'version', offset: 0, size: 2, kind: 'u16', doc: 'quote format version: 4 or 5' },
  { name: 'att_key_type', offset: 2, size: 2, kind: 'u16', doc: 'attestation key type: 2 = ECDSA-256-with-P-256' },
  { name: 'tee_type', offset: 4, size: 4, kind: 'u32', doc: 'TEE type: 0x81 = TDX, 0 = SGX' },
  { name: 'qe_svn', offset: 8, size: 2, kind: 'u16', doc: 'QE SVN in SGX quotes; reserved (zero) in TDX quotes' },
  { name: 'pce_svn', offset: 10, size: 2, kind: 'u16', doc: 'PCE SVN in SGX quotes; reserved (zero) in TDX quotes' },
  { name: 'qe_vendor_id', offset: 12, size: QE_VENDOR_ID_SIZE, kind: 'bytes', doc: 'UUID of the QE vendor' },
  { name: 'user_data', offset: 28, size: QUOTE_USER_DATA_SIZE, kind: 'bytes', doc: 'QE-defined: QE ID (16) then zero (4)' },
]);

/** `type` in the v5 body descriptor. */
export const QuoteBodyType = Object.freeze({ SGX_ENCLAVE_REPORT: 1, TD_REPORT10: 2, TD_REPORT15: 3 } as const);
export type QuoteBodyTypeNumber = (typeof QuoteBodyType)[keyof typeof QuoteBodyType];

/** v5 body descriptor (`sgx_quote5_t` type and size), bytes 48..53 of a v5 quote. */
export const QUOTE_BODY_DESCRIPTOR = defineLayout('QUOTE_BODY_DESCRIPTOR', QUOTE_BODY_DESCRIPTOR_SIZE, [
  { name: 'body_type', offset: 0, size: 2, kind: 'u16', doc: '1 = SGX enclave report, 2 = TD report 1.0, 3 = TD report 1.5' },
  { name: 'body_size', offset: 2, size: 4, kind: 'u32', doc: 'size of the body that follows: 384, 584 or 648' },
]);

export const TD_REPORT10_SIZE = 584;
export const TD_REPORT15_SIZE = 648;
export const TEE_TCB_SVN_SIZE = 16;

/**
 * The fields of a TD report body shared by TD10 and TD15, copied from TDREPORT_STRUCT: TEE_TCB_INFO
 * (TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM, ATTRIBUTES → SEAMATTRIBUTES), TDINFO_STRUCT (ATTRIBUTES →
 * TDATTRIBUTES, XFAM, MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0..3) and REPORTMACSTRUCT
 * (REPORTDATA). Attributes and XFAM are kept as 8 raw bytes (little-endian u64 in the report).
 */
const TD_REPORT10_FIELDS = [
  { name: 'tee_tcb_svn', offset: 0, size: TEE_TCB_SVN_SIZE, kind: 'bytes', doc: 'TEE_TCB_INFO.TEE_TCB_SVN' },
  { name: 'mrseam', offset: 16, size: SHA384_SIZE, kind: 'bytes', doc: 'TEE_TCB_INFO.MRSEAM' },
  { name: 'mrsignerseam', offset: 64, size: SHA384_SIZE, kind: 'bytes', doc: 'TEE_TCB_INFO.MRSIGNERSEAM (zero for the Intel module)' },
  { name: 'seam_attributes', offset: 112, size: 8, kind: 'bytes', doc: 'TEE_TCB_INFO.ATTRIBUTES' },
  { name: 'td_attributes', offset: 120, size: 8, kind: 'bytes', doc: 'TDINFO.ATTRIBUTES' },
  { name: 'xfam', offset: 128, size: 8, kind: 'bytes', doc: 'TDINFO.XFAM' },
  { name: 'mrtd', offset: 136, size: SHA384_SIZE, kind: 'bytes', doc: 'TDINFO.MRTD' },
  { name: 'mrconfigid', offset: 184, size: SHA384_SIZE, kind: 'bytes', doc: 'TDINFO.MRCONFIGID' },
  { name: 'mrowner', offset: 232, size: SHA384_SIZE, kind: 'bytes', doc: 'TDINFO.MROWNER' },
  { name: 'mrownerconfig', offset: 280, size: SHA384_SIZE, kind: 'bytes', doc: 'TDINFO.MROWNERCONFIG' },
  { name: 'rtmr0', offset: 328, size: SHA384_SIZE, kind: 'bytes', doc: 'TDINFO.RTMR0' },
  { name: 'rtmr1', offset: 376, size: SHA384_SIZE, kind: 'bytes', doc: 'TDINFO.RTMR1' },
  { name: 'rtmr2', offset: 424, size: SHA384_SIZE, kind: 'bytes', doc: 'TDINFO.RTMR2' },
  { name: 'rtmr3', offset: 472, size: SHA384_SIZE, kind: 'bytes', doc: 'TDINFO.RTMR3' },
  { name: 'reportdata', offset: 520, size: 64, kind: 'bytes', doc: 'REPORTMACSTRUCT.REPORTDATA' },
] as const;

/** TD report body 1.0 (`sgx_report2_body_t`): the whole body of a v4 quote, type 2 in v5. */
export const TD_REPORT10 = defineLayout('TD_REPORT10', TD_REPORT10_SIZE, TD_REPORT10_FIELDS);

/** TD report body 1.5 (`sgx_report2_body_v1_5_t`): TD10 plus two TDX 1.5 fields; v5 type 3. */
export const TD_REPORT15 = defineLayout('TD_REPORT15', TD_REPORT15_SIZE, [
  ...TD_REPORT10_FIELDS,
  { name: 'tee_tcb_svn2', offset: 584, size: TEE_TCB_SVN_SIZE, kind: 'bytes', doc: 'TEE_TCB_INFO.TEE_TCB_SVN2 (TDX 1.5)' },
  { name: 'mrservicetd', offset: 600, size: SHA384_SIZE, kind: 'bytes', doc: 'TDINFO.SERVTD_HASH: hash of bound service TDs, zero if none' },
] as const);

/**
 * Where TEE_TCB_SVN2 sits inside TEE_TCB_INFO in TDX 1.5 (`tee_tcb_info_t.tee_tcb_svn2`, right
 * after ATTRIBUTES). `abi/tdreport.ts` declares these bytes as part of its reserved tail (the TDX
 * 1.0 view); the TD15 quote body needs them. Source: TDX module 1.5 `include/tdx_api_defs.h`.
 */
export const TEE_TCB_INFO_TEE_TCB_SVN2_OFFSET = 128;

/** SGX enclave report (`sgx_report_body_t`), 384 bytes: the QE report inside the signature data. */
export const SGX_REPORT_BODY_SIZE = 384;
export const SGX_REPORT_BODY = defineLayout('SGX_REPORT_BODY', SGX_REPORT_BODY_SIZE, [
  { name: 'cpusvn', offset: 0, size: 16, kind: 'bytes', doc: 'CPUSVN of the platform the QE ran on' },
  { name: 'miscselect', offset: 16, size: 4, kind: 'u32', doc: 'SSA frame extended feature set' },
  { name: 'reserved1', offset: 20, size: 12, kind: 'reserved' },
  { name: 'isv_ext_prod_id', offset: 32, size: 16, kind: 'bytes', doc: 'extended product ID (zero for the QE)' },
  { name: 'attributes', offset: 48, size: 16, kind: 'bytes', doc: 'SECS.ATTRIBUTES: flags (u64) then XFRM (u64)' },
  { name: 'mrenclave', offset: 64, size: 32, kind: 'bytes', doc: 'measurement of the enclave' },
  { name: 'reserved2', offset: 96, size: 32, kind: 'reserved' },
  { name: 'mrsigner', offset: 128, size: 32, kind: 'bytes', doc: "SHA-256 of the enclave signer's modulus" },
  { name: 'reserved3', offset: 160, size: 32, kind: 'reserved' },
  { name: 'config_id', offset: 192, size: 64, kind: 'bytes', doc: 'enclave CONFIGID (zero for the QE)' },
  { name: 'isv_prod_id', offset: 256, size: 2, kind: 'u16', doc: 'product ID: 2 for the TD QE' },
  { name: 'isv_svn', offset: 258, size: 2, kind: 'u16', doc: 'security version of the enclave' },
  { name: 'config_svn', offset: 260, size: 2, kind: 'u16', doc: 'CONFIGSVN (zero for the QE)' },
  { name: 'reserved4', offset: 262, size: 42, kind: 'reserved' },
  { name: 'isv_family_id', offset: 304, size: 16, kind: 'bytes', doc: 'family ID (zero for the QE)' },
  { name: 'reportdata', offset: 320, size: 64, kind: 'bytes', doc: 'SHA-256(attestation key ‖ QE auth data), then 32 zero bytes' },
]);

/** SECS.ATTRIBUTES (`sgx_attributes_t`), the 16 bytes of SGX_REPORT_BODY.attributes. */
export const SGX_ATTRIBUTES = defineLayout('SGX_ATTRIBUTES', 16, [
  { name: 'flags', offset: 0, size: 8, kind: 'u64', doc: 'SgxAttributeFlag bits (INIT, DEBUG, MODE64BIT, …)' },
  { name: 'xfrm', offset: 8, size: 8, kind: 'u64', doc: 'XSAVE feature request mask of the enclave' },
]);

/** SECS.ATTRIBUTES flag bits (the first u64 of SGX_REPORT_BODY.attributes). SDM vol. 3D §34.7.1. */
export const SgxAttributeFlag = Object.freeze({
  INIT: 1n << 0n,
  DEBUG: 1n << 1n,
  MODE64BIT: 1n << 2n,
  PROVISIONKEY: 1n << 4n,
  EINITTOKEN_KEY: 1n << 5n,
} as const);

/** Sizes inside the signature data. */
export const ECDSA_P256_SIGNATURE_SIZE = 64;
export const ECDSA_P256_PUBLIC_KEY_SIZE = 64;
/** QE authentication data: Intel's QE (and dcap-qvl's hash of it) use 32 bytes. */
export const QE_AUTH_DATA_SIZE_DEFAULT = 32;

/** Fixed start of the signature data: the quote signature and the attestation key. */
export const QUOTE_SIGNATURE_DATA_HEAD = defineLayout('QUOTE_SIGNATURE_DATA_HEAD', ECDSA_P256_SIGNATURE_SIZE + ECDSA_P256_PUBLIC_KEY_SIZE, [
  { name: 'signature', offset: 0, size: ECDSA_P256_SIGNATURE_SIZE, kind: 'bytes', doc: 'ECDSA r‖s over header (+ descriptor) + body' },
  { name: 'attestation_key', offset: 64, size: ECDSA_P256_PUBLIC_KEY_SIZE, kind: 'bytes', doc: 'P-256 public key X‖Y (no 0x04 prefix)' },
]);

/** Certification data header: `type` then `size`; `size` bytes of data follow. */
export const CERTIFICATION_DATA_HEADER_SIZE = 6;
export const CERTIFICATION_DATA_HEADER = defineLayout('CERTIFICATION_DATA_HEADER', CERTIFICATION_DATA_HEADER_SIZE, [
  { name: 'cert_type', offset: 0, size: 2, kind: 'u16', doc: 'CertificationDataType' },
  { name: 'size', offset: 2, size: 4, kind: 'u32', doc: 'bytes of certification data that follow' },
]);

/** Size of the u16 that gives the length of the QE authentication data. */
export const QE_AUTH_DATA_LEN_SIZE = 2;

/** `cert_type` values (Intel's "Certification Data Type"). */
export const CertificationDataType = Object.freeze({
  PPID_CLEARTEXT: 1,
  PPID_RSA2048_OAEP: 2,
  PPID_RSA3072_OAEP: 3,
  PCK_LEAF_CERT: 4,
  /** PEM chain: PCK leaf, then the PCK Platform/Processor CA, then the root CA. */
  PCK_CERT_CHAIN: 5,
  /** QE report, its signature, QE auth data and nested certification data (v4 and v5). */
  QE_REPORT_CERTIFICATION_DATA: 6,
  PLATFORM_MANIFEST: 7,
} as const);

/**
 * What tdxsim's simulated QE puts in the QE authentication data (32 bytes, the size Intel's QE
 * uses; the content of this field is the QE's to choose). It holds the first 16 bytes of the
 * SHA-256 of the quote header and of the signed bytes after it (v5 descriptor and body). Because
 * the QE report binds the auth data and the PCK key signs the QE report, a verifier can tell
 * which region of the quote changed, not only that the quote signature fails. Quotes from other
 * QEs carry other auth data; a verifier then only knows that header, body or signature changed.
 */
export const TDXSIM_QE_AUTH_DATA = defineLayout('TDXSIM_QE_AUTH_DATA', QE_AUTH_DATA_SIZE_DEFAULT, [
  { name: 'header_digest', offset: 0, size: 16, kind: 'bytes', doc: 'SHA-256(quote bytes 0..47), first 16 bytes' },
  { name: 'body_digest', offset: 16, size: 16, kind: 'bytes', doc: 'SHA-256(v5 descriptor + body), first 16 bytes' },
]);
