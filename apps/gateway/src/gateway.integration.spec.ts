import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Controller, Module } from '@nestjs/common';
import { CatalogServiceControllerMethods, type GetProductRequest } from '@strata/contracts/catalog/v1';
import { notFound, unavailable } from '@strata/domain-errors';
import type { RunningGrpcService } from '@strata/service-kit';
import { freePort, startStandInService } from '@strata/test-kit';
import { startGateway, type RunningGateway } from './gateway-app.js';

const product = (id: string) => ({
  id,
  name: 'x',
  description: '',
  category: 'books',
  price: { currencyCode: 'EUR', minorUnits: 100 },
  tags: [],
  attributes: {},
});

/** A stand-in catalog over real gRPC: "p-000800" answers after 800 ms, "p-000404" is NOT_FOUND, "p-000503" UNAVAILABLE. */
@Controller()
@CatalogServiceControllerMethods()
class StandInCatalog {
  async getProduct({ id }: GetProductRequest) {
    const ms = Number(id.slice(2));
    if (ms === 404) throw notFound(`product '${id}' does not exist`);
    if (ms === 503) throw unavailable('the catalog data is reloading');
    await delay(ms);
    return { product: product(id) };
  }
  batchGetProducts({ ids }: { ids: string[] }) {
    return { products: ids.map(product), missingIds: [] };
  }
  searchProducts(): never {
    throw new Error('unused');
  }
}
@Module({ controllers: [StandInCatalog] })
class StandInModule {}

describe('gateway over HTTP, with a stand-in catalog over real gRPC', () => {
  let catalog: RunningGrpcService;
  let gateway: RunningGateway;

  before(async () => {
    catalog = await startStandInService(['strata.catalog.v1.CatalogService'], StandInModule);
    gateway = await startGateway({
      GATEWAY_PORT: '0',
      LOG_LEVEL: 'silent',
      REQUEST_TIMEOUT_MS: '300',
      // Readiness is off this long before the server closes, so the test can see it.
      SHUTDOWN_DELAY_MS: '300',
      CATALOG_TARGET: `ipv4:127.0.0.1:${catalog.port}`,
      // Nothing listens here: calls to pricing fail fast with UNAVAILABLE.
      PRICING_TARGET: `ipv4:127.0.0.1:${await freePort()}`,
    });
  });
  after(async () => {
    await gateway.stop();
    await catalog.stop();
  });

  it('maps NOT_FOUND to 404 and passes the request id through', async () => {
    const response = await fetch(`${gateway.url}/api/products/p-000404`, { headers: { 'x-request-id': 'trace-me-1' } });
    assert.equal(response.status, 404);
    assert.equal(response.headers.get('x-request-id'), 'trace-me-1');
    assert.equal(((await response.json()) as { error: { requestId: string } }).error.requestId, 'trace-me-1');
  });

  it('answers 504 within its deadline budget when a leaf is slow', async () => {
    const started = Date.now();
    const response = await fetch(`${gateway.url}/api/products/p-000800`);
    const elapsed = Date.now() - started;
    assert.equal(response.status, 504);
    assert.ok(elapsed < 700, `answered after ${elapsed} ms; the budget is 300 ms`);
    assert.match(((await response.json()) as { error: { message: string } }).error.message, /did not answer within the request deadline/);
  });

  it('answers 503 with Retry-After when an upstream is down, or says it is unavailable', async () => {
    const response = await fetch(`${gateway.url}/api/quotes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ lines: [{ productId: 'p-000001', quantity: 1 }] }),
    });
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('retry-after'), '1');
    // A domain error of kind unavailable goes through the one mapping: 503, not 409.
    const reloading = await fetch(`${gateway.url}/api/products/p-000503`);
    assert.equal(reloading.status, 503);
    assert.match(((await reloading.json()) as { error: { message: string } }).error.message, /reloading/);
  });

  it('answers a wrong method on a known path with 405 and the methods it has', async () => {
    const response = await fetch(`${gateway.url}/api/quotes`);
    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'POST');
    const body = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'method_not_allowed');
    assert.match(body.error.message, /GET is not allowed on \/api\/quotes; use POST/);
    const deleted = await fetch(`${gateway.url}/api/products/p-000001`, { method: 'DELETE' });
    assert.equal(deleted.status, 405);
    assert.equal(deleted.headers.get('allow'), 'GET, HEAD');
    assert.equal((await fetch(`${gateway.url}/api/nothing-here`)).status, 404);
  });

  it('reports not ready while stopping, still answers what is in flight, then closes', async () => {
    assert.equal((await fetch(`${gateway.url}/readyz`)).status, 200);
    const inFlight = fetch(`${gateway.url}/api/products/p-000200`);
    await delay(20);
    const stopping = gateway.stop();
    assert.equal((await fetch(`${gateway.url}/readyz`)).status, 503);
    assert.equal((await inFlight).status, 200);
    await stopping;
    await assert.rejects(fetch(`${gateway.url}/readyz`));
  });
});
