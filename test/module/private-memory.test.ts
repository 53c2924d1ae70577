import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { bringUp, createTd } from '../helpers/module-harness.ts';
import { addPage, addSeptPath, addVcpu, finalize, gpaLevel, patternPage, ST } from '../helpers/td-memory.ts';

const LINE = 64;

/** True if no 64-byte line of `seen` equals the same line of `secret`. */
function noLineLeaks(seen: Uint8Array, secret: Uint8Array): boolean {
  for (let off = 0; off < secret.length; off += LINE) {
    if (Buffer.compare(Buffer.from(seen.subarray(off, off + LINE)), Buffer.from(secret.subarray(off, off + LINE))) === 0) return false;
  }
  return true;
}

function td() {
  const env = bringUp();
  const t = createTd(env);
  addSeptPath(env, t, 0n);
  return { env, t };
}

describe('TD-private memory', () => {
  test('after PAGE.ADD the host reading the page with KeyID 0 never sees the plaintext', () => {
    const { env, t } = td();
    const secret = patternPage(11);
    const hpa = addPage(env, t, 0x1000n, secret);
    const hostView = env.platform.memory.read(hpa, 4096, 0);
    assert.ok(noLineLeaks(hostView, secret), 'no cache line of the TD page is readable by the host');
    assert.deepEqual(env.platform.memory.read(hpa, 4096, t.hkid), secret, 'the TD key reads the plaintext');
  });

  test('another TD key or an MKTME KeyID does not see it either', () => {
    const { env, t } = td();
    const secret = patternPage(12);
    const hpa = addPage(env, t, 0x1000n, secret);
    const other = createTd(env);
    assert.ok(noLineLeaks(env.platform.memory.read(hpa, 4096, other.hkid), secret));
    assert.ok(noLineLeaks(env.platform.memory.read(hpa, 4096, 1), secret));
  });

  test('a host write to the page corrupts what the TD key then reads', () => {
    const { env, t } = td();
    const secret = patternPage(13);
    const hpa = addPage(env, t, 0x2000n, secret);
    const hostData = new Uint8Array(LINE).fill(0x41);
    env.platform.memory.write(hpa + 128n, hostData, 0);
    const tdView = env.platform.memory.read(hpa, 4096, t.hkid);
    const line = tdView.subarray(128, 128 + LINE);
    assert.notDeepEqual(line, secret.subarray(128, 128 + LINE), 'the TD no longer reads its data');
    assert.notDeepEqual(line, hostData, 'nor the host data: it reads garbage');
    assert.deepEqual(tdView.subarray(0, 128), secret.subarray(0, 128), 'other lines are untouched');
  });

  test('an accepted page reads as zeros for the TD and as ciphertext for the host', () => {
    const { env, t } = td();
    const tdvpr = addVcpu(env, t);
    finalize(env, t);
    const page = env.alloc.alloc4k();
    const stale = patternPage(14);
    env.platform.memory.write(page, stale, 0);
    assert.equal(env.tdh.MEM_PAGE_AUG({ gpaLevel: gpaLevel(0x3000n, 0), tdr: t.tdr, page }).status, ST.SUCCESS);
    const vcpu = env.module.vcpu(tdvpr)!;
    vcpu.cpu.regs.set('RCX', gpaLevel(0x3000n, 0));
    const out = env.module.tdcallLeaf(6)!.handler({ module: env.module, vcpu, regs: vcpu.cpu.regs, version: 0 });
    assert.deepEqual(out, { kind: 'status', status: ST.SUCCESS });
    assert.deepEqual(env.platform.memory.read(page, 4096, t.hkid), new Uint8Array(4096));
    const hostView = env.platform.memory.read(page, 4096, 0);
    assert.ok(noLineLeaks(hostView, new Uint8Array(4096)), 'the host does not see the zeros');
    assert.ok(noLineLeaks(hostView, stale), 'nor its own stale data');
  });

  test('a removed page keeps its ciphertext: the host must scrub it before reuse', () => {
    const { env, t } = td();
    const secret = patternPage(15);
    const hpa = addPage(env, t, 0x4000n, secret);
    const before = env.platform.memory.read(hpa, 4096, 0);
    assert.equal(env.tdh.MEM_PAGE_REMOVE({ gpaLevel: gpaLevel(0x4000n, 0), tdr: t.tdr }).status, ST.SUCCESS);
    assert.deepEqual(env.platform.memory.read(hpa, 4096, 0), before);
    assert.ok(noLineLeaks(before, secret));
  });
});
