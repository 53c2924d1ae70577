/**
 * `mmio-probe`: loads and stores at an MMIO device in shared memory. Each access faults (#VE on
 * the shared GPA the VMM marked as MMIO) and the #VE handler forwards it as
 * TDVMCALL<#VE.RequestMMIO>; every result is printed. The default sequence exercises tdxsim's
 * MMIO test device (ID, SCRATCH write and read-back, COUNTER, DOORBELL).
 */
import { z } from 'zod';
import { MmioTestReg } from '../../abi/pc-devices.ts';
import { fromLeBytes } from '../../platform/guest-cpu.ts';
import { earlyInit, haltForever } from '../kernel.ts';
import { panic } from '../panic.ts';
import { defineProgram } from './define.ts';
import { hex, u64 } from './args.ts';

const PAGE = 4096;
const size = z.union([z.literal(1), z.literal(2), z.literal(4), z.literal(8)]);
const offset = z.number().int().min(0).max(PAGE - 1);
const fitsInPage = (o: { offset: number; size: number }) => o.offset + o.size <= PAGE;
const op = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('read'), offset, size }).refine(fitsInPage, 'access crosses the page'),
  z.strictObject({ op: z.literal('write'), offset, size, value: u64 }).refine(fitsInPage, 'access crosses the page'),
]);

type Op = z.output<typeof op>;
const DEFAULT_OPS: Op[] = [
  { op: 'read', offset: MmioTestReg.ID, size: 8 },
  { op: 'write', offset: MmioTestReg.SCRATCH, size: 8, value: fromLeBytes(new TextEncoder().encode('scratch!')) },
  { op: 'read', offset: MmioTestReg.SCRATCH, size: 8 },
  { op: 'read', offset: MmioTestReg.COUNTER, size: 4 },
  { op: 'write', offset: MmioTestReg.DOORBELL, size: 4, value: 1n },
];

export const mmioProbe = defineProgram({
  name: 'mmio-probe',
  summary: 'read and write an MMIO device at a shared GPA (#VE.RequestMMIO)',
  args: z.strictObject({
    /** The device's GPA without the shared bit (the address the VMM's device model uses). */
    gpa: u64.refine((g) => g % BigInt(PAGE) === 0n, 'must be 4K-aligned'),
    ops: z.array(op).min(1).max(64).default(DEFAULT_OPS),
  }),
  *run(cpu, args) {
    const kernel = yield* earlyInit(cpu);
    if (args.gpa >= kernel.sharedBit) yield* panic(cpu, `mmio-probe: GPA ${hex(args.gpa)} beyond GPAW`);
    const base = args.gpa | kernel.sharedBit;
    for (const o of args.ops) {
      const at = base + BigInt(o.offset);
      if (o.op === 'write') {
        yield* cpu.writeValue(at, o.size, o.value);
        yield* kernel.console.writeLine(`mmio write +${hex(o.offset)}/${o.size} = ${hex(o.value)}`);
      } else {
        const v = yield* cpu.readValue(at, o.size);
        yield* kernel.console.writeLine(`mmio read +${hex(o.offset)}/${o.size} = ${hex(v)}`);
      }
    }
    yield* haltForever(cpu);
  },
});
