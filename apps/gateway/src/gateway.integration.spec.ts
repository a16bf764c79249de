import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Controller, Module } from '@nestjs/common';
import { CatalogServiceControllerMethods, type GetProductRequest } from '@strata/contracts/catalog/v1';
import { freePort, notFound, startStandInService, type RunningGrpcService } from '@strata/service-kit';
import { startGateway, type RunningGateway } from './gateway-app.js';

/** A stand-in catalog over real gRPC: "p-000800" answers after 800 ms, "p-000404" is NOT_FOUND. */
@Controller()
@CatalogServiceControllerMethods()
class StandInCatalog {
  async getProduct({ id }: GetProductRequest) {
    const ms = Number(id.slice(2));
    if (ms === 404) throw notFound(`product '${id}' does not exist`);
    await delay(ms);
    return {
      product: {
        id,
        name: 'x',
        description: '',
        category: 'books',
        price: { currencyCode: 'EUR', minorUnits: 100 },
        tags: [],
        attributes: {},
      },
    };
  }
  batchGetProducts({ ids }: { ids: string[] }) {
    return {
      products: ids.map((id) => ({
        id,
        name: 'x',
        description: '',
        category: 'books',
        price: { currencyCode: 'EUR', minorUnits: 100 },
        tags: [],
        attributes: {},
      })),
      missingIds: [],
    };
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
    const standIn = await startStandInService(['strata.catalog.v1.CatalogService'], StandInModule);
    catalog = standIn;
    const catalogPort = standIn.port;
    const unused = await freePort();
    gateway = await startGateway({
      GATEWAY_PORT: '0',
      LOG_LEVEL: 'silent',
      REQUEST_TIMEOUT_MS: '300',
      CATALOG_TARGET: `ipv4:127.0.0.1:${catalogPort}`,
      // Nothing listens here: calls to pricing fail fast with UNAVAILABLE.
      PRICING_TARGET: `ipv4:127.0.0.1:${unused}`,
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

  it('answers 503 with Retry-After when an upstream is down', async () => {
    const response = await fetch(`${gateway.url}/api/quotes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ lines: [{ productId: 'p-000001', quantity: 1 }] }),
    });
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('retry-after'), '1');
  });

  it('reports not ready while stopping', async () => {
    const stopping = gateway.stop();
    const ready = await fetch(`${gateway.url}/readyz`).catch(() => undefined);
    assert.ok(!ready || ready.status === 503);
    await stopping;
  });
});
