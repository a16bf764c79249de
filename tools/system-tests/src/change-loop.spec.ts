import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { loadScenarios, runOpenLoop } from '@strata/loadtests';
import { CHANGE_LOOP, REPO_ROOT, setOverlayReplicas, type LocalCluster } from '@strata/local-cluster';
import { scrapeCounter } from '@strata/dev-kit';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, findChromium } from './browser.js';
import { editableOverlay, mixedScenario, postJson, startTestCluster } from './cluster-fixture.js';
import { placeOrdersUnderLoad } from './order-client.js';

/**
 * `npm start -- --watch` on the local cluster: saved code is compiled and rolled out one replica at a time. These
 * tests edit the checkout's own sources (pricing's service file, pricing's .proto) and put every byte back, then
 * rebuild what they touched; a Kubernetes rollout itself is not run here (no cluster can run on this machine).
 */
const SOURCE = join(REPO_ROOT, 'apps', 'pricing', 'src', 'pricing-service.ts');
const PROTO = join(REPO_ROOT, 'proto', 'strata', 'pricing', 'v1', 'pricing.proto');
const originals = new Map([SOURCE, PROTO].map((f) => [f, readFileSync(f, 'utf8')]));
/** Puts back every file these tests edit; true when one had to be. */
const restoreSources = () => {
  let restored = false;
  for (const [file, text] of originals)
    if (readFileSync(file, 'utf8') !== text) {
      writeFileSync(file, text);
      restored = true;
    }
  return restored;
};
// Whatever happens to the test process, the checkout keeps its sources.
process.once('exit', restoreSources);

const scenarios = await loadScenarios();
const CHROMIUM = findChromium();
const noBrowser = CHROMIUM ? false : 'no Chromium found ($CHROMIUM or chromium on PATH; apt-get install chromium): the page was NOT tested';
const nonce = Date.now().toString(36);

describe('npm start -- --watch: saved code rolls out under load, one replica at a time (local cluster)', () => {
  let cluster: LocalCluster;
  let base: string;
  let orderId: string;

  const replicas = (service?: string) =>
    cluster.supervisor
      .status()
      .filter((r) => service === undefined || r.service === service)
      .map((r) => ({ id: r.id, service: r.service, pid: r.pid, state: r.state, restarts: r.restarts, revision: r.revision }));
  const revisionOf = (service: string) => cluster.supervisor.services().find((s) => s.service === service)!.revision;
  /** Every event line the cluster printed ("pricing: rolling out r2-…", "change loop: build failed …"), timed. */
  const log: { at: number; line: string }[] = [];
  const linesSince = (at: number) => log.filter((e) => e.at >= at).map((e) => e.line);
  /** Waits (polling every 100 ms, at most `ms`) until `ok()`; the elapsed ms, by the monotonic clock. */
  const until = async (what: string, ms: number, ok: () => boolean | Promise<boolean>) => {
    const began = performance.now();
    while (!(await ok())) {
      assert.ok(performance.now() - began < ms, `${what}: not within ${ms / 1000} s`);
      await delay(100);
    }
    return performance.now() - began;
  };
  const mixedLoad = (seconds: number, prefix: string, rate = 40) => ({
    load: runOpenLoop({
      baseUrls: [base],
      scenario: mixedScenario(scenarios, orderId),
      context: { runId: prefix },
      rate,
      durationSec: seconds,
    }),
    orders: placeOrdersUnderLoad(base, { rate: Math.ceil(rate / 8), seconds, keyPrefix: prefix }),
  });

  before(async () => {
    // Two replicas of pricing (the rollout under test), one of everything else: the .proto case rolls them all.
    const overlayDir = editableOverlay();
    for (const service of ['catalog', 'orders', 'recommendations', 'gateway']) setOverlayReplicas(overlayDir, service, 1);
    setOverlayReplicas(overlayDir, 'pricing', 2);
    // The live page without traces: tracing slows a replica's start (about 3 s against 1.2–1.6 s here), and the
    // figures of the first test are for the change loop, not for tracing.
    cluster = await startTestCluster({ overlayDir, watchSources: true, console: { traces: false } });
    cluster.supervisor.on('event', (line: string) => log.push({ at: performance.now(), line }));
    base = cluster.gatewayUrl;
    orderId = (
      await postJson(base, '/api/orders', { lines: [{ productId: 'p-000042', quantity: 1 }] }, { 'idempotency-key': `watch-seed-${nonce}` })
    ).body.id;
    assert.equal(typeof orderId, 'string');
    await cluster.changes!.idle();
  });

  after(async () => {
    // The cluster stops first (its loop would roll the restored sources out), then the sources and their builds
    // are put back as they were.
    await cluster?.stop();
    restoreSources();
    const bin = (name: string) => join(REPO_ROOT, 'node_modules', '.bin', name);
    execFileSync('npm', ['run', '-s', 'generate', '-w', '@strata/contracts'], { cwd: REPO_ROOT });
    execFileSync(bin('tsc'), ['-b', 'apps/pricing', 'libs/contracts'], { cwd: REPO_ROOT });
    execFileSync('npm', ['run', '-s', 'assets', '-w', '@strata/contracts'], { cwd: REPO_ROOT });
  });

  it('a one-line change in pricing, saved under mixed load: new code serves, both replicas are replaced, nothing fails, nothing else restarts', async () => {
    const others = replicas().filter((r) => r.service !== 'pricing');
    const before_ = replicas('pricing');
    const r1 = revisionOf('pricing');
    assert.match(r1, /^r1-[0-9a-f]{7}$/);
    // Saved 2 s in; here the rollout ended 9 s after the save (the first compile of a program is the slowest).
    const seconds = 26;
    const { load, orders } = mixedLoad(seconds, `watch-roll-${nonce}`);
    await delay(2_000);
    const marker = `strata change-loop marker ${nonce}`;
    writeFileSync(SOURCE, `${originals.get(SOURCE)}console.log('${marker}');\n`);
    const savedAt = performance.now();

    // The first call served by new code: a replica of another revision that has handled a call.
    let readyMs: number | undefined;
    const firstNewCallMs = await until('a call served by the new revision', 30_000, async () => {
      for (const r of cluster.supervisor.status())
        if (r.service === 'pricing' && r.revision !== r1 && r.state === 'ready') {
          readyMs ??= performance.now() - savedAt;
          if ((await scrapeCounter(r.metricsUrl, 'grpc_server_handled_total', {}, 500).catch(() => 0)) > 0) return true;
        }
      return false;
    });
    const allNewMs =
      firstNewCallMs +
      (await until('every pricing replica on the new revision, the old ones gone', 40_000, () => {
        const now = replicas('pricing');
        return now.length === 2 && now.every((r) => r.revision !== r1 && r.state === 'ready');
      }));
    const rolledAt = performance.now();
    const [loadResult, orderResult] = await Promise.all([load, orders]);
    const r2 = revisionOf('pricing');
    const compiled = linesSince(savedAt).find((line) => line.startsWith(`${CHANGE_LOOP}: compiled `));

    // The new code runs: a new revision, every replica a new process whose log shows the line that was added.
    assert.match(r2, /^r2-[0-9a-f]{7}$/);
    const now = replicas('pricing');
    assert.ok(
      now.every((r) => r.revision === r2 && !before_.some((b) => b.pid === r.pid)),
      `${JSON.stringify(before_)} → ${JSON.stringify(now)}`,
    );
    for (const r of cluster.supervisor.status().filter((s) => s.service === 'pricing'))
      assert.ok(readFileSync(r.logFile, 'utf8').includes(marker), `${r.id}'s log shows the saved line (new code runs)`);
    // Under load the whole time, and nothing failed.
    assert.ok(rolledAt - savedAt < (seconds - 2) * 1000 - 1_000, 'the rollout ended while the load still ran');
    assert.deepEqual(loadResult.errors, {}, 'failed requests during the rollout');
    assert.equal(loadResult.completed, loadResult.scheduled, `${loadResult.completed} of ${loadResult.scheduled} completed`);
    assert.deepEqual(orderResult.failures, {}, 'order attempts that failed during the rollout');
    assert.equal(orderResult.acknowledged.size, orderResult.scheduled);
    // Nothing else restarted.
    assert.deepEqual(
      replicas().filter((r) => r.service !== 'pricing'),
      others,
      'every other replica is the same process, with the same revision and restarts',
    );
    // Goals: first new-code call within 5 s of saving, the roll of two replicas within 15 s (asserted at twice that:
    // a shared CI machine; the figures are printed and kept in the README).
    assert.ok(firstNewCallMs < 10_000, `first call served by new code ${(firstNewCallMs / 1000).toFixed(1)} s after saving`);
    assert.ok(allNewMs < 30_000, `every replica on the new code ${(allNewMs / 1000).toFixed(1)} s after saving`);
    console.log(
      `change loop: saved → first call served by new code ${(firstNewCallMs / 1000).toFixed(1)} s, every replica new ${(allNewMs / 1000).toFixed(1)} s` +
        ` (${compiled?.split(';')[0] ?? 'compile time not reported'}; the first new replica ready ${((readyMs ?? NaN) / 1000).toFixed(1)} s); ${loadResult.completed} of ${loadResult.scheduled} requests` +
        ` and ${orderResult.acknowledged.size} of ${orderResult.scheduled} orders served, 0 failed; other replicas restarted: none`,
    );
  });

  it('a change that does not compile: the compiler message shown once, nothing rolls, the replicas keep serving; undoing it rolls back to the first revision', async () => {
    const before_ = replicas('pricing');
    const revision = revisionOf('pricing');
    const since = performance.now();
    const { load, orders } = mixedLoad(10, `watch-broken-${nonce}`);
    await delay(1_000);
    const current = readFileSync(SOURCE, 'utf8');
    writeFileSync(SOURCE, `${current}export const brokenOnPurpose: number = 'not a number';\n`);
    const failed = `${CHANGE_LOOP}: build failed`;
    await until('the failed build reported', 30_000, () => linesSince(since).some((line) => line.startsWith(failed)));
    // Saved again unchanged (an editor's second save): the failure is not printed twice.
    writeFileSync(SOURCE, `${current}export const brokenOnPurpose: number = 'not a number';\n`);
    await delay(3_000);
    const [loadResult, orderResult] = await Promise.all([load, orders]);

    const failures = linesSince(since).filter((line) => line.startsWith(failed));
    assert.equal(failures.length, 1, `the compiler's message shown once: ${JSON.stringify(linesSince(since))}`);
    assert.match(failures[0]!, /apps\/pricing\/src\/pricing-service\.ts\(\d+,\d+\): error TS2322/);
    assert.ok(!linesSince(since).some((line) => line.startsWith('pricing: rolling out')), 'nothing rolled');
    assert.equal(revisionOf('pricing'), revision);
    assert.deepEqual(replicas('pricing'), before_, 'the same pricing processes serve');
    assert.deepEqual(loadResult.errors, {});
    assert.equal(loadResult.completed, loadResult.scheduled);
    assert.deepEqual(orderResult.failures, {});

    // Undone: the original source compiles to the first revision's bytes, and the service rolls back to it.
    const first = log.find((e) => e.line.startsWith('pricing: rolling out r2-'));
    assert.ok(first, 'the first rollout is in the events');
    const r1Label = /\(from (r1-[0-9a-f]{7})\)/.exec(first.line)?.[1];
    assert.ok(r1Label, first.line);
    // Under load, as a user's undo would be (and each new replica then serves at once, so the roll does not wait).
    const undo = mixedLoad(14, `watch-undo-${nonce}`);
    await delay(500);
    writeFileSync(SOURCE, originals.get(SOURCE)!);
    await until('pricing back on its first revision', 60_000, () => {
      const now = replicas('pricing');
      return revisionOf('pricing') === r1Label && now.length === 2 && now.every((r) => r.revision === r1Label && r.state === 'ready');
    });
    const [undoLoad, undoOrders] = await Promise.all([undo.load, undo.orders]);
    assert.deepEqual(undoLoad.errors, {}, 'failed requests while rolling back');
    assert.equal(undoLoad.completed, undoLoad.scheduled);
    assert.deepEqual(undoOrders.failures, {});
  });

  it('a .proto change: a breaking one is refused by buf breaking before anything rolls; a compatible one rolls every service that uses it, callees first', async () => {
    await cluster.changes!.idle();
    const revisions = () => Object.fromEntries(cluster.supervisor.services().map((s) => [s.service, s.revision]));
    const before_ = revisions();
    const pids = replicas().map((r) => r.pid);
    let since = performance.now();
    // A field's type changed: wire-incompatible.
    writeFileSync(PROTO, originals.get(PROTO)!.replace('string promotion_code = 3;', 'int32 promotion_code = 3;'));
    const refused = `${CHANGE_LOOP}: proto change refused by buf breaking`;
    await until('the breaking change refused', 30_000, () => linesSince(since).some((line) => line.startsWith(refused)));
    assert.match(
      linesSince(since).find((line) => line.startsWith(refused))!,
      /promotion_code/,
      'buf names the field',
    );
    await delay(2_000);
    assert.deepEqual(revisions(), before_, 'no revision changed');
    assert.deepEqual(
      replicas().map((r) => r.pid),
      pids,
      'no replica restarted',
    );

    // A comment added: compatible; the run-time .proto copies change, so every service that loads them rolls.
    const { load, orders } = mixedLoad(35, `watch-proto-${nonce}`);
    await delay(1_000);
    since = performance.now();
    writeFileSync(PROTO, originals.get(PROTO)!.replace('message QuoteLine {', `// ${nonce}: a compatible edit\nmessage QuoteLine {`));
    await until('every service on a new revision', 60_000, () =>
      Object.entries(revisions()).every(([service, r]) => service.startsWith('postgres') || r !== before_[service]),
    );
    await cluster.changes!.idle();
    const [loadResult, orderResult] = await Promise.all([load, orders]);
    const rolled = linesSince(since)
      .filter((line) => / rolled out r\d+-/.test(line))
      .map((line) => line.slice(0, line.indexOf(':')));
    const layerOf = new Map(cluster.supervisor.services().map((s) => [s.service, s.layer]));
    const rank = ['leaf', 'composite', 'edge'];
    assert.deepEqual(new Set(rolled), new Set(['catalog', 'pricing', 'orders', 'recommendations', 'gateway']));
    assert.deepEqual(
      rolled.map((s) => layerOf.get(s)),
      [...rolled].map((s) => layerOf.get(s)!).sort((a, b) => rank.indexOf(a) - rank.indexOf(b)),
      `callees first: ${rolled.join(' → ')}`,
    );
    assert.deepEqual(loadResult.errors, {});
    assert.equal(loadResult.completed, loadResult.scheduled);
    assert.deepEqual(orderResult.failures, {});
    console.log(`change loop: a compatible .proto edit rolled ${rolled.join(' → ')}; 0 of ${loadResult.scheduled} requests failed`);
  });

  it(
    'the live page and npm run status show the rollout as it happens: old and new revisions side by side, then only the new',
    { skip: noBrowser },
    async () => {
      await cluster.changes!.idle();
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      try {
        const page = await browser.newPage({ viewport: { width: 1600, height: 1200 } });
        const errors: string[] = [];
        page.on('pageerror', (error) => errors.push(error.message));
        await page.goto(cluster.console!.url);
        await page.waitForSelector('[data-service="pricing"] [data-replica]', { timeout: 15_000 });
        const old = revisionOf('pricing');
        const stateDir = dirname(dirname(cluster.supervisor.status()[0]!.logFile));
        // Asynchronously: the load runs in this process, and a blocked event loop would drop its arrivals.
        const status = async () =>
          (
            await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'tools', 'local-cluster', 'dist', 'main.js'), 'status'], {
              env: { ...process.env, STRATA_STATE_DIR: stateDir },
              encoding: 'utf8',
            })
          ).stdout;
        // Load, so that each new replica serves (a replica is replaced only once its successor has served calls): a
        // light one, since Chromium and the polled `npm run status` share the two cores with the rollout here (at
        // 40 req/s one CI run saw 22 of 640 requests time out at the gateway, 504, while the page was polled).
        const { load, orders } = mixedLoad(16, `watch-page-${nonce}`, 16);
        await delay(500);
        writeFileSync(SOURCE, `${originals.get(SOURCE)}console.log('strata change-loop page ${nonce}');\n`);
        let rolloutLine = '';
        let sideBySide: (string | null)[] = [];
        let statusLine = '';
        await until('pricing rolled out and every row of its card on the new revision', 40_000, async () => {
          const rows = await page.$$eval('[data-service="pricing"] [data-replica]', (trs) =>
            trs.map((tr) => tr.getAttribute('data-revision')),
          );
          const line = await page.$$eval('[data-rollout="pricing"]', (ps) => ps.map((p) => p.textContent ?? '').join(''));
          if (line && !rolloutLine) rolloutLine = line;
          if (new Set(rows).size > 1 && sideBySide.length === 0) sideBySide = rows;
          if (!statusLine) statusLine = /^Waiting for deployment "pricing" rollout to finish: .*$/m.exec(await status())?.[0] ?? '';
          const now = revisionOf('pricing');
          return now !== old && rows.length === 2 && rows.every((r) => r === now) && line === '';
        });
        const [loadResult, orderResult] = await Promise.all([load, orders]);
        const now = revisionOf('pricing');
        assert.match(rolloutLine, new RegExp(`^rolling out ${now}: \\d of 2 updated replicas are available \\(\\d old\\)$`));
        assert.ok(
          sideBySide.includes(old) && sideBySide.includes(now),
          `old and new side by side on the page: ${JSON.stringify(sideBySide)}`,
        );
        assert.match(statusLine, new RegExp(`rolling out ${now}: \\d of 2 updated replicas are available`));
        assert.match(
          await status(),
          new RegExp(`^pricing +leaf +2 +2 +2 +2 +${now}$`, 'm'),
          'npm run status: DESIRED READY CURRENT UP-TO-DATE REVISION',
        );
        assert.deepEqual(errors, [], 'the page threw');
        assert.deepEqual(loadResult.errors, {});
        assert.equal(loadResult.completed, loadResult.scheduled);
        assert.deepEqual(orderResult.failures, {});
        console.log(
          `change loop: the page showed "${rolloutLine}" and rows ${JSON.stringify(sideBySide)}; npm run status: "${statusLine}"`,
        );
      } finally {
        await browser.close();
      }
    },
  );
});
