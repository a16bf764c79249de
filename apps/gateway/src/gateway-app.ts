import { Module } from '@nestjs/common';
import { loadConfig, upstreamTargets } from '@strata/service-kit';
import { httpEdgeEnv, startHttpEdge, type RunningHttpEdge } from '@strata/service-kit/http-edge';
import { z } from 'zod';
import { ApiController, GATEWAY_UPSTREAMS } from './api.controller.js';

export const gatewayEnv = httpEdgeEnv.extend({
  // What a standalone local run dials: each service on its standalone port (its service.json).
  ...upstreamTargets(['catalog', 'pricing', 'orders', 'recommendations']),
});
export type GatewayConfig = z.infer<typeof gatewayEnv>;

@Module({ controllers: [ApiController] })
class GatewayModule {}

export type RunningGateway = RunningHttpEdge<typeof GATEWAY_UPSTREAMS>;

/** Starts the HTTP/JSON gateway with `env` (defaults make a local run work). */
export function startGateway(env: NodeJS.ProcessEnv = process.env): Promise<RunningGateway> {
  const config = loadConfig(gatewayEnv, env);
  return startHttpEdge({
    name: 'gateway',
    config,
    upstreams: GATEWAY_UPSTREAMS,
    module: GatewayModule,
  });
}
