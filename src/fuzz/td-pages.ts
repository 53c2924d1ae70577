/**
 * Which physical pages a TD's structures name, read straight from the module's objects: the TDR,
 * the TDCS pages, the Secure-EPT pages (the root is a TDCS page), the pages its Secure-EPT leaves
 * map (with their level), and each vCPU's TDVPR and TDVPS pages.
 *
 * The invariant checker compares these claims with the PAMT; the module-target generator uses
 * them to aim operands at pages a TD owns. Secure-EPT pages are scanned raw — an entry still in
 * its initial FREE encoding is skipped with one comparison — because decoding the state of all
 * 512 entries of every page at every step would dominate a fuzz run.
 */
import { SepteBit, SEPTE_PA_MASK } from '../abi/sept.ts';
import { SEPTE_INIT_VALUE, septStateOf } from '../abi/sept-state.ts';
import type { TdxModule } from '../module/module.ts';
import type { Td } from '../module/td.ts';

const PS = 1n << BigInt(SepteBit.PS);

export interface TdPage {
  readonly pa: bigint;
  readonly role: 'tdr' | 'tdcs' | 'sept' | 'private' | 'tdvpr' | 'tdvps';
  /** Mapping level of a private page (0 = 4K, 1 = 2M, 2 = 1G); 0 for the others. */
  readonly level: number;
  /** TDVPR of the vCPU a tdvpr/tdvps page belongs to. */
  readonly vcpu?: bigint;
}

/** Every page `td`'s structures name (duplicates included: they are the checker's business). */
export function tdPages(module: TdxModule, td: Td): TdPage[] {
  const out: TdPage[] = [{ pa: td.tdr, role: 'tdr', level: 0 }];
  for (const pa of td.tdcx) out.push({ pa, role: 'tdcs', level: 0 });
  const sept = td.sept;
  if (sept) {
    for (const page of sept.pages()) {
      if (page.pa !== sept.rootPa) out.push({ pa: page.pa, role: 'sept', level: 0 });
      const entries = page.entries;
      for (let i = 0; i < entries.length; i++) {
        const raw = entries[i]!;
        if (raw === SEPTE_INIT_VALUE || (raw & PS) === 0n) continue;
        const state = septStateOf(raw);
        if (state === undefined || state === 'FREE' || state === 'REMOVED') continue;
        out.push({ pa: raw & SEPTE_PA_MASK, role: 'private', level: page.level });
      }
    }
  }
  for (const v of module.vcpus.values()) {
    if (v.td !== td) continue;
    out.push({ pa: v.tdvpr, role: 'tdvpr', level: 0, vcpu: v.tdvpr });
    for (const pa of v.tdcx) out.push({ pa, role: 'tdvps', level: 0, vcpu: v.tdvpr });
  }
  return out;
}
