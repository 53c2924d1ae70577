/**
 * The VMX posted-interrupt descriptor and the vector KVM uses to notify it.
 *
 * A TD's interrupts can only be posted: the host sets a bit in the 256-bit Posted-Interrupt
 * Request (PIR) field of a 64-byte descriptor in host memory, sets Outstanding Notification (ON),
 * and the CPU moves PIR into the virtual APIC at the next TD entry. KVM points the TD VMCS at the
 * descriptor with TDH.VP.WR (POSTED_INTR_DESC_ADDR, POSTED_INTR_NV, PIN_BASED_VM_EXEC_CONTROL bit 7).
 * Sources: Intel SDM Vol. 3C §30.6 (Table 30-x "Format of Posted-Interrupt Descriptor"); Linux
 * `arch/x86/include/asm/posted_intr.h`, `arch/x86/include/asm/irq_vectors.h`; facts linux-tdx.md
 * §1.5, §4.5.
 */

/** Size and alignment of the descriptor. */
export const PI_DESC_BYTES = 64;
/** Byte offset of the 256-bit PIR (one bit per vector). */
export const PI_DESC_PIR_OFFSET = 0;
/** Byte offset of the 64-bit control word. */
export const PI_DESC_CONTROL_OFFSET = 32;
/** Control word bit 0: Outstanding Notification. */
export const PI_CONTROL_ON = 1n << 0n;
/** Control word bit 1: Suppress Notification. */
export const PI_CONTROL_SN = 1n << 1n;
/** Control word bits 23:16: notification vector; bits 63:32: notification destination. */
export const PI_CONTROL_NV_SHIFT = 16n;
export const PI_CONTROL_NDST_SHIFT = 32n;

/** Linux's POSTED_INTR_VECTOR (what KVM writes to POSTED_INTR_NV). */
export const POSTED_INTR_VECTOR = 0xf2;
/** PIN_BASED_VM_EXEC_CONTROL bit 7: process posted interrupts. */
export const PIN_BASED_POSTED_INTR = 1n << 7n;

/** Lowest vector a device or IPI may use (0–31 are exceptions). */
export const FIRST_EXTERNAL_VECTOR = 32;
/** Highest x86 interrupt vector. */
export const LAST_VECTOR = 255;
