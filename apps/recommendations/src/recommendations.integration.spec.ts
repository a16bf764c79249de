import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { CATALOG_SERVICE_NAME, protobufPackage, type CatalogServiceController, type Product } from '@strata/contracts/catalog/v1';
import type { RecommendationsServiceClient } from '@strata/contracts/recommendations/v1';
import { createGrpcClient, type PromiseClient, type RunningGrpcService } from '@strata/service-kit';
import { freePort, startStandInService } from '@strata/dev-kit';
import { notFound } from '@strata/domain-errors';
import { RECOMMENDATIONS_SERVICE, startRecommendations } from './recommendations-service.js';

const colors = ['red', 'blue', 'green', 'black'];
const products: Product[] = Array.from({ length: 250 }, (_, i) => ({
  id: `p-${String(i + 1).padStart(6, '0')}`,
  name: `Acme ${colors[i % 4]} kettle`,
  description: '',
  category: 'kitchen',
  price: { currencyCode: 'EUR', minorUnits: 1000 + i },
  tags: [],
  attributes: { brand: i % 2 ? 'Acme' : 'Ember', color: colors[i % 4]! },
}));

let pagesServed = 0;

/** A stand-in catalog over real gRPC, so recommendations is tested alone. */
const standInCatalog: Partial<CatalogServiceController> = {
  getProduct({ id }) {
    const product = products.find((p) => p.id === id);
    if (!product) throw notFound(`product '${id}' does not exist`);
    return { product };
  },
  searchProducts({ pageToken }) {
    pagesServed++;
    const offset = Number(pageToken || 0);
    const next = offset + 100;
    return {
      products: products.slice(offset, next),
      nextPageToken: next < products.length ? String(next) : '',
      totalSize: products.length,
    };
  },
};

describe('recommendations over real gRPC on loopback', () => {
  let catalog: RunningGrpcService;
  let service: RunningGrpcService;
  let client: PromiseClient<RecommendationsServiceClient>;

  before(async () => {
    const standIn = await startStandInService({ [`${protobufPackage}.${CATALOG_SERVICE_NAME}`]: standInCatalog });
    catalog = standIn;
    const catalogPort = standIn.port;
    const port = await freePort();
    service = await startRecommendations({
      GRPC_PORT: String(port),
      METRICS_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
      CATALOG_TARGET: `ipv4:127.0.0.1:${catalogPort}`,
    });
    client = createGrpcClient<RecommendationsServiceClient>(RECOMMENDATIONS_SERVICE, {
      target: `ipv4:127.0.0.1:${port}`,
      timeoutMs: 5_000,
    });
  });
  after(async () => {
    client.close();
    await service.stop();
    await catalog.stop();
  });

  it('ranks candidates fetched over several catalog pages', async () => {
    pagesServed = 0;
    const { recommendations } = await client.getRecommendations({ productId: 'p-000001', limit: 5 });
    assert.equal(pagesServed, 3, 'all 250 candidates are fetched, 100 per page');
    assert.equal(recommendations.length, 5);
    assert.ok(recommendations.every((r) => r.product?.id !== 'p-000001'));
    // p-000001 is an Ember red kettle: the best match shares brand and colour (every 4th product).
    assert.equal(recommendations[0]!.product?.attributes.color, 'red');
  });

  it('passes NOT_FOUND through from catalog and refuses a bad limit', async () => {
    await assert.rejects(
      client.getRecommendations({ productId: 'p-999999', limit: 5 }),
      (e: { code: number }) => e.code === status.NOT_FOUND,
    );
    await assert.rejects(
      client.getRecommendations({ productId: 'p-000001', limit: 500 }),
      (e: { code: number; details: string }) => e.code === status.INVALID_ARGUMENT && /limit/.test(e.details),
    );
  });
});
