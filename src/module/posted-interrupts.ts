/**
 * Posted-interrupt processing at TD entry: how interrupts the host posts reach the guest.
 *
 * A TD's VMCS belongs to the module, so the host cannot inject interrupts; it can only post them:
 * set a vector's bit in the 256-bit PIR of a descriptor in its own memory and set ON, after
 * pointing the TD VMCS at that descriptor with TDH.VP.WR (POSTED_INTR_DESC_ADDR, POSTED_INTR_NV,
 * PIN_BASED_VM_EXEC_CONTROL.process-posted-interrupts). At VM entry the CPU moves every pending
 * PIR bit into the guest's virtual APIC (IRR) and clears ON — modelled here at each
 * TDH.VP.ENTER, before the guest runs. The descriptor is host memory, read with KeyID 0; it is
 * untrusted host input, but any bit pattern is a valid set of vectors. Vectors below 32 are
 * exceptions, never external interrupts: the virtual APIC ignores them (Intel SDM Vol. 3C §30.6,
 * §11.8.3).
 */
import {
  FIRST_EXTERNAL_VECTOR,
  PI_CONTROL_ON,
  PI_DESC_CONTROL_OFFSET,
  PI_DESC_PIR_OFFSET,
} from '../abi/posted-interrupt.ts';
import { NULL_PA } from '../abi/vmx.ts';
import { u64ToNumber } from '../abi/u64.ts';
import { KEYID_NONE, type PhysicalMemory } from '../platform/memory.ts';
import type { Vcpu } from './vcpu.ts';

const PIR_BYTES = PI_DESC_CONTROL_OFFSET - PI_DESC_PIR_OFFSET;
/** Where ON (a single bit of the little-endian control word) sits: its byte and bit in it. */
const ON_POSITION = PI_CONTROL_ON.toString(2).length - 1;
const ON_BYTE = Math.floor(ON_POSITION / 8);
const ON_BIT = 1 << ON_POSITION % 8;

/** Move posted vectors into the vCPU's pending interrupts; returns how many were new. */
export function processPostedInterrupts(memory: PhysicalMemory, vcpu: Vcpu): number {
  if (!vcpu.postedInterrupts || vcpu.postedIntrDescAddr === NULL_PA) return 0;
  const desc = vcpu.postedIntrDescAddr;
  // Polled at every entry: address the control word as a number (abi/u64.ts) until ON is seen.
  const descAddr = desc < memory.size ? u64ToNumber(desc) : -1;
  if (descAddr < 0 || descAddr + PI_DESC_CONTROL_OFFSET + 8 > memory.sizeNumber) return 0;
  // ON alone first, as a byte: at almost every entry nothing was posted.
  if ((memory.readU8At(descAddr + PI_DESC_CONTROL_OFFSET + ON_BYTE, KEYID_NONE) & ON_BIT) === 0) return 0;
  const control = memory.readU64At(descAddr + PI_DESC_CONTROL_OFFSET, KEYID_NONE);
  if ((control & PI_CONTROL_ON) === 0n) return 0;
  const controlPa = desc + BigInt(PI_DESC_CONTROL_OFFSET);
  const pirPa = desc + BigInt(PI_DESC_PIR_OFFSET);
  const pir = memory.read(pirPa, PIR_BYTES, KEYID_NONE);
  let added = 0;
  // Highest vector first: the APIC delivers the highest-priority pending interrupt first.
  for (let vector = PIR_BYTES * 8 - 1; vector >= FIRST_EXTERNAL_VECTOR; vector--) {
    if ((pir[vector >> 3]! & (1 << (vector & 7))) === 0) continue;
    if (!vcpu.pendingInterrupts.includes(vector)) {
      vcpu.pendingInterrupts.push(vector);
      added++;
    }
  }
  vcpu.pendingInterrupts.sort((a, b) => b - a);
  memory.write(pirPa, new Uint8Array(PIR_BYTES), KEYID_NONE);
  memory.writeU64(controlPa, control & ~PI_CONTROL_ON, KEYID_NONE);
  if (vcpu.pendingInterrupts.length > 0) vcpu.halted = false;
  return added;
}
