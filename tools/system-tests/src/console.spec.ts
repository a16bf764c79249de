import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { readDesiredReplicas, type LocalCluster } from '@strata/local-cluster';
import { loadServices } from '@strata/service-registry';
import { CHROMIUM_ARGS, findChromium } from './browser.js';
import { call, postJson, startTestCluster } from './cluster-fixture.js';

const CHROMIUM = findChromium();
const skip = CHROMIUM ? false : 'no Chromium found ($CHROMIUM or chromium on PATH; apt-get install chromium): the live page was NOT tested';
if (!CHROMIUM) console.log(`SKIPPED: ${skip}`);

describe('the live page, in a real browser (headless Chromium)', { skip }, () => {
  let cluster: LocalCluster;
  let browser: Browser;
  let page: Page;
  /** Errors the page threw: a broken render stops every update, so any one fails the test it happened in. */
  const errors: string[] = [];

  before(async () => {
    // The autoscalers act as on `npm start` (a 2 s sync, so the page shows a decision within seconds).
    cluster = await startTestCluster({ console: true, autoscaling: { syncPeriodMs: 2_000 } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1600, height: 1200 } });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(cluster.console!.url);
    await page.waitForSelector('[data-service="gateway"]', { timeout: 15_000 });
  });
  afterEach(() => assert.deepEqual(errors.splice(0), [], 'the page threw'));
  after(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  it("lists every declared service by layer, with the local overlay's replica counts", async () => {
    const desired = readDesiredReplicas(cluster.overlayDir, 16);
    for (const service of loadServices().services) {
      const card = page.locator(`[data-layer="${service.layer}"] [data-service="${service.name}"]`);
      await card.waitFor({ timeout: 5_000 });
      assert.equal(await card.getAttribute('data-desired'), String(desired.get(service.name)), `${service.name}: desired replicas`);
      assert.equal(await card.getAttribute('data-ready'), String(desired.get(service.name)), `${service.name}: ready replicas`);
      assert.equal(await card.locator('[data-replica]').count(), desired.get(service.name), `${service.name}: one row per replica`);
    }
  });

  it("shows each service's autoscaler: CPU against its target, desired, current and max replicas, and the last sync's reason", async () => {
    const desired = readDesiredReplicas(cluster.overlayDir, 16);
    for (const service of loadServices().services) {
      const hpa = page.locator(`[data-service="${service.name}"] [data-hpa="${service.name}"]`);
      // After two syncs the controller has a CPU sample of every replica: utilization is a number, not <unknown>.
      await page.waitForFunction(
        (s) => (document.querySelector(`[data-hpa="${s}"]`)?.getAttribute('data-utilization') ?? '') !== '',
        service.name,
        { timeout: 15_000 },
      );
      assert.equal(await hpa.getAttribute('data-target'), '70', `${service.name}: the HPA's CPU target`);
      assert.equal(
        await hpa.getAttribute('data-desired'),
        String(desired.get(service.name)),
        `${service.name}: idle, it stays at its floor`,
      );
      assert.ok(Number(await hpa.getAttribute('data-max')) >= desired.get(service.name)!, `${service.name}: max`);
      assert.match((await hpa.textContent()) ?? '', /HPA cpu \d+ % \/ 70 %.*desired \d+ · current \d+ · min \d+ · max \d+/);
      assert.match(
        (await hpa.locator('.decision').getAttribute('data-reason')) ?? '',
        /^(ReadyForNewScale|ScaleDownStabilized|TooFewReplicas|ScaleDownLimit)$/,
      );
    }
  });

  it("shows the traffic: requests per second rise on the services a request goes through, each replica's share and weight", async () => {
    for (let i = 0; i < 40; i++) await call(cluster.gatewayUrl, `/api/products/p-${String(100 + i).padStart(6, '0')}`);
    // The page refreshes every second and rates cover the last 5 s.
    const rateOf = (service: string) =>
      page.evaluate((s) => Number(document.querySelector(`[data-service="${s}"] .stats b`)?.textContent ?? Number.NaN), service);
    await page.waitForFunction(
      () =>
        ['gateway', 'catalog'].every((s) => {
          const rate = document.querySelector(`[data-service="${s}"] .stats b`)?.textContent;
          return rate !== undefined && rate !== null && Number(rate) > 0;
        }),
      undefined,
      { timeout: 10_000 },
    );
    // A product read goes through the gateway and catalog only: the other services show no traffic.
    for (const service of ['pricing', 'orders', 'recommendations']) assert.equal(await rateOf(service), 0, `${service}'s rate`);
    // Each catalog replica's share of the calls, and the weight the gateway's balancer gives it from its load reports
    // (reported once per second, scraped once per second).
    await page.waitForFunction(
      () =>
        Array.from(document.querySelectorAll('[data-service="catalog"] [data-replica]')).every(
          (tr) => Number(tr.getAttribute('data-weight')) > 0,
        ),
      undefined,
      { timeout: 10_000 },
    );
    const rows = await page.$$eval('[data-service="catalog"] [data-replica]', (trs) =>
      trs.map((tr) => ({ share: tr.getAttribute('data-share'), weight: tr.getAttribute('data-weight') })),
    );
    assert.ok(rows.length >= 2, 'catalog runs several replicas locally');
    const shares = rows.map((r) => Number(r.share));
    assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 0.05, `catalog's shares sum to 1: ${JSON.stringify(rows)}`);
    for (const row of rows) assert.ok(Number(row.weight) > 0, `every catalog replica reports a weight: ${JSON.stringify(rows)}`);
  });

  it('draws the waterfall of an order across every hop: gateway → orders → catalog, pricing, PostgreSQL', async () => {
    const placed = await postJson(
      cluster.gatewayUrl,
      '/api/orders',
      { lines: [{ productId: 'p-000042', quantity: 2 }] },
      { 'idempotency-key': `console-${Date.now()}` },
    );
    assert.equal(placed.status, 201);
    const order = page.locator('[data-trace-name="POST /api/orders"]').first();
    await order.waitFor({ timeout: 15_000 });
    await order.click();
    const waterfall = page.locator('.waterfall');
    await page.waitForFunction(
      () => ['gateway', 'orders', 'catalog', 'pricing'].every((s) => document.querySelector(`.waterfall [data-span-service="${s}"]`)),
      undefined,
      { timeout: 10_000 },
    );
    const labels = await waterfall.locator('.span .label').allTextContents();
    assert.ok(
      labels.some((l) => /orders .*pg\.query/.test(l)),
      `a PostgreSQL query under orders: ${labels.join(' | ')}`,
    );
    assert.ok(
      labels.some((l) => /catalog .*BatchGetProducts/.test(l)),
      `catalog's part: ${labels.join(' | ')}`,
    );
    assert.ok(
      labels.some((l) => /pricing .*Quote/.test(l)),
      `pricing's part: ${labels.join(' | ')}`,
    );
    // The same trace through the console's API: one trace id for every hop (W3C traceparent carried across), each
    // span's parent present, and the gateway's request id on the spans.
    const requestId = placed.headers.get('x-request-id')!;
    const summary = ((await (await fetch(`${cluster.console!.url}/api/traces`)).json()) as { traceId: string; requestId?: string }[]).find(
      (t) => t.requestId === requestId,
    );
    assert.ok(summary, `a trace carries request id ${requestId}`);
    const spans = (await (await fetch(`${cluster.console!.url}/api/traces/${summary.traceId}`)).json()) as {
      spanId: string;
      parentSpanId?: string;
      service: string;
      kind: string;
    }[];
    const ids = new Set(spans.map((sp) => sp.spanId));
    assert.equal(spans.filter((sp) => !sp.parentSpanId).length, 1, 'one root: the edge request');
    assert.ok(
      spans.every((sp) => !sp.parentSpanId || ids.has(sp.parentSpanId)),
      'every other span hangs under a span of the same trace',
    );
    for (const service of ['orders', 'catalog', 'pricing'])
      assert.ok(
        spans.some((sp) => sp.service === service && sp.kind === 'server'),
        `${service} served its part inside the trace`,
      );
    if (process.env.STRATA_SCREENSHOT) await page.screenshot({ path: process.env.STRATA_SCREENSHOT, fullPage: true });
  });

  it('reflects a killed replica within seconds: it restarts, with a new process', async () => {
    const row = page.locator('[data-replica="catalog-1"]');
    const pidBefore = await row.getAttribute('data-pid');
    const victim = cluster.supervisor.status().find((r) => r.id === 'catalog-1')!;
    assert.equal(String(victim.pid), pidBefore, 'the page shows the process the supervisor runs');
    process.kill(victim.pid!, 'SIGKILL');
    await page.waitForFunction(
      (before) => {
        const tr = document.querySelector('[data-replica="catalog-1"]');
        return (
          tr?.getAttribute('data-restarts') === '1' && tr.getAttribute('data-pid') !== before && tr.getAttribute('data-state') === 'ready'
        );
      },
      pidBefore,
      { timeout: 15_000 },
    );
    const events = await page.locator('.events li').allTextContents();
    assert.ok(
      events.some((e) => /catalog-1/.test(e) && /exit|kill|signal|crash/i.test(e)),
      `the control loop's events name the exit: ${events.join(' | ')}`,
    );
  });
});
