/**
 * PC platform device interfaces the default VMM userspace emulates: the first serial port
 * (a 16550-compatible UART at I/O port 0x3F8) and the register map of tdxsim's MMIO test device.
 *
 * Sources: the 16550 UART register set (National Semiconductor PC16550D data sheet; Linux
 * `include/uapi/linux/serial_reg.h`); the MMIO test device is tdxsim's own (documented here, as a
 * device's programmer's reference would be).
 */

/** I/O base of COM1. */
export const COM1_BASE = 0x3f8;
/** Number of I/O ports a 16550 decodes. */
export const UART_PORT_COUNT = 8;

/** UART register offsets from the base port (DLAB = 0 unless noted). */
export const UartReg = Object.freeze({
  /** Read: receive buffer. Write: transmit holding register. DLAB=1: divisor latch low. */
  RBR_THR: 0,
  /** Interrupt enable. DLAB=1: divisor latch high. */
  IER: 1,
  /** Read: interrupt identification. Write: FIFO control. */
  IIR_FCR: 2,
  /** Line control; bit 7 = DLAB. */
  LCR: 3,
  MCR: 4,
  /** Line status. */
  LSR: 5,
  MSR: 6,
  /** Scratch. */
  SCR: 7,
} as const);

/** LCR bit 7: divisor latch access. */
export const UART_LCR_DLAB = 0x80;
/** LSR bit 0: received data ready. */
export const UART_LSR_DR = 0x01;
/** LSR bit 5: transmit holding register empty. */
export const UART_LSR_THRE = 0x20;
/** LSR bit 6: transmitter empty. */
export const UART_LSR_TEMT = 0x40;
/** IIR value with no interrupt pending (bit 0 set). */
export const UART_IIR_NO_INT = 0x01;

/**
 * tdxsim MMIO test device: 32 bytes of 64-bit registers at a shared GPA chosen by userspace.
 *   ID        (+0x00, read-only)  the ASCII bytes "TDXSIMIO" little-endian;
 *   SCRATCH   (+0x08, read/write) holds what was last written;
 *   COUNTER   (+0x10, read-only)  counts the reads of COUNTER itself (first read returns 1);
 *   DOORBELL  (+0x18, write-only) each write is logged by the device; reads return 0.
 * Accesses of 1, 2, 4 or 8 bytes at any offset read/write the corresponding bytes.
 */
export const MmioTestReg = Object.freeze({
  ID: 0x00,
  SCRATCH: 0x08,
  COUNTER: 0x10,
  DOORBELL: 0x18,
} as const);
export const MMIO_TEST_DEVICE_SIZE = 0x20;
export const MMIO_TEST_DEVICE_ID = 'TDXSIMIO';
