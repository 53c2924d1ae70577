/**
 * Moving a register file to and from wire bytes without creating a bigint per register: the
 * protocol's register layout (16 little-endian u64 GPRs, then 16 × 16-byte XMMs; WIRE_REGISTER_FILE
 * in src/abi/wire.ts) is exactly the memory image of RegisterFile's BigUint64Arrays on a
 * little-endian host, so on such a host a copy is a memcpy. A big-endian host goes register by
 * register. Make one view per register file and keep it: the per-frame path then allocates nothing.
 */
import { endianness } from 'node:os';
import { GPR_COUNT, XMM_COUNT, type RegisterFile } from '../abi/registers.ts';

const LITTLE_ENDIAN = endianness() === 'LE';
export const GPR_BYTES = GPR_COUNT * 8;
export const XMM_BYTES = XMM_COUNT * 16;

export class RegisterView {
  private readonly gprBytes: Uint8Array;
  private readonly xmmBytes: Uint8Array;

  constructor(readonly regs: RegisterFile) {
    this.gprBytes = new Uint8Array(regs.gpr.buffer, regs.gpr.byteOffset, GPR_BYTES);
    this.xmmBytes = new Uint8Array(regs.xmm.buffer, regs.xmm.byteOffset, XMM_BYTES);
  }

  /** Load the 16 GPRs from `src` at `offset`. */
  loadGprs(src: Buffer, offset: number): void {
    if (LITTLE_ENDIAN) src.copy(this.gprBytes, 0, offset, offset + GPR_BYTES);
    else for (let i = 0; i < GPR_COUNT; i++) this.regs.gpr[i] = src.readBigUInt64LE(offset + 8 * i);
  }

  /** Load XMM0–15 from `src` at `offset`. */
  loadXmms(src: Buffer, offset: number): void {
    if (LITTLE_ENDIAN) src.copy(this.xmmBytes, 0, offset, offset + XMM_BYTES);
    else for (let i = 0; i < 2 * XMM_COUNT; i++) this.regs.xmm[i] = src.readBigUInt64LE(offset + 8 * i);
  }

  /** Store the 16 GPRs into `dst` at `offset`. */
  storeGprs(dst: Buffer, offset: number): void {
    if (LITTLE_ENDIAN) dst.set(this.gprBytes, offset);
    else for (let i = 0; i < GPR_COUNT; i++) dst.writeBigUInt64LE(this.regs.gpr[i]!, offset + 8 * i);
  }

  /** Store XMM0–15 into `dst` at `offset`. */
  storeXmms(dst: Buffer, offset: number): void {
    if (LITTLE_ENDIAN) dst.set(this.xmmBytes, offset);
    else for (let i = 0; i < 2 * XMM_COUNT; i++) dst.writeBigUInt64LE(this.regs.xmm[i]!, offset + 8 * i);
  }
}
