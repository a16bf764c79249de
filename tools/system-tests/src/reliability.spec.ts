import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import pg from 'pg';
import { loadScenarios, runClosedLoop, runOpenLoop, type LoadResult } from '@strata/loadtests';
import { loadServices } from '@strata/service-registry';
import { REPO_ROOT, type LocalCluster } from '@strata/local-cluster';
import { checkHealth, waitForServing } from '@strata/service-kit';
import { freePort, sumSamples } from '@strata/dev-kit';
import { call, mixedScenario, postJson, startTestCluster } from './cluster-fixture.js';
import { placeOrdersUnderLoad, replayAcknowledged, type OrderLoadResult } from './order-client.js';

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

/** The scenarios of this file: each pushes its row only once every assertion of it passed. */
const SCENARIOS = 1 + 2 * GRPC_SERVICES.length + 3;

// After every test of this file: the table of docs/reliability.md, from this run, and only from a run that passed
// whole (a row is pushed after its test's assertions; a failed or skipped scenario leaves the report untouched).
after(() => {
  if (rows.length !== SCENARIOS) {
    console.log(`reports/reliability.md NOT written: ${rows.length} of ${SCENARIOS} scenarios passed in this run`);
    return;
  }
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
/** The order columns of a row whose scenario places no orders. */
const NO_ORDERS = { acknowledged: '–', stored: '–', duplicates: '–' } as const;

/** Nothing failed: every scheduled request completed (none failed, none dropped by the driver). */
function assertEveryRequestServed(load: LoadResult, during: string): void {
  assert.deepEqual(load.errors, {}, `failed requests ${during}`);
  assert.equal(
    load.completed,
    load.scheduled,
    `${load.completed} of ${load.scheduled} scheduled requests completed (dropped ${load.dropped})`,
  );
}

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
    const messageOf = (body: unknown) => (body as { error?: { message?: unknown } })?.error?.message;
    const expectClientError = async (response: { status: number; body: unknown }, what: string) => {
      tried++;
      assert.ok(response.status < 500, `${what} → ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`);
      if (response.status >= 400) {
        const message = messageOf(response.body);
        assert.ok(typeof message === 'string' && message.length > 0, `${what} → ${response.status} without a message`);
      }
    };
    /** Input that is certainly invalid: refused with `status`, the message naming `field` (when given). */
    const expectRefused = async (response: { status: number; body: unknown }, status: number, field: string | undefined, what: string) => {
      tried++;
      const message = messageOf(response.body);
      assert.equal(response.status, status, `${what} → ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`);
      assert.ok(typeof message === 'string' && message.length > 0, `${what} → ${response.status} without a message`);
      if (field) assert.ok(message.includes(field), `${what} → "${message}" does not name ${field}`);
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

    // 1. Anything at all (which may by chance be valid): never a 5xx, every 4xx with a message.
    await fc.assert(
      fc.asyncProperty(body, async (value) =>
        expectClientError(await send('/api/quotes', value), `POST /api/quotes ${JSON.stringify(value)?.slice(0, 120)}`),
      ),
      { numRuns: 150 },
    );
    const usedKey = `rel-reused-${Date.now()}`;
    await postJson(base, '/api/orders', { lines: [{ productId: 'p-000007', quantity: 1 }] }, { 'idempotency-key': usedKey });
    await fc.assert(
      fc.asyncProperty(body, fc.oneof(fc.constant(usedKey), fc.stringMatching(/^[ -~]{0,200}$/)), async (value, key) => {
        await expectClientError(await send('/api/orders', value, { 'idempotency-key': key }), `POST /api/orders key=${key.slice(0, 40)}`);
      }),
      { numRuns: 150 },
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
      { numRuns: 100 },
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
      { numRuns: 100 },
    );

    // 2. A valid request with exactly one thing wrong: certainly invalid, so 400 naming the field (a 2xx fails it).
    const validLine = { productId: 'p-000001', quantity: 1 };
    const badBody = fc.oneof(
      fc
        .constantFrom(0, -1, 1001, 1.5, '2', null, true, 2 ** 53)
        .map((q) => [{ lines: [{ productId: 'p-000001', quantity: q }] }, 'lines[0].quantity'] as const),
      fc
        .constantFrom('', 'p-1', 'P-000001', 'p-0000001', '../../etc/passwd', 42, null)
        .map((id) => [{ lines: [validLine, { productId: id, quantity: 1 }] }, 'lines[1].productId'] as const),
      fc.constantFrom(
        [{ lines: [] }, 'lines'] as const,
        [{ lines: validLine }, 'lines'] as const,
        [{}, 'lines'] as const,
        [{ lines: [{ ...validLine, quantitiy: 2 }] }, 'quantitiy'] as const,
        [{ lines: [validLine], coupon: 'X' }, 'coupon'] as const,
        [{ lines: [validLine], currency: 'EURO' }, 'currency'] as const,
        [{ lines: [validLine], currency: '€€€' }, 'currency'] as const,
        [{ lines: [validLine], country: 'DEU' }, 'country'] as const,
        [{ lines: [validLine], promotionCode: 'a'.repeat(33) }, 'promotionCode'] as const,
        [{ lines: [validLine], promotionCode: 'bad code!' }, 'promotionCode'] as const,
        [[validLine], undefined] as const,
        [42, undefined] as const,
        [null, undefined] as const,
      ),
      fc
        .integer({ min: 101, max: 150 })
        .map(
          (n) =>
            [
              { lines: Array.from({ length: n }, (_, i) => ({ productId: `p-${String(i + 1).padStart(6, '0')}`, quantity: 1 })) },
              'lines',
            ] as const,
        ),
    );
    await fc.assert(
      fc.asyncProperty(badBody, async ([value, field]) =>
        expectRefused(await send('/api/quotes', value), 400, field, `POST /api/quotes ${JSON.stringify(value).slice(0, 120)}`),
      ),
      { numRuns: 60 },
    );
    const badOrder = fc.oneof(
      badBody.map(([value, field]) => [value, field, `rel-bad-${Date.now()}`] as const),
      fc.constantFrom(
        [{ lines: [validLine, validLine] }, 'appears twice', 'rel-bad-duplicate'] as const,
        [{ lines: [validLine], customerEmail: 'not-an-email' }, 'customerEmail', 'rel-bad-email'] as const,
        [{ lines: [validLine] }, 'Idempotency-Key', 'short'] as const,
        [{ lines: [validLine] }, 'Idempotency-Key', 'has space in it'] as const,
        [{ lines: [validLine] }, 'Idempotency-Key', 'k'.repeat(129)] as const,
      ),
      fc
        .integer({ min: 51, max: 60 })
        .map(
          (n) =>
            [
              { lines: Array.from({ length: n }, (_, i) => ({ productId: `p-${String(i + 1).padStart(6, '0')}`, quantity: 1 })) },
              'lines',
              'rel-bad-too-many',
            ] as const,
        ),
    );
    await fc.assert(
      fc.asyncProperty(badOrder, async ([value, field, key]) =>
        expectRefused(
          await send('/api/orders', value, { 'idempotency-key': key }),
          400,
          field,
          `POST /api/orders key=${key.slice(0, 20)} ${JSON.stringify(value).slice(0, 100)}`,
        ),
      ),
      { numRuns: 60 },
    );
    // The key already used for another order: refused as a conflict, and the first order is kept as it was.
    const first = await call(
      base,
      `/api/orders/${(await postJson(base, '/api/orders', { lines: [{ productId: 'p-000007', quantity: 1 }] }, { 'idempotency-key': usedKey })).body.id}`,
    );
    await expectRefused(
      await postJson(base, '/api/orders', { lines: [{ productId: 'p-000008', quantity: 2 }] }, { 'idempotency-key': usedKey }),
      409,
      usedKey,
      'POST /api/orders with a used key and another body',
    );
    assert.deepEqual(
      (await call(base, `/api/orders/${first.body.id}`)).body,
      first.body,
      'the order first placed with the key is unchanged',
    );
    const badQueries: [string, string][] = [
      ['pageSize=0', 'pageSize'],
      ['pageSize=101', 'pageSize'],
      ['pageSize=1.5', 'pageSize'],
      ['pageSize=ten', 'pageSize'],
      ['category=Books', 'category'],
      ['category=cars', 'category'],
      ['sort=price', 'sort'],
      [`query=${'a'.repeat(201)}`, 'query'],
      ['pageToken=!!garbage', 'pageToken'],
    ];
    for (const [query, field] of badQueries)
      await expectRefused(await call(base, `/api/products?${query}`), 400, field, `GET /api/products?${query.slice(0, 40)}`);
    for (const id of ['42', 'p-1', 'P-000001', '..%2F..%2Fetc', 'p-000001%00'])
      await expectRefused(await call(base, `/api/products/${id}`), 400, undefined, `GET /api/products/${id}`);
    await expectRefused(await call(base, '/api/products/p-999999'), 404, 'p-999999', 'GET /api/products/p-999999 (no such product)');
    for (const limit of ['0', '51', 'x', '2.5'])
      await expectRefused(
        await call(base, `/api/products/p-000001/recommendations?limit=${limit}`),
        400,
        'limit',
        `GET …/recommendations?limit=${limit}`,
      );
    await expectRefused(await call(base, '/api/orders/42'), 400, undefined, 'GET /api/orders/42');
    await expectRefused(
      await call(base, '/api/orders/o-00000000-0000-4000-8000-000000000000'),
      404,
      undefined,
      'GET /api/orders/<an id no order has>',
    );

    for (const replica of cluster.supervisor.status()) assert.equal(replica.restarts, 0, `${replica.id} restarted`);
    for (const plan of cluster.plans.filter((p) => p.probe.kind === 'grpc'))
      assert.equal(await checkHealth(plan.address), 'SERVING', plan.id);
    rows.push({
      scenario: 'bad input, property-based, every endpoint',
      load: 'sequential',
      sent: tried,
      failed: 0,
      ...NO_ORDERS,
    });
    console.log(
      `bad input: ${tried} inputs tried; certainly invalid ones refused with 400 (or 404, 409) naming the field, the rest never a 5xx; every service still SERVING`,
    );
  });

  /**
   * 40 req/s of the mixed scenario and `ordersPerSec` orders/s through the gateway for `seconds`, with `fault` started
   * `faultAfterMs` in; then a sample of the acknowledged orders is sent again (same key, same body) and the orders
   * are counted in the database.
   */
  const underLoad = async <T>(
    prefix: string,
    load: { seconds: number; ordersPerSec: number },
    faultAfterMs: number,
    fault: () => Promise<T>,
  ) => {
    const loadRun = runOpenLoop({
      baseUrls: [base],
      scenario: mixed(orderId),
      context: { runId: prefix },
      rate: 40,
      durationSec: load.seconds,
    });
    const ordersRun = placeOrdersUnderLoad(base, { rate: load.ordersPerSec, seconds: load.seconds, keyPrefix: prefix });
    await delay(faultAfterMs);
    const [mixedLoad, orders, outcome] = await Promise.all([loadRun, ordersRun, fault()]);
    const replayed = await replayAcknowledged(base, orders);
    const stored = await checkOrdersStored(databaseUrl, prefix, orders);
    return { load: mixedLoad, orders, outcome, stored, sent: mixedLoad.sent + orders.scheduled + orders.retries + replayed };
  };

  /** The replicas of a service, with their processes. */
  const replicasOf = (service: string) =>
    cluster.supervisor
      .status()
      .filter((r) => r.service === service)
      .map((r) => ({ id: r.id, pid: r.pid, state: r.state, restarts: r.restarts }));

  for (const service of GRPC_SERVICES) {
    it(`rolling restart of ${service}, one replica at a time, under load: no failed request, no order lost or doubled`, async () => {
      const prefix = `rel-roll-${service}-${Date.now()}`;
      const old = replicasOf(service);
      // Long enough for the whole restart to happen under load: one replica takes about 3.5 s here (start, ready,
      // first calls, then its predecessor drains), so three replicas of catalog need 11 s; 9 s of load for every
      // service let catalog's last replacement happen after the load had stopped. 6 s a replica leaves room for a CI
      // machine that runs other projects' tests beside this one.
      const seconds = 4 + 6 * old.length;
      const began = performance.now();
      const {
        load,
        orders,
        outcome: restartedAtMs,
        stored,
        sent,
      } = await underLoad(prefix, { seconds, ordersPerSec: 5 }, 1_000, () =>
        cluster.supervisor.rollingRestart(service).then(() => performance.now() - began),
      );
      const now = replicasOf(service);

      // The restart happened: every old process is gone, as many new ones serve, and it ended while load still flowed.
      assert.equal(now.length, old.length, `${service} has as many replicas as before`);
      assert.ok(
        now.every((r) => r.state === 'ready' && !old.some((o) => o.pid === r.pid)),
        `every ${service} replica is a new, ready process: before ${JSON.stringify(old)}, after ${JSON.stringify(now)}`,
      );
      assert.ok(
        restartedAtMs < seconds * 1000 - 1_000,
        `the rolling restart ended ${(restartedAtMs / 1000).toFixed(1)} s into ${seconds} s of load: it must end under load`,
      );
      // Nothing failed: every scheduled request completed, and no order attempt needed a retry.
      assertEveryRequestServed(load, `during the rolling restart of ${service}`);
      assert.deepEqual(orders.failures, {}, `order attempts that failed (and were retried) during the rolling restart`);
      assert.deepEqual(orders.anomalies, []);
      assert.equal(orders.acknowledged.size, orders.scheduled);
      rows.push({
        scenario: `rolling restart: ${service}`,
        load: `40 req/s mixed + 5 orders/s for ${seconds} s`,
        sent,
        failed: load.scheduled - load.completed + orders.retries,
        acknowledged: orders.acknowledged.size,
        stored: stored.stored,
        duplicates: stored.duplicates,
      });
      console.log(
        `rolling restart of ${service}: ${old.map((r) => `${r.id}(${r.pid})`).join(' ')} → ${now.map((r) => `${r.id}(${r.pid})`).join(' ')} in ${((restartedAtMs - 1_000) / 1000).toFixed(1)} s`,
      );
    });
  }

  for (const service of GRPC_SERVICES) {
    it(`SIGKILL of a ${service} replica under load: no failed idempotent request, every acknowledged order stored once`, async () => {
      const prefix = `rel-kill-${service}-${Date.now()}`;
      const victim = replicasOf(service).find((r) => r.state === 'ready')!;
      // The kill comes 2 s in; a replica is back in 1.4–1.9 s here, but one CI run (other projects' tests beside
      // this one) took 6.7 s: 12 s of load keeps its return under load.
      const seconds = 12;
      const began = performance.now();
      const {
        load,
        orders,
        outcome: backAtMs,
        stored,
        sent,
      } = await underLoad(prefix, { seconds, ordersPerSec: 8 }, 2_000, async () => {
        process.kill(victim.pid!, 'SIGKILL');
        // When the supervisor has it back: the same replica, a new process, one restart more, ready.
        for (let i = 0; i < 200; i++) {
          const now = replicasOf(service).find((r) => r.id === victim.id);
          if (now && now.state === 'ready' && now.pid !== victim.pid && now.restarts === victim.restarts + 1)
            return performance.now() - began;
          await delay(50);
        }
        return Number.NaN;
      });
      const back = replicasOf(service).find((r) => r.id === victim.id)!;
      assert.notEqual(back.pid, victim.pid, `${victim.id} runs as a new process`);
      assert.equal(back.restarts, victim.restarts + 1, `${victim.id} was restarted once`);
      assert.ok(backAtMs < seconds * 1000, `${victim.id} was back ${(backAtMs / 1000).toFixed(1)} s into ${seconds} s of load`);
      assertEveryRequestServed(load, `(idempotent) after killing ${victim.id}`);
      assert.deepEqual(orders.anomalies, []);
      assert.equal(orders.abandoned, 0);
      assert.equal(orders.acknowledged.size, orders.scheduled);
      rows.push({
        scenario: `SIGKILL one replica: ${service}`,
        load: `40 req/s mixed + 8 orders/s for ${seconds} s`,
        sent,
        failed: `${load.scheduled - load.completed} (order attempts retried with their key: ${orders.retries}; back after ${((backAtMs - 2_000) / 1000).toFixed(1)} s)`,
        acknowledged: orders.acknowledged.size,
        stored: stored.stored,
        duplicates: stored.duplicates,
      });
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
    const replayed = await replayAcknowledged(base, orders);
    const stored = await checkOrdersStored(databaseUrl, prefix, orders);
    const slowest = Math.max(...orders.failureLatenciesMs, 0);
    assert.equal(whileDown.status, 503, JSON.stringify(whileDown.body));
    assert.equal(whileDown.headers.get('retry-after'), '1', 'the 503 says when to retry');
    assert.ok(answeredInMs < 1_500, `answered after ${answeredInMs.toFixed(0)} ms while the database was down`);
    assert.ok(orders.retries > 0, 'some attempts met the outage');
    // Every failed attempt: 503 with Retry-After (retryable, and the client told when), none another 5xx or cut off.
    assert.deepEqual(Object.keys(orders.failures), ['503 retry-after=1'], `failed attempts: ${JSON.stringify(orders.failures)}`);
    // Quick: within the pool's 1 s connect timeout (postgres-order-store.ts) and slack, not after the request budget.
    assert.ok(slowest < 1_500, `a failed attempt took ${slowest.toFixed(0)} ms`);
    assert.deepEqual(orders.anomalies, []);
    assert.equal(orders.abandoned, 0);
    assert.equal(orders.acknowledged.size, orders.scheduled);
    rows.push({
      scenario: 'PostgreSQL stopped ~3 s and restarted',
      load: '10 orders/s, retried with the same key',
      sent: orders.scheduled + orders.retries + replayed,
      failed: `0 (${orders.retries} attempts answered 503 + Retry-After while down, slowest ${slowest.toFixed(0)} ms, all retried)`,
      acknowledged: orders.acknowledged.size,
      stored: stored.stored,
      duplicates: stored.duplicates,
    });
  });

  it('overload beyond capacity: the edge sheds quickly with 503 + Retry-After, then serves normally', async () => {
    // What fits: the gateway admits GATEWAY_MAX_INFLIGHT (48) at once, so 48 outstanding is its most.
    const recommendations = { baseUrls: [base], scenario: scenarios.recommendations };
    const fits = await runClosedLoop({ ...recommendations, context: { runId: 'overload-fits' }, concurrency: 48, durationSec: 3 });
    assert.deepEqual(fits.errors, {}, 'the capacity run fails nothing');
    const shed = { count: 0, withRetryAfter: 0, latenciesMs: [] as number[] };
    const load = await runOpenLoop({
      ...recommendations,
      context: { runId: 'overload' },
      rate: 400,
      durationSec: 4,
      maxInFlight: 2_000,
      onResponse: ({ status, headers, latencyMs }) => {
        if (status !== 503) return;
        shed.count++;
        if (headers['retry-after'] === '1') shed.withRetryAfter++;
        shed.latenciesMs.push(latencyMs);
      },
    });
    const otherErrors = Object.entries(load.errors).filter(([status]) => status !== '503');
    const otherFailed = otherErrors.reduce((sum, [, n]) => sum + n, 0);
    const shedP99 = shed.latenciesMs.sort((a, b) => a - b)[Math.floor(0.99 * (shed.latenciesMs.length - 1))] ?? Number.NaN;
    const servedRate = load.completed / 4;
    assert.ok(shed.count > 0.2 * load.scheduled, `excess was shed: ${shed.count} of ${load.scheduled}`);
    assert.equal(shed.withRetryAfter, shed.count, 'every 503 carries Retry-After: 1');
    assert.equal(load.dropped, 0, 'the driver sent every arrival');
    assert.deepEqual(otherErrors, [], 'nothing but 503 (shed) failed');
    assert.ok(shedP99 < 500, `shed quickly: p99 of the 503s ${shedP99.toFixed(0)} ms`);
    // What is admitted waits its turn behind at most 48 others: about 48 / capacity (Little's law), 0.68 s at the
    // 71 req/s measured here. Without the bound the queue would grow by 300 requests a second and so would the wait.
    const admittedWaitMs = (48 / fits.achievedRate) * 1000;
    assert.ok(
      load.latencyMs.p99 < 2 * admittedWaitMs + 250,
      `p99 of every answer ${load.latencyMs.p99.toFixed(0)} ms against ${admittedWaitMs.toFixed(0)} ms for 48 admitted at capacity: the edge did not collapse`,
    );
    assert.ok(
      servedRate > 0.5 * fits.achievedRate,
      `what fits was served: ${servedRate.toFixed(0)} req/s under overload against ${fits.achievedRate.toFixed(0)} req/s at 48 outstanding`,
    );
    await delay(1_000);
    for (let i = 0; i < 20; i++)
      assert.equal((await call(base, `/api/products/p-00020${i % 10}`)).status, 200, 'serves normally once the load drops');
    rows.push({
      scenario: 'overload: recommendations far beyond capacity',
      load: '400 req/s for 4 s',
      sent: load.sent,
      failed: `${otherFailed} (${shed.count} shed with 503 + Retry-After, p99 ${shedP99.toFixed(0)} ms; ${load.completed} served, ${servedRate.toFixed(0)} req/s against ${fits.achievedRate.toFixed(0)} req/s at capacity; p99 of all ${load.latencyMs.p99.toFixed(0)} ms)`,
      ...NO_ORDERS,
    });
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
        while (queue.length > 0 && queue[0]!.at <= performance.now()) to.write(queue.shift()!.chunk);
        if (queue.length > 0) timer = setTimeout(pump, queue[0]!.at - performance.now());
      };
      from.on('data', (chunk: Buffer) => {
        queue.push({ at: performance.now() + delayMs, chunk });
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

    // The gateway's calls to catalog that are outstanding (started − handled, from its own metrics), sampled every 50 ms:
    // the upstream work a request budget must bound. Without a deadline on the call they would pile up for 1.5 s each.
    const outstanding = async () => {
      const text = await fetch(`${gateway}/metrics`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.text());
      const match = { grpc_service: 'CatalogService' };
      return sumSamples(text, 'grpc_client_started_total', match) - sumSamples(text, 'grpc_client_handled_total', match);
    };
    assert.equal(await outstanding(), 0, 'nothing outstanding before the fault');
    proxy.setDelay(1_500);
    let maxUpstream = 0;
    let samples = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxUpstream = Math.max(maxUpstream, await outstanding());
        samples++;
        await delay(50);
      }
    })();
    const productLoad = (runId: string, durationSec: number) =>
      runOpenLoop({ baseUrls: [gateway], scenario: scenarios.product, context: { runId }, rate: 30, durationSec });
    const slow = await productLoad('slow', 4);
    sampling = false;
    await sampler;
    const afterSlow = await outstanding();
    assert.equal(slow.errors['504'], slow.scheduled, `every scheduled request answered 504: ${JSON.stringify(slow.errors)}`);
    // p99 holds the budget; the max only loosely (one GC pause or CFS stall on a shared two-core host is not the code).
    assert.ok(slow.latencyMs.p99 < 600, `answered within the 400 ms budget (+ slack): p99 ${slow.latencyMs.p99.toFixed(0)} ms`);
    assert.ok(slow.latencyMs.max < 2_000, `and none near the leaf's 1.5 s: max ${slow.latencyMs.max.toFixed(0)} ms`);
    assert.ok(samples >= 40, `upstream sampled ${samples} times`);
    assert.ok(maxUpstream > 0, 'the sampler saw the calls to catalog (else the bound below says nothing)');
    assert.ok(
      maxUpstream <= 20,
      `calls outstanding at catalog stayed bounded by rate × budget (30/s × 0.4 s = 12): at most ${maxUpstream}`,
    );
    assert.equal(afterSlow, 0, 'and none is left once the requests were answered');

    proxy.setDelay(0);
    // Bytes sent during the slow phase are still held back up to 1.5 s (in order): recovery starts after them.
    await delay(2_000);
    const recovered = await productLoad('recovered', 2);
    assertEveryRequestServed(recovered, 'once the leaf is fast again');
    proxy.server.close();
    rows.push({
      scenario: 'slow leaf: +1.5 s on the gateway → catalog link (budget 400 ms)',
      load: '30 req/s',
      sent: slow.sent,
      failed: `${slow.scheduled - (slow.errors['504'] ?? 0)} (${slow.errors['504'] ?? 0} answered 504, p99 ${slow.latencyMs.p99.toFixed(0)} ms, max ${slow.latencyMs.max.toFixed(0)} ms; at most ${maxUpstream} calls outstanding at catalog; then recovered)`,
      ...NO_ORDERS,
    });
  });
});
