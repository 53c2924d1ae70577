import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { processPostedInterrupts } from '../../src/module/posted-interrupts.ts';
import { PhysicalMemory, KEYID_NONE } from '../../src/platform/memory.ts';
import { PI_CONTROL_ON, PI_DESC_CONTROL_OFFSET, PI_DESC_PIR_OFFSET } from '../../src/abi/posted-interrupt.ts';
import { Td } from '../../src/module/td.ts';
import { Vcpu } from '../../src/module/vcpu.ts';

const DESC = 0x10_0000n;

function setup(vectors: number[], on = true) {
  const memory = new PhysicalMemory(1n << 24n);
  const pir = new Uint8Array(32);
  for (const v of vectors) pir[v >> 3]! |= 1 << (v & 7);
  memory.write(DESC + BigInt(PI_DESC_PIR_OFFSET), pir, KEYID_NONE);
  memory.writeU64(DESC + BigInt(PI_DESC_CONTROL_OFFSET), on ? PI_CONTROL_ON : 0n, KEYID_NONE);
  const vcpu = new Vcpu(0x2000n, new Td(0x1000n, 20, new Uint8Array(32)));
  vcpu.postedIntrDescAddr = DESC;
  vcpu.postedInterrupts = true;
  return { memory, vcpu };
}

describe('posted-interrupt processing at TD entry', () => {
  it('moves PIR vectors into the pending interrupts, highest first, and clears PIR and ON', () => {
    const { memory, vcpu } = setup([0x31, 0xf0, 0x40]);
    vcpu.halted = true;
    assert.equal(processPostedInterrupts(memory, vcpu), 3);
    assert.deepEqual(vcpu.pendingInterrupts, [0xf0, 0x40, 0x31]);
    assert.equal(vcpu.halted, false);
    assert.deepEqual([...memory.read(DESC, 32, KEYID_NONE)], new Array(32).fill(0));
    assert.equal(memory.readU64(DESC + BigInt(PI_DESC_CONTROL_OFFSET), KEYID_NONE), 0n);
  });

  it('ignores the PIR while ON is clear, and exception vectors 0..31 always', () => {
    const off = setup([0x40], false);
    assert.equal(processPostedInterrupts(off.memory, off.vcpu), 0);
    assert.deepEqual(off.vcpu.pendingInterrupts, []);
    const low = setup([3, 0x20]);
    assert.equal(processPostedInterrupts(low.memory, low.vcpu), 1);
    assert.deepEqual(low.vcpu.pendingInterrupts, [0x20]);
  });

  it('does nothing until the host enabled posted interrupts with a descriptor', () => {
    const { memory, vcpu } = setup([0x40]);
    vcpu.postedInterrupts = false;
    assert.equal(processPostedInterrupts(memory, vcpu), 0);
    assert.equal(memory.readU64(DESC + BigInt(PI_DESC_CONTROL_OFFSET), KEYID_NONE), PI_CONTROL_ON);
  });
});
