import { Module, type DynamicModule } from '@nestjs/common';
import { CATALOG_SERVICE_NAME, protobufPackage as catalogPackage, type CatalogServiceClient } from '@strata/contracts/catalog/v1';
import { ORDERS_SERVICE_NAME, protobufPackage } from '@strata/contracts/orders/v1';
import { PRICING_SERVICE_NAME, protobufPackage as pricingPackage, type PricingServiceClient } from '@strata/contracts/pricing/v1';
import {
  KIT_UPSTREAMS,
  grpcServiceEnv,
  loadConfig,
  localDefault,
  ownPorts,
  startGrpcService,
  upstream,
  upstreamEnv,
  type RunningGrpcService,
  type UpstreamClients,
} from '@strata/service-kit';
import { z } from 'zod';
import { OrderPlacement } from './domain/order-placement.js';
import { PostgresOrderStore } from './postgres-order-store.js';
import { OrdersController } from './orders.controller.js';

export const ORDERS_SERVICE = `${protobufPackage}.${ORDERS_SERVICE_NAME}`;
const UPSTREAMS = {
  catalog: upstream<CatalogServiceClient>(`${catalogPackage}.${CATALOG_SERVICE_NAME}`),
  pricing: upstream<PricingServiceClient>(`${pricingPackage}.${PRICING_SERVICE_NAME}`),
};

export const ordersEnv = grpcServiceEnv.extend({
  ...ownPorts('orders'),
  /** The embedded PGlite server that `npm start` runs listens here. */
  DATABASE_URL: localDefault(z.string().url(), 'postgres://postgres:postgres@127.0.0.1:55432/postgres'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(4),
  ...upstreamEnv(['catalog', 'pricing']),
});
export type OrdersConfig = z.infer<typeof ordersEnv>;

@Module({})
class OrdersModule {
  /** The store is made before Nest starts (readiness waits on its migrations); the placement is built from it. */
  static forRoot(store: PostgresOrderStore): DynamicModule {
    return {
      module: OrdersModule,
      controllers: [OrdersController],
      providers: [
        { provide: PostgresOrderStore, useValue: store },
        {
          provide: OrderPlacement,
          useFactory: (upstreams: UpstreamClients<typeof UPSTREAMS>, orders: PostgresOrderStore) =>
            new OrderPlacement(upstreams.catalog, upstreams.pricing, orders),
          inject: [KIT_UPSTREAMS, PostgresOrderStore],
        },
      ],
    };
  }
}

/** Starts orders: dials catalog and pricing, serves; ready once its database is migrated; the pool closes after the drain. */
export async function startOrders(
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningGrpcService<typeof UPSTREAMS> & { store: PostgresOrderStore }> {
  const config = loadConfig(ordersEnv, env);
  const store = PostgresOrderStore.create(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
  try {
    const service = await startGrpcService({
      name: 'orders',
      services: [ORDERS_SERVICE],
      config,
      upstreams: UPSTREAMS,
      module: OrdersModule.forRoot(store),
      afterDrain: [() => store.close()],
      // Alive at once, ready once the database answers and the schema is current: no restart loop on a first deploy.
      readiness: (signal, logger) =>
        store.waitUntilMigrated(signal, (error, waitMs) =>
          logger.warn({ err: error.message, retryInMs: waitMs }, 'orders database not reachable yet; retrying'),
        ),
    });
    return { ...service, store };
  } catch (error) {
    await store.close();
    throw error;
  }
}
