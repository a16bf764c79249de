import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { CatalogServiceClient } from '@strata/contracts/catalog/v1';
import {
  createGrpcClient,
  grpcServiceEnv,
  loadConfig,
  millisVar,
  startGrpcService,
  type PromiseClient,
  type RunningGrpcService,
} from '@strata/service-kit';
import { z } from 'zod';
import { RecommendationsController } from './recommendations.controller.js';
import { Recommender } from './recommender.js';

export const RECOMMENDATIONS_SERVICE = 'strata.recommendations.v1.RecommendationsService';
const CATALOG_CLIENT = Symbol('catalog-client');

export const recommendationsEnv = grpcServiceEnv.extend({
  GRPC_PORT: grpcServiceEnv.shape.GRPC_PORT.default(50064),
  METRICS_PORT: grpcServiceEnv.shape.METRICS_PORT.default(9464),
  CATALOG_TARGET: z.string().default('dns:///127.0.0.1:50061'),
  UPSTREAM_TIMEOUT_MS: millisVar(2_000),
  RECOMMENDATIONS_CANDIDATES: z.coerce.number().int().min(1).max(5_000).default(400),
  RECOMMENDATIONS_DIMENSIONS: z.coerce.number().int().min(8).max(4_096).default(256),
});

@Module({})
class RecommendationsModule implements OnApplicationShutdown {
  constructor(@Inject(CATALOG_CLIENT) private readonly catalog: PromiseClient<CatalogServiceClient>) {}

  static forRoot(catalog: PromiseClient<CatalogServiceClient>, recommender: Recommender): DynamicModule {
    return {
      module: RecommendationsModule,
      controllers: [RecommendationsController],
      providers: [
        { provide: Recommender, useValue: recommender },
        { provide: CATALOG_CLIENT, useValue: catalog },
      ],
    };
  }

  onApplicationShutdown(): void {
    this.catalog.close();
  }
}

/** Starts recommendations: dials catalog, serves. */
export async function startRecommendations(env: NodeJS.ProcessEnv = process.env): Promise<RunningGrpcService> {
  const config = loadConfig(recommendationsEnv, env);
  return startGrpcService({
    name: 'recommendations',
    services: [RECOMMENDATIONS_SERVICE],
    config,
    module: ({ metrics }) => {
      const catalog = createGrpcClient<CatalogServiceClient>('strata.catalog.v1.CatalogService', {
        target: config.CATALOG_TARGET,
        timeoutMs: config.UPSTREAM_TIMEOUT_MS,
        metrics,
      });
      const recommender = new Recommender(catalog, {
        candidates: config.RECOMMENDATIONS_CANDIDATES,
        dimensions: config.RECOMMENDATIONS_DIMENSIONS,
      });
      return RecommendationsModule.forRoot(catalog, recommender);
    },
  });
}
