import * as grpc from '@grpc/grpc-js';
import Fastify from 'fastify';
import { z } from 'zod';
import { Controller, Get, Inject, Module, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Payload, Transport, type MicroserviceOptions } from '@nestjs/microservices';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import {
  CatalogServiceControllerMethods,
  type CatalogServiceClient,
  type GetProductRequest,
  type GetProductResponse,
} from '@strata/contracts/catalog/v1';
import {
  KIT_METRICS,
  createGrpcClient,
  grpcModule,
  type PromiseClient,
  type ServiceMetrics,
  grpcServiceEnv,
  loadConfig,
  loadStrataProtos,
  serviceDefinition,
  startGrpcService,
} from '@strata/service-kit';

/** The one response every variant returns: a realistic catalog product. */
export const PRODUCT: GetProductResponse = {
  product: {
    id: 'p-000042',
    name: 'Fjord modern red helmet',
    description: 'A sporty wool helmet by Fjord, in red.',
    category: 'sports',
    price: { currencyCode: 'EUR', minorUnits: 3299 },
    tags: ['limited', 'new'],
    attributes: { brand: 'Fjord', color: 'red', material: 'wool', size: 'XS', style: 'sporty' },
  },
};
export const CATALOG = 'strata.catalog.v1.CatalogService';
const GET_PRODUCT = `/${CATALOG}/GetProduct`;
const ROUND_ROBIN = JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] });

/** Same handler in a Nest controller (used by the stock Nest and the Strata variants). */
@Controller()
@CatalogServiceControllerMethods()
class ConstantCatalog {
  getProduct(@Payload() _request: GetProductRequest): GetProductResponse {
    return PRODUCT;
  }
  batchGetProducts(): never {
    throw new Error('unused');
  }
  searchProducts(): never {
    throw new Error('unused');
  }
}
@Module({ controllers: [ConstantCatalog] })
class ConstantCatalogModule {}

/** Bare @grpc/grpc-js: the floor every variant is compared with. */
async function bareServer(port: number, handler: grpc.handleUnaryCall<GetProductRequest, GetProductResponse>): Promise<void> {
  const server = new grpc.Server();
  const definition = serviceDefinition(CATALOG);
  server.addService(definition, {
    GetProduct: handler,
    BatchGetProducts: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.UNIMPLEMENTED }),
    SearchProducts: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.UNIMPLEMENTED }),
  });
  await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
}

/** Starts one server variant in this process. */
export async function startVariant(variant: string, port: number, backendPort?: number): Promise<void> {
  const config = () => loadConfig(grpcServiceEnv, { GRPC_PORT: String(port), METRICS_PORT: '0', LOG_LEVEL: 'info' });
  switch (variant) {
    case 'bare':
      return bareServer(port, (_call, callback) => callback(null, PRODUCT));
    case 'nest': {
      const app = await NestFactory.createMicroservice<MicroserviceOptions>(ConstantCatalogModule, {
        transport: Transport.GRPC,
        logger: false,
        options: { url: `127.0.0.1:${port}`, package: 'strata.catalog.v1', packageDefinition: loadStrataProtos() },
      });
      await app.listen();
      return;
    }
    case 'strata':
      await startGrpcService({ name: 'bench', services: [CATALOG], config: config(), module: ConstantCatalogModule });
      return;
    case 'pg-query': {
      // A Strata service whose handler reads PostgreSQL once per call (the shape of orders' reads), to price the pg
      // instrumentation per query. pg is imported here, after the tracing preload has hooked it, as orders imports it.
      const { default: pg } = await import('pg');
      const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 8 });
      pool.on('error', () => undefined); // the bench stops the database before it stops its subjects
      const module = grpcModule({
        [CATALOG]: {
          async getProduct(request: GetProductRequest): Promise<GetProductResponse> {
            await pool.query('SELECT $1::text AS id', [request.id]);
            return PRODUCT;
          },
        },
      });
      await startGrpcService({ name: 'bench-pg', services: [CATALOG], config: config(), module });
      return;
    }
    case 'hop-strata': {
      // A Strata service whose handler forwards through Strata's client plumbing, made as services make it.
      const BACKEND = Symbol('backend');
      @Controller()
      @CatalogServiceControllerMethods()
      class ForwardingCatalog {
        constructor(@Inject(BACKEND) private readonly backend: PromiseClient<CatalogServiceClient>) {}
        getProduct(@Payload() request: GetProductRequest): Promise<GetProductResponse> {
          return this.backend.getProduct(request);
        }
        batchGetProducts(): never {
          throw new Error('unused');
        }
        searchProducts(): never {
          throw new Error('unused');
        }
      }
      @Module({
        controllers: [ForwardingCatalog],
        providers: [
          {
            provide: BACKEND,
            useFactory: (metrics: ServiceMetrics) =>
              createGrpcClient<CatalogServiceClient>(CATALOG, {
                target: `ipv4:127.0.0.1:${backendPort}`,
                timeoutMs: 5_000,
                metrics,
                maxAttempts: Number(process.env.BENCH_MAX_ATTEMPTS ?? 3),
              }),
            inject: [KIT_METRICS],
          },
        ],
      })
      class ForwardingModule {}
      await startGrpcService({
        name: 'bench-front',
        services: [CATALOG],
        config: config(),
        module: ForwardingModule,
      });
      return;
    }
    case 'hop-bare': {
      // The same forwarding with nothing but grpc-js on both sides, making the same call Strata's client makes on the
      // wire: round_robin over the target, a deadline, the caller's request id as metadata.
      const definition = serviceDefinition(CATALOG).GetProduct!;
      const client = new grpc.Client(`ipv4:127.0.0.1:${backendPort}`, grpc.credentials.createInsecure(), {
        'grpc.service_config': ROUND_ROBIN,
      });
      return bareServer(port, (call, callback) => {
        const metadata = new grpc.Metadata();
        metadata.set('x-request-id', String(call.metadata.get('x-request-id')[0] ?? 'bench'));
        client.makeUnaryRequest(
          GET_PRODUCT,
          definition.requestSerialize,
          definition.responseDeserialize,
          call.request,
          metadata,
          { deadline: Date.now() + 5_000 },
          (error, response) => (error ? callback(error) : callback(null, response as GetProductResponse)),
        );
      });
    }
    case 'edge-bare': {
      // The edge's floor: Fastify, the gateway's validation of the id, a bare grpc-js client to catalog. No Nest, no
      // request context, metrics, load shedding or error mapping.
      const getProduct = bareEdgeHandler(backendPort!);
      const app = Fastify();
      app.get('/api/products/:id', (request) => getProduct((request.params as { id: string }).id));
      await app.listen({ port, host: '127.0.0.1' });
      return;
    }
    case 'edge-nest': {
      // Stock Nest on its Fastify adapter, doing what the bare edge does: the same route, validation and client. The
      // gap to the bare edge is Nest's HTTP stack; the gap from here to the gateway is Strata's kit.
      const getProduct = bareEdgeHandler(backendPort!);
      @Controller('api')
      class Products {
        @Get('products/:id')
        getProduct(@Param('id') id: string) {
          return getProduct(id);
        }
      }
      @Module({ controllers: [Products] })
      class ProductsModule {}
      const app = await NestFactory.create(ProductsModule, new FastifyAdapter(), { logger: false, bodyParser: false });
      await app.listen(port, '127.0.0.1');
      return;
    }
    default:
      throw new Error(`unknown variant ${variant}`);
  }
}

/** What both bare edges do per request: the gateway's validation of the id (zod), then catalog's GetProduct on a bare grpc-js client. */
function bareEdgeHandler(backendPort: number): (rawId: string) => Promise<unknown> {
  const definition = serviceDefinition(CATALOG).GetProduct!;
  const client = new grpc.Client(`ipv4:127.0.0.1:${backendPort}`, grpc.credentials.createInsecure(), {
    'grpc.service_config': ROUND_ROBIN,
  });
  const productId = z.string().regex(/^p-\d{6}$/, 'must be a product id such as "p-000042"');
  return (rawId) => {
    const id = productId.parse(rawId);
    return new Promise((resolve, reject) =>
      client.makeUnaryRequest(
        GET_PRODUCT,
        definition.requestSerialize,
        definition.responseDeserialize,
        { id },
        new grpc.Metadata(),
        { deadline: Date.now() + 5_000 },
        (error, response) => (error ? reject(error) : resolve((response as GetProductResponse).product)),
      ),
    );
  };
}
