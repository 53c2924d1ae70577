import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { annotateLine, annotateLog, LOG_PATTERNS, parseU64Argument } from '../../src/cli/commands/decode.ts';
import { UsageError } from '../../src/cli/errors.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/kernel-tdx.log', import.meta.url));

/** Run `tdxsim decode …` as a child process, the way a user does. */
function tdxsim(args: string[], input?: string): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'decode', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    ...(input !== undefined && { input }),
  });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe('tdxsim decode <value…>', () => {
  it('prints one explained line per status', () => {
    const r = tdxsim(['0xC0000B0B00000001', '0xC000010000000045', '0x8000FF00FFFF0000', '0x8000FF000000000D', '9223652412319858694']);
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    assert.deepEqual(r.stdout.trimEnd().split('\n'), [
      '0xC0000B0B00000001 TDX_PAGE_SIZE_MISMATCH (error, class 0x0B Secure EPT) level=2M (1) [read as an operand ID: RCX]',
      '0xC000010000000045 TDX_OPERAND_INVALID (error, class 0x01 operand) operand=CPUID_CONFIG (69)',
      '0x8000FF00FFFF0000 TDX_SEAMCALL_VMFAILINVALID (error, software, class 0xFF software-defined (host SEAMCALL helper))',
      '0x8000FF000000000D TDX_SEAMCALL_GP (error, software, class 0xFF software-defined (host SEAMCALL helper)) vector=#GP (13)',
      // 9223652412319858694 = 0x8000FF0000000006, given in decimal.
      '0x8000FF0000000006 TDX_SEAMCALL_UD (error, software, class 0xFF software-defined (host SEAMCALL helper)) vector=#UD (6)',
    ]);
  });

  it('--json prints an array with 64-bit values as hex strings', () => {
    const r = tdxsim(['--json', '0xC000010000000045', '0xC0007F0000000003']);
    assert.equal(r.status, 0);
    const out = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    assert.equal(out.length, 2);
    assert.equal(out[0]!.value, '0xC000010000000045');
    assert.equal(out[0]!.name, 'TDX_OPERAND_INVALID');
    assert.deepEqual(out[0]!.operand, { id: 69, name: 'CPUID_CONFIG' });
    assert.equal(out[1]!.known, false);
    assert.equal(out[1]!.name, undefined);
    assert.equal(out[1]!.classId, 0x7f);
    assert.deepEqual(out[1]!.operand, { id: 3, name: 'RBX' });
  });

  it('--tdvmcall decodes R10 statuses', () => {
    const r = tdxsim(['--tdvmcall', '0', '1', '0x8000000000000001', '0x8000000000000003']);
    assert.equal(r.status, 0);
    assert.deepEqual(r.stdout.trimEnd().split('\n'), [
      '0x0000000000000000 TDVMCALL_STATUS_SUCCESS (success)',
      '0x0000000000000001 TDVMCALL_STATUS_RETRY (not an error: call again)',
      '0x8000000000000001 TDVMCALL_STATUS_GPA_INUSE (error; GHCI only, not defined by Linux)',
      '0x8000000000000003 TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED (error)',
    ]);
  });

  it('--leaf decodes leaf words, SEAMCALL by default and TDCALL with --tdcall', () => {
    const host = tdxsim(['--leaf', '0x0000000000010016', '0x63']);
    assert.equal(host.status, 0);
    assert.deepEqual(host.stdout.trimEnd().split('\n'), [
      '0x0000000000010016 TDH.VP.INIT version 1 (SEAMCALL leaf 22)',
      '0x0000000000000063 unknown SEAMCALL leaf 99 version 0',
    ]);
    const guest = tdxsim(['--leaf', '--tdcall', '--json', '0x10007']);
    assert.equal(guest.status, 0);
    const [d] = JSON.parse(guest.stdout) as Array<Record<string, unknown>>;
    assert.equal(d!.name, 'TDG.VM.RD');
    assert.equal(d!.kind, 'tdcall');
    assert.equal(d!.version, 1);
    assert.equal(d!.valid, true);
  });
});

describe('tdxsim decode: bad input', () => {
  const bad: Array<[string[], RegExp]> = [
    [['banana'], /tdxsim: decode: 'banana' is not a number/],
    [['0x1FFFFFFFFFFFFFFFF'], /tdxsim: decode: '0x1FFFFFFFFFFFFFFFF' needs 65 bits/],
    [['-5'], /tdxsim: decode: '-5' is negative/],
    [['--log', 'test/fixtures/no-such.log'], /tdxsim: decode: cannot read --log file 'test\/fixtures\/no-such.log': no such file/],
  ];
  for (const [args, message] of bad) {
    it(`${args.join(' ')} → exit 2 with a message naming it`, () => {
      const r = tdxsim(args);
      assert.equal(r.status, 2);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    });
  }

  it('a bad value among good ones prints nothing at all', () => {
    const r = tdxsim(['0x0', '0xZZ']);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /'0xZZ' is not a number/);
  });

  it('option combinations that make no sense are refused', () => {
    const r = tdxsim(['--tdcall', '5']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--tdcall only applies with --leaf/);
  });

  it('parseU64Argument accepts exactly hex and decimal in 0..2^64-1', () => {
    assert.equal(parseU64Argument('0xffffffffffffffff'), (1n << 64n) - 1n);
    assert.equal(parseU64Argument('0X1f'), 31n);
    assert.equal(parseU64Argument('18446744073709551615'), (1n << 64n) - 1n);
    for (const text of ['', ' 1', '1.5', '1e3', '0b101', '0x', '12abc', '18446744073709551616', '-0x1']) {
      assert.throws(() => parseU64Argument(text), UsageError, text);
    }
  });
});

describe('tdxsim decode --log', () => {
  const fixture = readFileSync(FIXTURE, 'utf8');
  const fixtureLines = fixture.trimEnd().split('\n');

  it('keeps every line, annotates codes in place and leaves other lines untouched', () => {
    const r = tdxsim(['--log', FIXTURE]);
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    const out = r.stdout.trimEnd().split('\n');
    assert.equal(out.length, fixtureLines.length);

    const expected = new Map<string, string>([
      ['[    9.404512]', 'virt/tdx: SEAMCALL (0x0000000000000021 [TDH.SYS.INIT]) failed: 0x8000ff00ffff0000 [TDX_SEAMCALL_VMFAILINVALID]'],
      ['[   10.220087]', 'virt/tdx: SEAMCALL (35 [TDH.SYS.LP.INIT]) failed: 0x8000ff000000000d [TDX_SEAMCALL_GP vector=#GP]'],
      ['[   10.731650]', 'virt/tdx: SEAMCALL (0x0000000000000022 [TDH.SYS.RD]) failed: 0xc0000c0000000000 [TDX_METADATA_FIELD_ID_INCORRECT]'],
      ['[  112.402117]', 'kvm_intel: SEAMCALL TDH_MNG_INIT failed: 0xc000010000000045 [TDX_OPERAND_INVALID operand=CPUID_CONFIG], rcx 0x0'],
      [
        '[  112.402233]',
        'qemu-system-x86_64[4242]: TDX ioctl KVM_TDX_INIT_VM failed, hw_errors: 0xc000010000000045 [TDX_OPERAND_INVALID operand=CPUID_CONFIG]: Invalid argument',
      ],
      ['[  118.772931]', 'kvm_intel: SEAMCALL TDH_MEM_PAGE_AUG failed: 0xc0000b0b00000001 [TDX_PAGE_SIZE_MISMATCH level=2M], rcx 0x0, rdx 0x0'],
      ['[  119.000101]', 'virt/tdx: SEAMCALL (0x0000000000010016 [TDH.VP.INIT v1]) failed: 0xc000010000000000 [TDX_OPERAND_INVALID operand=RAX]'],
      ['[  120.211904]', 'kvm [4242]: vcpu0, guest rIP: 0xffffffff81234567 TD vp_enter_ret 0x6000000200000030 [TDX_NON_RECOVERABLE_TD exit=EPT_VIOLATION]'],
      ['[  121.530002]', 'kvm_intel: SEAMCALL TDH_MEM_RANGE_BLOCK failed: 0x8000020000000092 [TDX_OPERAND_BUSY operand=SEPT_TREE], rcx 0x0, rdx 0x0'],
      ['[  122.104400]', 'kvm_intel: tdh_phymem_page_reclaim() failed, err 0xc000030300000000 [TDX_PAGE_NOT_FREE]'],
      ['[  123.880101]', 'kvm_intel: vcpu 1: unhandled exit_reason 0x30 [exit=EPT_VIOLATION (48)]'],
      ['[  124.000017]', 'qemu-system-x86_64[4242]: KVM: entry failed, hardware error 0x80000021 [exit=ENTRY_FAILURE_GUEST_STATE (33) failed-vmentry]'],
      ['[  130.000000]', 'tdx-guest: GetQuote hypercall failed, status:8000000000000003 [TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED]'],
      ['[  132.000000]', 'Kernel panic - not syncing: TDCALL 1 [TDG.VP.INFO] failed (Buggy TDX module!)'],
    ]);
    for (let i = 0; i < fixtureLines.length; i++) {
      const stamp = fixtureLines[i]!.slice(0, 14);
      const want = expected.get(stamp);
      if (want !== undefined) assert.equal(out[i], `${stamp} ${want}`);
      else if (!fixtureLines[i]!.includes('TDVMCALL failed')) assert.equal(out[i], fixtureLines[i], `line ${i + 1} must be unchanged`);
    }
    assert.ok(expected.size > 0 && [...expected.keys()].every((k) => fixtureLines.some((l) => l.startsWith(k))), 'fixture has every expected line');
    const panic = out.find((l) => l.includes('TDVMCALL failed. TDX module bug?'));
    assert.match(panic ?? '', /TDX module bug\? \[TDG\.VP\.VMCALL returned RAX != 0/);
  });

  it('register dumps and stack traces with hex in them are not mistaken for codes', () => {
    for (const line of fixtureLines.filter((l) => /RCX 0x|R09 0x|WARNING: CPU/.test(l))) {
      assert.deepEqual(annotateLine(line).matches, [], line);
    }
  });

  it('--json prints { line, matches } for every line', () => {
    const r = tdxsim(['--log', FIXTURE, '--json']);
    assert.equal(r.status, 0);
    const out = JSON.parse(r.stdout) as Array<{ line: string; matches: Array<{ text: string; kind: string; decoded: Record<string, unknown> }> }>;
    assert.deepEqual(
      out.map((l) => l.line),
      fixtureLines,
    );
    const aug = out.find((l) => l.line.includes('TDH_MEM_PAGE_AUG'));
    assert.equal(aug?.matches.length, 1);
    assert.equal(aug?.matches[0]?.text, '0xc0000b0b00000001');
    assert.equal(aug?.matches[0]?.kind, 'status');
    assert.equal(aug?.matches[0]?.decoded.name, 'TDX_PAGE_SIZE_MISMATCH');
    assert.deepEqual(aug?.matches[0]?.decoded.level, { value: 1, name: '2M' });
    const prerr = out.find((l) => l.line.includes('SEAMCALL (0x0000000000010016)'));
    assert.deepEqual(
      prerr?.matches.map((m) => m.kind),
      ['seamcallLeaf', 'status'],
    );
    assert.equal(prerr?.matches[0]?.decoded.name, 'TDH.VP.INIT');
    assert.equal(out.find((l) => l.line.startsWith('[    0.000000] Linux'))?.matches.length, 0);
  });

  it("reads stdin with '-'", () => {
    const r = tdxsim(['--log', '-'], 'boot ok\nvirt/tdx: SEAMCALL (0x000000000000000b) failed: 0xc000010000000045\n');
    assert.equal(r.status, 0);
    assert.deepEqual(r.stdout.trimEnd().split('\n'), [
      'boot ok',
      'virt/tdx: SEAMCALL (0x000000000000000b [TDH.MNG.RD]) failed: 0xc000010000000045 [TDX_OPERAND_INVALID operand=CPUID_CONFIG]',
    ]);
  });

  it('the generic wrapper pattern and the KVM pattern do not annotate one code twice', () => {
    const a = annotateLine('kvm_intel: SEAMCALL TDH_VP_INIT failed: 0xc000010000000001, rcx 0x1');
    assert.equal(a.matches.length, 1);
    assert.equal(a.matches[0]?.pattern, 'kvm-seamcall-failed');
    assert.equal(a.annotated, 'kvm_intel: SEAMCALL TDH_VP_INIT failed: 0xc000010000000001 [TDX_OPERAND_INVALID operand=RCX], rcx 0x1');
  });

  it('other recognised forms: ret/status keywords, hw_error=, wide exit_reason, old guest hypercall panic', () => {
    assert.equal(
      annotateLine('tdx: tdg_vm_wr(0x9100000000000010) ret 0xc0000c0100000000').annotated,
      'tdx: tdg_vm_wr(0x9100000000000010) ret 0xc0000c0100000000 [TDX_METADATA_FIELD_NOT_WRITABLE]',
    );
    assert.equal(annotateLine('cmd hw_error=0x8000020300000000').annotated, 'cmd hw_error=0x8000020300000000 [TDX_RND_NO_ENTROPY]');
    assert.equal(
      annotateLine('exit_reason: 0x400000010000000c').annotated,
      'exit_reason: 0x400000010000000c [TDX_NON_RECOVERABLE_VCPU exit=HLT]',
    );
    assert.equal(
      annotateLine('Kernel panic - not syncing: Hypercall fn 65537 failed (Buggy TDX module!)').annotated,
      'Kernel panic - not syncing: Hypercall fn 65537 [TDVMCALL MapGPA] failed (Buggy TDX module!)',
    );
    // A number wider than 64 bits in a log is left alone rather than misread.
    assert.deepEqual(annotateLine('hw_error 0x1ffffffffffffffff').matches, []);
  });

  it('every pattern documents its message, is global with indices, and is exercised here', () => {
    const extra = [
      'Kernel panic - not syncing: Hypercall fn 65537 failed (Buggy TDX module!)',
      'tdx: tdg_vm_wr(0x9100000000000010) ret 0xc0000c0100000000',
    ];
    const hit = new Set([...fixtureLines, ...extra].flatMap((l) => annotateLine(l).matches.map((m) => m.pattern)));
    for (const p of LOG_PATTERNS) {
      assert.ok(p.message.length > 20, p.id);
      assert.equal(p.regex.flags.includes('g') && p.regex.flags.includes('d'), true, p.id);
      assert.ok(hit.has(p.id), `pattern ${p.id} is not exercised`);
    }
    assert.deepEqual(annotateLog('a\r\nb\n'), [annotateLine('a'), annotateLine('b')]);
  });
});
