import type { Type } from '@nestjs/common';
import { grpcServiceEnv, loadConfig, startGrpcService, type RunningGrpcService } from '@strata/service-kit';

/**
 * Serves a module's controllers as `services` on a free loopback port, silently: a stand-in for the
 * services an app calls, so each app's integration tests run over real gRPC without importing another app.
 */
export async function startStandInService(services: readonly string[], module: Type): Promise<RunningGrpcService> {
  const config = loadConfig(grpcServiceEnv, { GRPC_PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'silent' });
  return startGrpcService({ name: 'stand-in', services, config, module });
}
