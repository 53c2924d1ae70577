/**
 * `idle`: early init, then the HLT instruction forever with interrupts blocked. Each HLT traps
 * (#VE), and the #VE handler turns it into TDVMCALL<Instruction.HLT>: the instruction path, where
 * `hello` halts through the direct TDVMCALL.
 */
import { z } from 'zod';
import { earlyInit } from '../kernel.ts';
import { defineProgram } from './define.ts';

export const idle = defineProgram({
  name: 'idle',
  summary: 'early init, then halt forever (HLT instruction)',
  args: z.strictObject({}),
  *run(cpu) {
    yield* earlyInit(cpu);
    for (;;) yield* cpu.hlt();
  },
});
