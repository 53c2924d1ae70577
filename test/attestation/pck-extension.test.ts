import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dcapQvl from '@phala/dcap-qvl';
import { SgxExtensionOid } from '../../src/abi/pck-cert.ts';
import { decodeSgxExtension, encodeSgxExtension, SgxExtensionError } from '../../src/attestation/pck-extension.ts';
import { createSimulatedPki } from '../../src/attestation/pki.ts';
import { simulatedTcb } from '../../src/attestation/tcb.ts';

const platform = simulatedTcb({
  platform: {
    cpuSvn: Uint8Array.from({ length: 16 }, (_, i) => i * 9),
    pceSvn: 300,
    pceId: Uint8Array.of(0, 7),
    fmspc: Uint8Array.of(0x00, 0x80, 0x6f, 0x05, 0x00, 0x01),
    ppid: new Uint8Array(16).fill(0xab),
    platformInstanceId: new Uint8Array(16).fill(0xcd),
  },
}).platform;

describe('SGX extension of the PCK certificate', () => {
  it('decodes back to every value it was encoded from', () => {
    const v = decodeSgxExtension(encodeSgxExtension(platform));
    assert.deepEqual(v.ppid, platform.ppid);
    assert.deepEqual(v.cpuSvnComponents, Array.from(platform.cpuSvn));
    assert.deepEqual(v.cpuSvn, platform.cpuSvn);
    assert.equal(v.pceSvn, 300);
    assert.deepEqual(v.pceId, Uint8Array.of(0, 7));
    assert.deepEqual(v.fmspc, platform.fmspc);
    assert.equal(v.sgxType, 1);
    assert.deepEqual(v.platformInstanceId, platform.platformInstanceId);
  });

  it('is read the same way by dcap-qvl, from a certificate of the simulated PKI', async () => {
    const pki = await createSimulatedPki(platform);
    const der = Buffer.from(pki.pck.certificate.rawData);
    const ext = dcapQvl.utils.getIntelExtension(der);
    assert.deepEqual(new Uint8Array(dcapQvl.utils.getFmspc(ext)), platform.fmspc);
    assert.deepEqual(new Uint8Array(dcapQvl.utils.getCpuSvn(ext)), platform.cpuSvn);
    assert.equal(dcapQvl.utils.getPceSvn(ext), 300);
    // The extension is non-critical, as in Intel's PCK certificates.
    assert.equal(pki.pck.certificate.getExtension(SgxExtensionOid.SGX_EXTENSION)?.critical, false);
  });

  it('refuses a truncated extension, and a member of the wrong size', () => {
    const der = new Uint8Array(encodeSgxExtension(platform));
    const truncated = der.slice(0, der.length - 1);
    assert.throws(() => decodeSgxExtension(truncated));
    const wrongSize = encodeSgxExtension({ ...platform, fmspc: Uint8Array.of(1, 2, 3) });
    assert.throws(() => decodeSgxExtension(wrongSize), (e: unknown) => e instanceof SgxExtensionError && /FMSPC is 3 bytes, not 6/.test((e as Error).message));
  });
});
