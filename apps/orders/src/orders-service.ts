import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { CatalogServiceClient } from '@strata/contracts/catalog/v1';
import type { PricingServiceClient } from '@strata/contracts/pricing/v1';
import { createGrpcClient, grpcServiceEnv, loadConfig, millisVar, startGrpcService, type RunningGrpcService } from '@strata/service-kit';
import { z } from 'zod';
import { OrderPlacement } from './order-placement.js';
import { PostgresOrderStore } from './order-store.js';
import { OrdersController } from './orders.controller.js';

export const ORDERS_SERVICE = 'strata.orders.v1.OrdersService';

export const ordersEnv = grpcServiceEnv.extend({
  GRPC_PORT: grpcServiceEnv.shape.GRPC_PORT.default(50063),
  METRICS_PORT: grpcServiceEnv.shape.METRICS_PORT.default(9463),
  /** The embedded PGlite server that `npm start` runs listens here. */
  DATABASE_URL: z.string().url().default('postgres://postgres:postgres@127.0.0.1:55432/postgres'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(4),
  CATALOG_TARGET: z.string().default('dns:///127.0.0.1:50061'),
  PRICING_TARGET: z.string().default('dns:///127.0.0.1:50062'),
  UPSTREAM_TIMEOUT_MS: millisVar(2_000),
});
export type OrdersConfig = z.infer<typeof ordersEnv>;

const CLEANUP = Symbol('cleanup');

@Module({})
class OrdersModule implements OnApplicationShutdown {
  constructor(@Inject(CLEANUP) private readonly cleanup: () => Promise<void>) {}

  static forRoot(placement: OrderPlacement, cleanup: () => Promise<void>): DynamicModule {
    return {
      module: OrdersModule,
      controllers: [OrdersController],
      providers: [
        { provide: OrderPlacement, useValue: placement },
        { provide: CLEANUP, useValue: cleanup },
      ],
    };
  }

  /** After the server has drained: close the upstream channels and the database pool. */
  async onApplicationShutdown(): Promise<void> {
    await this.cleanup();
  }
}

/** Starts orders: migrates its database, dials catalog and pricing, serves. */
export async function startOrders(env: NodeJS.ProcessEnv = process.env): Promise<RunningGrpcService & { store: PostgresOrderStore }> {
  const config = loadConfig(ordersEnv, env);
  const store = await PostgresOrderStore.open(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
  let service: RunningGrpcService;
  try {
    service = await startGrpcService({
      name: 'orders',
      services: [ORDERS_SERVICE],
      config,
      module: ({ metrics }) => {
        const catalog = createGrpcClient<CatalogServiceClient>('strata.catalog.v1.CatalogService', {
          target: config.CATALOG_TARGET,
          timeoutMs: config.UPSTREAM_TIMEOUT_MS,
          metrics,
        });
        const pricing = createGrpcClient<PricingServiceClient>('strata.pricing.v1.PricingService', {
          target: config.PRICING_TARGET,
          timeoutMs: config.UPSTREAM_TIMEOUT_MS,
          metrics,
        });
        const cleanup = async () => {
          catalog.close();
          pricing.close();
          await store.close();
        };
        return OrdersModule.forRoot(new OrderPlacement(catalog, pricing, store), cleanup);
      },
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  return { ...service, store };
}
