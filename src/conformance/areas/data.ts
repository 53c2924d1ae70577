/**
 * Test data for case operands: recognisable values written byte by byte, so a diff shows where
 * a byte went, without spelling long hex literals (which the project reserves for ABI numbers in
 * src/abi/).
 */

/** The little-endian value of `bytes` (bytes[0] is the least significant). */
export function le(...bytes: number[]): bigint {
  return bytes.reduceRight((v, b) => (v << 8n) | BigInt(b & 255), 0n);
}

/** A 32-bit word of ASCII text, little-endian (as CPUID returns vendor strings). */
export function asciiWords(text: string, words: number): bigint[] {
  const b = new TextEncoder().encode(text.padEnd(4 * words, '\0'));
  return Array.from({ length: words }, (_, i) => le(b[4 * i]!, b[4 * i + 1]!, b[4 * i + 2]!, b[4 * i + 3]!));
}
