import { Module } from '@nestjs/common';
import { CATALOG_SERVICE_NAME, protobufPackage as catalogPackage, type CatalogServiceClient } from '@strata/contracts/catalog/v1';
import { RECOMMENDATIONS_SERVICE_NAME, protobufPackage } from '@strata/contracts/recommendations/v1';
import {
  KIT_CONFIG,
  KIT_UPSTREAMS,
  grpcServiceEnv,
  loadConfig,
  ownPorts,
  startGrpcService,
  upstream,
  upstreamEnv,
  type RunningGrpcService,
  type UpstreamClients,
} from '@strata/service-kit';
import { z } from 'zod';
import { Recommender } from './domain/recommender.js';
import { RecommendationsController } from './recommendations.controller.js';

export const RECOMMENDATIONS_SERVICE = `${protobufPackage}.${RECOMMENDATIONS_SERVICE_NAME}`;
const UPSTREAMS = { catalog: upstream<CatalogServiceClient>(`${catalogPackage}.${CATALOG_SERVICE_NAME}`) };

export const recommendationsEnv = grpcServiceEnv.extend({
  ...ownPorts('recommendations'),
  ...upstreamEnv(['catalog']),
  RECOMMENDATIONS_CANDIDATES: z.coerce.number().int().min(1).max(5_000).default(400),
  RECOMMENDATIONS_DIMENSIONS: z.coerce.number().int().min(8).max(4_096).default(256),
});

export type RecommendationsConfig = z.infer<typeof recommendationsEnv>;

@Module({
  controllers: [RecommendationsController],
  providers: [
    {
      provide: Recommender,
      useFactory: (upstreams: UpstreamClients<typeof UPSTREAMS>, config: RecommendationsConfig) =>
        new Recommender(upstreams.catalog, {
          candidates: config.RECOMMENDATIONS_CANDIDATES,
          dimensions: config.RECOMMENDATIONS_DIMENSIONS,
        }),
      inject: [KIT_UPSTREAMS, KIT_CONFIG],
    },
  ],
})
class RecommendationsModule {}

/** Starts recommendations: dials catalog, serves. */
export function startRecommendations(env: NodeJS.ProcessEnv = process.env): Promise<RunningGrpcService<typeof UPSTREAMS>> {
  const config = loadConfig(recommendationsEnv, env);
  return startGrpcService({
    name: 'recommendations',
    services: [RECOMMENDATIONS_SERVICE],
    config,
    upstreams: UPSTREAMS,
    module: RecommendationsModule,
  });
}
