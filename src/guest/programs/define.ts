/**
 * How a built-in guest program is declared: a name, one line of what it does, a zod schema for
 * the arguments its boot page carries (JSON), and the program body. `programFactory` turns the
 * declaration into the factory the firmware catalogue stores: it validates the arguments once,
 * when the boot page is resolved, so a bad argument stops the boot instead of misbehaving later.
 */
import { z } from 'zod';
import type { GuestCpu, GuestGen, GuestProgram } from '../../platform/guest-cpu.ts';

export interface ProgramDef<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly summary: string;
  readonly args: S;
  readonly run: (cpu: GuestCpu, args: z.output<S>) => GuestGen<void>;
}

/** Arguments a program refused; the message lists each problem with its path. */
export class GuestProgramArgsError extends Error {
  override readonly name = 'GuestProgramArgsError';
}

export function defineProgram<S extends z.ZodType>(def: ProgramDef<S>): ProgramDef<S> {
  return Object.freeze(def);
}

/** Validate `raw` (a boot page's JSON; null means "no arguments") against the program's schema. */
export function parseProgramArgs<S extends z.ZodType>(def: ProgramDef<S>, raw: unknown): z.output<S> {
  const res = def.args.safeParse(raw ?? {});
  if (!res.success) throw new GuestProgramArgsError(`guest program ${def.name}: ${z.prettifyError(res.error)}`);
  return res.data;
}

/** The catalogue factory: validate the arguments, then return the program bound to them. */
export function programFactory<S extends z.ZodType>(def: ProgramDef<S>): (raw: unknown) => GuestProgram {
  return (raw) => {
    const args = parseProgramArgs(def, raw);
    return (cpu) => def.run(cpu, args);
  };
}
