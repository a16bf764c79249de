import assert from 'node:assert/strict';
import { createServer, connect, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { CatalogServiceClient } from '@strata/contracts/catalog/v1';
import { grpcServiceEnv, loadConfig } from './config.js';
import { createGrpcClient } from './grpc-client.js';
import { grpcModule } from './grpc-module.js';
import { startGrpcService, type RunningGrpcService } from './grpc-server.js';
import { serviceDefinition } from './protos.js';

const CATALOG = 'strata.catalog.v1.CatalogService';

const EchoModule = grpcModule({
  [CATALOG]: {
    getProduct: ({ id }: { id: string }) => ({
      product: { id, name: '', description: '', category: '', price: undefined, tags: [], attributes: {} },
    }),
  },
});

/** A TCP relay in front of the server that counts the connections clients open. */
function countingRelay(targetPort: number): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    const upstream = connect(targetPort, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as { port: number }).port, connections: () => connections }),
    ),
  );
}

describe('the client fast path', () => {
  let service: RunningGrpcService;
  let relay: Awaited<ReturnType<typeof countingRelay>>;

  before(async () => {
    service = await startGrpcService({
      name: 'echo',
      services: [CATALOG],
      config: loadConfig(grpcServiceEnv, { GRPC_PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'silent' }),
      module: EchoModule,
    });
    relay = await countingRelay(service.port);
  });
  after(async () => {
    relay.server.close();
    await service.stop();
  });

  it('keeps one connection per target for all its calls, concurrent or not', async () => {
    const client = createGrpcClient<CatalogServiceClient>(CATALOG, { target: `ipv4:127.0.0.1:${relay.port}`, timeoutMs: 2_000 });
    for (let i = 0; i < 50; i++) await client.getProduct({ id: `p-${i}` });
    await Promise.all(Array.from({ length: 200 }, (_, i) => client.getProduct({ id: `p-${i}` })));
    client.close();
    assert.equal(relay.connections(), 1);
  });

  it('serialises each request once and deserialises each response once', async () => {
    const method = serviceDefinition(CATALOG).GetProduct!;
    const counts = { serialize: 0, deserialize: 0 };
    const { requestSerialize, responseDeserialize } = method;
    method.requestSerialize = (value) => (counts.serialize++, requestSerialize(value));
    method.responseDeserialize = (bytes) => (counts.deserialize++, responseDeserialize(bytes));
    try {
      const client = createGrpcClient<CatalogServiceClient>(CATALOG, { target: `ipv4:127.0.0.1:${relay.port}`, timeoutMs: 2_000 });
      await Promise.all(Array.from({ length: 40 }, (_, i) => client.getProduct({ id: `p-${i}` })));
      client.close();
    } finally {
      method.requestSerialize = requestSerialize;
      method.responseDeserialize = responseDeserialize;
    }
    // The server side of the same process decodes the 40 requests and encodes the 40 responses with its own
    // functions; only the client's calls are counted here.
    assert.deepEqual(counts, { serialize: 40, deserialize: 40 });
  });
});
