/**
 * Encoding and decoding the Intel SGX extension of a PCK certificate (OID 1.2.840.113741.1.13.1;
 * structure in abi/pck-cert.ts). The simulated PKI writes it into the PCK leaf; verifiers (ours in
 * verify.ts, dcap-qvl) read FMSPC, CPUSVN and PCESVN back from it.
 *
 * The extension is a SEQUENCE of SEQUENCE { OID, ANY }, nested once for the TCB. It is described
 * with @peculiar/asn1-schema (the decorators are applied as plain calls, because this project does
 * not enable TypeScript's legacy decorators), so no DER is written by hand.
 */
import {
  AsnArray,
  AsnConvert,
  AsnProp,
  AsnPropTypes,
  AsnSequenceType,
  AsnType,
  AsnTypeTypes,
} from '@peculiar/asn1-schema';
import {
  CPUSVN_SIZE,
  FMSPC_SIZE,
  PCEID_SIZE,
  PLATFORM_INSTANCE_ID_SIZE,
  PPID_SIZE,
  SGX_TCB_COMPONENT_COUNT,
  SGX_TCB_CPUSVN_OID,
  SGX_TCB_PCESVN_OID,
  SgxExtensionOid,
  sgxTcbComponentOid,
} from '../abi/pck-cert.ts';
import type { PlatformTcb } from './tcb.ts';

/** One member: SEQUENCE { id OBJECT IDENTIFIER, value ANY }. */
class SgxExtensionEntry {
  id = '';
  value: ArrayBuffer = new ArrayBuffer(0);
}
AsnProp({ type: AsnPropTypes.ObjectIdentifier })(SgxExtensionEntry.prototype, 'id');
AsnProp({ type: AsnPropTypes.Any })(SgxExtensionEntry.prototype, 'value');
AsnType({ type: AsnTypeTypes.Sequence })(SgxExtensionEntry);

/** SEQUENCE OF SgxExtensionEntry: the extension value, and the TCB member's value. */
class SgxExtensionEntries extends AsnArray<SgxExtensionEntry> {}
AsnSequenceType({ itemType: SgxExtensionEntry })(SgxExtensionEntries);

/**
 * Typed members: SEQUENCE { id OBJECT IDENTIFIER, value <type> }. A typed member is serialised and
 * read back as a generic SgxExtensionEntry to encode, and the other way round to decode, so the
 * library writes and reads every DER byte.
 */
function memberSchema(type: AsnPropTypes) {
  class TypedEntry {
    id = '';
    value: unknown = undefined;
  }
  AsnProp({ type: AsnPropTypes.ObjectIdentifier })(TypedEntry.prototype, 'id');
  AsnProp({ type })(TypedEntry.prototype, 'value');
  AsnType({ type: AsnTypeTypes.Sequence })(TypedEntry);
  return TypedEntry;
}
const IntegerMember = memberSchema(AsnPropTypes.Integer);
const EnumeratedMember = memberSchema(AsnPropTypes.Enumerated);
const BooleanMember = memberSchema(AsnPropTypes.Boolean);
const OctetStringMember = memberSchema(AsnPropTypes.OctetString);

type MemberSchema = ReturnType<typeof memberSchema>;

/** A generic entry holding `value` encoded as `schema`'s type. */
function typedEntry(schema: MemberSchema, id: string, value: unknown): SgxExtensionEntry {
  const typed = new schema();
  typed.id = id;
  typed.value = value;
  return AsnConvert.parse(AsnConvert.serialize(typed), SgxExtensionEntry);
}

/** The value of a generic entry, decoded as `schema`'s type. */
function typedValue(schema: MemberSchema, e: SgxExtensionEntry): unknown {
  return AsnConvert.parse(AsnConvert.serialize(e), schema).value;
}

/** A member whose value is a nested SEQUENCE OF members (TCB, Configuration). */
function nestedEntry(id: string, members: SgxExtensionEntry[]): SgxExtensionEntry {
  const e = new SgxExtensionEntry();
  e.id = id;
  e.value = AsnConvert.serialize(new SgxExtensionEntries(members));
  return e;
}

const octets = (id: string, bytes: Uint8Array): SgxExtensionEntry => typedEntry(OctetStringMember, id, bytes.slice().buffer);
const integer = (id: string, value: number): SgxExtensionEntry => typedEntry(IntegerMember, id, value);
const boolean = (id: string, value: boolean): SgxExtensionEntry => typedEntry(BooleanMember, id, value);

/** DER of the SGX extension value for a PCK certificate of `platform`. */
export function encodeSgxExtension(platform: PlatformTcb): ArrayBuffer {
  const components = Array.from({ length: SGX_TCB_COMPONENT_COUNT }, (_, i) => integer(sgxTcbComponentOid(i + 1), platform.cpuSvn[i] ?? 0));
  return AsnConvert.serialize(
    new SgxExtensionEntries([
      octets(SgxExtensionOid.PPID, platform.ppid),
      nestedEntry(SgxExtensionOid.TCB, [
        ...components,
        integer(SGX_TCB_PCESVN_OID, platform.pceSvn),
        octets(SGX_TCB_CPUSVN_OID, platform.cpuSvn),
      ]),
      octets(SgxExtensionOid.PCEID, platform.pceId),
      octets(SgxExtensionOid.FMSPC, platform.fmspc),
      typedEntry(EnumeratedMember, SgxExtensionOid.SGX_TYPE, platform.sgxType),
      octets(SgxExtensionOid.PLATFORM_INSTANCE_ID, platform.platformInstanceId),
      nestedEntry(SgxExtensionOid.CONFIGURATION, [
        boolean(SgxExtensionOid.CONFIGURATION_DYNAMIC_PLATFORM, true),
        boolean(SgxExtensionOid.CONFIGURATION_CACHED_KEYS, true),
        boolean(SgxExtensionOid.CONFIGURATION_SMT_ENABLED, true),
      ]),
    ]),
  );
}

/** What a verifier reads from the extension. */
export interface SgxExtensionValues {
  readonly ppid: Uint8Array;
  /** The 16 SGX TCB components (TCB.1..16). */
  readonly cpuSvnComponents: readonly number[];
  /** The raw CPUSVN (TCB.18). */
  readonly cpuSvn: Uint8Array;
  readonly pceSvn: number;
  readonly pceId: Uint8Array;
  readonly fmspc: Uint8Array;
  readonly sgxType: number;
  /** PlatformInstanceID, present in leaves issued by the Platform CA. */
  readonly platformInstanceId: Uint8Array | undefined;
}

/** Thrown when an extension is missing a member or a member has the wrong size. */
export class SgxExtensionError extends Error {
  override readonly name = 'SgxExtensionError';
}

/** Decode the SGX extension value (DER). Throws SgxExtensionError (or an ASN.1 error) if malformed. */
export function decodeSgxExtension(der: ArrayBuffer | Uint8Array): SgxExtensionValues {
  const top = byId(AsnConvert.parse(der, SgxExtensionEntries));
  const tcb = byId(AsnConvert.parse(member(top, SgxExtensionOid.TCB).value, SgxExtensionEntries));
  const octetValue = (map: Map<string, SgxExtensionEntry>, id: string, size: number, name: string): Uint8Array => {
    const v = new Uint8Array(typedValue(OctetStringMember, member(map, id)) as ArrayBuffer);
    if (v.length !== size) throw new SgxExtensionError(`SGX extension: ${name} is ${v.length} bytes, not ${size}`);
    return v;
  };
  const intValue = (map: Map<string, SgxExtensionEntry>, id: string, schema: MemberSchema): number =>
    Number(typedValue(schema, member(map, id)));
  return {
    ppid: octetValue(top, SgxExtensionOid.PPID, PPID_SIZE, 'PPID'),
    cpuSvnComponents: Array.from({ length: SGX_TCB_COMPONENT_COUNT }, (_, i) => intValue(tcb, sgxTcbComponentOid(i + 1), IntegerMember)),
    cpuSvn: octetValue(tcb, SGX_TCB_CPUSVN_OID, CPUSVN_SIZE, 'CPUSVN'),
    pceSvn: intValue(tcb, SGX_TCB_PCESVN_OID, IntegerMember),
    pceId: octetValue(top, SgxExtensionOid.PCEID, PCEID_SIZE, 'PCE-ID'),
    fmspc: octetValue(top, SgxExtensionOid.FMSPC, FMSPC_SIZE, 'FMSPC'),
    sgxType: intValue(top, SgxExtensionOid.SGX_TYPE, EnumeratedMember),
    platformInstanceId: top.has(SgxExtensionOid.PLATFORM_INSTANCE_ID)
      ? octetValue(top, SgxExtensionOid.PLATFORM_INSTANCE_ID, PLATFORM_INSTANCE_ID_SIZE, 'PlatformInstanceID')
      : undefined,
  };
}

function byId(entries: SgxExtensionEntries): Map<string, SgxExtensionEntry> {
  const map = new Map<string, SgxExtensionEntry>();
  for (const e of entries) {
    if (map.has(e.id)) throw new SgxExtensionError(`SGX extension: member ${e.id} appears twice`);
    map.set(e.id, e);
  }
  return map;
}

function member(map: Map<string, SgxExtensionEntry>, id: string): SgxExtensionEntry {
  const v = map.get(id);
  if (v === undefined) throw new SgxExtensionError(`SGX extension: member ${id} is missing`);
  return v;
}
