import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import * as catalog from '@strata/contracts/catalog/v1';
import type { OrdersServiceClient } from '@strata/contracts/orders/v1';
import * as pricing from '@strata/contracts/pricing/v1';
import { checkHealth, createGrpcClient, waitForServing, type PromiseClient, type RunningGrpcService } from '@strata/service-kit';
import { freePort, startEmbeddedPostgres, startStandInService } from '@strata/dev-kit';
import { ORDERS_SERVICE, startOrders } from './orders-service.js';

// Stand-ins for catalog and pricing: real gRPC servers with the real contracts, so orders is tested
// alone (an app never imports another app). The system test runs the real ones together.
/** Every product the stand-in catalog knows (p-000000 … p-000099) costs 19.99. */
const BOOK: catalog.Product = {
  id: '',
  name: '',
  description: '',
  category: 'books',
  price: { currencyCode: 'EUR', minorUnits: 1999 },
  tags: [],
  attributes: {},
};
const standInCatalog: Partial<catalog.CatalogServiceController> = {
  batchGetProducts({ ids }) {
    const known = ids.filter((id) => /^p-0000\d\d$/.test(id));
    return { products: known.map((id) => ({ ...BOOK, id, name: `Product ${id}` })), missingIds: ids.filter((id) => !known.includes(id)) };
  },
};
/**
 * Pricing over real gRPC, taxing every line at 19 %: the stored total (2 × 19.99 + 7.60 tax = 47.58) is then what
 * pricing answered over the wire, not a sum orders could have made itself.
 */
const standInPricing: pricing.PricingServiceController = {
  quote({ lines }) {
    const eur = (minorUnits: number) => ({ currencyCode: 'EUR', minorUnits });
    const priced = lines.map(({ productId, quantity, unitPrice }) => {
      const net = unitPrice!.minorUnits * quantity;
      return { productId, quantity, unitPrice, lineTotal: eur(net), discount: eur(0), tax: eur(Math.round(net * 0.19)) };
    });
    const net = priced.reduce((a, l) => a + l.lineTotal.minorUnits, 0);
    const tax = priced.reduce((a, l) => a + l.tax.minorUnits, 0);
    return {
      lines: priced,
      subtotal: eur(net),
      discount: eur(0),
      tax: eur(tax),
      total: eur(net + tax),
      appliedPromotions: [],
      taxRateBasisPoints: 1900,
    };
  },
};

/** The test database: STRATA_TEST_DATABASE_URL (CI: Debian's PostgreSQL) or an embedded PGlite server. */
async function testDatabase(): Promise<{ url: string; stop: () => void }> {
  if (process.env.STRATA_TEST_DATABASE_URL) return { url: process.env.STRATA_TEST_DATABASE_URL, stop: () => undefined };
  return startEmbeddedPostgres(await freePort());
}

describe('orders over real gRPC on loopback, with a real PostgreSQL', () => {
  let standIns: RunningGrpcService;
  let orders: RunningGrpcService & { store: { countByKey(key: string): Promise<number> } };
  let client: PromiseClient<OrdersServiceClient>;
  let database: { url: string; stop: () => void };
  const runKey = Date.now().toString(36);

  before(async () => {
    database = await testDatabase();
    const started = await startStandInService({
      [`${catalog.protobufPackage}.${catalog.CATALOG_SERVICE_NAME}`]: standInCatalog,
      [`${pricing.protobufPackage}.${pricing.PRICING_SERVICE_NAME}`]: standInPricing,
    });
    standIns = started;
    const standInPort = started.port;
    const ordersPort = await freePort();
    const target = `ipv4:127.0.0.1:${standInPort}`;
    const env = {
      GRPC_PORT: String(ordersPort),
      METRICS_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
      DATABASE_URL: database.url,
      CATALOG_TARGET: target,
      PRICING_TARGET: target,
    };
    // Two replicas starting at once share one database: migrations must not collide (both become ready).
    const secondPort = await freePort();
    const [first, second] = await Promise.all([
      startOrders(env),
      startOrders({ ...env, GRPC_PORT: String(secondPort), METRICS_PORT: String(await freePort()) }),
    ]);
    await waitForServing(`127.0.0.1:${ordersPort}`, 15_000, ORDERS_SERVICE);
    await waitForServing(`127.0.0.1:${secondPort}`, 15_000, ORDERS_SERVICE);
    await second.stop();
    orders = first;
    client = createGrpcClient<OrdersServiceClient>(ORDERS_SERVICE, { target: `ipv4:127.0.0.1:${ordersPort}`, timeoutMs: 5_000 });
  });

  after(async () => {
    client?.close();
    await orders?.stop();
    await standIns?.stop();
    database?.stop();
  });

  const place = (key: string, quantity = 2) =>
    client.placeOrder({
      idempotencyKey: key,
      lines: [{ productId: 'p-000007', quantity }],
      currencyCode: 'EUR',
      promotionCode: '',
      countryCode: 'DE',
      customerEmail: '',
    });

  it('places an order, stores it and reads it back', async () => {
    const { order, replayed } = await place(`k-${runKey}-1`);
    assert.equal(replayed, false);
    assert.equal(order?.subtotal?.minorUnits, 3998);
    assert.equal(order?.tax?.minorUnits, 760);
    assert.equal(order?.total?.minorUnits, 4758, 'the total pricing answered, stored');
    const { order: read } = await client.getOrder({ id: order!.id });
    assert.deepEqual(read, order);
  });

  it('stores exactly one order for 20 concurrent requests with one key', async () => {
    const key = `k-${runKey}-2`;
    const results = await Promise.all(Array.from({ length: 20 }, () => place(key)));
    assert.equal(new Set(results.map((r) => r.order?.id)).size, 1);
    assert.equal(results.filter((r) => !r.replayed).length, 1);
    assert.equal(await orders.store.countByKey(key), 1);
  });

  it('refuses a reused key with another body (FAILED_PRECONDITION) and an unknown product (INVALID_ARGUMENT)', async () => {
    const key = `k-${runKey}-3`;
    await place(key, 1);
    await assert.rejects(
      place(key, 5),
      (e: { code: number; details: string }) => e.code === status.FAILED_PRECONDITION && /already used/.test(e.details),
    );
    await assert.rejects(
      client.placeOrder({
        idempotencyKey: `k-${runKey}-4`,
        lines: [{ productId: 'p-999999', quantity: 1 }],
        currencyCode: '',
        promotionCode: '',
        countryCode: '',
        customerEmail: '',
      }),
      (e: { code: number; details: string }) =>
        e.code === status.INVALID_ARGUMENT && /lines\[0\].productId: unknown product 'p-999999'/.test(e.details),
    );
    assert.equal(await orders.store.countByKey(`k-${runKey}-4`), 0);
  });

  it('answers NOT_FOUND for an order that does not exist', async () => {
    await assert.rejects(
      client.getOrder({ id: 'o-00000000-0000-4000-8000-000000000000' }),
      (e: { code: number }) => e.code === status.NOT_FOUND,
    );
  });
});

describe('orders started before its database answers (a first deploy: PostgreSQL comes up after orders)', () => {
  it('is alive at once, not ready and answering UNAVAILABLE, then ready when the database comes, in the same process', async () => {
    const dbPort = await freePort();
    const port = await freePort();
    const orders = await startOrders({
      GRPC_PORT: String(port),
      METRICS_PORT: String(await freePort()),
      LOG_LEVEL: 'silent',
      DATABASE_URL: `postgres://postgres:postgres@127.0.0.1:${dbPort}/postgres`,
      CATALOG_TARGET: 'ipv4:127.0.0.1:1',
      PRICING_TARGET: 'ipv4:127.0.0.1:1',
    });
    const address = `127.0.0.1:${port}`;
    const client = createGrpcClient<OrdersServiceClient>(ORDERS_SERVICE, { target: `ipv4:${address}`, timeoutMs: 3_000 });
    let database: { stop: () => void } | undefined;
    try {
      assert.equal(await checkHealth(address, ''), 'SERVING', 'alive: a startup or liveness probe passes, nothing restarts it');
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(await checkHealth(address, ORDERS_SERVICE), 'NOT_SERVING', 'not ready while the database is away');
      await assert.rejects(
        client.getOrder({ id: 'o-00000000-0000-4000-8000-000000000000' }),
        (e: { code: number; details: string }) => e.code === status.UNAVAILABLE && /orders database not reached yet/.test(e.details),
      );
      database = await startEmbeddedPostgres(dbPort);
      await waitForServing(address, 15_000, ORDERS_SERVICE);
      await assert.rejects(
        client.getOrder({ id: 'o-00000000-0000-4000-8000-000000000000' }),
        (e: { code: number }) => e.code === status.NOT_FOUND,
        'served from the database now',
      );
    } finally {
      client.close();
      await orders.stop();
      database?.stop();
    }
  });

  it('refuses to start inside a Kubernetes pod without DATABASE_URL and the targets, naming each (no localhost defaults there)', async () => {
    await assert.rejects(
      startOrders({ KUBERNETES_SERVICE_HOST: '10.96.0.1', GRPC_PORT: '0', METRICS_PORT: '0', CATALOG_TARGET: 'dns:///catalog:50051' }),
      (e: Error) =>
        /DATABASE_URL: not set, and inside a Kubernetes pod it has no default/.test(e.message) &&
        /PRICING_TARGET: not set/.test(e.message) &&
        !/CATALOG_TARGET/.test(e.message),
    );
  });
});
