/**
 * A vCPU's posted-interrupt descriptor in host memory: how KVM delivers interrupts to a TD.
 *
 * KVM cannot inject an interrupt into a TD directly (the VMCS is the module's). It sets the
 * vector's bit in the descriptor's PIR and the ON bit; the CPU (here: the TDX module's TD entry)
 * moves pending PIR bits into the guest's virtual APIC at the next TDH.VP.ENTER. The descriptor's
 * address and notification vector are given to the module once, with TDH.VP.WR, when the vCPU is
 * initialised. Layout: src/abi/posted-interrupt.ts (Intel SDM Vol. 3C §30.6).
 */
import {
  PI_CONTROL_NDST_SHIFT,
  PI_CONTROL_NV_SHIFT,
  PI_CONTROL_ON,
  PI_DESC_BYTES,
  PI_DESC_CONTROL_OFFSET,
  PI_DESC_PIR_OFFSET,
} from '../abi/posted-interrupt.ts';
import { KEYID_NONE, type PhysicalMemory } from '../platform/memory.ts';

export class PostedInterruptDescriptor {
  constructor(
    private readonly memory: PhysicalMemory,
    /** Host PA of the 64-byte descriptor (64-byte aligned). */
    readonly pa: bigint,
  ) {}

  /** Clear the descriptor and set the notification vector and destination. */
  init(notificationVector: number, destination: bigint): void {
    this.memory.write(this.pa, new Uint8Array(PI_DESC_BYTES), KEYID_NONE);
    this.writeControl((BigInt(notificationVector) << PI_CONTROL_NV_SHIFT) | (destination << PI_CONTROL_NDST_SHIFT));
  }

  /** Post `vector`: set its PIR bit and ON. Returns false if it was already pending. */
  post(vector: number): boolean {
    const pa = this.pa + BigInt(PI_DESC_PIR_OFFSET + (vector >> 3));
    const byte = this.memory.read(pa, 1, KEYID_NONE)[0]!;
    const bit = 1 << (vector & 7);
    this.writeControl(this.control() | PI_CONTROL_ON);
    if (byte & bit) return false;
    this.memory.write(pa, Uint8Array.of(byte | bit), KEYID_NONE);
    return true;
  }

  /** `pi_has_pending_interrupt()`: ON is set. */
  pending(): boolean {
    return (this.control() & PI_CONTROL_ON) !== 0n;
  }

  /** Vectors whose PIR bit is set. */
  pendingVectors(): number[] {
    const pir = this.memory.read(this.pa + BigInt(PI_DESC_PIR_OFFSET), PI_DESC_CONTROL_OFFSET - PI_DESC_PIR_OFFSET, KEYID_NONE);
    const out: number[] = [];
    pir.forEach((b, i) => {
      for (let j = 0; j < 8; j++) if (b & (1 << j)) out.push(i * 8 + j);
    });
    return out;
  }

  private control(): bigint {
    return this.memory.readU64(this.pa + BigInt(PI_DESC_CONTROL_OFFSET), KEYID_NONE);
  }

  private writeControl(v: bigint): void {
    this.memory.writeU64(this.pa + BigInt(PI_DESC_CONTROL_OFFSET), v, KEYID_NONE);
  }
}
