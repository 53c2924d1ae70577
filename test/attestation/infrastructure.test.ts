import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCollateral } from '../../src/attestation/collateral.ts';
import { createQuotingInfrastructure } from '../../src/attestation/infrastructure.ts';
import { PkiLoadError } from '../../src/attestation/pki.ts';
import { verifyQuote } from '../../src/attestation/verify.ts';
import { verifyWithDcapQvl } from '../../src/attestation/dcap-qvl-adapter.ts';
import type { QuoteService } from '../../src/host/userspace/quote-service.ts';
import { buildTestReport, TEST_REPORT_KEY, mustQuote } from './helpers.ts';

describe('quoting infrastructure', () => {
  it('quotes a TDREPORT and verifies the quote with its own root CA and collateral', async () => {
    const infra = await createQuotingInfrastructure({ reportKey: TEST_REPORT_KEY });
    const quote = mustQuote(infra.quotingService, buildTestReport());
    const v = await infra.verify(quote);
    assert.equal(v.verified, true);
    assert.equal(v.tcbStatus, 'UpToDate');
    assert.equal(infra.rootCaPem, infra.pki.rootCa.certificate.toString('pem') + '\n');
    assert.deepEqual(verifyWithDcapQvl(quote, { rootCa: infra.rootCaPem, collateral: infra.collateral }), { ok: true, status: 'UpToDate', advisoryIds: [], reportType: 'td10' });
  });

  it('is the quote service the host\'s userspace plugs in (its QuoteService interface)', async () => {
    const infra = await createQuotingInfrastructure({ reportKey: TEST_REPORT_KEY });
    // Type-checked: the attestation layer cannot import the host, the shapes must still agree.
    const service: QuoteService = infra.quotingService;
    const outcome = service.quote(buildTestReport());
    assert.equal(outcome.ok, true);
    assert.equal((await infra.verify((outcome as { quote: Uint8Array }).quote)).verified, true);
    assert.deepEqual(service.quote(new Uint8Array(1024)), {
      ok: false,
      reason: 'error',
      code: 'report-mac',
      message: "REPORTMACSTRUCT.MAC does not verify under this platform's report key: the report was altered or made on another platform",
    });
  });

  it('exports collateral a separate verifier can load and use', async () => {
    const infra = await createQuotingInfrastructure({ reportKey: TEST_REPORT_KEY, format: { version: 5, bodyType: 2 } });
    const dir = await mkdtemp(join(tmpdir(), 'tdxsim-infra-'));
    try {
      await infra.writeCollateral(dir);
      const loaded = await loadCollateral(dir);
      const v = await verifyQuote(mustQuote(infra.quotingService, buildTestReport()), { rootCa: loaded.rootCaPem, collateral: loaded.collateral });
      assert.equal(v.verified, true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('saves its identity and restores it: quotes of the restored service chain to the same root', async () => {
    const first = await createQuotingInfrastructure({ reportKey: TEST_REPORT_KEY, tcb: { qe: { isvSvn: 9 } } });
    const dir = await mkdtemp(join(tmpdir(), 'tdxsim-infra-'));
    try {
      await first.save(dir);
      const tcbJson = JSON.parse(await readFile(join(dir, 'tcb.json'), 'utf8'));
      assert.equal(tcbJson.qe.isvSvn, 9);
      const second = await createQuotingInfrastructure({ reportKey: TEST_REPORT_KEY, loadFrom: dir });
      assert.equal(second.rootCaPem, first.rootCaPem);
      assert.deepEqual(second.quotingService.attestationPublicKey, first.quotingService.attestationPublicKey);
      assert.deepEqual(second.tcb, first.tcb);
      const quote = mustQuote(second.quotingService, buildTestReport());
      // Verified with the first infrastructure's collateral: same PKI, same QE.
      assert.equal((await first.verify(quote)).verified, true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says which file of a saved identity is missing or wrong', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tdxsim-infra-'));
    const rejects = (pattern: RegExp) =>
      assert.rejects(createQuotingInfrastructure({ reportKey: TEST_REPORT_KEY, loadFrom: dir }), (e: unknown) => e instanceof PkiLoadError && pattern.test((e as Error).message));
    try {
      await rejects(/root-ca\.pem: no such file/);
      const infra = await createQuotingInfrastructure({ reportKey: TEST_REPORT_KEY });
      await infra.save(dir);
      await writeFile(join(dir, 'tcb.json'), '{"qe":{}}');
      await rejects(/tcb\.json: not a saved TCB/);
      await infra.save(dir);
      await writeFile(join(dir, 'attestation-key.pem'), 'nope');
      await rejects(/attestation-key\.pem: not a P-256 private key/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
