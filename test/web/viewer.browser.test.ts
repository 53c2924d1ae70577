/**
 * The trace viewer in a real browser: Debian's Chromium driven by playwright-core, the page and
 * the trace served by the real `tdxsim view` server code. Builds the viewer first if dist/web is
 * missing or stale. Screenshots go to test-results/ for review.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildDemoTrace } from '../../scripts/make-fixture-trace.ts';
import { startViewServer, type ViewServer } from '../../src/cli/commands/view.ts';
import { formatChromeTrace, toChromeTrace } from '../../src/trace/chrome.ts';
import { writeBigTrace } from './big-trace.ts';
import { ensureViewerBuilt } from './build-viewer.ts';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const FIXTURE = fileURLToPath(new URL('../fixtures/traces/demo.jsonl', import.meta.url));
const RESULTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
const BIG_EVENTS = 150_000;

let tmp: string;
let context: BrowserContext;
let page: Page;
let demo: ViewServer;

const text = (testId: string) => page.getByTestId(testId).innerText();

describe('trace viewer in Chromium', { timeout: 120_000 }, () => {
  before(async () => {
    if (!existsSync(CHROMIUM)) throw new Error('Chromium is not installed: run `apt-get install -y chromium`');
    await ensureViewerBuilt();
    tmp = mkdtempSync(join(tmpdir(), 'tdxsim-viewer-'));
    mkdirSync(RESULTS, { recursive: true });
    demo = await startViewServer({ tracePath: FIXTURE, port: 0 });
    context = await chromium.launchPersistentContext(join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1440, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
  });

  after(async () => {
    await context?.close();
    await demo?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('loads the served trace and renders only the rows in view', async () => {
    await page.goto(demo.url);
    await page.getByTestId('row-count').waitFor();
    assert.equal(await text('row-count'), `${buildDemoTrace().length} events`);
    assert.match(await text('source'), /^demo\.jsonl · \d+ events$/);
    const rendered = await page.getByTestId('row').count();
    assert.ok(rendered > 10 && rendered < 80, `${rendered} rows in the DOM`);
  });

  it('a TDVMCALL crossing shows its sub-function, decoded fields and the VMM status apart from RAX', async () => {
    await page.getByTestId('filter-text').fill('MapGPA');
    await page.getByTestId('party-guest').uncheck();
    await page.getByTestId('party-module').uncheck();
    // Five MapGPAs: a page to shared and back, GetQuote's buffer likewise, and one the VMM refuses.
    assert.equal(await text('row-count'), '5 of 1325 events');
    await page.locator('[data-testid="row"][data-kind="tdvmcall"][data-name="MapGPA"]').first().click();
    assert.equal(await text('panel-name'), 'MapGPA');
    assert.equal(await text('vmm-status-name'), 'TDVMCALL_STATUS_SUCCESS');
    assert.equal(await page.getByTestId('status').count(), 0, 'no module status on the host handling');
    const fields = await text('fields');
    assert.match(fields, /in\.subfunction\s+MapGPA/);
    assert.match(fields, /in\.gpa\s+0x0000800000100000/);
    assert.match(fields, /in\.size\s+0x0000000000001000/);
    assert.match(await text('registers'), /R11\s+0x0000000000010001/);
    assert.match(await text('chain'), /tdcall: TDG\.VP\.VMCALL<MapGPA>[\s\S]*tdvmcall: MapGPA[\s\S]*user exit: KVM_EXIT_HYPERCALL[\s\S]*resume: TDG\.VP\.VMCALL<MapGPA>/);
    await page.screenshot({ path: join(RESULTS, 'viewer-sequence.png') });

    // The refused MapGPA: RAX says the module delivered it, R10 says the VMM refused.
    await page.locator('[data-testid="row"][data-kind="tdvmcall"][data-name="MapGPA"]').nth(2).click();
    assert.equal(await text('vmm-status-name'), 'TDVMCALL_STATUS_ALIGN_ERROR');
    await page.getByRole('button', { name: 'resume: TDG.VP.VMCALL<MapGPA>' }).click();
    assert.equal(await text('status-name'), 'TDX_SUCCESS');
    assert.equal(await text('vmm-status-name'), 'TDVMCALL_STATUS_ALIGN_ERROR');
  });

  it('filters by outcome, and an error shows its flags and operand', async () => {
    await page.getByTestId('filter-text').fill('');
    for (const p of ['guest', 'module']) await page.getByTestId(`party-${p}`).check();
    await page.getByTestId('filter-outcome').selectOption('error');
    assert.equal(await text('row-count'), '7 of 1325 events');
    await page.locator('[data-testid="row"][data-name="TDH.MEM.PAGE.ADD"]').click();
    assert.equal(await text('status-name'), 'TDX_PAGE_METADATA_INCORRECT');
    assert.equal(await text('status-detail'), 'operand: RDX');
    assert.match(await text('status'), /error\s*non-recoverable/);
    await page.getByTestId('filter-outcome').selectOption('all');
    await page.getByTestId('filter-vcpu').selectOption('0');
    assert.equal(await text('row-count'), '91 of 1325 events');
    await page.getByTestId('filter-vcpu').selectOption('all');
  });

  it('the memory map shows pages by state and moves back in time with the slider', async () => {
    await page.getByTestId('tab-memory').click();
    await page.getByTestId('memory-map').waitFor();
    // At the end: the boot page, the 4-page heap and the 2 pages accepted at 2 MiB, all private.
    assert.match(await text('legend'), /private: 7\s+shared: 0\s+pending: 0\s+blocked: 0/);
    assert.match(await text('runs'), /0x0000000000100000\s+0x0000000000103000\s+4\s+MAPPED/);
    await page.screenshot({ path: join(RESULTS, 'viewer.png') });
    const slider = page.getByTestId('time-slider');
    await slider.fill('3');
    assert.match(await text('slider-label'), /^after change 3 of \d+, at /);
    assert.match(await text('legend'), /private: 2\s+shared: 0\s+pending: 0\s+blocked: 0/);
    await slider.fill('16');
    assert.match(await text('legend'), /private: 6\s+shared: 1\s+pending: 0\s+blocked: 0/);
    await slider.fill('0');
    assert.match(await text('slider-label'), /^before the first of \d+ changes$/);
    assert.match(await text('legend'), /private: 0\s+shared: 0\s+pending: 0\s+blocked: 0/);
  });

  it('the measurement log lists MRTD blocks and the RTMR extend', async () => {
    await page.getByTestId('tab-measurements').click();
    const log = await text('measurements');
    assert.match(log, /Log \(19 extends\)/);
    assert.match(log, /MRTD\s+MEM\.PAGE\.ADD\s+0x00000000FFFFF000/);
    assert.match(log, /MRTD\s+MR\.FINALIZE/);
    assert.match(log, /RTMR2\s+RTMR\.EXTEND/);
  });

  it('a malformed trace shows what is wrong and where, never a blank page', async () => {
    await page.getByTestId('open-file').setInputFiles({
      name: 'broken.jsonl',
      mimeType: 'application/x-ndjson',
      buffer: Buffer.from('{"format":"tdxsim-trace","version":1,"clock":"ns"}\n{"seq":1,"time":0,"duration":0,"kind":"page","party":"module","name":"p","data":{"gpa":"0x10","from":"FREE","to":"MAPPED"}}\n'),
    });
    await page.getByTestId('error').waitFor();
    assert.match(await text('error'), /broken\.jsonl is not a valid tdxsim trace\s+line 2: data\.gpa: expected "0x" and 16 upper-case hex digits/);

    await page.getByTestId('open-file').setInputFiles({
      name: 'perfetto.json',
      mimeType: 'application/json',
      buffer: Buffer.from(formatChromeTrace(toChromeTrace(buildDemoTrace()))),
    });
    await page.getByTestId('error').filter({ hasText: 'perfetto.json' }).waitFor();
    assert.match(await text('error'), /line 1: this is a Chrome Trace Event JSON file, the format tdxsim exports for Perfetto: open it at https:\/\/ui\.perfetto\.dev/);
  });

  it(`stays virtualised with a ${BIG_EVENTS.toLocaleString('en')}-event trace`, async () => {
    const path = join(tmp, 'big.jsonl');
    const count = writeBigTrace(path, BIG_EVENTS);
    const big = await startViewServer({ tracePath: path, port: 0 });
    try {
      await page.goto(big.url);
      // The page validates the trace as it loads it; an invalid one would show the error view.
      await page.locator('[data-testid="row-count"], [data-testid="error"]').first().waitFor({ timeout: 60_000 });
      if (await page.getByTestId('error').isVisible()) assert.fail(await text('error'));
      assert.equal(await text('row-count'), `${count} events`);
      const list = page.getByTestId('sequence-list');
      assert.ok((await page.getByTestId('row').count()) < 80);
      await list.evaluate((el) => (el.scrollTop = el.scrollHeight));
      await page.locator(`[data-testid="row"][data-seq="${count}"]`).waitFor();
      assert.ok((await page.getByTestId('row').count()) < 80, 'still only the rows in view after scrolling to the end');
      await page.locator(`[data-testid="row"][data-seq="${count}"]`).click();
      assert.match(await text('panel-name'), /^TDH\.MEM\.PAGE\.ADD$/);
      await page.getByTestId('filter-text').fill('GetTdVmCallInfo');
      assert.match(await text('row-count'), /^\d+ of \d+ events$/);
      await page.screenshot({ path: join(RESULTS, 'viewer-150k.png') });
    } finally {
      await big.close();
    }
  });
});
