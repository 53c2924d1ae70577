/**
 * Argument types shared by the built-in programs. Boot-page arguments are JSON, which has no
 * 64-bit integers, so a 64-bit value is a safe-integer number or a string ("0x1f", "31").
 */
import { z } from 'zod';

const U64_LIMIT = 1n << 64n;

/** A 64-bit unsigned value: a non-negative safe integer, or a hex ("0x…") or decimal string. */
export const u64 = z
  .union([z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), z.string().regex(/^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$/, 'a hex (0x…) or decimal number')])
  .transform((v) => BigInt(v))
  .refine((v) => v < U64_LIMIT, 'must fit in 64 bits');

/** A 4K-aligned private GPA range. */
export const gpaRange = z
  .strictObject({ gpa: u64, size: u64 })
  .refine((r) => r.gpa % 4096n === 0n && r.size % 4096n === 0n && r.size > 0n, 'gpa and size must be 4K-aligned, size > 0');

/** Default heap for programs that need buffers: 256 KiB at 1 MiB. */
export const DEFAULT_HEAP = { gpa: 1n << 20n, size: 256n << 10n };

/** An I/O port number. */
export const port = z.number().int().min(0).max(65535);

/** Bytes as a hex string (optionally "0x"-prefixed), at most `max` bytes. */
export function hexBytes(max: number) {
  return z
    .string()
    .regex(/^(0x)?([0-9a-fA-F]{2})*$/, 'hex bytes')
    .transform((s) => Uint8Array.from(Buffer.from(s.replace(/^0x/, ''), 'hex')))
    .refine((b) => b.length <= max, `at most ${max} bytes`);
}

/** `0x`-prefixed lower-case hex of a value. */
export function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}
