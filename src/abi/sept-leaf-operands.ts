/**
 * Secure-EPT leaf operands beyond the version-0 register tables in seamcall-leaves.ts: the
 * version-1 forms of TDH.MEM.SEPT.ADD and TDH.MEM.SEPT.REMOVE (which carry L2 SEPT pages for TD
 * partitioning in R9–R11) and TDH.MEM.SEPT.RD's L2-attributes output.
 *
 * tdxsim models no L2 VMs, so these registers only ever carry NULL_PA / "not used" values, but
 * they are written exactly as the module writes them. Source: TDX module 1.5
 * `ac/tdh_mem_sept_add.c`, `ac/tdh_mem_sept_remove.c`, `ac/tdh_mem_sept_rd.c`,
 * `tdx_basic_types.h` (NULL_PA).
 */
import type { RegOperand } from './leaf.ts';

/** "No page": all ones (NULL_PA). */
export const NULL_PA = (1n << 64n) - 1n;

/**
 * Bit 63 of a page PA: ignored on input by SEPT.ADD (unless the value is NULL_PA); set on output
 * to say "this page was not used, the entry already existed".
 */
export const SEPT_ADD_PAGE_NOT_USED = 1n << 63n;

/** TDH.MEM.SEPT.ADD RDX bit 0 (ALLOW_EXISTING) and TDH.MEM.SEPT.RD RDX bit 0 (read L2 attributes). */
export const TDR_FLAG_BIT0 = 1n;

/** TDH.MEM.SEPT.ADD version 1: L2 SEPT pages for VMs 1..3 (NULL_PA when not given). */
export const SEPT_ADD_V1_L2_PAGES: readonly RegOperand<'l2Page1' | 'l2Page2' | 'l2Page3'>[] = Object.freeze([
  { reg: 'R9', name: 'l2Page1', doc: 'L2 SEPT page for VM 1, or NULL_PA' },
  { reg: 'R10', name: 'l2Page2', doc: 'L2 SEPT page for VM 2, or NULL_PA' },
  { reg: 'R11', name: 'l2Page3', doc: 'L2 SEPT page for VM 3, or NULL_PA' },
]);

/**
 * TDH.MEM.SEPT.ADD version 1 outputs (on success and failure alike): each input page PA with
 * bit 63 cleared, NULL_PA once the page was added, or with bit 63 set if the entry already
 * existed (ALLOW_EXISTING).
 */
export const SEPT_ADD_V1_OUTPUTS: readonly RegOperand<'page' | 'l2Page1' | 'l2Page2' | 'l2Page3'>[] = Object.freeze([
  { reg: 'R8', name: 'page', doc: 'L1 SEPT page: NULL_PA if added, PA|bit 63 if not used' },
  ...SEPT_ADD_V1_L2_PAGES,
]);

/** TDH.MEM.SEPT.REMOVE version 1 outputs: removed L2 SEPT pages, NULL_PA when none. */
export const SEPT_REMOVE_V1_OUTPUTS: readonly RegOperand<'l2Page1' | 'l2Page2' | 'l2Page3'>[] = SEPT_ADD_V1_L2_PAGES;

/** TDH.MEM.SEPT.RD R8 output when L2 attributes are requested (debug TD): GPA_ATTR of VMs 1..3. */
export const SEPT_RD_L2_ATTRIBUTES: readonly RegOperand<'l2Attributes'>[] = Object.freeze([
  { reg: 'R8', name: 'l2Attributes', doc: 'L2 GPA attributes (0: no L2 VM maps the GPA)' },
]);
