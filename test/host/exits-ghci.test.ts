import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { TdvmcallSubfunction } from '../../src/abi/tdvmcall.ts';
import { TdvmcallStatus } from '../../src/abi/tdvmcall-status.ts';
import { KvmExitReason, KvmHypercall, KVM_EXIT_HYPERCALL_LONG_MODE, KVM_MAP_GPA_RANGE_ENCRYPTED, KVM_SYSTEM_EVENT_TDX_FATAL } from '../../src/abi/kvm.ts';
import { TdxStatus } from '../../src/abi/status.ts';
import { VmxExitReason } from '../../src/abi/vmx.ts';
import { HostError } from '../../src/host/errors.ts';
import { bootTd, halt, hostEnv, vmcall, type VmcallResult } from './host-env.ts';

const env = hostEnv();
const S = 1n << 47n;
const sub = (s: { number: number }) => BigInt(s.number);
const INFO = sub(TdvmcallSubfunction.GET_TD_VM_CALL_INFO);
const MAP = sub(TdvmcallSubfunction.MAP_GPA);
const QUOTE = sub(TdvmcallSubfunction.GET_QUOTE);
const FATAL = sub(TdvmcallSubfunction.REPORT_FATAL_ERROR);
const NOTIFY = sub(TdvmcallSubfunction.SETUP_EVENT_NOTIFY_INTERRUPT);
const MiB = 1n << 20n;

after(() => {
  for (const vm of [...env.host.vms]) vm.destroy();
});

function guest(body: (seen: VmcallResult[]) => Parameters<typeof bootTd>[1], options?: Parameters<typeof bootTd>[2]) {
  const seen: VmcallResult[] = [];
  return { ...bootTd(env, body(seen), options), seen };
}

const errno = (name: string) => (e: unknown) => e instanceof HostError && e.errno === name;

describe('GetTdVmCallInfo', () => {
  it('leaf 0: R10 = SUCCESS, R11–R14 = 0, in the kernel', () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, INFO, { R12: 0n, R13: 7n, R14: 7n }));
        yield* halt(cpu);
      },
    );
    assert.equal(vcpu.run().kind, 'hlt');
    assert.deepEqual(seen[0], { rax: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n });
    vm.destroy();
  });
  it('leaf 1: KVM_EXIT_TDX with presets; the reply fills R10–R14', () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, INFO, { R12: 1n }));
        seen.push(yield* vmcall(cpu, INFO, { R12: 1n }));
        yield* halt(cpu);
      },
    );
    assert.deepEqual(vcpu.run(), {
      kind: 'tdx',
      exitReason: KvmExitReason.TDX,
      flags: 0n,
      nr: INFO,
      call: 'get_tdvmcall_info',
      getTdvmcallInfo: { ret: 0n, leaf: 1n, r11: 0n, r12: 0n, r13: 0n, r14: 0n },
    });
    vcpu.complete({ kind: 'tdx', ret: 0n, r11: 2n, r12: 3n, r13: 4n, r14: 5n });
    assert.equal(vcpu.run().kind, 'tdx');
    assert.equal(vcpu.run().kind, 'hlt'); // no reply: presets
    assert.deepEqual(seen[0], { rax: 0n, r10: 0n, r11: 2n, r12: 3n, r13: 4n, r14: 5n, r15: 0n });
    assert.deepEqual([seen[1]!.r10, seen[1]!.r11, seen[1]!.r12, seen[1]!.r13, seen[1]!.r14], [0n, 0n, 0n, 0n, 0n]);
    vm.destroy();
  });
  it('other leaves: INVALID_OPERAND', () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, INFO, { R12: 2n }));
        yield* halt(cpu);
      },
    );
    vcpu.run();
    assert.deepEqual([seen[0]!.r10, seen[0]!.r11], [TdvmcallStatus.INVALID_OPERAND, INFO]);
    vm.destroy();
  });
});

describe('MapGPA', () => {
  it('splits the range into ≤ 2 MB hypercall exits and converts nothing itself', () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, MAP, { R12: S | (4n * MiB), R13: 5n * MiB }));
        yield* halt(cpu);
      },
    );
    const chunks = [];
    for (;;) {
      const r = vcpu.run();
      if (r.kind !== 'hypercall') break;
      chunks.push(r.args.slice(0, 3));
      assert.equal(r.nr, BigInt(KvmHypercall.MAP_GPA_RANGE));
      assert.equal(r.flags, KVM_EXIT_HYPERCALL_LONG_MODE);
      assert.equal(r.ret, 0n);
      vcpu.complete({ kind: 'hypercall', ret: 0n });
    }
    assert.deepEqual(chunks, [
      [4n * MiB, 512n, 0n],
      [6n * MiB, 512n, 0n],
      [8n * MiB, 256n, 0n],
    ]);
    assert.deepEqual([seen[0]!.r10, seen[0]!.r11], [0n, MAP]);
    vm.destroy();
  });
  it('to private: args[2] = ENCRYPTED; a non-zero ret fails with INVALID_OPERAND and R11 = the chunk GPA', () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, MAP, { R12: 4n * MiB, R13: 4n * MiB }));
        yield* halt(cpu);
      },
    );
    const first = vcpu.run();
    assert.equal(first.kind === 'hypercall' && first.args[2], KVM_MAP_GPA_RANGE_ENCRYPTED);
    vcpu.complete({ kind: 'hypercall', ret: 0n });
    vcpu.run();
    vcpu.complete({ kind: 'hypercall', ret: 1n });
    assert.equal(vcpu.run().kind, 'hlt');
    assert.deepEqual([seen[0]!.r10, seen[0]!.r11], [TdvmcallStatus.INVALID_OPERAND, 6n * MiB]);
    vm.destroy();
  });
  it('RETRY with R11 = next GPA when an interrupt is pending between chunks', () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, MAP, { R12: S, R13: 4n * MiB }));
        yield* halt(cpu);
      },
    );
    vcpu.run();
    vcpu.postInterrupt(0x40);
    vcpu.complete({ kind: 'hypercall', ret: 0n });
    assert.equal(vcpu.run().kind, 'hlt');
    assert.deepEqual([seen[0]!.r10, seen[0]!.r11], [TdvmcallStatus.RETRY, S | (2n * MiB)]);
    vm.destroy();
  });
  it('refusals: R10 and R11 = the guest GPA, in the kernel', () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, MAP, { R12: 0x1800n, R13: 0x1000n })); // unaligned
        seen.push(yield* vmcall(cpu, MAP, { R12: S - 0x1000n, R13: 0x2000n })); // crosses the shared bit
        seen.push(yield* vmcall(cpu, MAP, { R12: 0x1000n, R13: 0n })); // empty
        seen.push(yield* vmcall(cpu, MAP, { R12: 1n << 48n, R13: 0x1000n })); // beyond GPAW
        yield* halt(cpu);
      },
    );
    assert.equal(vcpu.run().kind, 'hlt');
    assert.deepEqual(
      seen.map((r) => [r.r10, r.r11]),
      [
        [TdvmcallStatus.ALIGN_ERROR, 0x1800n],
        [TdvmcallStatus.INVALID_OPERAND, S - 0x1000n],
        [TdvmcallStatus.INVALID_OPERAND, 0x1000n],
        [TdvmcallStatus.INVALID_OPERAND, 1n << 48n],
      ],
    );
    vm.destroy();
  });
  it('SUBFUNC_UNSUPPORTED (R11 = GPA) when userspace did not enable the exit', () => {
    const { vcpu, vm, seen } = guest(
      (seen) =>
        function* (cpu) {
          seen.push(yield* vmcall(cpu, MAP, { R12: S, R13: 0x1000n }));
          yield* halt(cpu);
        },
      { config: { exitOnMapGpa: false } },
    );
    assert.equal(vcpu.run().kind, 'hlt');
    assert.deepEqual([seen[0]!.r10, seen[0]!.r11], [TdvmcallStatus.SUBFUNC_UNSUPPORTED, S]);
    vm.destroy();
  });
});

describe('GetQuote and SetupEventNotifyInterrupt', () => {
  it('GetQuote: KVM_EXIT_TDX with ret preset SUBFUNC_UNSUPPORTED; the reply sets R10', () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, QUOTE, { R12: S | 0x10_0000n, R13: 0x2000n }));
        seen.push(yield* vmcall(cpu, QUOTE, { R12: S | 0x10_0000n, R13: 0x2000n }));
        seen.push(yield* vmcall(cpu, QUOTE, { R12: 0x10_0000n, R13: 0x2000n }));
        yield* halt(cpu);
      },
    );
    assert.deepEqual(vcpu.run(), {
      kind: 'tdx',
      exitReason: KvmExitReason.TDX,
      flags: 0n,
      nr: QUOTE,
      call: 'get_quote',
      getQuote: { ret: TdvmcallStatus.SUBFUNC_UNSUPPORTED, gpa: 0x10_0000n, size: 0x2000n },
    });
    vcpu.complete({ kind: 'tdx', ret: 0n });
    assert.equal(vcpu.run().kind, 'tdx');
    assert.equal(vcpu.run().kind, 'hlt');
    assert.deepEqual(seen.map((r) => r.r10), [0n, TdvmcallStatus.SUBFUNC_UNSUPPORTED, TdvmcallStatus.INVALID_OPERAND]);
    vm.destroy();
  });
  it('SetupEventNotifyInterrupt: vector 32..255 reaches userspace; others are refused', () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, NOTIFY, { R12: 31n }));
        seen.push(yield* vmcall(cpu, NOTIFY, { R12: 256n }));
        seen.push(yield* vmcall(cpu, NOTIFY, { R12: 0xf3n }));
        yield* halt(cpu);
      },
    );
    assert.deepEqual(vcpu.run(), {
      kind: 'tdx',
      exitReason: KvmExitReason.TDX,
      flags: 0n,
      nr: NOTIFY,
      call: 'setup_event_notify',
      setupEventNotify: { ret: TdvmcallStatus.SUBFUNC_UNSUPPORTED, vector: 0xf3n },
    });
    vcpu.complete({ kind: 'tdx', ret: 0n });
    assert.equal(vcpu.run().kind, 'hlt');
    assert.deepEqual(seen.map((r) => r.r10), [TdvmcallStatus.INVALID_OPERAND, TdvmcallStatus.INVALID_OPERAND, 0n]);
    vm.destroy();
  });
});

describe('ReportFatalError', () => {
  it('KVM_SYSTEM_EVENT_TDX_FATAL with the 16 GPRs (RSP = RBP = 0); running again resumes the guest', () => {
    const msg = new TextEncoder().encode('boom: it went wrong');
    const word = (i: number) => {
      const b = new Uint8Array(8);
      b.set(msg.subarray(i * 8, i * 8 + 8));
      return new DataView(b.buffer).getBigUint64(0, true);
    };
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        cpu.regs.set('RBP', 0x5555n);
        seen.push(yield* vmcall(cpu, FATAL, { R12: 1n << 32n, R13: 0x7000n, R14: word(0), R15: word(1), RBX: word(2), RDX: 0x99n, RSI: 6n, RDI: 7n, R8: 8n, R9: 9n }));
        yield* halt(cpu);
      },
    );
    const r = vcpu.run();
    assert.equal(r.kind, 'system_event');
    if (r.kind !== 'system_event') return;
    assert.equal(r.type, KVM_SYSTEM_EVENT_TDX_FATAL);
    assert.equal(r.ndata, 16);
    assert.deepEqual(r.data, [
      TdxStatus.TDX_SUCCESS | BigInt(VmxExitReason.TDCALL), // RAX: the raw TDH.VP.ENTER result
      0xffccn, // RCX: the guest's exposed-register mask
      0x99n, // RDX
      word(2), // RBX
      0n, // RSP
      0n, // RBP
      6n,
      7n,
      8n,
      9n,
      0n, // R10
      FATAL, // R11
      1n << 32n, // R12: error code
      0x7000n, // R13
      word(0),
      word(1),
    ]);
    assert.ok(r.message.startsWith('boom: it went wro'));
    assert.throws(() => vcpu.complete({ kind: 'tdx', ret: 0n }), errno('EINVAL'));
    assert.equal(vcpu.run().kind, 'hlt');
    assert.deepEqual([seen[0]!.rax, seen[0]!.r10, seen[0]!.r11, seen[0]!.r12], [0n, 0n, FATAL, 1n << 32n]);
    vm.destroy();
  });
});

describe('unknown sub-functions and replies of the wrong kind', () => {
  it('an unknown GHCI sub-function is SUBFUNC_UNSUPPORTED without a userspace exit', () => {
    const { vcpu, vm, seen } = guest((seen) =>
      function* (cpu) {
        seen.push(yield* vmcall(cpu, 0x10005n, { R12: 1n }));
        seen.push(yield* vmcall(cpu, (1n << 32n) | 10n));
        yield* halt(cpu);
      },
    );
    assert.equal(vcpu.run().kind, 'hlt');
    assert.deepEqual(seen.map((r) => [r.r10, r.r11]), [
      [TdvmcallStatus.SUBFUNC_UNSUPPORTED, 0x10005n],
      [TdvmcallStatus.SUBFUNC_UNSUPPORTED, (1n << 32n) | 10n],
    ]);
    vm.destroy();
  });
  it('complete() checks the reply against the pending exit', () => {
    const { vcpu, vm } = guest(() =>
      function* (cpu) {
        yield* vmcall(cpu, sub(TdvmcallSubfunction.IO), { R12: 1n, R13: 0n, R14: 0x60n });
        yield* vmcall(cpu, sub(TdvmcallSubfunction.IO), { R12: 1n, R13: 1n, R14: 0x60n });
        yield* halt(cpu);
      },
    );
    assert.throws(() => vcpu.complete({ kind: 'io', data: 1n }), errno('EINVAL'));
    assert.equal(vcpu.run().kind, 'io');
    assert.throws(() => vcpu.complete({ kind: 'mmio', data: 1n }), /must be of kind io/);
    assert.throws(() => vcpu.complete({ kind: 'io', data: 0x100n }), /does not fit the 1-byte access/);
    vcpu.complete({ kind: 'io', data: 0xffn });
    assert.equal(vcpu.run().kind, 'io');
    assert.throws(() => vcpu.complete({ kind: 'io', data: 1n }), /OUT exit takes no data/);
    assert.equal(vcpu.run().kind, 'hlt');
    assert.throws(() => vcpu.complete({ kind: 'io' }), /takes no reply/);
    vm.destroy();
  });
});
