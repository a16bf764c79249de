import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import pg from 'pg';
import { runOpenLoop, type LoadResult } from '@strata/loadtests';
import { loadScenarios } from '@strata/loadtests';
import { loadServices } from '@strata/service-registry';
import { REPO_ROOT, type LocalCluster } from '@strata/local-cluster';
import { checkHealth, waitForServing } from '@strata/service-kit';
import { freePort } from '@strata/test-kit';
import { call, mixedScenario, postJson, startTestCluster } from './cluster-fixture.js';
import { placeOrdersUnderLoad, type OrderLoadResult } from './order-client.js';

/** One row of docs/reliability.md. */
interface Row {
  scenario: string;
  load: string;
  sent: number;
  failed: number | string;
  acknowledged: number | string;
  stored: number | string;
  duplicates: number | string;
}
const rows: Row[] = [];
const scenarios = await loadScenarios();
/** Every gRPC service (declared in apps/<name>/service.json), for the rolling-restart and SIGKILL cases. */
const GRPC_SERVICES = loadServices()
  .grpc()
  .map((s) => s.name);

// After every test of this file: the table of docs/reliability.md, from this run.
after(() => {
  mkdirSync(join(REPO_ROOT, 'reports'), { recursive: true });
  const table = [
    '| scenario | load | requests sent | failed | orders acknowledged | orders stored | duplicates |',
    '|---|---|---|---|---|---|---|',
  ]
    .concat(rows.map((r) => `| ${r.scenario} | ${r.load} | ${r.sent} | ${r.failed} | ${r.acknowledged} | ${r.stored} | ${r.duplicates} |`))
    .join('\n');
  writeFileSync(join(REPO_ROOT, 'reports', 'reliability.md'), `${table}\n`);
  console.log(`\n${table}\n`);
});

const mixed = (orderId: string) => mixedScenario(scenarios, orderId);

/** Rows stored per acknowledged key: exactly one each, and nothing else under the prefix. */
async function checkOrdersStored(
  databaseUrl: string,
  prefix: string,
  orders: OrderLoadResult,
): Promise<{ stored: number; duplicates: number }> {
  const client = new pg.Client(databaseUrl);
  await client.connect();
  try {
    const { rows: found } = await client.query<{ key: string; id: string; n: number }>(
      `SELECT idempotency_key AS key, min(id) AS id, count(*)::int AS n FROM orders WHERE idempotency_key LIKE $1 GROUP BY idempotency_key`,
      [`${prefix}-%`],
    );
    const byKey = new Map(found.map((r) => [r.key, r]));
    for (const [key, id] of orders.acknowledged) {
      assert.equal(byKey.get(key)?.n, 1, `acknowledged order ${key} must be stored exactly once`);
      assert.equal(byKey.get(key)?.id, id, `${key} is stored as the order the client was given`);
    }
    return { stored: found.length, duplicates: found.filter((r) => r.n > 1).length };
  } finally {
    await client.end();
  }
}

describe('reliability under load (the local cluster)', () => {
  let cluster: LocalCluster;
  let base: string;
  let databaseUrl: string;
  let orderId: string;

  before(async () => {
    // A file-backed embedded database, so that a stopped and restarted PostgreSQL keeps what it acknowledged.
    cluster = await startTestCluster({ ephemeralDatabase: false, extraEnv: { GATEWAY_MAX_INFLIGHT: '48' } });
    base = cluster.gatewayUrl;
    databaseUrl = (cluster.plans.find((p) => p.id === 'postgres-1')!.probe as { url: string }).url;
    orderId = (
      await postJson(
        base,
        '/api/orders',
        { lines: [{ productId: 'p-000042', quantity: 1 }] },
        { 'idempotency-key': `rel-seed-${Date.now()}` },
      )
    ).body.id;
  });
  after(async () => {
    await cluster?.stop();
  });

  it('answers bad input at every endpoint with a 4xx that says what is wrong, never a 5xx (property-based)', async () => {
    let tried = 0;
    const expectClientError = async (response: { status: number; body: unknown }, what: string) => {
      tried++;
      assert.ok(response.status < 500, `${what} → ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`);
      if (response.status >= 400) {
        const message = (response.body as { error?: { message?: unknown } })?.error?.message;
        assert.ok(typeof message === 'string' && message.length > 0, `${what} → ${response.status} without a message`);
      }
    };
    const oddString = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.constantFrom(
        '',
        ' ',
        '%',
        '../../etc/passwd',
        "'; DROP TABLE orders;--",
        '\u0000',
        '😀'.repeat(300),
        'p-0000001',
        'a'.repeat(5000),
      ),
    );
    const quantity = fc.oneof(
      fc.integer(),
      fc.double(),
      fc.constantFrom(0, -1, 1001, 2 ** 53, -(2 ** 63), 1e308, Number.NaN),
      fc.string(),
      fc.constant(null),
    );
    const line = fc.record({ productId: fc.oneof(oddString, fc.constantFrom('p-000001', 'p-999999')), quantity }, { requiredKeys: [] });
    const body = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          lines: fc.array(line, { maxLength: 150 }),
          currency: fc.oneof(oddString, fc.constantFrom('EUR', 'XXX', 'eur')),
          country: oddString,
          promotionCode: oddString,
          extra: fc.anything(),
        },
        { requiredKeys: [] },
      ),
      fc.string().map((text) => ({ raw: text })),
    );
    const send = (path: string, value: unknown, headers: Record<string, string> = {}) =>
      value && typeof value === 'object' && 'raw' in (value as object)
        ? postJson(base, path, (value as { raw: string }).raw, headers)
        : postJson(base, path, JSON.stringify(value ?? null), headers);

    await fc.assert(
      fc.asyncProperty(body, async (value) =>
        expectClientError(await send('/api/quotes', value), `POST /api/quotes ${JSON.stringify(value)?.slice(0, 120)}`),
      ),
      { numRuns: 200 },
    );
    const usedKey = `rel-reused-${Date.now()}`;
    await postJson(base, '/api/orders', { lines: [{ productId: 'p-000007', quantity: 1 }] }, { 'idempotency-key': usedKey });
    await fc.assert(
      fc.asyncProperty(body, fc.oneof(fc.constant(usedKey), fc.stringMatching(/^[ -~]{0,200}$/)), async (value, key) => {
        await expectClientError(await send('/api/orders', value, { 'idempotency-key': key }), `POST /api/orders key=${key.slice(0, 40)}`);
      }),
      { numRuns: 200 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          { query: oddString, category: oddString, pageSize: fc.oneof(fc.integer(), fc.string()), pageToken: oddString },
          { requiredKeys: [] },
        ),
        async (q) => {
          const search = new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => [k, String(v)]));
          await expectClientError(await call(base, `/api/products?${search}`), `GET /api/products?${search.toString().slice(0, 120)}`);
        },
      ),
      { numRuns: 150 },
    );
    await fc.assert(
      fc.asyncProperty(oddString, fc.oneof(fc.integer(), fc.string()), async (id, limit) => {
        const segment =
          encodeURIComponent(id)
            .slice(0, 3000)
            .replace(/%[0-9A-F]?$/, '') || '%20';
        await expectClientError(await call(base, `/api/products/${segment}`), `GET /api/products/${segment.slice(0, 60)}`);
        await expectClientError(
          await call(base, `/api/products/${segment}/recommendations?limit=${encodeURIComponent(String(limit))}`),
          `GET …/recommendations?limit=${limit}`,
        );
        await expectClientError(await call(base, `/api/orders/${segment}`), `GET /api/orders/${segment.slice(0, 60)}`);
      }),
      { numRuns: 150 },
    );
    for (const replica of cluster.supervisor.status()) assert.equal(replica.restarts, 0, `${replica.id} restarted`);
    for (const plan of cluster.plans.filter((p) => p.probe.kind === 'grpc'))
      assert.equal(await checkHealth(plan.address), 'SERVING', plan.id);
    rows.push({
      scenario: 'bad input, property-based, every endpoint',
      load: 'sequential',
      sent: tried,
      failed: 0,
      acknowledged: '–',
      stored: '–',
      duplicates: '–',
    });
    console.log(`bad input: ${tried} inputs tried, every answer a 4xx with a message or a 2xx; every service still SERVING`);
  });

  for (const service of GRPC_SERVICES) {
    it(`rolling restart of ${service}, one replica at a time, under load: no failed request, no order lost or doubled`, async () => {
      const prefix = `rel-roll-${service}-${Date.now()}`;
      const loadRun = runOpenLoop({ baseUrls: [base], scenario: mixed(orderId), context: { runId: prefix }, rate: 40, durationSec: 9 });
      const ordersRun = placeOrdersUnderLoad(base, { rate: 5, seconds: 9, keyPrefix: prefix });
      await delay(1_000);
      const restarted = cluster.supervisor.rollingRestart(service);
      const [load, orders] = await Promise.all([loadRun, ordersRun, restarted]);
      const stored = await checkOrdersStored(databaseUrl, prefix, orders);
      rows.push({
        scenario: `rolling restart: ${service}`,
        load: '40 req/s mixed + 5 orders/s',
        sent: load.sent + orders.attempted + orders.retries,
        failed: load.failed + load.dropped,
        acknowledged: orders.acknowledged.size,
        stored: stored.stored,
        duplicates: stored.duplicates,
      });
      assert.deepEqual(load.errors, {}, `failed requests during the rolling restart of ${service}`);
      assert.equal(load.dropped, 0);
      assert.deepEqual(orders.anomalies, []);
      assert.equal(orders.abandoned, 0);
      assert.equal(orders.acknowledged.size, orders.attempted);
    });
  }

  for (const service of GRPC_SERVICES) {
    it(`SIGKILL of a ${service} replica under load: no failed idempotent request, every acknowledged order stored once`, async () => {
      const prefix = `rel-kill-${service}-${Date.now()}`;
      const victim = cluster.supervisor.status().find((r) => r.service === service && r.state === 'ready')!;
      const loadRun: Promise<LoadResult> = runOpenLoop({
        baseUrls: [base],
        scenario: mixed(orderId),
        context: { runId: prefix },
        rate: 40,
        durationSec: 7,
      });
      const ordersRun = placeOrdersUnderLoad(base, { rate: 8, seconds: 7, keyPrefix: prefix });
      await delay(2_000);
      process.kill(victim.pid!, 'SIGKILL');
      const [load, orders] = await Promise.all([loadRun, ordersRun]);
      const stored = await checkOrdersStored(databaseUrl, prefix, orders);
      rows.push({
        scenario: `SIGKILL one replica: ${service}`,
        load: '40 req/s mixed + 8 orders/s',
        sent: load.sent + orders.attempted + orders.retries,
        failed: load.failed + load.dropped,
        acknowledged: orders.acknowledged.size,
        stored: stored.stored,
        duplicates: stored.duplicates,
      });
      assert.deepEqual(load.errors, {}, `failed idempotent requests after killing ${victim.id}`);
      assert.deepEqual(orders.anomalies, []);
      assert.equal(orders.abandoned, 0);
      for (let i = 0; i < 100 && cluster.supervisor.status().find((r) => r.id === victim.id)!.state !== 'ready'; i++) await delay(100);
      assert.equal(cluster.supervisor.status().find((r) => r.id === victim.id)!.state, 'ready', `${victim.id} came back`);
    });
  }

  it('PostgreSQL stopped and restarted under order load: quick 503s while down, success after, nothing acknowledged lost', async () => {
    const prefix = `rel-pg-${Date.now()}`;
    const ordersRun = placeOrdersUnderLoad(base, { rate: 10, seconds: 10, keyPrefix: prefix, maxAttempts: 15 });
    await delay(2_000);
    await cluster.supervisor.stopReplica('postgres-1');
    const started = performance.now();
    const whileDown = await postJson(
      base,
      '/api/orders',
      { lines: [{ productId: 'p-000001', quantity: 1 }] },
      { 'idempotency-key': `rel-pgprobe-${Date.now()}` },
    );
    const answeredInMs = performance.now() - started;
    await delay(2_500);
    await cluster.supervisor.startReplica('postgres-1');
    const orders = await ordersRun;
    const stored = await checkOrdersStored(databaseUrl, prefix, orders);
    const slowest = Math.max(...orders.failureLatenciesMs, 0);
    rows.push({
      scenario: 'PostgreSQL stopped ~3 s and restarted',
      load: '10 orders/s, retried with the same key',
      sent: orders.attempted + orders.retries,
      failed: `0 (${orders.retries} attempts answered 503 while down, slowest ${slowest.toFixed(0)} ms, all retried)`,
      acknowledged: orders.acknowledged.size,
      stored: stored.stored,
      duplicates: stored.duplicates,
    });
    assert.equal(whileDown.status, 503, JSON.stringify(whileDown.body));
    assert.ok(answeredInMs < 1_500, `answered after ${answeredInMs.toFixed(0)} ms while the database was down`);
    assert.ok(orders.retries > 0, 'some attempts met the outage');
    assert.ok(slowest < 3_000, `a failed attempt took ${slowest.toFixed(0)} ms`);
    assert.deepEqual(orders.anomalies, []);
    assert.equal(orders.abandoned, 0);
    assert.equal(orders.acknowledged.size, orders.attempted);
  });

  it('overload beyond capacity: the edge sheds quickly with 503 + Retry-After, then serves normally', async () => {
    const load = await runOpenLoop({
      baseUrls: [base],
      scenario: scenarios.recommendations,
      context: { runId: 'overload' },
      rate: 400,
      durationSec: 4,
      maxInFlight: 2_000,
    });
    const otherErrors = Object.entries(load.errors).filter(([status]) => status !== '503');
    rows.push({
      scenario: 'overload: recommendations far beyond capacity',
      load: '400 req/s for 4 s',
      sent: load.sent,
      failed: `${otherErrors.reduce((sum, [, n]) => sum + n, 0)} (${load.errors['503'] ?? 0} shed with 503 + Retry-After, ${load.completed} served, p99 ${load.latencyMs.p99.toFixed(0)} ms)`,
      acknowledged: '–',
      stored: '–',
      duplicates: '–',
    });
    assert.ok((load.errors['503'] ?? 0) > 0, 'excess was shed');
    assert.ok(load.completed > 0, 'and what fits was served');
    assert.deepEqual(otherErrors, [], 'nothing but 503 (shed) failed');
    assert.ok(load.latencyMs.p99 < 5_000, `p99 ${load.latencyMs.p99} ms: the edge did not collapse`);
    const shed = await Promise.all(
      Array.from({ length: 120 }, (_, i) => call(base, `/api/products/p-${String(100 + i).padStart(6, '0')}/recommendations`)),
    );
    const refused = shed.find((r) => r.status === 503);
    if (refused) assert.equal(refused.headers.get('retry-after'), '1');
    await delay(1_000);
    for (let i = 0; i < 20; i++)
      assert.equal((await call(base, `/api/products/p-00020${i % 10}`)).status, 200, 'serves normally once the load drops');
  });
});

/** A TCP relay that adds `delayMs` before forwarding each chunk: a real, adjustable network fault. */
function delayingProxy(targetPort: number): Promise<{ server: Server; port: number; setDelay: (ms: number) => void }> {
  let delayMs = 0;
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    // Bytes keep their order: one queue per direction, released front first (when the delay drops to 0, chunks still
    // held back would otherwise be overtaken, and the HTTP/2 stream would be garbled).
    const relay = (from: NodeJS.ReadableStream & { pause(): void; resume(): void }, to: NodeJS.WritableStream) => {
      const queue: { at: number; chunk: Buffer }[] = [];
      let timer: NodeJS.Timeout | undefined;
      const pump = () => {
        timer = undefined;
        while (queue.length > 0 && queue[0]!.at <= Date.now()) to.write(queue.shift()!.chunk);
        if (queue.length > 0) timer = setTimeout(pump, queue[0]!.at - Date.now());
      };
      from.on('data', (chunk: Buffer) => {
        queue.push({ at: Date.now() + delayMs, chunk });
        if (!timer) pump();
      });
    };
    relay(client, upstream);
    relay(upstream, client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as { port: number }).port, setDelay: (ms) => (delayMs = ms) }),
    ),
  );
}

describe('a slow leaf behind a real network fault', () => {
  const children: ChildProcess[] = [];
  after(() => children.forEach((c) => c.kill('SIGTERM')));

  it('answers 504 within the deadline budget, keeps in-flight work bounded, and recovers with the leaf', async () => {
    const catalogPort = await freePort();
    children.push(
      spawn(process.execPath, [join(REPO_ROOT, 'apps/catalog/dist/main.js')], {
        env: { ...process.env, GRPC_PORT: String(catalogPort), METRICS_PORT: String(await freePort()), LOG_LEVEL: 'warn' },
        stdio: 'ignore',
      }),
    );
    await waitForServing(`127.0.0.1:${catalogPort}`);
    const proxy = await delayingProxy(catalogPort);
    const gatewayPort = await freePort();
    children.push(
      spawn(process.execPath, [join(REPO_ROOT, 'apps/gateway/dist/main.js')], {
        env: {
          ...process.env,
          GATEWAY_PORT: String(gatewayPort),
          CATALOG_TARGET: `ipv4:127.0.0.1:${proxy.port}`,
          REQUEST_TIMEOUT_MS: '400',
          LOG_LEVEL: 'warn',
        },
        stdio: 'ignore',
      }),
    );
    const gateway = `http://127.0.0.1:${gatewayPort}`;
    for (
      let i = 0;
      i < 100 &&
      !(await fetch(`${gateway}/readyz`).then(
        (r) => r.ok,
        () => false,
      ));
      i++
    )
      await delay(100);
    assert.equal((await call(gateway, '/api/products/p-000001')).status, 200);

    proxy.setDelay(1_500);
    let maxInFlight = 0;
    const slow = await runOpenLoop({
      baseUrls: [gateway],
      scenario: scenarios.product,
      context: { runId: 'slow' },
      rate: 30,
      durationSec: 4,
      onProgress: (s) => (maxInFlight = Math.max(maxInFlight, s.inFlight)),
    });
    rows.push({
      scenario: 'slow leaf: +1.5 s on the gateway → catalog link (budget 400 ms)',
      load: '30 req/s',
      sent: slow.sent,
      failed: `${slow.failed - (slow.errors['504'] ?? 0)} (${slow.errors['504'] ?? 0} answered 504, max ${slow.latencyMs.max.toFixed(0)} ms; then recovered)`,
      acknowledged: '–',
      stored: '–',
      duplicates: '–',
    });
    assert.equal(slow.errors['504'], slow.sent, `every request answered 504: ${JSON.stringify(slow.errors)}`);
    assert.ok(slow.latencyMs.max < 900, `answered within the 400 ms budget (+ slack): max ${slow.latencyMs.max} ms`);
    assert.ok(maxInFlight <= 30, `in flight stayed bounded by rate × budget: ${maxInFlight}`);

    proxy.setDelay(0);
    // Bytes sent during the slow phase are still held back up to 1.5 s (in order): recovery starts after them.
    await delay(2_000);
    const recovered = await runOpenLoop({
      baseUrls: [gateway],
      scenario: scenarios.product,
      context: { runId: 'recovered' },
      rate: 30,
      durationSec: 2,
    });
    assert.deepEqual(recovered.errors, {}, 'serves again once the leaf is fast');
    proxy.server.close();
  });
});
