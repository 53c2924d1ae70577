import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readPieces, translateAccess, translateOperand, writePieces } from '../../src/module/guest-memory.ts';
import { bringUp } from '../helpers/module-harness.ts';
import { patternPage } from '../helpers/td-memory.ts';
import { attachSharedEpt, buildRunnableTd } from '../helpers/td-runner.ts';

const SHARED = 1n << 47n;

function setup() {
  const env = bringUp();
  const rt = buildRunnableTd(env, {
    *program() {},
    pages: [
      { gpa: 0x10_0000n, bytes: patternPage(1) },
      { gpa: 0x10_1000n, bytes: patternPage(2) },
    ],
  });
  const vcpu = rt.vcpus[0]!.vcpu;
  return { env, rt, vcpu, m: env.module };
}

describe("the TD's view of memory", () => {
  it('private GPAs go through the Secure EPT with the HKID; an access may span pages', () => {
    const { rt, vcpu, m } = setup();
    const a = translateAccess(m, vcpu, { gpa: 0x10_0ff8n, length: 16, write: false, origin: 'cpu' });
    assert.equal(a.kind, 'ok');
    if (a.kind !== 'ok') return;
    const first = rt.td.sept!.translate(0x10_0ff8n);
    const second = rt.td.sept!.translate(0x10_1000n);
    assert.ok(first.kind === 'mapped' && second.kind === 'mapped');
    assert.deepEqual(a.pieces, [
      { pa: first.hpa, keyId: rt.hkid, length: 8 },
      { pa: second.hpa, keyId: rt.hkid, length: 8 },
    ]);
    assert.deepEqual(readPieces(m, a.pieces), new Uint8Array([...patternPage(1).subarray(0xff8), ...patternPage(2).subarray(0, 8)]));
  });

  it('shared GPAs go through the host shared EPT with KeyID 0; unbacked host addresses read as ones', () => {
    const { env, rt, vcpu, m } = setup();
    const none = translateAccess(m, vcpu, { gpa: SHARED | 0x5000n, length: 4, write: false, origin: 'module' });
    assert.equal(none.kind, 'exit', 'no SHARED_EPTP yet: EPT violation');
    const table = attachSharedEpt(env, rt.vcpus[0]!);
    const page = env.shared.alloc4k();
    table.map(SHARED | 0x5000n, page);
    table.map(SHARED | 0x6000n, env.platform.memory.size); // a host bug: a hole
    const a = translateAccess(m, vcpu, { gpa: SHARED | 0x5010n, length: 4, write: true, origin: 'cpu' });
    assert.deepEqual(a, { kind: 'ok', pieces: [{ pa: page + 0x10n, keyId: 0, length: 4 }] });
    const hole = translateAccess(m, vcpu, { gpa: SHARED | 0x6000n, length: 4, write: false, origin: 'cpu' });
    assert.equal(hole.kind, 'ok');
    if (hole.kind === 'ok') {
      assert.deepEqual(readPieces(m, hole.pieces), new Uint8Array([0xff, 0xff, 0xff, 0xff]));
      writePieces(m, hole.pieces, new Uint8Array(4)); // dropped, no exception
    }
  });

  it('module operands: beyond the width, or shared where private is required, are invalid', () => {
    const { vcpu, m } = setup();
    assert.deepEqual(translateAccess(m, vcpu, { gpa: 1n << 48n, length: 8, write: false, origin: 'module' }), { kind: 'invalid' });
    assert.deepEqual(translateAccess(m, vcpu, { gpa: SHARED, length: 8, write: false, origin: 'module', privateOnly: true }), { kind: 'invalid' });
    assert.deepEqual(translateOperand(m, vcpu, { gpa: 1n << 63n, length: 8, write: false }, 2), {
      kind: 'stop',
      outcome: { kind: 'status', status: 0xc000_0100_0000_0002n },
    });
    const cpu = translateAccess(m, vcpu, { gpa: 1n << 48n, length: 8, write: false, origin: 'cpu' });
    assert.deepEqual(cpu, { kind: 'exception', exception: { vector: 14, errorCode: 0x9n } });
  });
});
