import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { bringUp, createTd, type CreatedTd, type ModuleEnv } from '../helpers/module-harness.ts';
import { addPage, addSeptPath, addVcpu, finalize, patternPage, ST } from '../helpers/td-memory.ts';
import { extendRtmr, mrtdBlock } from '../../src/module/measurement.ts';

/**
 * The 128-byte MRTD block built independently, byte by byte, from the description in
 * tdx-module.md §7.1: ASCII tag at 0 (zero padded to 16), GPA little-endian at 16, zeros after.
 */
function block(tag: string, gpa: bigint): Buffer {
  const b = Buffer.alloc(128);
  for (let i = 0; i < tag.length; i++) b[i] = tag.charCodeAt(i);
  for (let i = 0; i < 8; i++) b[16 + i] = Number((gpa >> BigInt(8 * i)) & 0xffn);
  return b;
}

function newTd(): { env: ModuleEnv; t: CreatedTd } {
  const env = bringUp();
  const t = createTd(env);
  addSeptPath(env, t, 0n);
  addSeptPath(env, t, 0x4000_0000n);
  return { env, t };
}

describe('MRTD blocks', () => {
  test('mrtdBlock lays out tag, GPA and zero padding', () => {
    assert.deepEqual(Buffer.from(mrtdBlock('MEM.PAGE.ADD', 0x1122_3344_5566_7000n)), block('MEM.PAGE.ADD', 0x1122_3344_5566_7000n));
    const b = mrtdBlock('MR.EXTEND', 0x100n);
    assert.equal(Buffer.from(b.subarray(0, 16)).toString('latin1'), 'MR.EXTEND\0\0\0\0\0\0\0');
    assert.equal(b[17], 1);
    assert.ok(b.subarray(24).every((x) => x === 0));
  });
});

describe('MRTD of a built TD', () => {
  test('equals SHA-384 over the PAGE.ADD and MR.EXTEND blocks in call order', () => {
    const { env, t } = newTd();
    const image = [
      { gpa: 0x0000n, data: patternPage(1), extend: [0, 1, 15] },
      { gpa: 0x1000n, data: patternPage(2), extend: [] },
      { gpa: 0x4000_5000n, data: patternPage(3), extend: [7] },
    ];
    const expected = createHash('sha384');
    for (const p of image) {
      addPage(env, t, p.gpa, p.data);
      expected.update(block('MEM.PAGE.ADD', p.gpa));
    }
    for (const p of image) {
      for (const chunk of p.extend) {
        const gpa = p.gpa + BigInt(chunk * 256);
        assert.equal(env.tdh.MR_EXTEND({ gpa, tdr: t.tdr }).status, ST.SUCCESS);
        expected.update(block('MR.EXTEND', gpa));
        expected.update(p.data.subarray(chunk * 256, chunk * 256 + 256));
      }
    }
    addVcpu(env, t);
    finalize(env, t);
    assert.deepEqual(Buffer.from(t.td.mrtd), expected.digest());
  });

  test('a TD with nothing added measures as SHA-384 of the empty message', () => {
    const { env, t } = newTd();
    addVcpu(env, t);
    finalize(env, t);
    assert.equal(Buffer.from(t.td.mrtd).toString('hex'), '38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b');
  });

  test('the same pages added in another order, or at another GPA, give another MRTD', () => {
    const build = (gpas: bigint[]): string => {
      const { env, t } = newTd();
      for (const gpa of gpas) addPage(env, t, gpa, patternPage(4));
      addVcpu(env, t);
      finalize(env, t);
      return Buffer.from(t.td.mrtd).toString('hex');
    };
    const a = build([0x1000n, 0x2000n]);
    assert.equal(build([0x1000n, 0x2000n]), a);
    assert.notEqual(build([0x2000n, 0x1000n]), a);
    assert.notEqual(build([0x1000n, 0x3000n]), a);
  });

  test('MR.EXTEND measures what the TD sees, not what the host later writes to the page', () => {
    const { env, t } = newTd();
    const data = patternPage(5);
    const hpa = addPage(env, t, 0n, data);
    env.platform.memory.write(hpa, new Uint8Array(256).fill(0xee), 0); // host scribbles with KeyID 0
    const seen = env.platform.memory.read(hpa, 256, t.hkid);
    assert.equal(env.tdh.MR_EXTEND({ gpa: 0n, tdr: t.tdr }).status, ST.SUCCESS);
    addVcpu(env, t);
    finalize(env, t);
    const expected = createHash('sha384').update(block('MEM.PAGE.ADD', 0n)).update(block('MR.EXTEND', 0n)).update(seen).digest();
    assert.deepEqual(Buffer.from(t.td.mrtd), expected);
    assert.notDeepEqual(seen, data.subarray(0, 256));
  });
});

describe('RTMR extend', () => {
  test('RTMR = SHA-384(RTMR || data)', () => {
    const rtmr = new Uint8Array(48).fill(3);
    const data = new Uint8Array(48).map((_, i) => i);
    const expected = createHash('sha384').update(Buffer.concat([Buffer.from(rtmr), Buffer.from(data)])).digest();
    assert.deepEqual(Buffer.from(extendRtmr(rtmr, data)), expected);
    assert.deepEqual(rtmr, new Uint8Array(48).fill(3), 'the input register is not modified');
  });

  test('extending a zero RTMR twice chains', () => {
    const zero = new Uint8Array(48);
    const d1 = new Uint8Array(48).fill(1);
    const d2 = new Uint8Array(48).fill(2);
    const once = createHash('sha384').update(zero).update(d1).digest();
    const twice = createHash('sha384').update(once).update(d2).digest();
    assert.deepEqual(Buffer.from(extendRtmr(extendRtmr(zero, d1), d2)), twice);
  });

  test('wrong sizes are caller bugs', () => {
    assert.throws(() => extendRtmr(new Uint8Array(47), new Uint8Array(48)), RangeError);
    assert.throws(() => extendRtmr(new Uint8Array(48), new Uint8Array(64)), RangeError);
  });
});
