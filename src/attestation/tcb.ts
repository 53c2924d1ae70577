/**
 * What the simulated quoting infrastructure says about the platform it serves: the SGX TCB the
 * PCK certificate is issued for, the TD QE's identity, and the TDX module TCB the collateral
 * rates. The PKI (pki.ts), the quoting service and the collateral are built from one of these, so
 * the PCK certificate, the QE report and the TCB Info always agree.
 *
 * Every value is SIMULATED. The defaults match what tdxsim's own CPU and TDX module report, so a
 * quote of a TDREPORT from the simulator rates `UpToDate` out of the box:
 * - CPUSVN is all zero (the simulated CPU has no microcode SVN; REPORTMACSTRUCT.CPUSVN is zero);
 * - the TDX module reports TEE_TCB_SVN = [update version 1, major version 1, 0, …], MRSIGNERSEAM
 *   = zero and ATTRIBUTES = 0 (a production module signed by Intel reports a zero signer);
 * - PCESVN, the QE SVN and the FMSPC are plausible values in the ranges real platforms use.
 */
import { createHash, randomBytes } from 'node:crypto';
import { TD_QE_ISV_PROD_ID } from '../abi/dcap-collateral.ts';
import { CPUSVN_SIZE, FMSPC_SIZE, PCEID_SIZE, PLATFORM_INSTANCE_ID_SIZE, PPID_SIZE, SgxType } from '../abi/pck-cert.ts';
import { QE_ID_SIZE, SgxAttributeFlag, TEE_TCB_SVN_SIZE } from '../abi/quote.ts';
import { SHA384_SIZE } from '../abi/td-params.ts';

/** The SGX side of the platform: what the PCK certificate's SGX extension states. */
export interface PlatformTcb {
  /** CPUSVN: the 16 SGX TCB components (the PCK certificate's TCB.1..16 and TCB.18). */
  readonly cpuSvn: Uint8Array;
  /** SVN of the Provisioning Certification Enclave (TCB.17). */
  readonly pceSvn: number;
  /** PCE-ID (2 bytes). */
  readonly pceId: Uint8Array;
  /** FMSPC (6 bytes): family, model, stepping, platform type, custom SKU. */
  readonly fmspc: Uint8Array;
  /** Platform provisioning ID (16 bytes), unique per platform. */
  readonly ppid: Uint8Array;
  /** PlatformInstanceID (16 bytes): multi-package platforms certified by the Platform CA. */
  readonly platformInstanceId: Uint8Array;
  /** SGX Type of the platform (SgxType). */
  readonly sgxType: number;
}

/** The TD QE's identity, as its SGX report (the QE report) states it. */
export interface QeTcb {
  /** ISVSVN of the QE. */
  readonly isvSvn: number;
  /** ISVPRODID of the QE (2 for the TD QE). */
  readonly isvProdId: number;
  /** MRSIGNER (32 bytes). */
  readonly mrSigner: Uint8Array;
  /** MRENCLAVE (32 bytes). */
  readonly mrEnclave: Uint8Array;
  /** SECS.ATTRIBUTES flags (u64); XFRM follows in the report. */
  readonly attributesFlags: bigint;
  /** SECS.ATTRIBUTES XFRM (u64). */
  readonly attributesXfrm: bigint;
  /** MISCSELECT. */
  readonly miscSelect: number;
  /** QE ID (16 bytes): the QE writes it into the quote header's user data. */
  readonly qeId: Uint8Array;
}

/** The TDX module as the collateral's TCB Info rates it. */
export interface TdxModuleTcb {
  /** TEE_TCB_SVN the up-to-date level requires (16 bytes; byte 0 module SVN, byte 1 major version). */
  readonly teeTcbSvn: Uint8Array;
  /** MRSIGNERSEAM of the module (48 bytes; zero for a module signed by Intel). */
  readonly mrSignerSeam: Uint8Array;
  /** SEAMATTRIBUTES the module reports (TEE_TCB_INFO.ATTRIBUTES). */
  readonly seamAttributes: bigint;
}

export interface SimulatedTcb {
  readonly platform: PlatformTcb;
  readonly qe: QeTcb;
  readonly tdxModule: TdxModuleTcb;
}

/** A caller may override any part; the rest takes the defaults. */
export interface SimulatedTcbOptions {
  readonly platform?: Partial<PlatformTcb>;
  readonly qe?: Partial<QeTcb>;
  readonly tdxModule?: Partial<TdxModuleTcb>;
}

const sha256 = (text: string): Uint8Array => new Uint8Array(createHash('sha256').update(text).digest());

/** FMSPC of the simulated platform: family 6 model 0x8F (a Xeon Scalable part), server SKU. */
const DEFAULT_FMSPC = Uint8Array.of(0x00, 0x80, 0x6f, 0x05, 0x00, 0x00);
/** PCESVN of the simulated PCE; real platforms report values in the low teens. */
const DEFAULT_PCESVN = 13;
/** ISVSVN of the simulated TD QE. */
const DEFAULT_QE_ISVSVN = 4;
/** XFRM of the QE enclave: x87, SSE, AVX and the AVX-512 state components. */
const DEFAULT_QE_XFRM = 0xe7n;
/** TEE_TCB_SVN of tdxsim's module (src/module/tee-tcb.ts, identity 1.5.1): update version 1, major version 1. */
const DEFAULT_TEE_TCB_SVN = [1, 1];

/**
 * The simulated TCB: defaults, with the caller's overrides. Per-platform identifiers (PPID,
 * PlatformInstanceID, QE ID) are random unless given, as each real platform has its own.
 */
export function simulatedTcb(options: SimulatedTcbOptions = {}): SimulatedTcb {
  const teeTcbSvn = new Uint8Array(TEE_TCB_SVN_SIZE);
  teeTcbSvn.set(DEFAULT_TEE_TCB_SVN);
  const tcb: SimulatedTcb = {
    platform: {
      cpuSvn: new Uint8Array(CPUSVN_SIZE),
      pceSvn: DEFAULT_PCESVN,
      pceId: new Uint8Array(PCEID_SIZE),
      fmspc: DEFAULT_FMSPC,
      ppid: new Uint8Array(randomBytes(PPID_SIZE)),
      platformInstanceId: new Uint8Array(randomBytes(PLATFORM_INSTANCE_ID_SIZE)),
      sgxType: SgxType.SCALABLE,
      ...options.platform,
    },
    qe: {
      isvSvn: DEFAULT_QE_ISVSVN,
      isvProdId: TD_QE_ISV_PROD_ID,
      // The simulated QE has no enclave image or signing key; its measurements are hashes of
      // names that say so, and can never equal Intel's TD QE values.
      mrSigner: sha256('tdxsim SIMULATED TD QE signer - not Intel'),
      mrEnclave: sha256('tdxsim SIMULATED TD QE enclave - not Intel'),
      attributesFlags: SgxAttributeFlag.INIT | SgxAttributeFlag.MODE64BIT | SgxAttributeFlag.PROVISIONKEY,
      attributesXfrm: DEFAULT_QE_XFRM,
      miscSelect: 0,
      qeId: new Uint8Array(randomBytes(QE_ID_SIZE)),
      ...options.qe,
    },
    tdxModule: {
      teeTcbSvn,
      mrSignerSeam: new Uint8Array(SHA384_SIZE),
      seamAttributes: 0n,
      ...options.tdxModule,
    },
  };
  checkTcb(tcb);
  return tcb;
}

/** Sizes and ranges: a wrong override is a caller's mistake, reported with what to fix. */
function checkTcb(tcb: SimulatedTcb): void {
  const sized: Array<[string, Uint8Array, number]> = [
    ['platform.cpuSvn', tcb.platform.cpuSvn, CPUSVN_SIZE],
    ['platform.pceId', tcb.platform.pceId, PCEID_SIZE],
    ['platform.fmspc', tcb.platform.fmspc, FMSPC_SIZE],
    ['platform.ppid', tcb.platform.ppid, PPID_SIZE],
    ['platform.platformInstanceId', tcb.platform.platformInstanceId, PLATFORM_INSTANCE_ID_SIZE],
    ['qe.mrSigner', tcb.qe.mrSigner, 32],
    ['qe.mrEnclave', tcb.qe.mrEnclave, 32],
    ['qe.qeId', tcb.qe.qeId, QE_ID_SIZE],
    ['tdxModule.teeTcbSvn', tcb.tdxModule.teeTcbSvn, TEE_TCB_SVN_SIZE],
    ['tdxModule.mrSignerSeam', tcb.tdxModule.mrSignerSeam, SHA384_SIZE],
  ];
  for (const [name, value, size] of sized) {
    if (!(value instanceof Uint8Array) || value.length !== size) {
      throw new RangeError(`simulated TCB: ${name} must be ${size} bytes`);
    }
  }
  const u16: Array<[string, number]> = [
    ['platform.pceSvn', tcb.platform.pceSvn],
    ['qe.isvSvn', tcb.qe.isvSvn],
    ['qe.isvProdId', tcb.qe.isvProdId],
  ];
  for (const [name, value] of u16) {
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** 16) throw new RangeError(`simulated TCB: ${name} must be an integer in 0..65535`);
  }
  if (tcb.qe.attributesFlags & SgxAttributeFlag.DEBUG) {
    throw new RangeError('simulated TCB: the QE must not be a debug enclave (qe.attributesFlags has DEBUG set)');
  }
}
