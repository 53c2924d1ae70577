import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegisterFile, Gpr, GPR_COUNT } from '../../src/abi/registers.ts';
import { LEAF_WORD, FIELD_ID } from '../../src/abi/operands.ts';
import { U64_MASK } from '../../src/abi/bitfield.ts';
import { OperandId, TdxStatus, withOperand } from '../../src/abi/status.ts';
import { writeOperands, type LeafDef, type OperandValues } from '../../src/abi/leaf.ts';
import { TdcallLeaf } from '../../src/abi/tdcall-leaves.ts';
import { MD_LIST_HEADER, cpuidValuesFieldId, metadataFieldByName } from '../../src/abi/metadata.ts';
import { CPUID_CONFIGURABLE, cpuidConfigurableBits, cpuidLeafSubleaf, NUM_CPUID_CONFIG } from '../../src/abi/cpuid-config.ts';
import { SIMULATED_CPUID } from '../../src/abi/cpuid.ts';
import { ConfigFlagsBit, TdAttributesBit, TdCtlsBit, ATTRIBUTES_FIXED0 } from '../../src/abi/td-config.ts';
import { OpState, VcpuState } from '../../src/abi/lifecycle.ts';
import { TdVmcsField, NULL_PA, POSTED_INTR_NV_INIT } from '../../src/abi/vmx.ts';
import { POSTED_INTR_VECTOR, PIN_BASED_POSTED_INTR } from '../../src/abi/posted-interrupt.ts';
import { DEFAULT_MODULE_IDENTITY } from '../../src/module/identity.ts';
import { LockKey } from '../../src/module/locks.ts';
import { dispatchTdcall } from '../../src/module/tdcall.ts';
import type { Vcpu } from '../../src/module/vcpu.ts';
import { bringUp, createTd, expectStatus, DEFAULT_ATTRIBUTES, type ModuleEnv } from '../helpers/module-harness.ts';
import { createVcpu } from '../helpers/vcpu-harness.ts';

const S = TdxStatus;
const NULL = U64_MASK;
const id = (name: string): bigint => metadataFieldByName(name)!.id;
const DEBUG = DEFAULT_ATTRIBUTES | (1n << BigInt(TdAttributesBit.DEBUG));
const FLEXIBLE = (1n << BigInt(ConfigFlagsBit.FLEXIBLE_PENDING_VE)) | (1n << BigInt(ConfigFlagsBit.NO_RBP_MOD));

/** Registers with a sentinel in every GPR, to see what a leaf leaves alone. */
function sentinels(): RegisterFile {
  const r = new RegisterFile();
  for (let i = 0; i < GPR_COUNT; i++) r.gpr[i] = 0x5a5a_0000n + BigInt(i);
  return r;
}

function assertPreserved(regs: RegisterFile, written: number[]): void {
  for (let i = 1; i < GPR_COUNT; i++) {
    if (!written.includes(i)) assert.equal(regs.gpr[i], 0x5a5a_0000n + BigInt(i), `GPR ${i} changed`);
  }
}

/** Issue a guest TDCALL on `vcpu` (as the TD would, through the module's TDCALL dispatcher). */
function tdcall<L extends LeafDef>(env: ModuleEnv, vcpu: Vcpu, leaf: L, inputs: Partial<OperandValues<L['inputs']>>, version = 0) {
  const regs = vcpu.cpu.regs;
  regs.copyFrom(sentinels());
  regs.gpr[Gpr.RAX] = LEAF_WORD.encode({ leaf: leaf.number, version });
  // RCX (the VM index) is 0 unless the test says otherwise.
  regs.gpr[Gpr.RCX] = 0n;
  writeOperands(leaf.inputs, regs, inputs);
  const outcome = dispatchTdcall(env.module, vcpu);
  assert.equal(outcome.kind, 'status');
  return { status: outcome.kind === 'status' ? outcome.status : -1n, regs };
}

function setup(opts: { debug?: boolean; configFlags?: bigint; x2apic?: boolean } = {}) {
  const env = bringUp();
  const t = createTd(env, {
    maxVcpus: 2,
    ...(opts.debug && { attributes: DEBUG }),
    ...(opts.configFlags !== undefined && { configFlags: opts.configFlags }),
  });
  const v = createVcpu(env, t.tdr, opts.x2apic ? { x2apicId: 7n } : {});
  return { env, t, v };
}

describe('TDH.SYS.RD', () => {
  it('answers the null id with the first field and FIRST_FIELD_ID_IN_CONTEXT', () => {
    const env = bringUp();
    const r = env.tdh.SYS_RD({ fieldId: NULL }, { regs: sentinels() });
    assert.equal(r.status, S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT);
    assert.equal(r.regs.gpr[Gpr.RDX], id('VENDOR_ID'));
    assert.equal(r.regs.gpr[Gpr.R8], 0n);
    assertPreserved(r.regs, [Gpr.RDX, Gpr.R8]);
    // Context bits of the null id do not matter.
    assert.equal(env.tdh.SYS_RD({ fieldId: FIELD_ID.set(NULL, 'context_code', 0n) }).status, S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT);
  });

  it('walks every SYS field through the next-field ids until the null id', () => {
    const env = bringUp();
    const seen = new Map<bigint, bigint>();
    let fieldId = env.tdh.SYS_RD({ fieldId: NULL }).outputs.nextFieldId;
    while (fieldId !== NULL) {
      const r = env.tdh.SYS_RD({ fieldId });
      assert.equal(r.status, S.TDX_SUCCESS, `reading ${fieldId.toString(16)}`);
      assert.ok(!seen.has(fieldId), 'the walk must not loop');
      seen.set(fieldId, r.outputs.value);
      fieldId = r.outputs.nextFieldId;
    }
    const ident = DEFAULT_MODULE_IDENTITY;
    const expect: [string, bigint][] = [
      ['VENDOR_ID', 0x8086n],
      ['BUILD_DATE', BigInt(ident.buildDate)],
      ['BUILD_NUM', BigInt(ident.buildNumber)],
      ['MINOR_VERSION', BigInt(ident.minorVersion)],
      ['MAJOR_VERSION', BigInt(ident.majorVersion)],
      ['UPDATE_VERSION', BigInt(ident.updateVersion)],
      ['MODULE_HV', 0n],
      ['SYS_ATTRIBUTES', 0n],
      ['NUM_TDX_FEATURES', 1n],
      ['TDX_FEATURES0', ident.features0],
      ['MAX_TDMRS', 64n],
      ['MAX_RESERVED_PER_TDMR', 16n],
      ['PAMT_4K_ENTRY_SIZE', 16n],
      ['PAMT_2M_ENTRY_SIZE', 16n],
      ['PAMT_1G_ENTRY_SIZE', 16n],
      ['TDR_BASE_SIZE', 0x1000n],
      ['TDCS_BASE_SIZE', 0x6000n],
      ['TDVPS_BASE_SIZE', 0x6000n],
      ['ATTRIBUTES_FIXED0', ATTRIBUTES_FIXED0],
      ['ATTRIBUTES_FIXED1', 0n],
      ['XFAM_FIXED0', 0x6dbe7n],
      ['XFAM_FIXED1', 3n],
      ['NUM_CPUID_CONFIG', 12n],
      ['CONFIG_FLAGS_FIXED0', 7n],
      ['CONFIG_FLAGS_FIXED1', 0n],
      ['MAX_VCPUS_PER_TD', 576n],
    ];
    for (const [name, value] of expect) assert.equal(seen.get(id(name)), value, name);
    CPUID_CONFIGURABLE.forEach((c, i) => {
      assert.equal(seen.get(id('CPUID_CONFIG_LEAVES') + BigInt(i)), cpuidLeafSubleaf(c));
      const bits = cpuidConfigurableBits(c);
      assert.equal(seen.get(id('CPUID_CONFIG_VALUES') + BigInt(2 * i)), (BigInt(bits.ebx) << 32n) | BigInt(bits.eax));
      assert.equal(seen.get(id('CPUID_CONFIG_VALUES') + BigInt(2 * i + 1)), (BigInt(bits.edx) << 32n) | BigInt(bits.ecx));
    });
    assert.equal(seen.size, expect.length + 3 * NUM_CPUID_CONFIG);
  });

  it('reads the ids Linux uses (linux-tdx §1.4), with any element size or context', () => {
    const env = bringUp();
    assert.equal(env.tdh.SYS_RD({ fieldId: 0x0800_0001_0000_0004n }).outputs.value, 1n);
    assert.equal(env.tdh.SYS_RD({ fieldId: 0x0a00_0003_0000_0008n }).outputs.value, DEFAULT_MODULE_IDENTITY.features0);
    const odd = FIELD_ID.set(FIELD_ID.set(id('MAX_TDMRS'), 'element_size_code', 3n), 'context_code', 2n);
    const r = env.tdh.SYS_RD({ fieldId: odd });
    assert.equal(r.status, S.TDX_SUCCESS);
    assert.equal(r.outputs.value, 64n);
    assert.equal(r.outputs.nextFieldId, id('MAX_RESERVED_PER_TDMR'));
  });

  it('refuses a bad field id: RDX = null, R8 = 0', () => {
    const env = bringUp();
    const bad = [
      id('MAX_TDMRS') | FIELD_ID.field('reserved0').mask,
      FIELD_ID.set(id('MAX_TDMRS'), 'last_element_in_field', 1n),
      FIELD_ID.set(id('MAX_TDMRS'), 'field_code', 0x7n),
      FIELD_ID.set(id('MAX_TDMRS'), 'class_code', 0x13n),
    ];
    for (const fieldId of bad) {
      const r = env.tdh.SYS_RD({ fieldId }, { regs: sentinels() });
      assert.equal(r.status, S.TDX_METADATA_FIELD_ID_INCORRECT);
      assert.equal(r.regs.gpr[Gpr.RDX], NULL);
      assert.equal(r.regs.gpr[Gpr.R8], 0n);
      assertPreserved(r.regs, [Gpr.RDX, Gpr.R8]);
    }
  });

  it('needs TDH.SYS.LP.INIT on the LP, but not SYS_READY', () => {
    const env = bringUp({ until: 'sysinit' });
    const r = env.tdh.SYS_RD({ fieldId: id('MAX_TDMRS') }, { regs: sentinels() });
    assert.equal(r.status, S.TDX_SYS_LP_INIT_NOT_DONE);
    assert.equal(r.regs.gpr[Gpr.RDX], NULL);
    assert.equal(r.regs.gpr[Gpr.R8], 0n);
    expectStatus(env.tdh.SYS_LP_INIT(), 'TDH.SYS.LP.INIT');
    assert.equal(env.tdh.SYS_RD({ fieldId: id('MAX_TDMRS') }).outputs.value, 64n);
  });
});

describe('TDH.SYS.RDALL', () => {
  /** Decode a metadata list into (field id of each element, value) pairs. */
  function decodeList(bytes: Uint8Array): { ids: bigint[]; values: bigint[]; header: ReturnType<typeof MD_LIST_HEADER.decode> } {
    const header = MD_LIST_HEADER.decode(bytes);
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    const ids: bigint[] = [];
    const values: bigint[] = [];
    let at = MD_LIST_HEADER.size;
    for (let s = 0; s < header.num_sequences; s++) {
      const h = dv.getBigUint64(at, true);
      at += 8;
      const f = FIELD_ID.decode(h);
      assert.equal(f.write_mask_valid, 0n);
      assert.equal(f.context_code, 0n);
      const elems = Number(f.last_element_in_field) + 1;
      const fields = Number(f.last_field_in_sequence) + 1;
      for (let i = 0; i < elems * fields; i++) {
        ids.push(FIELD_ID.set(h, 'field_code', f.field_code + BigInt(i)) & ~(FIELD_ID.field('last_element_in_field').mask | FIELD_ID.field('last_field_in_sequence').mask));
        values.push(dv.getBigUint64(at, true));
        at += 8;
      }
    }
    assert.equal(at, header.list_buff_size);
    return { ids, values, header };
  }

  /** The SYS.RD walk from `start`: ids and values. */
  function walk(env: ModuleEnv, start: bigint): { ids: bigint[]; values: bigint[] } {
    const ids: bigint[] = [];
    const values: bigint[] = [];
    for (let fieldId = start; fieldId !== NULL; ) {
      const r = env.tdh.SYS_RD({ fieldId });
      ids.push(fieldId);
      values.push(r.outputs.value);
      fieldId = r.outputs.nextFieldId;
    }
    return { ids, values };
  }

  it('dumps every SYS field into the host page, as SYS.RD reads them', () => {
    const env = bringUp();
    const page = env.shared.alloc4k();
    const r = env.tdh.SYS_RDALL({ list: page, fieldId: NULL }, { regs: sentinels() });
    assert.equal(r.status, S.TDX_SUCCESS);
    assert.equal(r.regs.gpr[Gpr.R8], NULL);
    assertPreserved(r.regs, [Gpr.RDX, Gpr.R8]);
    const list = decodeList(env.platform.memory.read(page, 4096, 0));
    const expected = walk(env, id('VENDOR_ID'));
    assert.deepEqual(list.values, expected.values);
    // A sequence runs over consecutive field codes of one class (the non-arch bit may differ, as
    // for VENDOR_ID and BUILD_DATE), so compare class and field code.
    const key = (x: bigint) => [FIELD_ID.get(x, 'class_code'), FIELD_ID.get(x, 'field_code')].join(':');
    assert.deepEqual(list.ids.map(key), expected.ids.map(key));
    assert.ok(list.header.num_sequences > 1);
  });

  it('starts at a given field', () => {
    const env = bringUp();
    const page = env.shared.alloc4k();
    const r = env.tdh.SYS_RDALL({ list: page, fieldId: id('XFAM_FIXED0') });
    assert.equal(r.status, S.TDX_SUCCESS);
    const list = decodeList(env.platform.memory.read(page, 4096, 0));
    assert.deepEqual(list.values, walk(env, id('XFAM_FIXED0')).values);
  });

  it('refuses an id that is not the start of a field, or has another element size', () => {
    const env = bringUp();
    const page = env.shared.alloc4k();
    for (const fieldId of [id('CPUID_CONFIG_VALUES') + 1n, FIELD_ID.set(id('MAX_TDMRS'), 'element_size_code', 3n), 0x1234n]) {
      const r = env.tdh.SYS_RDALL({ list: page, fieldId }, { regs: sentinels() });
      assert.equal(r.status, S.TDX_METADATA_FIELD_ID_INCORRECT);
      assert.equal(r.regs.gpr[Gpr.R8], NULL);
    }
    // Nothing was written.
    assert.ok(env.platform.memory.read(page, 4096, 0).every((b) => b === 0));
  });

  it('needs a 4K-aligned shared page, and TDH.SYS.LP.INIT', () => {
    const env = bringUp();
    const page = env.shared.alloc4k();
    const privateKeyId = BigInt(env.globalHkid) << BigInt(env.platform.keyIdShift);
    for (const list of [page + 8n, page | privateKeyId]) {
      const r = env.tdh.SYS_RDALL({ list, fieldId: NULL }, { regs: sentinels() });
      assert.equal(r.status, withOperand(S.TDX_OPERAND_INVALID, OperandId.RDX));
      assert.equal(r.regs.gpr[Gpr.R8], NULL);
    }
    const early = bringUp({ until: 'sysinit' });
    assert.equal(early.tdh.SYS_RDALL({ list: early.shared.alloc4k(), fieldId: NULL }).status, S.TDX_SYS_LP_INIT_NOT_DONE);
  });
});

describe('TDH.MNG.RD / TDH.MNG.WR', () => {
  it('version 0 returns the value in R8 and leaves RDX alone', () => {
    const { env, t } = setup();
    const r = env.tdh.MNG_RD({ tdr: t.tdr, fieldId: id('MAX_VCPUS') }, { regs: sentinels() });
    assert.equal(r.status, S.TDX_SUCCESS);
    assert.equal(r.regs.gpr[Gpr.R8], 2n);
    assertPreserved(r.regs, [Gpr.RCX, Gpr.RDX, Gpr.R8]);
    assert.equal(r.regs.gpr[Gpr.RDX], id('MAX_VCPUS'));
  });

  it('version 1 also returns the next field id; the null id gives the first', () => {
    const { env, t } = setup();
    const first = env.tdh.MNG_RD({ tdr: t.tdr, fieldId: NULL }, { version: 1 });
    assert.equal(first.status, S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT);
    assert.equal(first.outputs.nextFieldId, id('LIFECYCLE_STATE'));
    assert.equal(first.outputs.value, 0n);
    const r = env.tdh.MNG_RD({ tdr: t.tdr, fieldId: id('LIFECYCLE_STATE') }, { version: 1 });
    assert.equal(r.outputs.value, 1n);
    assert.equal(r.outputs.nextFieldId, id('NUM_VCPUS'));
    // Version 0 does not treat the null id specially: it is just not a valid id.
    assert.equal(env.tdh.MNG_RD({ tdr: t.tdr, fieldId: NULL }).status, S.TDX_METADATA_FIELD_ID_INCORRECT);
  });

  it('reads the TD state KVM reads (TSC, CPUID values) with its encodings', () => {
    const { env, t } = setup();
    const read = (fieldId: bigint) => env.tdh.MNG_RD({ tdr: t.tdr, fieldId });
    assert.equal(read(0x1110_0003_0000_000an).status, S.TDX_SUCCESS);
    assert.equal(read(0x1110_0003_0000_000bn).outputs.value, t.td.tscMultiplier);
    assert.equal(read(id('OP_STATE')).outputs.value, BigInt(OpState.INITIALIZED));
    assert.equal(read(id('NUM_VCPUS')).outputs.value, 1n);
    assert.equal(read(id('TSC_FREQUENCY')).outputs.value, 100n);
    // CPUID(0): the simulated CPU's values (nothing configurable).
    const leaf0 = SIMULATED_CPUID[0]!;
    assert.equal(read(cpuidValuesFieldId(0, null, 0)).outputs.value, (BigInt(leaf0.ebx) << 32n) | BigInt(leaf0.eax));
    assert.equal(read(cpuidValuesFieldId(0, null, 1)).outputs.value, (BigInt(leaf0.edx) << 32n) | BigInt(leaf0.ecx));
    // CPUID(1): the bits the host may configure come from TD_PARAMS (here 0), except EAX, the
    // virtual family/model/stepping, where a configured 0 means the CPU's own.
    const leaf1 = SIMULATED_CPUID.find((l) => l.leaf === 1)!;
    const cfg = cpuidConfigurableBits(CPUID_CONFIGURABLE[0]!);
    const eax = leaf1.eax >>> 0;
    const ebx = (leaf1.ebx & ~cfg.ebx) >>> 0;
    assert.equal(read(cpuidValuesFieldId(1, null, 0)).outputs.value, (BigInt(ebx) << 32n) | BigInt(eax));
    assert.equal(read(cpuidValuesFieldId(3, null, 0)).status, S.TDX_METADATA_FIELD_NOT_READABLE);
  });

  it('reports what a production host may not read', () => {
    const { env, t } = setup();
    const r = env.tdh.MNG_RD({ tdr: t.tdr, fieldId: id('TD_CTLS') }, { version: 1, regs: sentinels() });
    assert.equal(r.status, S.TDX_METADATA_FIELD_NOT_READABLE);
    assert.equal(r.regs.gpr[Gpr.RDX], NULL);
    assert.equal(r.regs.gpr[Gpr.R8], 0n);
    assert.equal(env.tdh.MNG_RD({ tdr: t.tdr, fieldId: id('RTMR') }).status, S.TDX_METADATA_FIELD_NOT_READABLE);
  });

  it('lets the host of a debug TD read more', () => {
    const { env, t } = setup({ debug: true });
    const r = env.tdh.MNG_RD({ tdr: t.tdr, fieldId: id('TD_CTLS') });
    assert.equal(r.status, S.TDX_SUCCESS);
    assert.equal(r.outputs.value, 1n << BigInt(TdCtlsBit.PENDING_VE_DISABLE));
  });

  it('checks the TDR operand and the TD state', () => {
    const env = bringUp();
    const t = createTd(env, { until: 'addcx' });
    const check = (tdr: bigint, expected: bigint) => {
      const r = env.tdh.MNG_RD({ tdr, fieldId: id('OP_STATE') }, { version: 1, regs: sentinels() });
      assert.equal(r.status, expected);
      assert.equal(r.regs.gpr[Gpr.RDX], NULL);
      assert.equal(r.regs.gpr[Gpr.R8], 0n);
    };
    check(t.tdr + 1n, withOperand(S.TDX_OPERAND_INVALID, OperandId.RCX));
    check(env.alloc.alloc4k(), withOperand(S.TDX_PAGE_METADATA_INCORRECT, OperandId.RCX));
    // Before TDH.MNG.INIT the TDCS holds nothing to read.
    check(t.tdr, S.TDX_OP_STATE_INCORRECT);
    const created = createTd(env, { until: 'create' });
    check(created.tdr, S.TDX_TD_KEYS_NOT_CONFIGURED);
    const ready = createTd(env);
    const release = env.module.locks.hold(LockKey.opState(ready.tdr >> 12n), 'exclusive');
    check(ready.tdr, withOperand(S.TDX_OPERAND_BUSY, OperandId.OP_STATE));
    release();
  });

  it('MNG.WR of a debug TD is visible to the guest through TDG.VM.RD', () => {
    const { env, t, v } = setup({ debug: true });
    const w = env.tdh.MNG_WR({ tdr: t.tdr, fieldId: id('NOTIFY_ENABLES'), value: 1n, mask: 1n }, { regs: sentinels() });
    assert.equal(w.status, S.TDX_SUCCESS);
    assert.equal(w.regs.gpr[Gpr.R8], 0n);
    assertPreserved(w.regs, [Gpr.RCX, Gpr.RDX, Gpr.R8, Gpr.R9]);
    const g = tdcall(env, v.vcpu, TdcallLeaf.TDG_VM_RD, { fieldId: 0x9100_0000_0000_0010n });
    assert.equal(g.status, S.TDX_SUCCESS);
    assert.equal(g.regs.gpr[Gpr.R8], 1n);
    // Version 0: RDX is left as the guest had it.
    assert.equal(g.regs.gpr[Gpr.RDX], 0x9100_0000_0000_0010n);
    // A second write returns the previous value.
    const again = env.tdh.MNG_WR({ tdr: t.tdr, fieldId: id('NOTIFY_ENABLES'), value: 0n, mask: 1n });
    assert.equal(again.outputs.oldValue, 1n);
  });

  it('MNG.WR refuses fields and bits the host may not write', () => {
    const { env, t } = setup();
    const wr = (fieldId: bigint, value: bigint, mask: bigint) => {
      const r = env.tdh.MNG_WR({ tdr: t.tdr, fieldId, value, mask }, { regs: sentinels() });
      if (r.status !== S.TDX_SUCCESS) assert.equal(r.regs.gpr[Gpr.R8], 0n);
      return r;
    };
    assert.equal(wr(id('NOTIFY_ENABLES'), 1n, 1n).status, S.TDX_METADATA_FIELD_NOT_WRITABLE);
    assert.equal(wr(id('ATTRIBUTES'), 1n, U64_MASK).status, S.TDX_METADATA_FIELD_NOT_WRITABLE);
    assert.equal(wr(FIELD_ID.set(id('ATTRIBUTES'), 'last_field_in_sequence', 2n), 0n, 0n).status, S.TDX_METADATA_FIELD_ID_INCORRECT);
    // HP_LOCK_TIMEOUT: host-writable, whole field only, 10 ms..100 s.
    assert.equal(wr(id('HP_LOCK_TIMEOUT'), 2_000_000n, 0xffff_ffffn).status, S.TDX_METADATA_WR_MASK_NOT_VALID);
    assert.equal(wr(id('HP_LOCK_TIMEOUT'), 9_999n, U64_MASK).status, S.TDX_METADATA_FIELD_VALUE_NOT_VALID);
    assert.equal(wr(id('HP_LOCK_TIMEOUT'), 100_000_001n, U64_MASK).status, S.TDX_METADATA_FIELD_VALUE_NOT_VALID);
    const ok = wr(id('HP_LOCK_TIMEOUT'), 2_000_000n, U64_MASK);
    assert.equal(ok.status, S.TDX_SUCCESS);
    assert.equal(ok.regs.gpr[Gpr.R8], 1_000_000n);
    assert.equal(env.tdh.MNG_RD({ tdr: t.tdr, fieldId: id('HP_LOCK_TIMEOUT') }).outputs.value, 2_000_000n);
  });

  it('MNG.WR needs an initialised TD, and works once it runs', () => {
    const env = bringUp();
    const early = createTd(env, { until: 'addcx' });
    assert.equal(env.tdh.MNG_WR({ tdr: early.tdr, fieldId: id('HP_LOCK_TIMEOUT'), value: 20_000n, mask: U64_MASK }).status, S.TDX_OP_STATE_INCORRECT);
    const t = createTd(env);
    createVcpu(env, t.tdr);
    expectStatus(env.tdh.MR_FINALIZE({ tdr: t.tdr }), 'TDH.MR.FINALIZE');
    assert.equal(env.tdh.MNG_WR({ tdr: t.tdr, fieldId: id('HP_LOCK_TIMEOUT'), value: 20_000n, mask: U64_MASK }).status, S.TDX_SUCCESS);
  });
});

describe('TDH.VP.RD / TDH.VP.WR', () => {
  it('reads a vCPU field; version 1 returns the next field id', () => {
    const { env, v } = setup();
    const r0 = env.tdh.VP_RD({ tdvpr: v.tdvpr, fieldId: id('VCPU_INDEX') }, { regs: sentinels() });
    assert.equal(r0.status, S.TDX_SUCCESS);
    assert.equal(r0.regs.gpr[Gpr.R8], 0n);
    assert.equal(r0.regs.gpr[Gpr.RDX], id('VCPU_INDEX'));
    const r1 = env.tdh.VP_RD({ tdvpr: v.tdvpr, fieldId: id('VCPU_INDEX') }, { version: 1 });
    assert.equal(r1.outputs.nextFieldId, id('NUM_TDVPS_PAGES'));
    const first = env.tdh.VP_RD({ tdvpr: v.tdvpr, fieldId: NULL }, { version: 1 });
    assert.equal(first.status, S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT);
    assert.equal(first.outputs.nextFieldId, id('POSTED_INTR_NV'));
    assert.equal(env.tdh.VP_RD({ tdvpr: v.tdvpr, fieldId: id('NUM_TDVPS_PAGES') }).outputs.value, 6n);
    assert.equal(env.tdh.VP_RD({ tdvpr: v.tdvpr, fieldId: id('ASSOC_LPID') }).outputs.value, 0n);
  });

  it('keeps guest GPRs and the vCPU state from the host of a production TD', () => {
    const { env, v } = setup();
    assert.equal(env.tdh.VP_RD({ tdvpr: v.tdvpr, fieldId: id('RCX') }).status, S.TDX_METADATA_FIELD_NOT_READABLE);
    assert.equal(env.tdh.VP_RD({ tdvpr: v.tdvpr, fieldId: id('VCPU_STATE') }).status, S.TDX_METADATA_FIELD_NOT_READABLE);
    const w = env.tdh.VP_WR({ tdvpr: v.tdvpr, fieldId: id('RAX'), value: 1n, mask: U64_MASK });
    assert.equal(w.status, S.TDX_METADATA_FIELD_NOT_WRITABLE);
    assert.equal(v.vcpu.cpu.regs.gpr[Gpr.RAX], 0n);
  });

  it('lets the host of a debug TD read and write guest GPRs', () => {
    const { env, v } = setup({ debug: true });
    const rcx = env.tdh.VP_RD({ tdvpr: v.tdvpr, fieldId: id('RBX') });
    assert.equal(rcx.outputs.value, 48n);
    const w = env.tdh.VP_WR({ tdvpr: v.tdvpr, fieldId: id('R12'), value: 0x1234n, mask: U64_MASK });
    assert.equal(w.status, S.TDX_SUCCESS);
    assert.equal(w.outputs.oldValue, 0n);
    assert.equal(v.vcpu.cpu.regs.gpr[Gpr.R12], 0x1234n);
    assert.equal(env.tdh.VP_RD({ tdvpr: v.tdvpr, fieldId: id('VCPU_STATE') }).outputs.value, BigInt(VcpuState.VCPU_READY));
    // The RSP slot is a placeholder even for a debug TD.
    assert.equal(env.tdh.VP_RD({ tdvpr: v.tdvpr, fieldId: id('RSP') }).status, S.TDX_METADATA_FIELD_NOT_READABLE);
    assert.equal(env.tdh.VP_WR({ tdvpr: v.tdvpr, fieldId: id('RSP'), value: 1n, mask: 1n }).status, S.TDX_METADATA_FIELD_NOT_WRITABLE);
  });

  it('accepts the posted-interrupt setup KVM writes at KVM_TDX_INIT_VCPU', () => {
    const { env, v } = setup();
    const vp = v.vcpu;
    const desc = env.shared.alloc4k();
    const wr = (name: string, value: bigint, mask: bigint) => env.tdh.VP_WR({ tdvpr: v.tdvpr, fieldId: id(name), value, mask });
    // Enabling posted interrupts first: the vector, then the descriptor, are missing.
    assert.equal(
      wr('PIN_BASED_VM_EXEC_CONTROL', PIN_BASED_POSTED_INTR, PIN_BASED_POSTED_INTR).status,
      withOperand(S.TDX_TD_VMCS_FIELD_NOT_INITIALIZED, TdVmcsField.POSTED_INTR_NV),
    );
    assert.equal(wr('POSTED_INTR_NV', 256n, 0xffffn).status, S.TDX_METADATA_FIELD_VALUE_NOT_VALID);
    const nv = wr('POSTED_INTR_NV', BigInt(POSTED_INTR_VECTOR), 0xffffn);
    assert.equal(nv.status, S.TDX_SUCCESS);
    assert.equal(nv.outputs.oldValue, BigInt(POSTED_INTR_NV_INIT));
    assert.equal(
      wr('PIN_BASED_VM_EXEC_CONTROL', PIN_BASED_POSTED_INTR, PIN_BASED_POSTED_INTR).status,
      withOperand(S.TDX_TD_VMCS_FIELD_NOT_INITIALIZED, TdVmcsField.POSTED_INTR_DESC_ADDR),
    );
    const d = wr('POSTED_INTR_DESC_ADDR', desc, U64_MASK);
    assert.equal(d.status, S.TDX_SUCCESS);
    assert.equal(d.outputs.oldValue, NULL_PA);
    const pin = wr('PIN_BASED_VM_EXEC_CONTROL', PIN_BASED_POSTED_INTR, PIN_BASED_POSTED_INTR);
    assert.equal(pin.status, S.TDX_SUCCESS);
    assert.equal(pin.outputs.oldValue, 0n);
    assert.equal(vp.postedIntrNv, POSTED_INTR_VECTOR);
    assert.equal(vp.postedIntrDescAddr, desc);
    assert.equal(vp.postedInterrupts, true);
    assert.equal(env.tdh.VP_RD({ tdvpr: v.tdvpr, fieldId: id('PIN_BASED_VM_EXEC_CONTROL') }).outputs.value, PIN_BASED_POSTED_INTR);
    // Other pin-based bits are the module's.
    assert.equal(wr('PIN_BASED_VM_EXEC_CONTROL', 1n, 1n).status, S.TDX_METADATA_FIELD_NOT_WRITABLE);
  });

  it('keeps posted-interrupt descriptors and the shared EPT in shared, aligned host memory', () => {
    const { env, v } = setup();
    const page = env.shared.alloc4k();
    const privateKeyId = BigInt(env.globalHkid) << BigInt(env.platform.keyIdShift);
    const wr = (name: string, value: bigint) => env.tdh.VP_WR({ tdvpr: v.tdvpr, fieldId: id(name), value, mask: U64_MASK });
    assert.equal(wr('POSTED_INTR_DESC_ADDR', page + 4n).status, S.TDX_METADATA_FIELD_VALUE_NOT_VALID);
    assert.equal(wr('POSTED_INTR_DESC_ADDR', page | privateKeyId).status, S.TDX_METADATA_FIELD_VALUE_NOT_VALID);
    assert.equal(wr('SHARED_EPTP', page | 0x1en).status, S.TDX_METADATA_FIELD_VALUE_NOT_VALID);
    assert.equal(wr('SHARED_EPTP', page | privateKeyId).status, S.TDX_METADATA_FIELD_VALUE_NOT_VALID);
    assert.equal(v.vcpu.sharedEptp, NULL_PA);
    // KVM's id for SHARED_EPTP (no inc_size bit) names the same field.
    const r = env.tdh.VP_WR({ tdvpr: v.tdvpr, fieldId: 0x0020_0003_0000_203cn, value: page, mask: U64_MASK });
    assert.equal(r.status, S.TDX_SUCCESS);
    assert.equal(r.outputs.oldValue, NULL_PA & 0x000f_ffff_ffff_f000n);
    assert.equal(v.vcpu.sharedEptp, page);
    assert.equal(env.tdh.VP_RD({ tdvpr: v.tdvpr, fieldId: id('SHARED_EPTP') }).outputs.value, page);
    // The HIGH half of a 64-bit VMCS field is not accessible.
    assert.equal(env.tdh.VP_RD({ tdvpr: v.tdvpr, fieldId: id('SHARED_EPTP') + 1n }).status, S.TDX_METADATA_FIELD_ID_INCORRECT);
  });

  it('PEND_NMI and VCPU_STATE_DETAILS carry NMI and interrupt state', () => {
    const { env, v } = setup();
    const w = env.tdh.VP_WR({ tdvpr: v.tdvpr, fieldId: 0x2020_0000_0000_000bn, value: 1n, mask: 0xffn });
    assert.equal(w.status, S.TDX_SUCCESS);
    assert.equal(v.vcpu.pendingNmi, true);
    assert.equal(env.tdh.VP_RD({ tdvpr: v.tdvpr, fieldId: id('PEND_NMI') }).outputs.value, 1n);
    assert.equal(env.tdh.VP_RD({ tdvpr: v.tdvpr, fieldId: id('VCPU_STATE_DETAILS') }).outputs.value, 0n);
    v.vcpu.pendingInterrupts.push(0x30);
    assert.equal(env.tdh.VP_RD({ tdvpr: v.tdvpr, fieldId: id('VCPU_STATE_DETAILS') }).outputs.value, 1n);
  });

  it('associates the vCPU with the LP; another LP gets VCPU_ASSOCIATED until it is flushed', () => {
    const { env, t, v } = setup();
    const rd = (lp: number) => env.on(lp).VP_RD({ tdvpr: v.tdvpr, fieldId: id('VCPU_INDEX') }, { version: 1, regs: sentinels() });
    const busy = rd(1);
    assert.equal(busy.status, S.TDX_VCPU_ASSOCIATED);
    assert.equal(busy.regs.gpr[Gpr.RDX], NULL);
    assert.equal(busy.regs.gpr[Gpr.R8], 0n);
    expectStatus(env.on(0).VP_FLUSH({ tdvpr: v.tdvpr }), 'TDH.VP.FLUSH');
    assert.equal(t.td.numAssocVcpus, 0);
    assert.equal(rd(1).status, S.TDX_SUCCESS);
    assert.equal(v.vcpu.assocLp, 1);
    assert.equal(t.td.numAssocVcpus, 1);
    assert.equal(env.tdh.MNG_VPFLUSHDONE({ tdr: t.tdr }).status, S.TDX_FLUSHVP_NOT_DONE);
  });

  it('needs an initialised, complete vCPU; a disabled one can only be read', () => {
    const { env, t, v } = setup();
    const partial = createVcpu(env, t.tdr, { until: 'addcx', tdcxPages: 3 });
    assert.equal(env.tdh.VP_RD({ tdvpr: partial.tdvpr, fieldId: id('VCPU_INDEX') }).status, S.TDX_TDCX_NUM_INCORRECT);
    const uninit = createVcpu(env, t.tdr, { until: 'addcx' });
    assert.equal(env.tdh.VP_RD({ tdvpr: uninit.tdvpr, fieldId: id('VCPU_INDEX') }).status, S.TDX_VCPU_STATE_INCORRECT);
    assert.equal(env.tdh.VP_RD({ tdvpr: t.tdr, fieldId: id('VCPU_INDEX') }).status, withOperand(S.TDX_PAGE_METADATA_INCORRECT, OperandId.RCX));
    // A triple fault disables a vCPU (only a running TD can get there; set directly here).
    v.vcpu.state = VcpuState.VCPU_DISABLED;
    assert.equal(env.tdh.VP_RD({ tdvpr: v.tdvpr, fieldId: id('VCPU_INDEX') }).status, S.TDX_SUCCESS);
    assert.equal(env.tdh.VP_WR({ tdvpr: v.tdvpr, fieldId: id('PEND_NMI'), value: 1n, mask: 1n }).status, S.TDX_VCPU_STATE_INCORRECT);
  });
});

describe('TDG.VM.RD / TDG.VM.WR', () => {
  it('version 1 returns the next guest-readable field; the null id the first', () => {
    const { env, v } = setup();
    const first = tdcall(env, v.vcpu, TdcallLeaf.TDG_VM_RD, { fieldId: NULL }, 1);
    assert.equal(first.status, S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT);
    assert.equal(first.regs.gpr[Gpr.RDX], id('NUM_VCPUS'));
    assert.equal(first.regs.gpr[Gpr.R8], 0n);
    const r = tdcall(env, v.vcpu, TdcallLeaf.TDG_VM_RD, { fieldId: id('NUM_VCPUS') }, 1);
    assert.equal(r.status, S.TDX_SUCCESS);
    assert.equal(r.regs.gpr[Gpr.R8], 1n);
    assert.equal(r.regs.gpr[Gpr.RDX], id('NUM_L2_VMS'));
    assertPreserved(r.regs, [Gpr.RCX, Gpr.RDX, Gpr.R8]);
  });

  it('refuses a VM index other than 0 and fields the guest may not read', () => {
    const { env, v } = setup();
    const bad = tdcall(env, v.vcpu, TdcallLeaf.TDG_VM_RD, { vm: 1n, fieldId: id('NUM_VCPUS') }, 1);
    assert.equal(bad.status, withOperand(S.TDX_OPERAND_INVALID, OperandId.RCX));
    assert.equal(bad.regs.gpr[Gpr.RDX], NULL);
    assert.equal(bad.regs.gpr[Gpr.R8], 0n);
    assert.equal(tdcall(env, v.vcpu, TdcallLeaf.TDG_VM_RD, { fieldId: id('LIFECYCLE_STATE') }).status, S.TDX_METADATA_FIELD_NOT_READABLE);
    assert.equal(tdcall(env, v.vcpu, TdcallLeaf.TDG_VM_RD, { fieldId: cpuidValuesFieldId(0, null, 0) }).status, S.TDX_METADATA_FIELD_NOT_READABLE);
    const w = tdcall(env, v.vcpu, TdcallLeaf.TDG_VM_WR, { vm: 2n, fieldId: id('NOTIFY_ENABLES'), value: 0n, mask: U64_MASK });
    assert.equal(w.status, withOperand(S.TDX_OPERAND_INVALID, OperandId.RCX));
    assert.equal(w.regs.gpr[Gpr.R8], 0n);
  });

  it("runs Linux's tdx_setup: NOTIFY_ENABLES, CONFIG_FLAGS, TD_CTLS, TOPOLOGY_ENUM_CONFIGURED", () => {
    const { env, t, v } = setup({ configFlags: FLEXIBLE, x2apic: true });
    const vm = (leaf: LeafDef, inputs: Record<string, bigint>) => tdcall(env, v.vcpu, leaf, inputs);
    // tdg_vm_wr(TDCS_NOTIFY_ENABLES, 0, -1ULL)
    const n = vm(TdcallLeaf.TDG_VM_WR, { fieldId: 0x9100_0000_0000_0010n, value: 0n, mask: U64_MASK });
    assert.equal(n.status, S.TDX_SUCCESS);
    assert.equal(n.regs.gpr[Gpr.R8], 0n);
    const flags = vm(TdcallLeaf.TDG_VM_RD, { fieldId: 0x1110_0003_0000_0016n });
    assert.equal(flags.regs.gpr[Gpr.R8], FLEXIBLE);
    // Linux's TD has SEPT_VE_DISABLE, so PENDING_VE_DISABLE is already set.
    const ctls = vm(TdcallLeaf.TDG_VM_RD, { fieldId: 0x1110_0003_0000_0017n });
    assert.equal(ctls.regs.gpr[Gpr.R8], 1n << BigInt(TdCtlsBit.PENDING_VE_DISABLE));
    // REDUCE_VE (bit 3) is not writable in this module; Linux falls back to ENUM_TOPOLOGY.
    const reduce = 1n << BigInt(TdCtlsBit.REDUCE_VE);
    assert.equal(vm(TdcallLeaf.TDG_VM_WR, { fieldId: 0x1110_0003_0000_0017n, value: reduce, mask: reduce }).status, S.TDX_METADATA_FIELD_NOT_WRITABLE);
    const topo = vm(TdcallLeaf.TDG_VM_RD, { fieldId: 0x9100_0000_0000_0019n });
    assert.equal(topo.regs.gpr[Gpr.R8], 1n);
    const enumTopology = 1n << BigInt(TdCtlsBit.ENUM_TOPOLOGY);
    const e = vm(TdcallLeaf.TDG_VM_WR, { fieldId: 0x1110_0003_0000_0017n, value: enumTopology, mask: enumTopology });
    assert.equal(e.status, S.TDX_SUCCESS);
    assert.equal(e.regs.gpr[Gpr.R8], 1n);
    assert.equal(t.td.tdCtls, enumTopology | 1n);
    // With FLEXIBLE_PENDING_VE the guest may also clear PENDING_VE_DISABLE.
    const pve = 1n << BigInt(TdCtlsBit.PENDING_VE_DISABLE);
    assert.equal(vm(TdcallLeaf.TDG_VM_WR, { fieldId: id('TD_CTLS'), value: 0n, mask: pve }).status, S.TDX_SUCCESS);
    assert.equal(t.td.tdCtls, enumTopology);
  });

  it('TD_CTLS refuses what the host did not allow', () => {
    const { env, t, v } = setup();
    const pve = 1n << BigInt(TdCtlsBit.PENDING_VE_DISABLE);
    const enumTopology = 1n << BigInt(TdCtlsBit.ENUM_TOPOLOGY);
    const wr = (value: bigint, mask: bigint) => tdcall(env, v.vcpu, TdcallLeaf.TDG_VM_WR, { fieldId: id('TD_CTLS'), value, mask });
    // Without FLEXIBLE_PENDING_VE the host's SEPT_VE_DISABLE choice stands.
    assert.equal(wr(0n, pve).status, S.TDX_METADATA_FIELD_VALUE_NOT_VALID);
    assert.equal(wr(pve, pve).status, S.TDX_SUCCESS);
    // The vCPU was initialised by TDH.VP.INIT version 0: no x2APIC topology to enumerate.
    assert.equal(t.td.topologyEnumConfigured, false);
    assert.equal(wr(enumTopology, enumTopology).status, S.TDX_METADATA_FIELD_VALUE_NOT_VALID);
    // Asking to change a bit outside the guest mask.
    assert.equal(wr(1n << 5n, 1n << 5n).status, S.TDX_METADATA_FIELD_NOT_WRITABLE);
    assert.equal(wr(1n << 5n, U64_MASK).status, S.TDX_METADATA_FIELD_VALUE_NOT_VALID);
    assert.equal(t.td.tdCtls, pve);
  });
});

describe('TDG.VP.RD / TDG.VP.WR / TDG.SYS.RD', () => {
  it('TDG.VP.RD reads the calling vCPU and returns the next field id', () => {
    const { env, v } = setup();
    const r = tdcall(env, v.vcpu, TdcallLeaf.TDG_VP_RD, { fieldId: id('VCPU_INDEX') });
    assert.equal(r.status, S.TDX_SUCCESS);
    assert.equal(r.regs.gpr[Gpr.R8], 0n);
    assert.equal(r.regs.gpr[Gpr.RDX], id('CPUID_SUPERVISOR_VE'));
    const first = tdcall(env, v.vcpu, TdcallLeaf.TDG_VP_RD, { fieldId: NULL });
    assert.equal(first.status, S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT);
    assert.equal(first.regs.gpr[Gpr.RDX], id('VCPU_INDEX'));
    assert.equal(tdcall(env, v.vcpu, TdcallLeaf.TDG_VP_RD, { fieldId: id('RAX') }).status, S.TDX_METADATA_FIELD_NOT_READABLE);
    const rcx = tdcall(env, v.vcpu, TdcallLeaf.TDG_VP_RD, { vm: 1n, fieldId: id('VCPU_INDEX') });
    assert.equal(rcx.status, withOperand(S.TDX_OPERAND_INVALID, OperandId.RCX));
    assert.equal(rcx.regs.gpr[Gpr.RDX], NULL);
    assert.equal(rcx.regs.gpr[Gpr.R8], 0n);
  });

  it('TDG.VP.WR sets the guest-writable CPUID #VE controls', () => {
    const { env, v } = setup();
    const w = tdcall(env, v.vcpu, TdcallLeaf.TDG_VP_WR, { fieldId: id('CPUID_USER_VE'), value: 1n, mask: 0xffn });
    assert.equal(w.status, S.TDX_SUCCESS);
    assert.equal(w.regs.gpr[Gpr.R8], 0n);
    assert.equal(v.vcpu.cpuidVeUser, true);
    assert.equal(tdcall(env, v.vcpu, TdcallLeaf.TDG_VP_WR, { fieldId: id('PEND_NMI'), value: 1n, mask: 1n }).status, S.TDX_METADATA_FIELD_NOT_WRITABLE);
    assert.equal(tdcall(env, v.vcpu, TdcallLeaf.TDG_VP_WR, { vm: 3n, fieldId: id('CPUID_USER_VE'), value: 0n, mask: 1n }).status, withOperand(S.TDX_OPERAND_INVALID, OperandId.RCX));
  });

  it('TDG.SYS.RD walks only the SYS fields a guest may read', () => {
    const { env, v } = setup();
    const names: string[] = [];
    let r = tdcall(env, v.vcpu, TdcallLeaf.TDG_SYS_RD, { fieldId: NULL });
    assert.equal(r.status, S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT);
    for (let fieldId = r.regs.gpr[Gpr.RDX]!; fieldId !== NULL; fieldId = r.regs.gpr[Gpr.RDX]!) {
      r = tdcall(env, v.vcpu, TdcallLeaf.TDG_SYS_RD, { fieldId });
      assert.equal(r.status, S.TDX_SUCCESS);
      names.push([...['VENDOR_ID', 'MINOR_VERSION', 'MAJOR_VERSION', 'SYS_ATTRIBUTES', 'NUM_TDX_FEATURES', 'TDX_FEATURES0']].find((n) => id(n) === fieldId) ?? fieldId.toString(16));
    }
    assert.deepEqual(names, ['VENDOR_ID', 'MINOR_VERSION', 'MAJOR_VERSION', 'SYS_ATTRIBUTES', 'NUM_TDX_FEATURES', 'TDX_FEATURES0']);
    const major = tdcall(env, v.vcpu, TdcallLeaf.TDG_SYS_RD, { fieldId: id('MAJOR_VERSION') });
    assert.equal(major.regs.gpr[Gpr.R8], 1n);
    const hidden = tdcall(env, v.vcpu, TdcallLeaf.TDG_SYS_RD, { fieldId: id('MAX_TDMRS') });
    assert.equal(hidden.status, S.TDX_METADATA_FIELD_NOT_READABLE);
    assert.equal(hidden.regs.gpr[Gpr.RDX], NULL);
    assert.equal(hidden.regs.gpr[Gpr.R8], 0n);
  });
});
