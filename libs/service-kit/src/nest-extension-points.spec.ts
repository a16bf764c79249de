import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import {
  Catch,
  Controller,
  Injectable,
  Module,
  UseFilters,
  UseInterceptors,
  type ArgumentsHost,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type NestInterceptor,
  type PipeTransform,
  type RpcExceptionFilter,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Payload, RpcException } from '@nestjs/microservices';
import { map, throwError, type Observable } from 'rxjs';
import {
  CatalogServiceControllerMethods,
  type GetProductRequest,
  type GetProductResponse,
  type SearchProductsRequest,
  type SearchProductsResponse,
} from '@strata/contracts/catalog/v1';
import { grpcServiceEnv, loadConfig } from './config.js';
import { startGrpcService, type RunningGrpcService } from './grpc-server.js';
import { serviceDefinition } from './protos.js';
import { currentRequestContext } from './request-context.js';

const CATALOG = 'strata.catalog.v1.CatalogService';
const ran: string[] = [];

/** A team's guard, global through APP_GUARD: refuses a caller without the team's header. */
@Injectable()
class TeamTokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    ran.push(`guard:${currentRequestContext()?.requestId ?? 'no context'}`);
    return context.switchToRpc().getContext<grpc.Metadata>().get('x-team-token')[0] === 'let-me-in';
  }
}

/** A team's pipe on one parameter: trims and upper-cases the id, refuses an empty one. */
class NormalizeIdPipe implements PipeTransform<GetProductRequest, GetProductRequest> {
  transform(request: GetProductRequest): GetProductRequest {
    ran.push('pipe');
    const id = request.id.trim().toUpperCase();
    if (!id) throw new RpcException({ code: status.INVALID_ARGUMENT, message: 'id: must not be blank (team pipe)' });
    return { ...request, id };
  }
}

/** A team's interceptor: decorates the answer, and sees the kit's request context around the handler. */
@Injectable()
class StampInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<GetProductResponse> {
    ran.push('interceptor');
    return next
      .handle()
      .pipe(map((response: GetProductResponse) => ({ product: { ...response.product!, name: `${response.product!.name} (stamped)` } })));
  }
}

class OutOfStock extends Error {}

/** A team's exception filter for its own error type: NOT_FOUND with its own words, before the kit's mapping. */
@Catch(OutOfStock)
class OutOfStockFilter implements RpcExceptionFilter<OutOfStock> {
  catch(exception: OutOfStock, _host: ArgumentsHost): Observable<never> {
    ran.push('filter');
    return throwError(() => ({ code: status.NOT_FOUND, details: `out of stock: ${exception.message} (team filter)` }));
  }
}

@Controller()
@CatalogServiceControllerMethods()
@UseFilters(OutOfStockFilter)
class TeamCatalog {
  @UseInterceptors(StampInterceptor)
  getProduct(@Payload(new NormalizeIdPipe()) request: GetProductRequest): GetProductResponse {
    ran.push(`handler:${request.id}:${currentRequestContext()?.requestId ?? 'no context'}`);
    if (request.id === 'P-SOLD-OUT') throw new OutOfStock(request.id);
    return {
      product: {
        id: request.id,
        name: 'helmet',
        description: '',
        category: 'sports',
        price: { currencyCode: 'EUR', minorUnits: 1 },
        tags: [],
        attributes: {},
      },
    };
  }
  batchGetProducts(): never {
    throw new Error('unused');
  }
  searchProducts(_request: SearchProductsRequest): SearchProductsResponse {
    ran.push('handler:search');
    return { products: [], nextPageToken: '', totalSize: 0 };
  }
}
@Module({ controllers: [TeamCatalog], providers: [{ provide: APP_GUARD, useClass: TeamTokenGuard }] })
class TeamCatalogModule {}

/** A plain grpc-js call with the metadata a test chooses (the kit's client sets only the request id). */
function call(address: string, method: 'GetProduct' | 'SearchProducts', request: object, metadata: Record<string, string>) {
  const Client = grpc.makeGenericClientConstructor(serviceDefinition(CATALOG), 'CatalogService');
  const client = new Client(address, grpc.credentials.createInsecure()) as unknown as Record<
    string,
    (r: object, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: unknown) => void) => void
  > & { close(): void };
  const md = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata)) md.set(key, value);
  return new Promise<{ error?: grpc.ServiceError; response?: GetProductResponse }>((resolve) =>
    client[method]!(request, md, { deadline: Date.now() + 2_000 }, (error, response) => {
      client.close();
      resolve(error ? { error } : { response: response as GetProductResponse });
    }),
  );
}

describe("a team's guard, pipe, interceptor and exception filter run on a Strata gRPC service (Nest's pipeline)", () => {
  let service: RunningGrpcService;
  const token = { 'x-team-token': 'let-me-in' };

  before(async () => {
    const config = loadConfig(grpcServiceEnv, { GRPC_PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'silent', SHUTDOWN_DELAY_MS: '0' });
    service = await startGrpcService({ name: 'team-catalog', services: [CATALOG], config, module: TeamCatalogModule });
  });
  after(() => service.stop());

  it("runs the guard, the interceptor, the pipe and the handler, in Nest's order, inside the request context", async () => {
    ran.length = 0;
    const { error, response } = await call(
      service.address,
      'GetProduct',
      { id: '  p-000042 ' },
      { ...token, 'x-request-id': 'team-req-1' },
    );
    assert.equal(error, undefined);
    assert.equal(response?.product?.id, 'P-000042', 'the pipe normalized the id');
    assert.equal(response?.product?.name, 'helmet (stamped)', 'the interceptor changed the answer');
    assert.deepEqual(ran, ['guard:team-req-1', 'interceptor', 'pipe', 'handler:P-000042:team-req-1']);
  });

  it("the guard's refusal is PERMISSION_DENIED, and the handler does not run", async () => {
    ran.length = 0;
    const { error } = await call(service.address, 'SearchProducts', { query: 'x' }, { 'x-request-id': 'team-req-3' });
    assert.equal(error?.code, status.PERMISSION_DENIED);
    assert.match(error!.details, /refused by a guard/);
    assert.deepEqual(ran, ['guard:team-req-3']);
  });

  it("the pipe's RpcException reaches the caller as its status and message", async () => {
    ran.length = 0;
    const { error } = await call(service.address, 'GetProduct', { id: '   ' }, token);
    assert.equal(error?.code, status.INVALID_ARGUMENT);
    assert.equal(error?.details, 'id: must not be blank (team pipe)');
    assert.ok(!ran.some((step) => step.startsWith('handler')), `the handler ran: ${ran.join(', ')}`);
  });

  it("the team's filter answers for its own error type, before the kit's mapping (which would say INTERNAL)", async () => {
    ran.length = 0;
    const { error } = await call(service.address, 'GetProduct', { id: 'p-sold-out' }, token);
    assert.equal(error?.code, status.NOT_FOUND);
    assert.equal(error?.details, 'out of stock: P-SOLD-OUT (team filter)');
    assert.equal(ran.at(-1), 'filter');
  });

  it("an error no team filter catches gets the kit's mapping: INTERNAL, with the request id and no internals", async () => {
    const { error } = await call(
      service.address,
      'BatchGetProducts' as 'GetProduct',
      { ids: ['p-1'] },
      { ...token, 'x-request-id': 'team-req-2' },
    );
    assert.equal(error?.code, status.INTERNAL);
    assert.equal(error?.details, 'internal error (request id team-req-2); the service log has the details');
  });
});
