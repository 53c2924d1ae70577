/**
 * Sentinel register images: every GPR starts with a distinct, recognisable value, so a case can
 * assert that a register the ABI says a leaf does not write comes back unchanged (the module
 * restores every GPR it does not explicitly write; facts tdx-module.md §1 "Register
 * preservation"), and that one it says is zeroed really is zero rather than merely untouched.
 */
import { GPR_NAMES, RegisterFile, type GprName } from '../abi/registers.ts';
import type { RegExpectation, RegKey } from './expect.ts';

/** The sentinel of GPR `i`: 0x5E00…0i-style, never a valid PA, leaf word or status. */
export function sentinel(name: GprName): bigint {
  return (0x5en << 56n) | (BigInt(GPR_NAMES.indexOf(name)) << 8n) | 0x5en;
}

/** A register file holding every GPR's sentinel. */
export function sentinelRegs(): RegisterFile {
  const r = new RegisterFile();
  for (const n of GPR_NAMES) r.set(n, sentinel(n));
  return r;
}

/** Expect `names` to still hold their sentinels. */
export function unchanged(...names: GprName[]): RegExpectation {
  const out: RegExpectation = {};
  for (const n of names) out[n.toLowerCase() as RegKey] = sentinel(n);
  return out;
}

/** Every GPR except `except`, expected to hold its sentinel. */
export function unchangedExcept(...except: GprName[]): RegExpectation {
  return unchanged(...GPR_NAMES.filter((n) => !except.includes(n) && n !== 'RSP'));
}
