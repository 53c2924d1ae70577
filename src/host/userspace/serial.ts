/**
 * A 16550-compatible serial port (COM1 at I/O port 0x3F8), enough for a guest console.
 *
 * Writes to the transmit holding register collect guest output; each '\n' ends a line (a '\r' is
 * dropped). The line status register always reads "transmitter empty" (THRE | TEMT) and never
 * "data ready", so a polling guest driver never waits and never reads input. The divisor latch,
 * IER, LCR, MCR and scratch registers hold what is written, so probing drivers see a UART.
 * A wider OUT/IN touches consecutive ports byte by byte, as the ISA bus splits it.
 *
 * The guest controls what is written, so storage is bounded: at most `maxLines` complete lines
 * (older ones are dropped and counted) and `maxLineBytes` per line (longer lines are split).
 */
import {
  COM1_BASE,
  UART_IIR_NO_INT,
  UART_LCR_DLAB,
  UART_LSR_TEMT,
  UART_LSR_THRE,
  UART_PORT_COUNT,
  UartReg,
} from '../../abi/pc-devices.ts';
import type { PortIoDevice } from '../devices.ts';

const NEWLINE = 10;
const CARRIAGE_RETURN = 13;

export interface SerialOptions {
  readonly port?: number;
  readonly maxLines?: number;
  readonly maxLineBytes?: number;
  /** Called with each complete line (without the newline). */
  readonly onLine?: (line: string) => void;
}

export class SerialPort implements PortIoDevice {
  readonly name = 'serial (16550)';
  readonly port: number;
  readonly ports = UART_PORT_COUNT;
  /** Complete lines, oldest first (bounded). */
  readonly lines: string[] = [];
  /** Lines dropped because `maxLines` was reached. */
  droppedLines = 0;
  private partial: number[] = [];
  /** The last line was ended by the length bound, not by a newline. */
  private split = false;
  private readonly regs = new Uint8Array(UART_PORT_COUNT);
  private divisor = 0;
  private readonly maxLines: number;
  private readonly maxLineBytes: number;
  private readonly onLine: ((line: string) => void) | undefined;

  constructor(options: SerialOptions = {}) {
    this.port = options.port ?? COM1_BASE;
    this.maxLines = options.maxLines ?? 10_000;
    this.maxLineBytes = options.maxLineBytes ?? 4096;
    this.onLine = options.onLine;
  }

  read(port: number, size: 1 | 2 | 4): bigint {
    let v = 0n;
    for (let i = 0; i < size; i++) v |= BigInt(this.readByte(port + i - this.port)) << BigInt(8 * i);
    return v;
  }

  write(port: number, size: 1 | 2 | 4, value: bigint): void {
    for (let i = 0; i < size; i++) this.writeByte(port + i - this.port, Number((value >> BigInt(8 * i)) & 0xffn));
  }

  /** Output not yet ended by a newline. */
  get pendingText(): string {
    return new TextDecoder().decode(Uint8Array.from(this.partial));
  }

  private dlab(): boolean {
    return (this.regs[UartReg.LCR]! & UART_LCR_DLAB) !== 0;
  }

  private readByte(reg: number): number {
    switch (reg) {
      case UartReg.RBR_THR:
        return this.dlab() ? this.divisor & 0xff : 0;
      case UartReg.IER:
        return this.dlab() ? this.divisor >> 8 : this.regs[UartReg.IER]!;
      case UartReg.IIR_FCR:
        return UART_IIR_NO_INT;
      case UartReg.LSR:
        return UART_LSR_THRE | UART_LSR_TEMT;
      case UartReg.MSR:
        return 0;
      default:
        return this.regs[reg] ?? 0;
    }
  }

  private writeByte(reg: number, b: number): void {
    switch (reg) {
      case UartReg.RBR_THR:
        if (this.dlab()) this.divisor = (this.divisor & ~0xff) | b;
        else this.transmit(b);
        return;
      case UartReg.IER:
        if (this.dlab()) this.divisor = (this.divisor & 0xff) | (b << 8);
        else this.regs[UartReg.IER] = b;
        return;
      case UartReg.LSR:
      case UartReg.MSR:
      case UartReg.IIR_FCR:
        return; // read-only status, or FIFO control with no FIFO to control
      default:
        this.regs[reg] = b;
    }
  }

  private transmit(b: number): void {
    if (b === CARRIAGE_RETURN) return;
    if (b === NEWLINE) {
      // A newline right after a forced split ends the split line, not an empty one.
      if (this.split && this.partial.length === 0) this.split = false;
      else this.endLine();
      return;
    }
    this.split = false;
    this.partial.push(b);
    if (this.partial.length >= this.maxLineBytes) {
      this.endLine();
      this.split = true;
    }
  }

  private endLine(): void {
    const line = new TextDecoder().decode(Uint8Array.from(this.partial));
    this.partial = [];
    this.lines.push(line);
    if (this.lines.length > this.maxLines) {
      this.lines.shift();
      this.droppedLines++;
    }
    this.onLine?.(line);
  }
}
