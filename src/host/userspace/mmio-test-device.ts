/**
 * tdxsim's MMIO test device (register map in src/abi/pc-devices.ts): an ID register, a scratch
 * register, a read counter and a write-only doorbell whose writes are logged. It lives at a
 * shared GPA with no memslot behind it, so every guest access becomes a #VE, then a
 * TDVMCALL<#VE.RequestMMIO>, then a KVM_EXIT_MMIO to userspace — the whole MMIO path in one
 * device.
 */
import { MMIO_TEST_DEVICE_ID, MMIO_TEST_DEVICE_SIZE, MmioTestReg } from '../../abi/pc-devices.ts';
import { fromLeBytes, leBytes } from '../../platform/guest-cpu.ts';
import type { MmioDevice } from '../devices.ts';

/** Doorbell writes kept (the guest controls how many it makes). */
const MAX_DOORBELLS = 1024;
const REG_BYTES = 8;

export class MmioTestDevice implements MmioDevice {
  readonly name = 'mmio-test';
  readonly size = BigInt(MMIO_TEST_DEVICE_SIZE);
  private readonly bytes = new Uint8Array(MMIO_TEST_DEVICE_SIZE);
  private counter = 0n;
  /** Values written to DOORBELL, oldest first (bounded). */
  readonly doorbells: bigint[] = [];

  constructor(readonly base: bigint) {
    this.bytes.set(new TextEncoder().encode(MMIO_TEST_DEVICE_ID), MmioTestReg.ID);
  }

  get scratch(): bigint {
    return fromLeBytes(this.bytes.subarray(MmioTestReg.SCRATCH, MmioTestReg.SCRATCH + REG_BYTES));
  }

  read(offset: bigint, len: 1 | 2 | 4 | 8): bigint {
    const off = Number(offset);
    if (this.touches(off, len, MmioTestReg.COUNTER)) {
      this.counter++;
      this.bytes.set(leBytes(this.counter, REG_BYTES), MmioTestReg.COUNTER);
    }
    const out = this.bytes.slice(off, off + len);
    // DOORBELL is write-only: its bytes read as zero.
    for (let i = 0; i < len; i++) if (this.inReg(off + i, MmioTestReg.DOORBELL)) out[i] = 0;
    return fromLeBytes(out);
  }

  write(offset: bigint, len: 1 | 2 | 4 | 8, value: bigint): void {
    const off = Number(offset);
    const data = leBytes(value, len);
    for (let i = 0; i < len; i++) {
      // Only SCRATCH and DOORBELL are writable.
      if (this.inReg(off + i, MmioTestReg.SCRATCH) || this.inReg(off + i, MmioTestReg.DOORBELL)) this.bytes[off + i] = data[i]!;
    }
    if (this.touches(off, len, MmioTestReg.DOORBELL)) {
      this.doorbells.push(value);
      if (this.doorbells.length > MAX_DOORBELLS) this.doorbells.shift();
    }
  }

  private inReg(byte: number, reg: number): boolean {
    return byte >= reg && byte < reg + REG_BYTES;
  }

  private touches(off: number, len: number, reg: number): boolean {
    return off < reg + REG_BYTES && off + len > reg;
  }
}
