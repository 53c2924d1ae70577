/**
 * The independent MRTD recipe: its blocks are the documented 128-byte layout, so the digest of a
 * one-page build equals SHA-384 of those bytes written out by hand here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MrtdRecipe } from '../../src/conformance/mrtd.ts';

function block(tag: string, gpa: bigint): Buffer {
  const b = Buffer.alloc(128);
  b.write(tag, 0, 'ascii');
  b.writeBigUInt64LE(gpa, 16);
  return b;
}

describe('MrtdRecipe', () => {
  it('hashes a PAGE.ADD block and an MR.EXTEND block plus its chunk', () => {
    const chunk = new Uint8Array(256).fill(7);
    const want = createHash('sha384').update(block('MEM.PAGE.ADD', 0x2000n)).update(block('MR.EXTEND', 0x2100n)).update(chunk).digest();
    assert.deepEqual(Buffer.from(new MrtdRecipe().pageAdd(0x2000n).extend(0x2100n, chunk).finalize()), want);
  });

  it('measures a whole page as 16 chunks', () => {
    const page = new Uint8Array(4096).map((_, i) => i & 255);
    const h = createHash('sha384').update(block('MEM.PAGE.ADD', 0x5000n));
    for (let off = 0; off < 4096; off += 256) h.update(block('MR.EXTEND', 0x5000n + BigInt(off))).update(page.subarray(off, off + 256));
    assert.deepEqual(Buffer.from(new MrtdRecipe().measuredPage(0x5000n, page).finalize()), h.digest());
  });

  it('refuses a chunk that is not 256 bytes', () => {
    assert.throws(() => new MrtdRecipe().extend(0n, new Uint8Array(10)), /256 bytes/);
  });
});
