import { Module, type DynamicModule } from '@nestjs/common';
import { grpcServiceEnv, loadConfig, startGrpcService, type RunningGrpcService } from '@strata/service-kit';
import { z } from 'zod';
import { CatalogController } from './catalog.controller.js';
import { generateCatalog } from './domain/catalog-data.js';
import { ProductCatalog } from './domain/product-catalog.js';

export const CATALOG_SERVICE = 'strata.catalog.v1.CatalogService';

export const catalogEnv = grpcServiceEnv.extend({
  GRPC_PORT: grpcServiceEnv.shape.GRPC_PORT.default(50061),
  METRICS_PORT: grpcServiceEnv.shape.METRICS_PORT.default(9461),
  CATALOG_SIZE: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  CATALOG_SEED: z.coerce.number().int().default(42),
});
export type CatalogConfig = z.infer<typeof catalogEnv>;

@Module({})
class CatalogModule {
  static forRoot(catalog: ProductCatalog): DynamicModule {
    return { module: CatalogModule, controllers: [CatalogController], providers: [{ provide: ProductCatalog, useValue: catalog }] };
  }
}

/** Starts catalog with `env` (defaults make a local run work). */
export async function startCatalog(env: NodeJS.ProcessEnv = process.env): Promise<RunningGrpcService> {
  const config = loadConfig(catalogEnv, env);
  const catalog = new ProductCatalog(generateCatalog(config.CATALOG_SIZE, config.CATALOG_SEED));
  return startGrpcService({ name: 'catalog', services: [CATALOG_SERVICE], config, module: () => CatalogModule.forRoot(catalog) });
}
