import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IoBus, type MmioDevice, type PortIoDevice } from '../../src/host/devices.ts';
import { CpuidTable } from '../../src/host/cpuid-table.ts';
import { isKvmEmulatedMsr, KvmMsrState, msrAllowed } from '../../src/host/msr-emulation.ts';
import { PostedInterruptDescriptor } from '../../src/host/posted-interrupts.ts';
import { PhysicalMemory } from '../../src/platform/memory.ts';

describe('IoBus', () => {
  it('routes an access to the device that decodes all of it', () => {
    const bus = new IoBus();
    const log: string[] = [];
    const port: PortIoDevice = { name: 'p', port: 0x70, ports: 2, read: (p, s) => BigInt(p * 10 + s), write: (p, s, v) => void log.push(`${p}/${s}=${v}`) };
    const mmio: MmioDevice = { name: 'm', base: 0x1000n, size: 0x10n, read: (o, l) => o * 100n + BigInt(l), write: (o, l, v) => void log.push(`m${o}/${l}=${v}`) };
    bus.addPortDevice(port);
    bus.addMmioDevice(mmio);
    assert.equal(bus.readPort(0x71, 1), BigInt(0x71 * 10 + 1));
    assert.equal(bus.readPort(0x71, 2), undefined); // straddles the device's end
    assert.equal(bus.writePort(0x70, 2, 5n), true);
    assert.equal(bus.writePort(0x72, 1, 5n), false);
    assert.equal(bus.readMmio(0x1008n, 8), 808n);
    assert.equal(bus.readMmio(0x100cn, 8), undefined);
    assert.equal(bus.writeMmio(0x1000n, 4, 9n), true);
    assert.deepEqual(log, ['112/2=5', 'm0/4=9']);
  });
});

describe('CpuidTable', () => {
  it("has KVM's signature leaves, overridable by userspace entries; unknown leaves read zeros", () => {
    const t = new CpuidTable([{ leaf: 7, subleaf: 0, eax: 1, ebx: 2, ecx: 3, edx: 4 }]);
    assert.deepEqual(t.lookup(0x4000_0000, 9), { eax: 0x4000_0001, ebx: 0x4b4d_564b, ecx: 0x564b_4d56, edx: 0x4d });
    assert.deepEqual(t.lookup(7, 0), { eax: 1, ebx: 2, ecx: 3, edx: 4 });
    assert.deepEqual(t.lookup(7, 1), { eax: 0, ebx: 0, ecx: 0, edx: 0 });
    const o = new CpuidTable([{ leaf: 0x4000_0000, subleaf: null, eax: 5, ebx: 6, ecx: 7, edx: 8 }]);
    assert.deepEqual(o.lookup(0x4000_0000, 0), { eax: 5, ebx: 6, ecx: 7, edx: 8 });
  });
});

describe('KVM MSR emulation for TDs', () => {
  it('tdx_has_emulated_msr: ranges and exclusions', () => {
    for (const m of [0x1b, 0x3a, 0x277, 0x200, 0x26f, 0x2ff, 0x400, 0x47f, 0x280, 0x6e0, 0x802, 0x830, 0x8ff, 0xc000_0080]) assert.equal(isKvmEmulatedMsr(m), true, m.toString(16));
    for (const m of [0x10, 0x174, 0x480, 0x808, 0x80a, 0x80b, 0x810, 0x817, 0x818, 0x827, 0xc000_0081]) assert.equal(isKvmEmulatedMsr(m), false, m.toString(16));
  });
  it('defaults, read-only MSRs, PAT validation, unavailable MSRs', () => {
    const ipis: [bigint, number][] = [];
    const s = new KvmMsrState(3n, false, (d, v) => void ipis.push([d, v]));
    assert.deepEqual(s.read(0x1b), { ok: true, value: 0xfee0_0c00n }); // not the BSP
    assert.deepEqual(s.read(0xc000_0080), { ok: true, value: 0xd01n });
    assert.deepEqual(s.read(0x3a), { ok: true, value: 1n });
    assert.deepEqual(s.read(0x802), { ok: true, value: 3n });
    assert.equal(s.write(0x1b, 0n), false);
    assert.equal(s.write(0xc000_0080, 0n), false);
    assert.equal(s.write(0x802, 9n), false);
    assert.equal(s.write(0x277, 0x0606_0606_0606_0606n), true);
    assert.equal(s.write(0x277, 0x0606_0606_0606_0602n), false);
    assert.deepEqual(s.read(0x277), { ok: true, value: 0x0606_0606_0606_0606n });
    assert.equal(s.read(0x4d0).ok, false); // MCG_EXT_CTL needs LMCE
    assert.equal(s.read(0x10).ok, false);
  });
  it('an ICR write in fixed mode sends an IPI; other modes are dropped', () => {
    const ipis: [bigint, number][] = [];
    const s = new KvmMsrState(0n, true, (d, v) => void ipis.push([d, v]));
    assert.equal(s.write(0x830, (2n << 32n) | 0x41n), true);
    assert.equal(s.write(0x830, (2n << 32n) | (5n << 8n) | 0x41n), true); // INIT
    assert.deepEqual(ipis, [[2n, 0x41]]);
  });
  it('filters: first matching range decides, else the default', () => {
    const f = { default: 'deny' as const, ranges: [{ base: 0x10, count: 2, accesses: ['read' as const], action: 'allow' as const }] };
    assert.equal(msrAllowed(f, 0x11, 'read'), true);
    assert.equal(msrAllowed(f, 0x11, 'write'), false);
    assert.equal(msrAllowed(f, 0x12, 'read'), false);
    assert.equal(msrAllowed(undefined, 0x12, 'write'), true);
  });
});

describe('PostedInterruptDescriptor', () => {
  it('init sets NV and NDST; post sets the PIR bit and ON', () => {
    const mem = new PhysicalMemory(1n << 20n);
    const pi = new PostedInterruptDescriptor(mem, 0x1000n);
    pi.init(0xf2, 5n);
    assert.equal(mem.readU64(0x1020n, 0), (5n << 32n) | (0xf2n << 16n));
    assert.equal(pi.pending(), false);
    assert.equal(pi.post(0x41), true);
    assert.equal(pi.post(0x41), false);
    assert.equal(pi.post(0xff), true);
    assert.equal(pi.pending(), true);
    assert.deepEqual(pi.pendingVectors(), [0x41, 0xff]);
    assert.equal(mem.read(0x1008n, 1, 0)[0], 0x02); // vector 0x41: byte 8, bit 1
  });
});
