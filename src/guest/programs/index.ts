/**
 * The catalogue of built-in guest programs: what a TD's boot page can name. Each is a factory
 * `(args) => GuestProgram` whose arguments are validated with zod when the boot page is resolved.
 */
import type { FirmwareCatalogue } from '../../platform/boot-image.ts';
import { cpuidMsr } from './cpuid-msr.ts';
import { programFactory, type ProgramDef } from './define.ts';
import { demo } from './demo.ts';
import { hello } from './hello.ts';
import { idle } from './idle.ts';
import { ioEcho } from './io-echo.ts';
import { mmioProbe } from './mmio-probe.ts';
import { panic } from './panic.ts';

export { GuestProgramArgsError, parseProgramArgs, type ProgramDef } from './define.ts';

/** Every built-in program, by name. */
export const GUEST_PROGRAMS: readonly ProgramDef[] = Object.freeze([hello, demo, panic, mmioProbe, ioEcho, cpuidMsr, idle] as ProgramDef[]);

/** Register every built-in program in a platform's firmware catalogue. */
export function registerGuestPrograms(catalogue: FirmwareCatalogue): void {
  for (const def of GUEST_PROGRAMS) catalogue.register(def.name, programFactory(def));
}

/** The built-in program named `name`, or undefined. */
export function guestProgram(name: string): ProgramDef | undefined {
  return GUEST_PROGRAMS.find((p) => p.name === name);
}
