/**
 * The quoting infrastructure against the TDREPORT the simulated TDX module itself builds
 * (src/module/tdreport.ts, the code behind TDG.MR.REPORT): same MAC convention, and default
 * collateral that rates the default module UpToDate, in our verifier and in dcap-qvl.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TD_ATTRIBUTES, TD_XFAM } from '../../src/abi/td-params.ts';
import { Platform } from '../../src/platform/platform.ts';
import { DEFAULT_MODULE_IDENTITY } from '../../src/module/identity.ts';
import { buildTdReport, verifyReportMac } from '../../src/module/tdreport.ts';
import type { Td } from '../../src/module/td.ts';
import { createQuotingInfrastructure } from '../../src/attestation/infrastructure.ts';
import { checkTdReport } from '../../src/attestation/tdreport-check.ts';
import { verifyWithDcapQvl } from '../../src/attestation/dcap-qvl-adapter.ts';
import { parseQuote } from '../../src/attestation/quote-codec.ts';
import { fill48, mustQuote, sha384 } from './helpers.ts';

/** The TD state TDG.MR.REPORT reads (TDCS fields), for a production TD. */
function tdState(): Td {
  return {
    attributes: TD_ATTRIBUTES.encode({ sept_ve_disable: 1 }),
    xfam: TD_XFAM.encode({ x87: 1, sse: 1, avx: 1 }),
    mrtd: sha384('module-built report'),
    mrConfigId: fill48(1),
    mrOwner: fill48(2),
    mrOwnerConfig: fill48(3),
    rtmr: [fill48(4), fill48(5), fill48(6), fill48(7)],
    servtdHash: new Uint8Array(48),
    teeInfoHash: undefined,
  } as unknown as Td;
}

describe('a TDREPORT from the simulated TDX module', () => {
  it('passes the QE checks with the platform\'s report key, and is quoted and verified by both verifiers', async () => {
    const platform = new Platform();
    const reportData = new Uint8Array(64).fill(0xd7);
    const report = buildTdReport(platform, DEFAULT_MODULE_IDENTITY, tdState(), reportData);
    assert.equal(verifyReportMac(platform, report), true);
    assert.equal(checkTdReport(report, platform.reportKey), undefined);
    assert.equal(checkTdReport(report, new Platform().reportKey)?.code, 'report-mac');

    for (const format of [{ version: 4 }, { version: 5, bodyType: 3 }] as const) {
      const infra = await createQuotingInfrastructure({ reportKey: platform.reportKey, format });
      const quote = mustQuote(infra.quotingService, report);
      const v = await infra.verify(quote);
      assert.equal(v.verified, true, v.summary);
      assert.equal(v.tcbStatus, 'UpToDate');
      assert.deepEqual(parseQuote(quote).body.reportdata, reportData);
      assert.deepEqual(verifyWithDcapQvl(quote, { rootCa: infra.rootCaPem, collateral: infra.collateral }), {
        ok: true,
        status: 'UpToDate',
        advisoryIds: [],
        reportType: format.version === 4 ? 'td10' : 'td15',
      });
    }
  });
});
