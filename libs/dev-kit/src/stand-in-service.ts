import { grpcModule, grpcServiceEnv, loadConfig, startGrpcService, type RunningGrpcService } from '@strata/service-kit';

/**
 * Serves plain objects as gRPC services on a free loopback port, silently, keyed by the service's full name
 * (`{ 'strata.catalog.v1.CatalogService': { getProduct(…) { … } } }`; an rpc without a handler answers
 * UNIMPLEMENTED): a stand-in for the services an app calls, so each app's integration tests run over real gRPC,
 * through the kit's whole pipeline, without importing another app.
 */
export async function startStandInService(services: Readonly<Record<string, object>>): Promise<RunningGrpcService> {
  const config = loadConfig(grpcServiceEnv, { GRPC_PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'silent' });
  return startGrpcService({ name: 'stand-in', services: Object.keys(services), config, module: grpcModule(services) });
}
