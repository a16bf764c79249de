import type { Type } from '@nestjs/common';
import { grpcServiceEnv, loadConfig } from './config.js';
import { freePort } from './free-port.js';
import { startGrpcService, type RunningGrpcService } from './grpc-server.js';

/**
 * Serves a module's controllers as `services` on a free loopback port, silently: a stand-in for the
 * services an app calls, so each app's integration tests run over real gRPC without importing another app.
 */
export async function startStandInService(services: readonly string[], module: Type): Promise<RunningGrpcService & { port: number }> {
  const port = await freePort();
  const config = loadConfig(grpcServiceEnv, { GRPC_PORT: String(port), METRICS_PORT: String(await freePort()), LOG_LEVEL: 'silent' });
  return { ...(await startGrpcService({ name: 'stand-in', services, config, module: () => ({ module }) })), port };
}
