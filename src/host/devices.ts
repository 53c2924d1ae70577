/**
 * Device interfaces shared by the in-kernel I/O buses (KVM's KVM_PIO_BUS / KVM_MMIO_BUS, where a
 * device answers without leaving the kernel) and the userspace device model (what QEMU is to KVM).
 *
 * A device sees already-validated accesses: the exit handlers check sizes, directions and GPAs
 * (tdvmcall-args.ts) before any device is called, so a device may trust `size` and addresses.
 */

export interface PortIoDevice {
  readonly name: string;
  /** First port and number of ports the device decodes. */
  readonly port: number;
  readonly ports: number;
  /** IN of `size` bytes at `port` (inside the device's range). */
  read(port: number, size: 1 | 2 | 4): bigint;
  /** OUT of the low `size` bytes of `value`. */
  write(port: number, size: 1 | 2 | 4, value: bigint): void;
}

export interface MmioDevice {
  readonly name: string;
  /** Guest-physical base (shared bit stripped) and size in bytes. */
  readonly base: bigint;
  readonly size: bigint;
  /** Read `len` bytes at `offset` from the base. */
  read(offset: bigint, len: 1 | 2 | 4 | 8): bigint;
  write(offset: bigint, len: 1 | 2 | 4 | 8, value: bigint): void;
}

/** A set of devices keyed by address range; the first device claiming an access handles it. */
export class IoBus {
  private readonly pio: PortIoDevice[] = [];
  private readonly mmio: MmioDevice[] = [];

  addPortDevice(d: PortIoDevice): void {
    this.pio.push(d);
  }

  addMmioDevice(d: MmioDevice): void {
    this.mmio.push(d);
  }

  /** The device decoding every byte of a port access, if any. */
  portDevice(port: number, size: number): PortIoDevice | undefined {
    return this.pio.find((d) => port >= d.port && port + size <= d.port + d.ports);
  }

  /** The device decoding every byte of an MMIO access, if any. */
  mmioDevice(gpa: bigint, len: number): MmioDevice | undefined {
    return this.mmio.find((d) => gpa >= d.base && gpa + BigInt(len) <= d.base + d.size);
  }

  /** Try a port read; undefined when no device claims it. */
  readPort(port: number, size: 1 | 2 | 4): bigint | undefined {
    return this.portDevice(port, size)?.read(port, size);
  }

  /** Try a port write; false when no device claims it. */
  writePort(port: number, size: 1 | 2 | 4, value: bigint): boolean {
    const d = this.portDevice(port, size);
    d?.write(port, size, value);
    return d !== undefined;
  }

  readMmio(gpa: bigint, len: 1 | 2 | 4 | 8): bigint | undefined {
    const d = this.mmioDevice(gpa, len);
    return d?.read(gpa - d.base, len);
  }

  writeMmio(gpa: bigint, len: 1 | 2 | 4 | 8, value: bigint): boolean {
    const d = this.mmioDevice(gpa, len);
    d?.write(gpa - d.base, len, value);
    return d !== undefined;
  }
}
