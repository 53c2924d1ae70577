/**
 * Numbers of the TD guest's RTMR event log that belong to neither the TDX module nor the GHCI:
 * the TCG event types and the CC measurement-register numbering.
 *
 * Sources: the TCG PC Client Platform Firmware Profile (event types; also edk2
 * `UefiTcgPlatform.h`); the UEFI EFI_CC_MEASUREMENT_PROTOCOL and the ACPI CCEL table (CC
 * measurement-register index mapping); TDX module 1.5 `tdg_mr_rtmr_extend.c` (four RTMRs).
 */

/** TCG event types (TCG PC Client Platform Firmware Profile, "Event Types"). */
export const TcgEventType = Object.freeze({
  EV_POST_CODE: 0x0000_0001,
  /** Not extended into any measurement register (e.g. the log's own header). */
  EV_NO_ACTION: 0x0000_0003,
  EV_SEPARATOR: 0x0000_0004,
  /** A tagged event: the data starts with a u32 tag id and a u32 length. */
  EV_EVENT_TAG: 0x0000_0006,
  /** Initial program load: what a boot loader or kernel measures (command lines, images). */
  EV_IPL: 0x0000_000d,
} as const);
export type TcgEventTypeName = keyof typeof TcgEventType;

/**
 * CC measurement-register index of RTMR[i] in a CC event log (CCEL, EFI_CC_MEASUREMENT_PROTOCOL):
 * 0 is MRTD, 1..4 are RTMR0..RTMR3.
 */
export const CC_MR_INDEX_OF_RTMR0 = 1;

/** Number of RTMRs a TD has (TDG.MR.RTMR.EXTEND index 0..3). */
export const NUM_RTMRS = 4;
