import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import type { CatalogServiceClient, CatalogServiceController, GetProductRequest, GetProductResponse } from '@strata/contracts/catalog/v1';
import { grpcServiceEnv, loadConfig } from './config.js';
import { notFound } from '@strata/domain-errors';
import { checkHealth } from './grpc-health.js';
import { grpcModule } from './grpc-module.js';
import { clientServiceConfig, createGrpcClient, type PromiseClient } from './grpc-client.js';
import { startGrpcService, type RunningGrpcService } from './grpc-server.js';
import { serviceDefinition } from './protos.js';
import { currentRequestContext, runWithRequestContext } from './request-context.js';

const CATALOG = 'strata.catalog.v1.CatalogService';
const seen: { requestId?: string; deadline?: number }[] = [];

/** A stand-in CatalogService whose product id says how long to take: "p-000300" takes 300 ms. */
const slowCatalog: Partial<CatalogServiceController> = {
  async getProduct(request: GetProductRequest): Promise<GetProductResponse> {
    seen.push({ ...currentRequestContext() });
    const ms = Number(request.id.slice(2));
    if (ms === 404) throw notFound(`product '${request.id}' does not exist`);
    if (ms === 500) throw new Error('secret internal detail at 10.0.0.7');
    await delay(ms);
    return {
      product: {
        id: request.id,
        name: 'x',
        description: '',
        category: 'books',
        price: { currencyCode: 'EUR', minorUnits: 2 ** 40 },
        tags: [],
        attributes: {},
      },
    };
  },
};
/** Served through grpcModule: the rpcs slowCatalog lacks answer UNIMPLEMENTED. */
const SlowCatalogModule = grpcModule({ [CATALOG]: slowCatalog });

describe('Strata gRPC plumbing (server bootstrap + client factory) over loopback', () => {
  let service: RunningGrpcService;
  let client: PromiseClient<CatalogServiceClient>;
  let address: string;

  before(async () => {
    const config = loadConfig(grpcServiceEnv, { GRPC_PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'silent', SHUTDOWN_DELAY_MS: '200' });
    service = await startGrpcService({ name: 'slow-catalog', services: [CATALOG], config, module: SlowCatalogModule });
    address = service.address;
    client = createGrpcClient<CatalogServiceClient>(CATALOG, { target: `ipv4:${address}`, timeoutMs: 1_000 });
  });
  after(() => client.close());

  it('carries the request id and the caller deadline to the server, and int64 as a number', async () => {
    const deadline = Date.now() + 800;
    const response = await runWithRequestContext({ requestId: 'req-abc', deadline }, () => client.getProduct({ id: 'p-000001' }));
    assert.equal(response.product?.price?.minorUnits, 2 ** 40);
    const last = seen.at(-1)!;
    assert.equal(last.requestId, 'req-abc');
    assert.ok(last.deadline !== undefined && Math.abs(last.deadline - deadline) < 50, `deadline ${last.deadline} vs ${deadline}`);
  });

  it('fails with DEADLINE_EXCEEDED at the caller deadline instead of waiting', async () => {
    const started = performance.now();
    await assert.rejects(
      runWithRequestContext({ requestId: 'r', deadline: Date.now() + 150 }, () => client.getProduct({ id: 'p-000900' })),
      (e: { code: number }) => e.code === status.DEADLINE_EXCEEDED,
    );
    assert.ok(performance.now() - started < 600);
  });

  it('maps domain errors to their status and hides internal details', async () => {
    await assert.rejects(
      client.getProduct({ id: 'p-000404' }),
      (e: { code: number; details: string }) => e.code === status.NOT_FOUND && /p-000404/.test(e.details),
    );
    await assert.rejects(client.getProduct({ id: 'p-000500' }), (e: { code: number; details: string }) => {
      return e.code === status.INTERNAL && !/10\.0\.0\.7|secret|at /.test(e.details) && /request id/.test(e.details);
    });
  });

  it('an rpc the stand-in object lacks answers UNIMPLEMENTED, naming the rpc', async () => {
    await assert.rejects(
      client.searchProducts({ query: 'x', pageSize: 1, pageToken: '', category: '' }),
      (e: { code: number; details: string }) =>
        e.code === status.UNIMPLEMENTED && e.details.includes('strata.catalog.v1.CatalogService/SearchProducts'),
    );
    assert.throws(() => grpcModule({ [CATALOG]: { getProducts: () => ({}) } }), /CatalogService has no rpc for the handler getProducts/);
  });

  it('retries only methods whose contract says repeating is safe', () => {
    const orders = JSON.parse(clientServiceConfig('strata.orders.v1.OrdersService', serviceDefinition('strata.orders.v1.OrdersService')));
    assert.deepEqual(Object.keys(orders.loadBalancingConfig[0]), ['weighted_round_robin']);
    assert.equal(orders.loadBalancingConfig[0].weighted_round_robin.enable_oob_load_report, true);
    const names = orders.methodConfig[0].name.map((n: { method: string }) => n.method).sort();
    assert.deepEqual(names, ['GetOrder', 'PlaceOrder']);
    assert.deepEqual(orders.methodConfig[0].retryPolicy.retryableStatusCodes, ['UNAVAILABLE']);
    const noRetry = JSON.parse(clientServiceConfig(CATALOG, serviceDefinition(CATALOG), 1));
    assert.deepEqual(noRetry.methodConfig, []);
  });

  it('on stop: readiness NOT_SERVING first, in-flight calls drain, then the port closes', async () => {
    const inFlight = client.getProduct({ id: 'p-000400' });
    await delay(100);
    const stopped = service.stop();
    await delay(50);
    assert.equal(await checkHealth(address), 'NOT_SERVING');
    const response = await inFlight;
    assert.equal(response.product?.id, 'p-000400');
    await stopped;
    await assert.rejects(checkHealth(address, '', 300));
  });
});

describe('server reflection', () => {
  it('serves complete file descriptors: fully qualified type names and the imported files', async () => {
    const service = await startGrpcService({
      name: 'reflected',
      services: [CATALOG],
      config: loadConfig(grpcServiceEnv, { GRPC_PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'silent' }),
      module: SlowCatalogModule,
    });
    const reflectionProto = fileURLToPath(
      new URL('../../../node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto', import.meta.url),
    );
    const loaded = grpc.loadPackageDefinition(
      protoLoader.loadSync(reflectionProto, { keepCase: true, longs: String, enums: String, defaults: true }),
    ) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
    };
    const client = new loaded.grpc.reflection.v1.ServerReflection(service.address, grpc.credentials.createInsecure());
    try {
      const answer = await new Promise<{ file_descriptor_response: { file_descriptor_proto: Buffer[] } }>((resolve, reject) => {
        const stream = client.ServerReflectionInfo();
        stream.on('data', (message: { file_descriptor_response: { file_descriptor_proto: Buffer[] } }) => {
          resolve(message);
          stream.end();
        });
        stream.on('error', reject);
        stream.write({ file_containing_symbol: CATALOG });
      });
      const files = answer.file_descriptor_response.file_descriptor_proto.map(
        (bytes) =>
          descriptor.FileDescriptorProto.decode(bytes) as unknown as {
            name: string;
            dependency: string[];
            messageType: { name: string; field: { name: string; typeName: string }[] }[];
          },
      );
      const catalog = files.find((f) => f.name === 'strata/catalog/v1/catalog.proto')!;
      assert.deepEqual(catalog.dependency, ['strata/common/v1/money.proto']);
      assert.ok(
        files.some((f) => f.name === 'strata/common/v1/money.proto'),
        'the imported file is served with it',
      );
      const price = catalog.messageType.find((m) => m.name === 'Product')!.field.find((f) => f.name === 'price')!;
      assert.equal(price.typeName, '.strata.common.v1.Money');
    } finally {
      client.close();
      await service.stop();
    }
  });
});
