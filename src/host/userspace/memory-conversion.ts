/**
 * Private↔shared conversion in userspace, as QEMU does it for a TD (target/i386/kvm:
 * `kvm_handle_hc_map_gpa_range`, `kvm_convert_memory`): on KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE)
 * — one ≤ 2 MB chunk of the guest's MapGPA — and on KVM_EXIT_MEMORY_FAULT (an implicit
 * conversion: the guest touched a GFN through the other alias), it flips the GFNs' attribute with
 * KVM_SET_MEMORY_ATTRIBUTES; the kernel zaps whatever mapping the old attribute had.
 *
 * The guest chooses the range, so it is checked: the attribute must be exactly ENCRYPTED or
 * DECRYPTED and the range must lie in guest RAM; otherwise `ret` is -EINVAL and the guest's
 * MapGPA fails with INVALID_OPERAND.
 */
import { Errno, KVM_MAP_GPA_RANGE_DECRYPTED, KVM_MAP_GPA_RANGE_ENCRYPTED, KVM_MEMORY_EXIT_FLAG_PRIVATE, KvmHypercall } from '../../abi/kvm.ts';
import { U64_MASK } from '../../abi/bitfield.ts';
import { PAGE_SHIFT, PAGE_SIZE } from '../../abi/pamt.ts';
import type { HypercallExit, MemoryFaultExit } from '../exit-records.ts';
import type { TdxVm } from '../vm.ts';

/** -EINVAL as the u64 `hypercall.ret` carries it. */
export const HYPERCALL_EINVAL = -BigInt(Errno.EINVAL) & U64_MASK;

export interface Conversion {
  readonly gpa: bigint;
  readonly size: bigint;
  readonly toPrivate: boolean;
}

export class MemoryConverter {
  /** Conversions done, in order (bounded by `keep`). */
  readonly log: Conversion[] = [];

  constructor(
    readonly vm: TdxVm,
    private readonly keep = 256,
  ) {}

  /** A MapGPA chunk: returns `hypercall.ret` (0 on success). */
  mapGpaRange(exit: HypercallExit): bigint {
    if (exit.nr !== BigInt(KvmHypercall.MAP_GPA_RANGE)) return HYPERCALL_EINVAL;
    const [gpa = 0n, pages = 0n, attrs = 0n] = exit.args;
    if (attrs !== KVM_MAP_GPA_RANGE_ENCRYPTED && attrs !== KVM_MAP_GPA_RANGE_DECRYPTED) return HYPERCALL_EINVAL;
    const size = pages << PAGE_SHIFT;
    if (!this.inRam(gpa, size)) return HYPERCALL_EINVAL;
    this.convert({ gpa, size, toPrivate: attrs === KVM_MAP_GPA_RANGE_ENCRYPTED });
    return 0n;
  }

  /** An implicit conversion on a memory fault. Returns false if the GPA is not guest RAM. */
  memoryFault(exit: MemoryFaultExit): boolean {
    if (!this.inRam(exit.gpa, exit.size)) return false;
    this.convert({ gpa: exit.gpa, size: exit.size, toPrivate: (exit.flags & KVM_MEMORY_EXIT_FLAG_PRIVATE) !== 0n });
    return true;
  }

  private inRam(gpa: bigint, size: bigint): boolean {
    if (size === 0n || gpa % PAGE_SIZE !== 0n) return false;
    for (let a = gpa; a < gpa + size; a += PAGE_SIZE) if (!this.vm.guest.inSlot(a)) return false;
    return true;
  }

  private convert(c: Conversion): void {
    this.vm.setMemoryAttributes(c.gpa, c.size, c.toPrivate);
    this.log.push(c);
    if (this.log.length > this.keep) this.log.shift();
  }
}
