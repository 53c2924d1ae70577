/**
 * The guest kernel's console: bytes written to the first serial port's transmit register with
 * OUT, as an early-boot serial console does. Each OUT traps (#VE → TDVMCALL<Instruction.IO>), so
 * the host's serial device sees every byte. Text is sent as UTF-8, lines end with '\n'.
 */
import { COM1_BASE, UartReg } from '../abi/pc-devices.ts';
import type { GuestCpu, GuestGen } from '../platform/guest-cpu.ts';

export class SerialConsole {
  constructor(
    readonly cpu: GuestCpu,
    /** Transmit holding register: COM1 + THR. */
    readonly port: number = COM1_BASE + UartReg.RBR_THR,
  ) {}

  *write(text: string): GuestGen<void> {
    for (const byte of new TextEncoder().encode(text)) yield* this.cpu.out(this.port, 1, BigInt(byte));
  }

  *writeLine(text: string): GuestGen<void> {
    yield* this.write(`${text}\n`);
  }
}
