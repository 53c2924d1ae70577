/** `hello`: early init, one line on the serial console, clean halt. */
import { z } from 'zod';
import { earlyInit, haltForever } from '../kernel.ts';
import { defineProgram } from './define.ts';

export const hello = defineProgram({
  name: 'hello',
  summary: 'early init, print one line on the serial console, halt',
  args: z.strictObject({ message: z.string().max(200).default('Hello from a TD') }),
  *run(cpu, args) {
    const kernel = yield* earlyInit(cpu);
    yield* kernel.console.writeLine(args.message);
    yield* haltForever(cpu);
  },
});
