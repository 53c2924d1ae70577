/**
 * The leaf handler tables, assembled from one file per leaf family (the module's own grouping):
 * sys, mng, vp, mem, mr, phymem, metadata on the SEAMCALL side; tdg-vp, tdg-mem, tdg-mr and the
 * metadata leaves on the TDCALL side. A leaf number with no handler returns OPERAND_INVALID|RAX,
 * as the module does for numbers it does not dispatch.
 */
import type { SeamcallHandlerTable, TdcallHandlerTable } from './context.ts';
import { SYS_HANDLERS } from './sys.ts';
import { MNG_HANDLERS } from './mng.ts';
import { PHYMEM_HANDLERS } from './phymem.ts';
import { VP_HANDLERS } from './vp.ts';
import { MEM_HANDLERS } from './mem.ts';
import { MR_HANDLERS } from './mr.ts';
import { METADATA_SEAMCALL_HANDLERS, METADATA_TDCALL_HANDLERS } from './metadata.ts';
import { VP_ENTER_HANDLERS } from './vp-enter.ts';
import { TDG_VP_HANDLERS } from './tdg-vp.ts';
import { TDG_MEM_HANDLERS } from './tdg-mem.ts';
import { TDG_MR_HANDLERS } from './tdg-mr.ts';

export const SEAMCALL_HANDLERS: SeamcallHandlerTable = Object.freeze({
  ...SYS_HANDLERS,
  ...MNG_HANDLERS,
  ...PHYMEM_HANDLERS,
  ...VP_HANDLERS,
  ...MEM_HANDLERS,
  ...MR_HANDLERS,
  ...METADATA_SEAMCALL_HANDLERS,
  ...VP_ENTER_HANDLERS,
});

export const TDCALL_HANDLERS: TdcallHandlerTable = Object.freeze({
  ...TDG_VP_HANDLERS,
  ...TDG_MEM_HANDLERS,
  ...TDG_MR_HANDLERS,
  ...METADATA_TDCALL_HANDLERS,
});
