import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { CATALOG_SERVICE_NAME, protobufPackage, type CatalogServiceController } from '@strata/contracts/catalog/v1';
import { notFound, unavailable } from '@strata/domain-errors';
import type { RunningGrpcService } from '@strata/service-kit';
import { freePort, startStandInService } from '@strata/dev-kit';
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
const standInCatalog: Partial<CatalogServiceController> = {
  async getProduct({ id }) {
    const ms = Number(id.slice(2));
    if (ms === 404) throw notFound(`product '${id}' does not exist`);
    if (ms === 503) throw unavailable('the catalog data is reloading');
    await delay(ms);
    return { product: product(id) };
  },
  batchGetProducts: ({ ids }) => ({ products: ids.map(product), missingIds: [] }),
};

describe('gateway over HTTP, with a stand-in catalog over real gRPC', () => {
  let catalog: RunningGrpcService;
  let gateway: RunningGateway;

  before(async () => {
    catalog = await startStandInService({ [`${protobufPackage}.${CATALOG_SERVICE_NAME}`]: standInCatalog });
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
    const started = performance.now();
    const response = await fetch(`${gateway.url}/api/products/p-000800`);
    const elapsed = performance.now() - started;
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

  it('during a stop, leaves an idle keep-alive connection to its client (answered with Connection: close), not cut under it', async () => {
    const edge = await startGateway({
      GATEWAY_PORT: '0',
      LOG_LEVEL: 'silent',
      KEEP_ALIVE_TIMEOUT_MS: '3000',
      CATALOG_TARGET: `ipv4:127.0.0.1:${catalog.port}`,
      PRICING_TARGET: `ipv4:127.0.0.1:${await freePort()}`,
    });
    const socket = connect(Number(new URL(edge.url).port), '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const answer = async (count: number) => {
      for (let i = 0; i < 100 && (received.match(/HTTP\/1\.1 /g) ?? []).length < count; i++) await delay(20);
      return received;
    };
    socket.write('GET /healthz HTTP/1.1\r\nHost: edge\r\n\r\n');
    assert.match(await answer(1), /keep-alive: timeout=3/i, 'clients are told how long an idle connection lives');
    const started = performance.now();
    const stopping = edge.stop();
    await delay(300);
    // The connection is idle: http.Server.close() would have closed it by now, and this request would meet the close.
    socket.write('GET /healthz HTTP/1.1\r\nHost: edge\r\n\r\n');
    const second = (await answer(2)).split(/(?=HTTP\/1\.1 )/)[1] ?? '';
    assert.match(second, /^HTTP\/1\.1 200/, `the request on the idle connection was answered: ${JSON.stringify(received)}`);
    assert.match(second, /connection: close/i);
    await closed;
    await stopping;
    assert.ok(performance.now() - started < 2_500, 'the stop ends once its connections have, not after the whole keep-alive');
  });
});
