/**
 * Host errors: what a KVM ioctl's negative errno is to a real VMM.
 *
 * The host VMM reports failures the way Linux does: an errno class plus, where a SEAMCALL failed,
 * the raw TDX status (KVM's `hw_error`) and a message that decodes it. Two kinds of failure end
 * here:
 *   - a SEAMCALL the host issued failed (`mapSeamcallError`, Linux's `seamcall_prerr()` classes:
 *     VMFAILINVALID → ENODEV "module not loaded", #GP → EOPNOTSUPP, #UD → EACCES, anything else
 *     → EIO; facts linux-tdx.md §1.3);
 *   - the user of the host library asked for something KVM would refuse (EINVAL, EBUSY, …) —
 *     e.g. a userspace reply of the wrong kind, or an attribute KVM does not support.
 * Bad input from *inside* the simulation (guest registers, module outputs) never throws: exit
 * handlers answer it with the status KVM gives the guest.
 */
import { Errno, type ErrnoName } from '../abi/kvm.ts';
import { decodeStatus, formatStatusShort } from '../abi/status-decode.ts';
import { TdxSoftwareStatus } from '../abi/status.ts';
import { hex64 } from '../abi/bitfield.ts';

export interface HostErrorDetails {
  /** The SEAMCALL leaf mnemonic that failed, if one did. */
  readonly leaf?: string;
  /** Its raw completion status (KVM's `kvm_tdx_cmd.hw_error`). */
  readonly status?: bigint;
  /** The VM is dead (KVM's `kvm_vm_dead`): every further vCPU run fails with EIO. */
  readonly vmDead?: boolean;
}

export class HostError extends Error {
  override readonly name = 'HostError';
  /** errno value (positive), e.g. 5 for EIO. */
  readonly errnoValue: number;

  constructor(
    /** errno class, e.g. 'EIO'. */
    readonly errno: ErrnoName,
    /** What went wrong, without the errno prefix `message` carries. */
    readonly reason: string,
    readonly details: HostErrorDetails = {},
  ) {
    super(`${errno}: ${reason}`);
    this.errnoValue = Errno[errno];
  }

  /** KVM's `hw_error`: the SEAMCALL status behind the failure, 0 when none. */
  get hwError(): bigint {
    return this.details.status ?? 0n;
  }
}

/** The errno class Linux gives a failed SEAMCALL result (`seamcall_prerr`). */
export function seamcallErrno(status: bigint): ErrnoName {
  switch (status) {
    case TdxSoftwareStatus.TDX_SEAMCALL_VMFAILINVALID:
      return 'ENODEV';
    case TdxSoftwareStatus.TDX_SEAMCALL_GP:
      return 'EOPNOTSUPP';
    case TdxSoftwareStatus.TDX_SEAMCALL_UD:
      return 'EACCES';
    default:
      return 'EIO';
  }
}

/** What each software-defined result means for the person reading the error. */
function softwareHint(status: bigint): string {
  switch (status) {
    case TdxSoftwareStatus.TDX_SEAMCALL_VMFAILINVALID:
      return 'TDX module not loaded (SEAMCALL VMfailInvalid)';
    case TdxSoftwareStatus.TDX_SEAMCALL_GP:
      return 'SEAMCALL raised #GP: SEAM is not enabled on this logical processor';
    case TdxSoftwareStatus.TDX_SEAMCALL_UD:
      return 'SEAMCALL raised #UD: the logical processor is not in VMX root operation';
    default:
      return '';
  }
}

/**
 * A HostError for a failed SEAMCALL, with the status decoded. `outputs` are the leaf's output
 * registers worth printing (Linux prints RCX, RDX, R8–R11 for the _ret variants).
 */
export function mapSeamcallError(
  leaf: string,
  status: bigint,
  outputs: Readonly<Record<string, bigint>> = {},
  context = '',
): HostError {
  const errno = seamcallErrno(status);
  const hint = softwareHint(status);
  const decoded = formatStatusShort(decodeStatus(status));
  const extra = Object.entries(outputs)
    .map(([k, v]) => `${k}=${hex64(v)}`)
    .join(' ');
  const msg = [
    `SEAMCALL ${leaf} failed: ${hex64(status)} ${decoded}`,
    hint && `(${hint})`,
    extra && `[${extra}]`,
    context && `while ${context}`,
  ]
    .filter(Boolean)
    .join(' ');
  return new HostError(errno, msg, { leaf, status });
}
