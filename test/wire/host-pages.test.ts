import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HostPages } from '../../src/wire/host-pages.ts';
import { PhysicalMemory } from '../../src/platform/memory.ts';

const MiB = 1n << 20n;
const PAGE = 4096n;

function pages(cmrs = [{ base: MiB, size: 4n * MiB }]) {
  const memory = new PhysicalMemory(64n * MiB);
  return { memory, hp: new HostPages(memory, cmrs) };
}

describe('HostPages', () => {
  it('allocates first-fit from the lowest CMR address, contiguous runs, and counts them', () => {
    const { hp } = pages();
    assert.equal(hp.freePages, 1024);
    assert.equal(hp.alloc(1, PAGE), MiB);
    assert.equal(hp.alloc(3, PAGE), MiB + PAGE);
    assert.equal(hp.alloc(1, PAGE), MiB + 4n * PAGE);
    assert.equal(hp.ownedPages, 5);
    assert.equal(hp.freePages, 1019);
  });

  it('honours alignment, skipping busy pages to the next aligned start', () => {
    const { hp } = pages();
    hp.alloc(1, PAGE); // 1 MiB
    assert.equal(hp.alloc(2, 2n * MiB), 2n * MiB);
    assert.equal(hp.alloc(1, 64n * 1024n), MiB + 64n * 1024n);
    // A CMR whose base is not aligned: the first aligned page inside it.
    const odd = pages([{ base: MiB + PAGE, size: 4n * MiB }]).hp;
    assert.equal(odd.alloc(1, 2n * MiB), 2n * MiB);
  });

  it('keeps a run inside one CMR and says undefined when none fits', () => {
    const { hp } = pages([{ base: MiB, size: 2n * PAGE }, { base: 2n * MiB, size: 4n * PAGE }]);
    assert.equal(hp.alloc(3, PAGE), 2n * MiB);
    assert.equal(hp.alloc(2, PAGE), MiB);
    assert.equal(hp.alloc(2, PAGE), undefined);
    assert.equal(hp.alloc(1, PAGE), 2n * MiB + 3n * PAGE);
    assert.equal(hp.alloc(1, PAGE), undefined);
  });

  it('zeroes a page it hands out, under KeyID 0', () => {
    const { hp, memory } = pages();
    memory.write(MiB, new Uint8Array([1, 2, 3]), 0);
    assert.equal(hp.alloc(1, PAGE), MiB);
    assert.deepEqual([...memory.read(MiB, 3, 0)], [0, 0, 0]);
  });

  it('frees only what the client owns, all or nothing', () => {
    const { hp } = pages();
    const a = hp.alloc(4, PAGE)!;
    assert.equal(hp.free(a + 3n * PAGE, 2), false); // runs past the allocation
    assert.equal(hp.ownedPages, 4);
    assert.equal(hp.free(a + PAGE, 2), true);
    assert.equal(hp.free(a + PAGE, 1), false); // already freed
    assert.equal(hp.free(a + 1n, 1), false); // unaligned
    assert.equal(hp.free(0n, 1), false); // outside every CMR
    assert.equal(hp.ownedPages, 2);
    assert.equal(hp.alloc(2, PAGE), a + PAGE); // the hole is reused first
  });

  it('answers ownership for byte ranges across page boundaries', () => {
    const { hp } = pages();
    const a = hp.alloc(2, PAGE)!;
    assert.equal(hp.owns(a, 1), true);
    assert.equal(hp.owns(a + 100n, 8092), true);
    assert.equal(hp.owns(a + 100n, 8093), false);
    assert.equal(hp.owns(a - 1n, 2), false);
    assert.equal(hp.owns(a, 0), false);
    assert.equal(hp.owns(-1n, 1), false);
  });

  it('reserves free pages for the module: neither free nor owned nor freeable', () => {
    const { hp } = pages();
    assert.equal(hp.reserve(MiB, 2n * PAGE), true);
    assert.equal(hp.freePages, 1022);
    assert.equal(hp.owns(MiB, 1), false);
    assert.equal(hp.free(MiB, 1), false);
    assert.equal(hp.alloc(1, PAGE), MiB + 2n * PAGE);
    assert.equal(hp.reserve(MiB + 2n * PAGE, PAGE), false); // already allocated
  });
});
