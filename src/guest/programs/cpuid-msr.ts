/**
 * `cpuid-msr`: CPUIDs and MSR accesses, each result printed. Exercises the module-virtualised
 * CPUID leaves, the hypervisor leaves the #VE handler forwards to the VMM, unknown leaves the
 * handler answers with zeros, and MSRs the VMM emulates through #VE → TDVMCALL.
 */
import { z } from 'zod';
import { CPUID_HYPERVISOR_FIRST, CPUID_TDX_LEAF } from '../../abi/cpuid.ts';
import { KvmMsr } from '../../abi/kvm-msrs.ts';
import { Msr } from '../../abi/msr.ts';
import { earlyInit, haltForever } from '../kernel.ts';
import { defineProgram } from './define.ts';
import { hex, u64 } from './args.ts';

const u32 = z.number().int().min(0).max(2 ** 32 - 1);

export const cpuidMsr = defineProgram({
  name: 'cpuid-msr',
  summary: 'run CPUIDs and RDMSR/WRMSRs and print the results (CPUID/MSR emulation)',
  args: z.strictObject({
    cpuid: z
      .array(z.strictObject({ leaf: u32, subleaf: u32.default(0) }))
      .max(64)
      .default([
        { leaf: 0, subleaf: 0 },
        { leaf: CPUID_TDX_LEAF, subleaf: 0 },
        { leaf: CPUID_HYPERVISOR_FIRST, subleaf: 0 },
        { leaf: CPUID_HYPERVISOR_FIRST + 1, subleaf: 0 },
      ]),
    rdmsr: z.array(u32).max(64).default([KvmMsr.IA32_APICBASE, Msr.IA32_PAT, KvmMsr.IA32_MISC_ENABLE]),
    wrmsr: z
      .array(z.strictObject({ msr: u32, value: u64 }))
      .max(64)
      .default([{ msr: KvmMsr.KVM_POLL_CONTROL, value: 1n }]),
  }),
  *run(cpu, args) {
    const kernel = yield* earlyInit(cpu);
    for (const { leaf, subleaf } of args.cpuid) {
      const r = yield* cpu.cpuid(leaf, subleaf);
      yield* kernel.console.writeLine(`cpuid ${hex(leaf)}.${subleaf} = ${[r.eax, r.ebx, r.ecx, r.edx].map(hex).join(' ')}`);
    }
    for (const msr of args.rdmsr) {
      yield* kernel.console.writeLine(`rdmsr ${hex(msr)} = ${hex(yield* cpu.rdmsr(msr))}`);
    }
    for (const { msr, value } of args.wrmsr) {
      yield* cpu.wrmsr(msr, value);
      yield* kernel.console.writeLine(`wrmsr ${hex(msr)} = ${hex(value)}`);
    }
    yield* haltForever(cpu);
  },
});
