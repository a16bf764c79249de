import { Module, type DynamicModule } from '@nestjs/common';
import { loadConfig, upstreamTargets } from '@strata/service-kit';
import { httpEdgeEnv, startHttpEdge, type RunningHttpEdge } from '@strata/service-kit/http-edge';
import { z } from 'zod';
import { ApiController, GATEWAY_UPSTREAMS, UPSTREAMS, type GatewayUpstreams } from './api.controller.js';

export const gatewayEnv = httpEdgeEnv.extend({
  // What a standalone local run dials: each service on its own default port.
  ...upstreamTargets({
    catalog: 'dns:///127.0.0.1:50061',
    pricing: 'dns:///127.0.0.1:50062',
    orders: 'dns:///127.0.0.1:50063',
    recommendations: 'dns:///127.0.0.1:50064',
  }),
});
export type GatewayConfig = z.infer<typeof gatewayEnv>;

@Module({})
class GatewayModule {
  static forRoot(upstreams: GatewayUpstreams): DynamicModule {
    return { module: GatewayModule, controllers: [ApiController], providers: [{ provide: UPSTREAMS, useValue: upstreams }] };
  }
}

export type RunningGateway = RunningHttpEdge<typeof GATEWAY_UPSTREAMS>;

/** Starts the HTTP/JSON gateway with `env` (defaults make a local run work). */
export function startGateway(env: NodeJS.ProcessEnv = process.env): Promise<RunningGateway> {
  const config = loadConfig(gatewayEnv, env);
  return startHttpEdge({
    name: 'gateway',
    config,
    upstreams: GATEWAY_UPSTREAMS,
    module: ({ upstreams }) => GatewayModule.forRoot(upstreams),
  });
}
