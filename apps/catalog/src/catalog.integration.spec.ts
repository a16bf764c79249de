import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { CatalogServiceClient } from '@strata/contracts/catalog/v1';
import { checkHealth, createGrpcClient, type PromiseClient, type RunningGrpcService } from '@strata/service-kit';
import { freePort } from '@strata/dev-kit';
import { CATALOG_SERVICE, startCatalog } from './catalog-service.js';

describe('catalog over real gRPC on loopback', () => {
  let service: RunningGrpcService;
  let client: PromiseClient<CatalogServiceClient>;
  let address: string;

  before(async () => {
    const [grpcPort, metricsPort] = [await freePort(), await freePort()];
    address = `127.0.0.1:${grpcPort}`;
    service = await startCatalog({
      GRPC_PORT: String(grpcPort),
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: 'warn',
      CATALOG_SIZE: '2000',
    });
    client = createGrpcClient<CatalogServiceClient>(CATALOG_SERVICE, { target: `ipv4:${address}`, timeoutMs: 2_000 });
  });

  after(async () => {
    client.close();
    await service.stop();
  });

  it('reports SERVING on grpc.health.v1 for the server and for CatalogService', async () => {
    assert.equal(await checkHealth(address), 'SERVING');
    assert.equal(await checkHealth(address, CATALOG_SERVICE), 'SERVING');
  });

  it('serves GetProduct, BatchGetProducts and SearchProducts with int64 money as numbers', async () => {
    const { product } = await client.getProduct({ id: 'p-000010' });
    assert.equal(product?.id, 'p-000010');
    assert.equal(typeof product?.price?.minorUnits, 'number');
    const batch = await client.batchGetProducts({ ids: ['p-000010', 'p-999999'] });
    assert.deepEqual(batch.missingIds, ['p-999999']);
    const page = await client.searchProducts({ query: '', category: 'books', pageSize: 3, pageToken: '' });
    assert.equal(page.products.length, 3);
    assert.ok(page.nextPageToken);
  });

  it('answers NOT_FOUND and INVALID_ARGUMENT with messages that name the problem', async () => {
    await assert.rejects(client.getProduct({ id: 'p-999999' }), (e: { code: number; details: string }) => {
      return e.code === status.NOT_FOUND && /p-999999/.test(e.details);
    });
    await assert.rejects(
      client.searchProducts({ query: '', category: '', pageSize: 1000, pageToken: '' }),
      (e: { code: number; details: string }) => {
        return e.code === status.INVALID_ARGUMENT && /pageSize/.test(e.details);
      },
    );
  });

  it('counts calls in its Prometheus metrics', async () => {
    const text = await service.metrics.registry.metrics();
    assert.match(text, /grpc_server_handled_total\{[^}]*grpc_method="getProduct"[^}]*grpc_code="OK"[^}]*\} [1-9]/);
    assert.match(text, /grpc_server_handled_total\{[^}]*grpc_code="NOT_FOUND"/);
  });

  it('stops on request and then refuses connections', async () => {
    await service.stop();
    await assert.rejects(checkHealth(address, '', 300));
  });
});
