/**
 * The simulated TDX module's TCB identity, as TDG.MR.REPORT reports it in TEE_TCB_INFO and
 * REPORTMACSTRUCT.CPUSVN.
 *
 * On real hardware these come from the CPU (SEAMOPS SEAMDB_REPORT) and describe the loaded module:
 * MRSEAM is the SHA-384 measurement of the module image, MRSIGNERSEAM the hash of its signer,
 * TEE_TCB_SVN its security version (byte 0 minor SVN, byte 1 major SVN, byte 2 the SEAM loader's
 * last patch SVN). tdxsim has no module image, so every value here is SIMULATED and fixed per
 * module identity — a verifier must never accept them as Intel's:
 *   - MRSEAM = SHA-384 of the text "tdxsim simulated TDX module <major>.<minor>.<update> build
 *     <build> (<date>)", so it changes exactly when the simulated identity does;
 *   - MRSIGNERSEAM = zero (Intel-signed modules report a zero signer; tdxsim claims no signer);
 *   - TEE_TCB_SVN = [update version, major version, 0, …]; ATTRIBUTES = 0 (production module);
 *   - CPUSVN = zero (the simulated CPU has no microcode security version).
 * VALID has one bit per 8-byte word of the fields reported (TEE_TCB_INFO layout doc).
 * Facts: tdx-module.md §7.3, §12.
 */
import { createHash } from 'node:crypto';
import { TEE_TCB_INFO } from '../abi/tdreport.ts';
import type { ModuleIdentity } from './module.ts';

/** CPUSVN of the simulated CPU (16 bytes, all zero). */
export const SIMULATED_CPUSVN = new Uint8Array(16);

/** TEE_TCB_INFO.VALID: bits for every 8-byte word covered by a non-reserved field. */
export function teeTcbInfoValid(): bigint {
  let valid = 0n;
  for (const f of TEE_TCB_INFO.fields) {
    if (f.kind === 'reserved') continue;
    for (let word = f.offset / 8; word < (f.offset + f.size) / 8; word++) valid |= 1n << BigInt(word);
  }
  return valid;
}

/** The 256-byte TEE_TCB_INFO of the simulated module. */
export function teeTcbInfo(identity: ModuleIdentity): Uint8Array {
  const svn = new Uint8Array(TEE_TCB_INFO.field('tee_tcb_svn').size);
  svn[0] = identity.updateVersion & 0xff;
  svn[1] = identity.majorVersion & 0xff;
  const name = `tdxsim simulated TDX module ${identity.majorVersion}.${identity.minorVersion}.${identity.updateVersion} build ${identity.buildNumber} (${identity.buildDate})`;
  return TEE_TCB_INFO.encode({
    valid: teeTcbInfoValid(),
    tee_tcb_svn: svn,
    mrseam: new Uint8Array(createHash('sha384').update(name).digest()),
    mrsignerseam: new Uint8Array(TEE_TCB_INFO.field('mrsignerseam').size),
    attributes: 0n,
  });
}
