import { Module } from '@nestjs/common';
import { CATALOG_SERVICE_NAME, protobufPackage } from '@strata/contracts/catalog/v1';
import { KIT_CONFIG, grpcServiceEnv, loadConfig, ownPorts, startGrpcService, type RunningGrpcService } from '@strata/service-kit';
import { z } from 'zod';
import { CatalogController } from './catalog.controller.js';
import { generateCatalog } from './domain/catalog-data.js';
import { ProductCatalog } from './domain/product-catalog.js';

export const CATALOG_SERVICE = `${protobufPackage}.${CATALOG_SERVICE_NAME}`;

export const catalogEnv = grpcServiceEnv.extend({
  ...ownPorts('catalog'),
  CATALOG_SIZE: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  CATALOG_SEED: z.coerce.number().int().default(42),
});
export type CatalogConfig = z.infer<typeof catalogEnv>;

@Module({
  controllers: [CatalogController],
  providers: [
    {
      provide: ProductCatalog,
      useFactory: (config: CatalogConfig) => new ProductCatalog(generateCatalog(config.CATALOG_SIZE, config.CATALOG_SEED)),
      inject: [KIT_CONFIG],
    },
  ],
})
class CatalogModule {}

/** Starts catalog with `env` (defaults make a local run work). */
export async function startCatalog(env: NodeJS.ProcessEnv = process.env): Promise<RunningGrpcService> {
  const config = loadConfig(catalogEnv, env);
  return startGrpcService({ name: 'catalog', services: [CATALOG_SERVICE], config, module: CatalogModule });
}
