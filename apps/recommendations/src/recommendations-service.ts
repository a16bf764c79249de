import { Module, type DynamicModule } from '@nestjs/common';
import type { CatalogServiceClient } from '@strata/contracts/catalog/v1';
import { grpcServiceEnv, loadConfig, startGrpcService, upstream, upstreamEnv, type RunningGrpcService } from '@strata/service-kit';
import { z } from 'zod';
import { Recommender } from './domain/recommender.js';
import { RecommendationsController } from './recommendations.controller.js';

export const RECOMMENDATIONS_SERVICE = 'strata.recommendations.v1.RecommendationsService';
const UPSTREAMS = { catalog: upstream<CatalogServiceClient>('strata.catalog.v1.CatalogService') };

export const recommendationsEnv = grpcServiceEnv.extend({
  GRPC_PORT: grpcServiceEnv.shape.GRPC_PORT.default(50064),
  METRICS_PORT: grpcServiceEnv.shape.METRICS_PORT.default(9464),
  ...upstreamEnv({ catalog: 'dns:///127.0.0.1:50061' }),
  RECOMMENDATIONS_CANDIDATES: z.coerce.number().int().min(1).max(5_000).default(400),
  RECOMMENDATIONS_DIMENSIONS: z.coerce.number().int().min(8).max(4_096).default(256),
});

@Module({})
class RecommendationsModule {
  static forRoot(recommender: Recommender): DynamicModule {
    return {
      module: RecommendationsModule,
      controllers: [RecommendationsController],
      providers: [{ provide: Recommender, useValue: recommender }],
    };
  }
}

/** Starts recommendations: dials catalog, serves. */
export function startRecommendations(env: NodeJS.ProcessEnv = process.env): Promise<RunningGrpcService<typeof UPSTREAMS>> {
  const config = loadConfig(recommendationsEnv, env);
  return startGrpcService({
    name: 'recommendations',
    services: [RECOMMENDATIONS_SERVICE],
    config,
    upstreams: UPSTREAMS,
    module: ({ upstreams }) =>
      RecommendationsModule.forRoot(
        new Recommender(upstreams.catalog, {
          candidates: config.RECOMMENDATIONS_CANDIDATES,
          dimensions: config.RECOMMENDATIONS_DIMENSIONS,
        }),
      ),
  });
}
