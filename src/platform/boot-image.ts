/**
 * How a TD image names the guest program its vCPUs run.
 *
 * tdxsim cannot execute x86 code, so a TD's "firmware" is a guest program written in TypeScript
 * (a generator over GuestCpu). The image still decides what runs, and is measured like any other
 * page: the host adds a boot page at the reset-vector page (GPA 0xFFFFF000, where RIP 0xFFFFFFF0
 * points after TDH.VP.INIT) holding a small descriptor — magic, program name, JSON arguments. On
 * its first instruction fetch the vCPU reads that page through the Secure EPT and looks the name
 * up in the platform's firmware catalogue. Change the program or its arguments and MRTD changes.
 *
 * Layout (little-endian): magic "TDXSIM-BOOT\0" (12 B), u16 version (1), u16 name length, u32
 * argument length, name (UTF-8), arguments (UTF-8 JSON). Everything must fit in the 4K page.
 */
import type { GuestProgram } from './guest-cpu.ts';
import { RESET_VECTOR } from '../abi/gpa.ts';

export const BOOT_MAGIC = 'TDXSIM-BOOT\0';
export const BOOT_VERSION = 1;
/** GPA of the boot page: the page containing the reset vector. */
export const BOOT_PAGE_GPA = RESET_VECTOR & ~4095n;
const HEADER_BYTES = 20;
const PAGE = 4096;

export interface BootDescriptor {
  readonly program: string;
  readonly args: unknown;
}

export class BootImageError extends Error {
  override readonly name = 'BootImageError';
}

/** Build the 4K boot page for a program and its arguments. */
export function encodeBootPage(desc: BootDescriptor): Uint8Array {
  const enc = new TextEncoder();
  const name = enc.encode(desc.program);
  const args = enc.encode(JSON.stringify(desc.args ?? null));
  if (HEADER_BYTES + name.length + args.length > PAGE) {
    throw new BootImageError(`boot descriptor for ${desc.program} does not fit in one page`);
  }
  const page = new Uint8Array(PAGE);
  const dv = new DataView(page.buffer);
  page.set(enc.encode(BOOT_MAGIC), 0);
  dv.setUint16(12, BOOT_VERSION, true);
  dv.setUint16(14, name.length, true);
  dv.setUint32(16, args.length, true);
  page.set(name, HEADER_BYTES);
  page.set(args, HEADER_BYTES + name.length);
  return page;
}

/** Parse a boot page; undefined if it is not a valid descriptor (the vCPU then faults). */
export function decodeBootPage(page: Uint8Array): BootDescriptor | undefined {
  if (page.length < HEADER_BYTES) return undefined;
  const dec = new TextDecoder('utf-8', { fatal: true });
  const dv = new DataView(page.buffer, page.byteOffset, page.byteLength);
  try {
    if (dec.decode(page.subarray(0, 12)) !== BOOT_MAGIC) return undefined;
    if (dv.getUint16(12, true) !== BOOT_VERSION) return undefined;
    const nameLen = dv.getUint16(14, true);
    const argsLen = dv.getUint32(16, true);
    if (HEADER_BYTES + nameLen + argsLen > page.length) return undefined;
    const program = dec.decode(page.subarray(HEADER_BYTES, HEADER_BYTES + nameLen));
    const args: unknown = JSON.parse(dec.decode(page.subarray(HEADER_BYTES + nameLen, HEADER_BYTES + nameLen + argsLen)));
    return { program, args };
  } catch {
    return undefined;
  }
}

/** Guest programs by name: what the platform's vCPUs can boot into. */
export class FirmwareCatalogue {
  private readonly programs = new Map<string, (args: unknown) => GuestProgram>();

  register(name: string, factory: (args: unknown) => GuestProgram): void {
    this.programs.set(name, factory);
  }

  /** The program a boot descriptor names, or undefined if unknown or its arguments are rejected. */
  resolve(desc: BootDescriptor): GuestProgram | undefined {
    const factory = this.programs.get(desc.program);
    if (!factory) return undefined;
    try {
      return factory(desc.args);
    } catch {
      return undefined;
    }
  }

  names(): string[] {
    return [...this.programs.keys()].sort();
  }
}
