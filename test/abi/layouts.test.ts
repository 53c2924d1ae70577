import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_LAYOUTS } from '../../src/abi/catalog.ts';
import { CPUID_CONFIGURABLE, NUM_CPUID_CONFIG } from '../../src/abi/cpuid-config.ts';
import { GET_QUOTE_HEADER, GET_QUOTE_HEADER_SIZE, GetQuoteStatus } from '../../src/abi/get-quote.ts';
import type { Layout } from '../../src/abi/layout.ts';
import {
  ATTRIBUTES_FIXED0,
  CONFIG_FLAGS_FIXED0,
  ConfigFlagsBit,
  TdAttributesBit,
  TdCtlsBit,
  XFAM_FIXED0,
  XFAM_FIXED1,
  XfamBit,
} from '../../src/abi/td-config.ts';
import {
  CPUID_CONFIG_LEAVES,
  EPTP_CONTROLS_4LEVEL,
  EPTP_CONTROLS_5LEVEL,
  TD_ATTRIBUTES,
  TD_CONFIG_FLAGS,
  TD_CTLS,
  TD_PARAMS,
  TD_XFAM,
  decodeCpuidValues,
  encodeCpuidValues,
  xfamConstraintViolated,
} from '../../src/abi/td-params.ts';
import {
  CMR_INFO,
  MAX_RESERVED_PER_TDMR,
  TDMR_INFO,
  decodeReservedAreas,
  encodeReservedAreas,
} from '../../src/abi/tdmr.ts';
import {
  REPORTMACSTRUCT,
  REPORT_MAC_INPUT_SIZE,
  TDINFO_STRUCT,
  TDREPORT_STRUCT,
  TEE_TCB_INFO,
  decodeTdReport,
  tdreportOffset,
} from '../../src/abi/tdreport.ts';
import { TDSYSINFO_CPUID_ENTRY, TDSYSINFO_STRUCT, decodeSysInfoCpuidConfig } from '../../src/abi/tdsysinfo.ts';
import { U64_MASK } from '../../src/abi/bitfield.ts';

/** Offsets of a layout's fields by name. */
function offsets(l: Layout): Record<string, [number, number]> {
  return Object.fromEntries(l.fields.map((f) => [f.name, [f.offset, f.size]]));
}

/** Deterministic non-zero bytes (a simple LCG), so round trips exercise every byte. */
function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = (x >>> 24) | 1;
  }
  return out;
}

describe('layout sizes (spec)', () => {
  const expected: [Layout, number][] = [
    [TD_PARAMS as unknown as Layout, 1024],
    [TDREPORT_STRUCT as unknown as Layout, 1024],
    [REPORTMACSTRUCT as unknown as Layout, 256],
    [TEE_TCB_INFO as unknown as Layout, 256],
    [TDINFO_STRUCT as unknown as Layout, 512],
    [TDMR_INFO as unknown as Layout, 320],
    [TDSYSINFO_STRUCT as unknown as Layout, 1024],
    [CMR_INFO as unknown as Layout, 16],
    [TDSYSINFO_CPUID_ENTRY as unknown as Layout, 24],
    [GET_QUOTE_HEADER as unknown as Layout, 24],
  ];
  for (const [l, size] of expected) {
    it(`${l.name} is ${size} bytes and its fields cover exactly that`, () => {
      assert.equal(l.size, size);
      const last = l.fields[l.fields.length - 1]!;
      assert.equal(last.offset + last.size, size);
    });
  }
});

describe('every catalog layout round-trips and flags reserved bytes', () => {
  for (const l of ALL_LAYOUTS) {
    it(`${l.name}`, () => {
      // Fill every non-reserved byte with a pattern, leave reserved bytes zero, decode, re-encode.
      const bytes = pattern(l.size, l.size);
      for (const f of l.fields) if (f.kind === 'reserved') bytes.fill(0, f.offset, f.offset + f.size);
      assert.equal(l.reservedNonZero(bytes), undefined);
      const decoded = l.decode(bytes);
      assert.deepEqual(l.encode(decoded as never), bytes);
      const reserved = l.fields.find((f) => f.kind === 'reserved');
      if (reserved) {
        bytes[reserved.offset + reserved.size - 1] = 1;
        assert.equal(l.reservedNonZero(bytes), reserved.name);
      }
    });
  }
});

describe('TD_PARAMS (tdx-module.md §10.1)', () => {
  it('has the documented offsets', () => {
    assert.deepEqual(offsets(TD_PARAMS as unknown as Layout), {
      attributes: [0, 8],
      xfam: [8, 8],
      max_vcpus: [16, 2],
      num_l2_vms: [18, 1],
      msr_config_ctls: [19, 1],
      reserved0: [20, 4],
      eptp_controls: [24, 8],
      config_flags: [32, 8],
      tsc_frequency: [40, 2],
      reserved1: [42, 38],
      mrconfigid: [80, 48],
      mrowner: [128, 48],
      mrownerconfig: [176, 48],
      ia32_arch_capabilities_config: [224, 8],
      reserved2: [232, 24],
      cpuid_config: [256, 192],
      reserved3: [448, 576],
    });
  });

  it('decodes with precise types', () => {
    const p = TD_PARAMS.decode(TD_PARAMS.encode({ max_vcpus: 4, attributes: 1n << 28n, tsc_frequency: 100 }));
    const vcpus: number = p.max_vcpus;
    const attrs: bigint = p.attributes;
    assert.equal(vcpus, 4);
    assert.equal(attrs, 1n << 28n);
    assert.equal(p.tsc_frequency, 100);
  });

  it('lists the CPUID_CONFIG leaves in the module order', () => {
    assert.deepEqual(CPUID_CONFIG_LEAVES, [
      { leaf: 0x1, subleaf: null },
      { leaf: 0x4, subleaf: 0 },
      { leaf: 0x4, subleaf: 1 },
      { leaf: 0x4, subleaf: 2 },
      { leaf: 0x4, subleaf: 3 },
      { leaf: 0x7, subleaf: 0 },
      { leaf: 0x7, subleaf: 1 },
      { leaf: 0xa, subleaf: null },
      { leaf: 0x1c, subleaf: null },
      { leaf: 0x8000_0008, subleaf: null },
      { leaf: 0x7, subleaf: 2 },
      { leaf: 0x23, subleaf: 0 },
    ]);
    assert.equal(CPUID_CONFIG_LEAVES.length, NUM_CPUID_CONFIG);
  });

  it('decodes and encodes the 12 CPUID value entries with their leaf and sub-leaf', () => {
    const regs = CPUID_CONFIGURABLE.map((c) => c.configDirect);
    const field = encodeCpuidValues(regs);
    assert.equal(field.length, 192);
    const params = TD_PARAMS.decode(TD_PARAMS.encode({ cpuid_config: field }));
    const values = decodeCpuidValues(params.cpuid_config);
    assert.equal(values.length, 12);
    assert.deepEqual(values[0], { leaf: 1, subleaf: null, ...CPUID_CONFIGURABLE[0]!.configDirect });
    assert.deepEqual(values[9], { leaf: 0x8000_0008, subleaf: null, eax: 0, ebx: 0, ecx: 0, edx: 0 });
    // Entry 1 (leaf 4/0) lives at TD_PARAMS offset 256 + 16: EAX little-endian.
    const raw = TD_PARAMS.encode({ cpuid_config: field });
    assert.equal(raw[256 + 16]! | (raw[257 + 16]! << 8), 0xc3ff);
    assert.throws(() => encodeCpuidValues(regs.slice(1)), /has 12 entries, got 11/);
  });

  it('rejects non-zero reserved bytes the way TDH.MNG.INIT must', () => {
    const b = TD_PARAMS.encode({ max_vcpus: 1 });
    b[500] = 1;
    assert.equal(TD_PARAMS.reservedNonZero(b), 'reserved3');
  });
});

describe('TD_PARAMS word layouts agree with the module masks', () => {
  it('ATTRIBUTES: the named bits are ATTRIBUTES_FIXED0 plus KL, which this module refuses', () => {
    const named = ~TD_ATTRIBUTES.reservedMask & U64_MASK;
    assert.equal(named & ATTRIBUTES_FIXED0, ATTRIBUTES_FIXED0);
    assert.equal(named & ~ATTRIBUTES_FIXED0, 1n << BigInt(TdAttributesBit.KL));
    assert.equal(ATTRIBUTES_FIXED0, 0x8000_0000_7000_0001n);
    assert.equal(TD_ATTRIBUTES.field('debug').lsb, TdAttributesBit.DEBUG);
    assert.equal(TD_ATTRIBUTES.field('sept_ve_disable').lsb, TdAttributesBit.SEPT_VE_DISABLE);
    assert.equal(TD_ATTRIBUTES.field('migratable').lsb, TdAttributesBit.MIGRATABLE);
    assert.equal(TD_ATTRIBUTES.field('pks').lsb, TdAttributesBit.PKS);
    assert.equal(TD_ATTRIBUTES.field('kl').lsb, TdAttributesBit.KL);
    assert.equal(TD_ATTRIBUTES.field('perfmon').lsb, TdAttributesBit.PERFMON);
  });

  it('XFAM: the non-reserved bits are 0x0006DBE7 and x87/SSE are required', () => {
    assert.equal(~TD_XFAM.reservedMask & U64_MASK, XFAM_FIXED0);
    assert.equal(XFAM_FIXED0, 0x0006_dbe7n);
    assert.equal(XFAM_FIXED1, 0x3n);
    for (const [name, bit] of Object.entries(XfamBit)) {
      assert.equal(TD_XFAM.field(name.toLowerCase() as never).lsb, bit, name);
    }
  });

  it('XFAM pair constraints', () => {
    const x = (...bits: number[]): bigint => bits.reduce((a, b) => a | (1n << BigInt(b)), 0x3n);
    const { AVX, AVX512_KMASK: K, AVX512_ZMM_HI256: Z, AVX512_HI16_ZMM: H, CET_U, CET_S, AMX_XTILECFG, AMX_XTILEDATA } = XfamBit;
    assert.equal(xfamConstraintViolated(x()), undefined);
    assert.equal(xfamConstraintViolated(x(AVX, K, Z, H, CET_U, CET_S, AMX_XTILECFG, AMX_XTILEDATA)), undefined);
    assert.match(xfamConstraintViolated(x(AVX, K, Z))?.doc ?? '', /AVX-512 components/);
    assert.match(xfamConstraintViolated(x(K, Z, H))?.doc ?? '', /requires AVX/);
    assert.match(xfamConstraintViolated(x(CET_U))?.doc ?? '', /CET/);
    assert.match(xfamConstraintViolated(x(AMX_XTILEDATA))?.doc ?? '', /AMX/);
  });

  it('CONFIG_FLAGS: GPAW 0, FLEXIBLE_PENDING_VE 1, NO_RBP_MOD 2, nothing else allowed', () => {
    assert.equal(~TD_CONFIG_FLAGS.reservedMask & U64_MASK, CONFIG_FLAGS_FIXED0);
    assert.equal(TD_CONFIG_FLAGS.field('gpaw').lsb, ConfigFlagsBit.GPAW);
    assert.equal(TD_CONFIG_FLAGS.field('flexible_pending_ve').lsb, ConfigFlagsBit.FLEXIBLE_PENDING_VE);
    assert.equal(TD_CONFIG_FLAGS.field('no_rbp_mod').lsb, ConfigFlagsBit.NO_RBP_MOD);
  });

  it('TD_CTLS bits', () => {
    assert.equal(TD_CTLS.field('pending_ve_disable').lsb, TdCtlsBit.PENDING_VE_DISABLE);
    assert.equal(TD_CTLS.field('enum_topology').lsb, TdCtlsBit.ENUM_TOPOLOGY);
    assert.equal(TD_CTLS.field('virt_cpuid2').lsb, TdCtlsBit.VIRT_CPUID2);
    assert.equal(TD_CTLS.field('reduce_ve').lsb, TdCtlsBit.REDUCE_VE);
    assert.equal(TD_CTLS.field('lock').lsb, TdCtlsBit.LOCK);
  });

  it('EPTP_CONTROLS valid values are 0x1E (4-level) and 0x26 (5-level)', () => {
    assert.equal(EPTP_CONTROLS_4LEVEL, 0x1en);
    assert.equal(EPTP_CONTROLS_5LEVEL, 0x26n);
  });
});

describe('TDREPORT_STRUCT (tdx-module.md §7.3)', () => {
  it('places the three parts at 0, 256 and 512', () => {
    assert.deepEqual(offsets(TDREPORT_STRUCT as unknown as Layout), {
      reportmacstruct: [0, 256],
      tee_tcb_info: [256, 256],
      tdinfo: [512, 512],
    });
  });

  it('has the absolute offsets of the facts table', () => {
    const abs: [Parameters<typeof tdreportOffset>[0], string, number][] = [
      ['reportmacstruct', 'report_type', 0],
      ['reportmacstruct', 'cpusvn', 16],
      ['reportmacstruct', 'tee_tcb_info_hash', 32],
      ['reportmacstruct', 'tee_info_hash', 80],
      ['reportmacstruct', 'reportdata', 128],
      ['reportmacstruct', 'mac', 224],
      ['tee_tcb_info', 'valid', 256],
      ['tee_tcb_info', 'tee_tcb_svn', 264],
      ['tee_tcb_info', 'mrseam', 280],
      ['tee_tcb_info', 'mrsignerseam', 328],
      ['tee_tcb_info', 'attributes', 376],
      ['tdinfo', 'attributes', 512],
      ['tdinfo', 'xfam', 520],
      ['tdinfo', 'mrtd', 528],
      ['tdinfo', 'mrconfigid', 576],
      ['tdinfo', 'mrowner', 624],
      ['tdinfo', 'mrownerconfig', 672],
      ['tdinfo', 'rtmr0', 720],
      ['tdinfo', 'rtmr1', 768],
      ['tdinfo', 'rtmr2', 816],
      ['tdinfo', 'rtmr3', 864],
      ['tdinfo', 'servtd_hash', 912],
    ];
    for (const [part, name, offset] of abs) assert.equal(tdreportOffset(part, name as never), offset, `${part}.${name}`);
    assert.equal(TDINFO_STRUCT.field('reserved0').offset + 512, 960);
    assert.throws(() => tdreportOffset('tdinfo', 'nope' as never), /no field nope/);
  });

  it('the MAC covers everything before it: bytes 0..223', () => {
    assert.equal(REPORT_MAC_INPUT_SIZE, REPORTMACSTRUCT.field('mac').offset);
    assert.equal(REPORT_MAC_INPUT_SIZE, 224);
  });

  it('decodes a whole report into its parts', () => {
    const report = new Uint8Array(1024);
    REPORTMACSTRUCT.encodeInto(report, { report_type: 0x81, reportdata: new Uint8Array(64).fill(7) }, 0);
    TDINFO_STRUCT.encodeInto(report, { attributes: 1n, mrtd: new Uint8Array(48).fill(0xaa) }, 512);
    const r = decodeTdReport(report);
    assert.equal(r.reportMacStruct.report_type, 0x81);
    assert.equal(r.reportMacStruct.reportdata[63], 7);
    assert.equal(r.tdInfo.attributes, 1n);
    assert.equal(report[528], 0xaa);
    assert.equal(r.tdInfo.mrtd[0], 0xaa);
    assert.equal(r.teeTcbInfo.valid, 0n);
  });
});

describe('TDMR_INFO and CMR_INFO (tdx-module.md §10.2)', () => {
  it('has base, size and the three PAMT areas, then 16 reserved areas', () => {
    assert.deepEqual(offsets(TDMR_INFO as unknown as Layout), {
      base: [0, 8],
      size: [8, 8],
      pamt_1g_base: [16, 8],
      pamt_1g_size: [24, 8],
      pamt_2m_base: [32, 8],
      pamt_2m_size: [40, 8],
      pamt_4k_base: [48, 8],
      pamt_4k_size: [56, 8],
      reserved_areas: [64, 256],
    });
    assert.deepEqual(offsets(CMR_INFO as unknown as Layout), { base: [0, 8], size: [8, 8] });
  });

  it('encodes and decodes reserved areas, padding with null entries', () => {
    const areas = [
      { offset: 0n, size: 0x10_0000n },
      { offset: 0x4000_0000n, size: 0x20_0000n },
    ];
    const tdmr = TDMR_INFO.encode({ base: 1n << 32n, size: 1n << 30n, reserved_areas: encodeReservedAreas(areas) });
    assert.equal(tdmr.length, 320);
    const decoded = decodeReservedAreas(TDMR_INFO.decode(tdmr).reserved_areas);
    assert.equal(decoded.length, MAX_RESERVED_PER_TDMR);
    assert.deepEqual(decoded.slice(0, 2), areas);
    assert.deepEqual(decoded[15], { offset: 0n, size: 0n });
    // Area 1 size at TDMR_INFO offset 64 + 16 + 8.
    assert.equal(tdmr[64 + 16 + 8 + 2], 0x20);
    assert.throws(() => encodeReservedAreas(new Array(17).fill({ offset: 0n, size: 0n })), /at most 16/);
  });
});

describe('TDSYSINFO_STRUCT (tdx-module.md §10.2)', () => {
  it('has the documented offsets', () => {
    const o = offsets(TDSYSINFO_STRUCT as unknown as Layout);
    const expected: Record<string, number> = {
      attributes: 0,
      vendor_id: 4,
      build_date: 8,
      build_num: 12,
      minor_version: 14,
      major_version: 16,
      sys_rd: 18,
      max_tdmrs: 32,
      max_reserved_per_tdmr: 34,
      pamt_entry_size: 36,
      tdcs_base_size: 48,
      tdvps_base_size: 52,
      tdvps_xfam_dependent_size: 54,
      attributes_fixed0: 64,
      attributes_fixed1: 72,
      xfam_fixed0: 80,
      xfam_fixed1: 88,
      num_cpuid_config: 128,
      cpuid_config: 132,
    };
    for (const [name, offset] of Object.entries(expected)) assert.equal(o[name]?.[0], offset, name);
    assert.equal(o.cpuid_config?.[1], 12 * 24);
  });

  it('decodes the CPUID entries', () => {
    const entries = CPUID_CONFIGURABLE.map((c) => ({ leaf: c.leaf, subleaf: c.subleaf, ...c.configDirect }));
    const info = TDSYSINFO_STRUCT.encode({ num_cpuid_config: 12, cpuid_config: TDSYSINFO_CPUID_ENTRY.encodeArray(entries) });
    const d = TDSYSINFO_STRUCT.decode(info);
    assert.equal(d.num_cpuid_config, 12);
    const back = decodeSysInfoCpuidConfig(d.cpuid_config);
    assert.deepEqual(back, entries);
    assert.equal(back[0]!.subleaf, 0xffff_ffff);
  });
});

describe('GetQuote buffer header (Linux tdx-guest.c)', () => {
  it('is version u64, status u64, in_len u32, out_len u32: 24 bytes', () => {
    assert.deepEqual(offsets(GET_QUOTE_HEADER as unknown as Layout), {
      version: [0, 8],
      status: [8, 8],
      in_len: [16, 4],
      out_len: [20, 4],
    });
    assert.equal(GET_QUOTE_HEADER_SIZE, 24);
  });

  it('has the Linux status values', () => {
    assert.deepEqual(GetQuoteStatus, {
      GET_QUOTE_SUCCESS: 0n,
      GET_QUOTE_IN_FLIGHT: 0xffff_ffff_ffff_ffffn,
      GET_QUOTE_ERROR: 0x8000_0000_0000_0000n,
      GET_QUOTE_SERVICE_UNAVAILABLE: 0x8000_0000_0000_0001n,
    });
    const h = GET_QUOTE_HEADER.decode(GET_QUOTE_HEADER.encode({ version: 1n, status: GetQuoteStatus.GET_QUOTE_IN_FLIGHT, in_len: 1024 }));
    assert.equal(h.status, GetQuoteStatus.GET_QUOTE_IN_FLIGHT);
    assert.equal(h.in_len, 1024);
  });
});
