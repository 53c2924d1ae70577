/**
 * `io-echo`: read a port with IN and write what was read to another port with OUT, `count`
 * times; each access is a #VE turned into TDVMCALL<Instruction.IO>. Then halt.
 */
import { z } from 'zod';
import { COM1_BASE, UartReg } from '../../abi/pc-devices.ts';
import { earlyInit, haltForever } from '../kernel.ts';
import { defineProgram } from './define.ts';
import { port } from './args.ts';

export const ioEcho = defineProgram({
  name: 'io-echo',
  summary: 'echo values read from one I/O port to another (IN/OUT emulation)',
  args: z.strictObject({
    inPort: port.default(COM1_BASE + UartReg.RBR_THR),
    outPort: port.default(COM1_BASE + UartReg.RBR_THR),
    size: z.union([z.literal(1), z.literal(2), z.literal(4)]).default(1),
    count: z.number().int().min(1).max(4096).default(1),
  }),
  *run(cpu, args) {
    yield* earlyInit(cpu);
    for (let i = 0; i < args.count; i++) {
      const value = yield* cpu.in(args.inPort, args.size);
      yield* cpu.out(args.outPort, args.size, value);
    }
    yield* haltForever(cpu);
  },
});
