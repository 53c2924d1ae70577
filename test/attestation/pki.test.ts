import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import { SgxExtensionOid } from '../../src/abi/pck-cert.ts';
import {
  createSimulatedPki,
  issueCrl,
  loadPki,
  pckCertChainPem,
  PkiLoadError,
  PkiName,
  savePki,
  tcbSigningChainPem,
  type SimulatedPki,
} from '../../src/attestation/pki.ts';
import { parsePemCertificates, verifyChain } from '../../src/attestation/cert-chain.ts';
import { simulatedTcb } from '../../src/attestation/tcb.ts';
import { BasicConstraintsExtension, KeyUsageFlags, KeyUsagesExtension, type X509Certificate } from '../../src/attestation/x509.ts';

let pki: SimulatedPki;
before(async () => {
  pki = await createSimulatedPki(simulatedTcb().platform);
});

const basic = (c: X509Certificate) => c.getExtension(BasicConstraintsExtension);
const usages = (c: X509Certificate) => c.getExtension(KeyUsagesExtension)?.usages;

describe('simulated PKI', () => {
  it('names every certificate as simulated and not Intel', () => {
    for (const key of [pki.rootCa, pki.platformCa, pki.pck, pki.tcbSigning]) {
      assert.match(key.certificate.subject, /tdxsim SIMULATED .* not Intel/);
      assert.match(key.certificate.issuer, /tdxsim SIMULATED .* not Intel/);
      assert.doesNotMatch(key.certificate.subject, /O=Intel Corporation/);
    }
    assert.equal(pki.rootCa.certificate.subject, PkiName.ROOT_CA);
    assert.equal(pki.pck.certificate.issuer, PkiName.PLATFORM_CA);
    assert.equal(pki.platformCa.certificate.issuer, PkiName.ROOT_CA);
    assert.equal(pki.tcbSigning.certificate.issuer, PkiName.ROOT_CA);
  });

  it('has Intel\'s shape: CA constraints, key usages, P-256 keys, the SGX extension on the PCK leaf only', () => {
    assert.equal(basic(pki.rootCa.certificate)?.ca, true);
    assert.equal(basic(pki.rootCa.certificate)?.pathLength, 1);
    assert.equal(basic(pki.platformCa.certificate)?.ca, true);
    assert.equal(basic(pki.platformCa.certificate)?.pathLength, 0);
    assert.equal(basic(pki.pck.certificate)?.ca, false);
    assert.equal(basic(pki.tcbSigning.certificate)?.ca, false);
    assert.equal(usages(pki.rootCa.certificate), KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign);
    assert.equal(usages(pki.pck.certificate), KeyUsageFlags.digitalSignature | KeyUsageFlags.nonRepudiation);
    for (const key of [pki.rootCa, pki.platformCa, pki.pck, pki.tcbSigning]) {
      assert.deepEqual(key.certificate.publicKey.algorithm, { name: 'ECDSA', namedCurve: 'P-256' });
      assert.deepEqual(key.certificate.signatureAlgorithm as unknown, { name: 'ECDSA', hash: { name: 'SHA-256' } });
    }
    assert.ok(pki.pck.certificate.getExtension(SgxExtensionOid.SGX_EXTENSION));
    assert.equal(pki.platformCa.certificate.getExtension(SgxExtensionOid.SGX_EXTENSION), null);
  });

  it('chains the quote chain (PCK, Platform CA, root) and the TCB signing chain to the root', async () => {
    const now = new Date();
    const quoteChain = parsePemCertificates(pckCertChainPem(pki));
    assert.deepEqual(quoteChain.map((c) => c.subject), [PkiName.PCK, PkiName.PLATFORM_CA, PkiName.ROOT_CA]);
    assert.deepEqual(await verifyChain(quoteChain, pki.rootCa.certificate, now), { ok: true, certificates: quoteChain });
    const tcbChain = parsePemCertificates(tcbSigningChainPem(pki));
    assert.equal((await verifyChain(tcbChain, pki.rootCa.certificate, now)).ok, true);
    // Another PKI's root is not this PKI's root.
    const other = await createSimulatedPki(pki.platform);
    const r = await verifyChain(quoteChain, other.rootCa.certificate, now);
    assert.equal(r.ok, false);
  });

  it('issues CRLs that list revoked serial numbers', async () => {
    const now = new Date();
    const crl = await issueCrl(pki.platformCa, { thisUpdate: now, nextUpdate: new Date(now.getTime() + 1000), revokedSerials: [pki.pck.certificate.serialNumber] });
    assert.equal(crl.issuer, PkiName.PLATFORM_CA);
    assert.ok(crl.findRevoked(pki.pck.certificate));
    assert.equal(crl.findRevoked(pki.tcbSigning.certificate), null);
    assert.equal(await crl.verify({ publicKey: pki.platformCa.certificate }), true);
  });

  it('saves and loads back the same certificates, keys and platform', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tdxsim-pki-'));
    try {
      await savePki(pki, dir);
      assert.equal((await stat(join(dir, 'root-ca.key.pem'))).mode & 0o777, 0o600);
      const loaded = await loadPki(dir);
      for (const name of ['rootCa', 'platformCa', 'pck', 'tcbSigning'] as const) {
        assert.equal(loaded[name].certificate.toString('pem'), pki[name].certificate.toString('pem'));
        // The loaded private key signs what the original public key verifies.
        const data = new TextEncoder().encode(name);
        const sig = await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, loaded[name].privateKey, data);
        assert.equal(await webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, pki[name].publicKey, sig, data), true);
      }
      assert.deepEqual(loaded.platform, pki.platform);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a PKI directory with a missing file or a key that is not the certificate\'s', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tdxsim-pki-'));
    try {
      await assert.rejects(loadPki(dir), (e: unknown) => e instanceof PkiLoadError && /root-ca\.pem: no such file/.test((e as Error).message));
      await savePki(pki, dir);
      await writeFile(join(dir, 'pck.key.pem'), await readFile(join(dir, 'root-ca.key.pem')));
      await assert.rejects(loadPki(dir), (e: unknown) => e instanceof PkiLoadError && /pck\.key\.pem: the private key does not belong to the certificate/.test((e as Error).message));
      await writeFile(join(dir, 'pck.pem'), 'not a certificate');
      await assert.rejects(loadPki(dir), (e: unknown) => e instanceof PkiLoadError && /pck\.pem: not a PEM certificate/.test((e as Error).message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
