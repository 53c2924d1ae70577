/**
 * The memory half of the no-plaintext-leak invariant: plant secrets in TD private pages, then
 * watch every access to physical memory.
 *
 * The watch interposes on the platform's PhysicalMemory (read and write) and on the loaded SEAM
 * module (so it knows whether the CPU is in SEAM — module or TD guest code — or in the host):
 *
 *   - a host access (outside SEAM) with a TDX private KeyID is a violation: only SEAM and TD code
 *     may use them; a host that could would read any TD's memory in plaintext;
 *   - a host read that returns a planted secret is a violation, whatever KeyID it used (with a
 *     shared KeyID it must see ciphertext);
 *   - a write by the module (inside SEAM) with a non-private KeyID — i.e. into memory the host can
 *     read — that carries a planted secret is a violation: the module copied TD data out.
 *
 * Secrets are random 64-bit words filling a page, planted with the TD's own KeyID as if the guest
 * had written them; the same words go into the SecretWords set the register scans use.
 * Violations are recorded as they happen and collected by `take()` after each step.
 */
import type { Platform } from '../platform/platform.ts';
import type { PhysicalMemory } from '../platform/memory.ts';
import { PAGE_BYTES } from '../platform/memory.ts';
import type { SeamModule } from '../platform/seam.ts';
import type { LogicalProcessor } from '../platform/processor.ts';
import type { RegisterFile } from '../abi/registers.ts';
import { hex64 } from '../abi/bitfield.ts';
import { Invariant, violation, type SecretWords, type Violation } from './invariants.ts';

export class MemoryWatch {
  /** SEAM nesting: > 0 while the module (or a TD it runs) executes. */
  private depth = 0;
  private found: Violation | undefined;
  private installed = false;
  /** Planted secret pages (KeyID they were written with). */
  readonly planted = new Map<bigint, number>();

  constructor(
    readonly platform: Platform,
    readonly secrets: SecretWords,
  ) {}

  /** True while the CPU runs SEAM code (module or TD guest), false in the host. */
  get inSeam(): boolean {
    return this.depth > 0;
  }

  /** Start watching. Call once the module is loaded; safe to call twice. */
  install(): void {
    if (this.installed) return;
    this.installed = true;
    this.wrapModule();
    this.wrapMemory(this.platform.memory);
  }

  /** Fill the page at `pa` with the secret word `word`, written with `keyId` (the TD's HKID). */
  plant(pa: bigint, keyId: number, word: bigint): void {
    const bytes = new Uint8Array(PAGE_BYTES);
    const dv = new DataView(bytes.buffer);
    for (let off = 0; off < PAGE_BYTES; off += 8) dv.setBigUint64(off, word, true);
    this.depth++; // the guest writes it: a SEAM-mode access
    try {
      this.platform.memory.write(pa, bytes, keyId);
    } finally {
      this.depth--;
    }
    this.secrets.add(word);
    this.planted.set(pa, keyId);
  }

  /** The first violation seen since the last call (then forgotten). */
  take(): Violation | undefined {
    const v = this.found;
    this.found = undefined;
    return v;
  }

  private record(v: Violation): void {
    this.found ??= v;
  }

  private wrapModule(): void {
    const inner = this.platform.seamModule;
    if (!inner) return;
    const enter = () => this.depth++;
    const leave = () => this.depth--;
    const wrapped: SeamModule = {
      get loaded() {
        return inner.loaded;
      },
      seamcall(lp: LogicalProcessor, regs: RegisterFile): void {
        enter();
        try {
          inner.seamcall(lp, regs);
        } finally {
          leave();
        }
      },
    };
    this.platform.loadModule(wrapped);
  }

  private wrapMemory(memory: PhysicalMemory): void {
    const read = memory.read.bind(memory);
    const write = memory.write.bind(memory);
    const platform = this.platform;
    memory.read = (pa: bigint, length: number, keyId: number): Uint8Array => {
      const out = read(pa, length, keyId);
      if (this.depth === 0) {
        if (platform.isPrivateKeyId(keyId)) {
          this.record(violation(Invariant.NO_PLAINTEXT_LEAK, `host read [${hex64(pa)}, +${length}) with private KeyID ${keyId}`));
        }
        const word = this.secrets.scanBytes(out, pa);
        if (word !== undefined) {
          this.record(violation(Invariant.NO_PLAINTEXT_LEAK, `host read of [${hex64(pa)}, +${length}) with KeyID ${keyId} returned TD secret ${hex64(word)}`));
        }
      }
      return out;
    };
    memory.write = (pa: bigint, data: Uint8Array, keyId: number): void => {
      if (this.depth === 0 && platform.isPrivateKeyId(keyId)) {
        this.record(violation(Invariant.NO_PLAINTEXT_LEAK, `host write [${hex64(pa)}, +${data.length}) with private KeyID ${keyId}`));
      } else if (this.depth > 0 && !platform.isPrivateKeyId(keyId)) {
        const word = this.secrets.scanBytes(data, pa);
        if (word !== undefined) {
          this.record(violation(Invariant.NO_PLAINTEXT_LEAK, `module wrote TD secret ${hex64(word)} to host-readable [${hex64(pa)}, +${data.length}) with KeyID ${keyId}`));
        }
      }
      write(pa, data, keyId);
    };
  }
}
