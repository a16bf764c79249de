import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { checkHealth } from '@strata/service-kit';
import type { LocalCluster } from '@strata/local-cluster';
import { call, postJson, startTestCluster, type Json } from './cluster-fixture.js';

/** Every error body names the problem and carries the request id, never a stack trace. */
function assertClearError(response: { status: number; body: Json }, status: number, message: RegExp): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body?.error?.status, status);
  assert.match(response.body.error.message, message);
  assert.ok(response.body.error.requestId);
  assert.doesNotMatch(JSON.stringify(response.body), /\bat \S+\.js|node_modules|127\.0\.0\.1:\d+/);
}

describe('the whole system, booted as `npm start` boots it', () => {
  let cluster: LocalCluster;
  let base: string;

  before(async () => {
    cluster = await startTestCluster();
    base = cluster.gatewayUrl;
  });
  after(async () => {
    await cluster?.stop();
  });

  it('lists, searches and pages products', async () => {
    const first = await call(base, '/api/products?category=books&pageSize=5');
    assert.equal(first.status, 200);
    assert.equal(first.body.products.length, 5);
    assert.ok(first.body.products.every((p: { category: string }) => p.category === 'books'));
    const second = await call(base, `/api/products?category=books&pageSize=5&pageToken=${encodeURIComponent(first.body.nextPageToken)}`);
    assert.equal(second.status, 200);
    assert.ok(second.body.products[0].id > first.body.products[4].id);
    const search = await call(base, '/api/products?query=classic%20kettle&pageSize=100');
    assert.ok(search.body.totalSize > 0, 'the search finds something');
    assert.equal(search.body.products.length, Math.min(100, search.body.totalSize));
    for (const p of search.body.products as { name: string; description: string; tags: string[] }[])
      assert.match(
        `${p.name} ${p.description} ${p.tags.join(' ')}`.toLowerCase(),
        /(?=.*classic)(?=.*kettle)/,
        'every result has both words',
      );
  });

  it('gets a product, its recommendations and a quote', async () => {
    const product = await call(base, '/api/products/p-000042');
    assert.equal(product.status, 200);
    assert.equal(product.body.id, 'p-000042');
    assert.match(product.headers.get('x-request-id') ?? '', /.+/);
    const recs = await call(base, '/api/products/p-000042/recommendations?limit=4');
    assert.equal(recs.status, 200);
    assert.equal(recs.body.recommendations.length, 4);
    assert.ok(recs.body.recommendations.every((r: { product: { category: string } }) => r.product.category === product.body.category));
    const quote = await postJson(base, '/api/quotes', { lines: [{ productId: 'p-000042', quantity: 2 }], currency: 'EUR', country: 'DE' });
    assert.equal(quote.status, 200);
    const subtotal = 2 * product.body.price.minorUnits;
    assert.equal(quote.body.subtotal.minorUnits, subtotal);
    assert.equal(quote.body.total.minorUnits, subtotal + quote.body.tax.minorUnits);
  });

  it('stores one order for one Idempotency-Key, however often it is sent', async () => {
    const key = `sys-${Date.now()}`;
    const order = {
      lines: [
        { productId: 'p-000100', quantity: 1 },
        { productId: 'p-000200', quantity: 3 },
      ],
      country: 'FR',
      customerEmail: 'ada@example.com',
    };
    const first = await postJson(base, '/api/orders', order, { 'idempotency-key': key });
    assert.equal(first.status, 201);
    assert.equal(first.headers.get('idempotent-replayed'), 'false');
    const again = await Promise.all([1, 2, 3].map(() => postJson(base, '/api/orders', order, { 'idempotency-key': key })));
    for (const response of again) {
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('idempotent-replayed'), 'true');
      assert.equal(response.body.id, first.body.id);
    }
    const read = await call(base, `/api/orders/${first.body.id}`);
    assert.deepEqual(read.body, first.body);
    const conflict = await postJson(base, '/api/orders', { ...order, country: 'DE' }, { 'idempotency-key': key });
    assertClearError(conflict, 409, /already used for a different order/);

    const databaseUrl = cluster.plans.find((p) => p.id === 'postgres-1')!.probe as { url: string };
    const client = new pg.Client(databaseUrl.url);
    await client.connect();
    try {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM orders WHERE idempotency_key = $1', [key]);
      assert.equal(rows[0].n, 1);
    } finally {
      await client.end();
    }
  });

  it('answers bad input with a 4xx that says what to fix, and stays up', async () => {
    assertClearError(await postJson(base, '/api/quotes', '{"lines": ['), 400, /not valid JSON/);
    assertClearError(
      await postJson(base, '/api/quotes', { lines: [{ productId: 'p-000001', quantity: 'two' }] }),
      400,
      /lines\[0\]\.quantity/,
    );
    assertClearError(
      await postJson(base, '/api/quotes', { lines: [{ productId: 'p-000001', quantity: 1 }], discount: 100 }),
      400,
      /Unrecognized key: "discount"/,
    );
    assertClearError(
      await postJson(base, '/api/quotes', { lines: [{ productId: 'p-999999', quantity: 1 }] }),
      400,
      /unknown product 'p-999999'/,
    );
    assertClearError(
      await postJson(base, '/api/quotes', { lines: [{ productId: 'p-000001', quantity: 1 }], currency: 'XYZ' }),
      400,
      /unsupported currency 'XYZ'/,
    );
    assertClearError(
      await postJson(base, '/api/quotes', { lines: [{ productId: 'p-000001', quantity: 1 }], pad: 'x'.repeat(200_000) }),
      413,
      /too large/,
    );
    assertClearError(
      await call(base, '/api/quotes', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }),
      415,
      /application\/json/,
    );
    assertClearError(
      await postJson(base, '/api/orders', { lines: [{ productId: 'p-000001', quantity: 1 }] }),
      400,
      /Idempotency-Key: header is required/,
    );
    assertClearError(
      await postJson(base, '/api/orders', { lines: [{ productId: 'p-000001', quantity: 1 }] }, { 'idempotency-key': 'short' }),
      400,
      /Idempotency-Key/,
    );
    assertClearError(await call(base, '/api/products/p-999999'), 404, /p-999999/);
    assertClearError(await call(base, '/api/products/DROP%20TABLE'), 400, /product id/);
    assertClearError(await call(base, '/api/products?pageSize=1000'), 400, /pageSize/);
    assertClearError(await call(base, '/api/orders/o-00000000-0000-4000-8000-000000000000'), 404, /does not exist/);

    for (const replica of cluster.supervisor.status()) {
      assert.equal(replica.state, 'ready', `${replica.id} is ${replica.state}`);
      assert.equal(replica.restarts, 0, `${replica.id} restarted`);
    }
    for (const plan of cluster.plans.filter((p) => p.probe.kind === 'grpc')) {
      assert.equal(await checkHealth(plan.address), 'SERVING', plan.id);
    }
    assert.equal((await call(base, '/readyz')).status, 200);
  });

  it('serves /healthz, /readyz and Prometheus /metrics', async () => {
    assert.equal((await call(base, '/healthz')).status, 200);
    const metrics = await call(base, '/metrics');
    assert.match(metrics.body, /http_requests_total\{[^}]*route="\/api\/products\/:id"/);
    assert.match(metrics.body, /grpc_client_handled_total\{[^}]*grpc_service="CatalogService"/);
  });
});
