import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey, verify } from 'node:crypto';
import {
  buildCollateral,
  CollateralFile,
  CollateralLoadError,
  loadCollateral,
  writeCollateral,
  type CollateralBundle,
} from '../../src/attestation/collateral.ts';
import { createSimulatedPki, PkiName, type SimulatedPki } from '../../src/attestation/pki.ts';
import { simulatedTcb, type SimulatedTcb } from '../../src/attestation/tcb.ts';
import { X509Crl } from '../../src/attestation/x509.ts';
import { parsePemCertificates } from '../../src/attestation/cert-chain.ts';

const NOW = new Date('2025-06-01T12:00:00.000Z');
let tcb: SimulatedTcb;
let pki: SimulatedPki;
let bundle: CollateralBundle;
before(async () => {
  tcb = simulatedTcb({ tdxModule: { teeTcbSvn: Uint8Array.of(3, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) } });
  pki = await createSimulatedPki(tcb.platform, { notBefore: new Date('2025-01-01T00:00:00Z') });
  bundle = await buildCollateral(pki, tcb, { now: NOW });
});

describe('simulated collateral', () => {
  it('has a TDX v3 TCB Info whose levels match the PCK certificate and the module TCB', () => {
    const info = JSON.parse(bundle.collateral.tcb_info);
    assert.equal(info.id, 'TDX');
    assert.equal(info.version, 3);
    assert.equal(info.issueDate, '2025-06-01T12:00:00Z');
    assert.equal(info.nextUpdate, '2025-07-01T12:00:00Z');
    assert.equal(info.fmspc, '00806F050000');
    assert.equal(info.pceId, '0000');
    assert.equal(info.tcbType, 0);
    assert.deepEqual(info.tdxModule, { mrsigner: '0'.repeat(96), attributes: '0000000000000000', attributesMask: 'FFFFFFFFFFFFFFFF' });
    assert.equal(info.tdxModuleIdentities.length, 1);
    assert.equal(info.tdxModuleIdentities[0].id, 'TDX_01');
    assert.deepEqual(info.tdxModuleIdentities[0].tcbLevels.map((l: { tcb: { isvsvn: number }; tcbStatus: string }) => [l.tcb.isvsvn, l.tcbStatus]), [[3, 'UpToDate'], [0, 'OutOfDate']]);
    const [upToDate, floor] = info.tcbLevels;
    assert.equal(upToDate.tcbStatus, 'UpToDate');
    assert.deepEqual(upToDate.tcb.sgxtcbcomponents.map((c: { svn: number }) => c.svn), Array.from(pki.platform.cpuSvn));
    assert.equal(upToDate.tcb.pcesvn, 13);
    assert.deepEqual(upToDate.tcb.tdxtcbcomponents.map((c: { svn: number }) => c.svn), [3, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(floor.tcbStatus, 'OutOfDate');
    assert.deepEqual(floor.tcb.tdxtcbcomponents.map((c: { svn: number }) => c.svn), new Array(16).fill(0));
    assert.equal(floor.tcb.pcesvn, 0);
  });

  it('has a TD_QE identity that describes the simulated QE', () => {
    const qe = JSON.parse(bundle.collateral.qe_identity);
    assert.deepEqual(
      { ...qe, tcbLevels: undefined },
      {
        id: 'TD_QE',
        version: 2,
        issueDate: '2025-06-01T12:00:00Z',
        nextUpdate: '2025-07-01T12:00:00Z',
        tcbEvaluationDataNumber: 17,
        miscselect: '00000000',
        miscselectMask: 'FFFFFFFF',
        attributes: '1500000000000000E700000000000000',
        attributesMask: 'FBFFFFFFFFFFFFFF0000000000000000',
        mrsigner: Buffer.from(tcb.qe.mrSigner).toString('hex').toUpperCase(),
        isvprodid: 2,
        tcbLevels: undefined,
      },
    );
    assert.deepEqual(qe.tcbLevels.map((l: { tcb: { isvsvn: number }; tcbStatus: string }) => [l.tcb.isvsvn, l.tcbStatus]), [[4, 'UpToDate'], [0, 'OutOfDate']]);
  });

  it('signs TCB Info and QE Identity with the TCB Signing key, and issues both CRLs', async () => {
    const key = createPublicKey(pki.tcbSigning.certificate.toString('pem'));
    const c = bundle.collateral;
    for (const [text, sig] of [[c.tcb_info, c.tcb_info_signature], [c.qe_identity, c.qe_identity_signature]] as const) {
      assert.match(sig, /^[0-9a-f]{128}$/);
      assert.equal(verify('sha256', Buffer.from(text), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig, 'hex')), true);
    }
    assert.deepEqual(parsePemCertificates(c.tcb_info_issuer_chain).map((x) => x.subject), [PkiName.TCB_SIGNING, PkiName.ROOT_CA]);
    assert.deepEqual(parsePemCertificates(c.pck_crl_issuer_chain).map((x) => x.subject), [PkiName.PLATFORM_CA, PkiName.ROOT_CA]);
    const rootCrl = new X509Crl(Buffer.from(c.root_ca_crl, 'hex'));
    const pckCrl = new X509Crl(Buffer.from(c.pck_crl, 'hex'));
    assert.equal(rootCrl.issuer, PkiName.ROOT_CA);
    assert.equal(pckCrl.issuer, PkiName.PLATFORM_CA);
    assert.equal(await pckCrl.verify({ publicKey: pki.platformCa.certificate }), true);
    assert.equal(pckCrl.entries.length, 0);
    assert.deepEqual(rootCrl.thisUpdate, NOW);
  });

  it('lists revoked certificates when asked', async () => {
    const revoked = await buildCollateral(pki, tcb, { now: NOW, revoke: { pck: true, tcbSigning: true } });
    const pckCrl = new X509Crl(Buffer.from(revoked.collateral.pck_crl, 'hex'));
    const rootCrl = new X509Crl(Buffer.from(revoked.collateral.root_ca_crl, 'hex'));
    assert.ok(pckCrl.findRevoked(pki.pck.certificate));
    assert.ok(rootCrl.findRevoked(pki.tcbSigning.certificate));
    assert.equal(rootCrl.findRevoked(pki.platformCa.certificate), null);
  });

  it('round-trips through a directory laid out like the PCS responses', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tdxsim-collateral-'));
    try {
      await writeCollateral(dir, bundle);
      const tcbFile = JSON.parse(await readFile(join(dir, CollateralFile.TCB_INFO), 'utf8'));
      assert.deepEqual(Object.keys(tcbFile), ['tcbInfo', 'signature']);
      assert.deepEqual(Object.keys(JSON.parse(await readFile(join(dir, CollateralFile.QE_IDENTITY), 'utf8'))), ['enclaveIdentity', 'signature']);
      assert.match(await readFile(join(dir, CollateralFile.README), 'utf8'), /SIMULATED DCAP collateral - NOT Intel's/);
      assert.deepEqual(await loadCollateral(dir), bundle);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says which file of a collateral directory is missing or malformed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tdxsim-collateral-'));
    const rejects = (pattern: RegExp) => assert.rejects(loadCollateral(dir), (e: unknown) => e instanceof CollateralLoadError && pattern.test((e as Error).message));
    try {
      await rejects(/root-ca\.pem: no such file/);
      await writeCollateral(dir, bundle);
      await writeFile(join(dir, CollateralFile.TCB_INFO), '{"tcbInfo":');
      await rejects(/tcb-info\.json: not JSON/);
      await writeFile(join(dir, CollateralFile.TCB_INFO), '{"tcbInfo":{},"signature":"abc"}');
      await rejects(/tcb-info\.json: "signature" must be 128 hex digits/);
      await writeFile(join(dir, CollateralFile.TCB_INFO), '{"enclaveIdentity":{}}');
      await rejects(/tcb-info\.json: expected \{"tcbInfo"/);
      await writeCollateral(dir, bundle);
      await writeFile(join(dir, CollateralFile.ROOT_CA), 'hello');
      await rejects(/root-ca\.pem: no PEM certificate/);
      await writeFile(join(dir, CollateralFile.ROOT_CA), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
      await rejects(/root-ca\.pem: not a valid certificate/);
      await writeCollateral(dir, bundle);
      await unlink(join(dir, CollateralFile.PCK_CRL));
      await rejects(/pck-crl\.der: no such file/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
