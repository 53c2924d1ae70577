/** `panic`: early init, then a ReportFatalError with the given message and TD-specific code. */
import { z } from 'zod';
import { earlyInit } from '../kernel.ts';
import { FATAL_ERROR_MESSAGE_BYTES, panic as guestPanic } from '../panic.ts';
import { defineProgram } from './define.ts';

export const panic = defineProgram({
  name: 'panic',
  summary: 'report a fatal error (TDVMCALL<ReportFatalError>) with a message',
  args: z.strictObject({
    message: z
      .string()
      .default('guest panic requested')
      .refine((m) => new TextEncoder().encode(m).length <= FATAL_ERROR_MESSAGE_BYTES, `at most ${FATAL_ERROR_MESSAGE_BYTES} bytes of UTF-8`),
    code: z.number().int().min(0).max(2 ** 31 - 1).default(0),
  }),
  *run(cpu, args) {
    yield* earlyInit(cpu);
    yield* guestPanic(cpu, args.message, BigInt(args.code));
  },
});
