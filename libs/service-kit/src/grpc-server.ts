import type { Server as HttpServer } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { type DynamicModule, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Transport, type MicroserviceOptions } from '@nestjs/microservices';
import type { Server as GrpcServer } from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { GrpcServiceEnv } from './config.js';
import { GrpcCallInterceptor } from './grpc-call-interceptor.js';
import { NestPinoLogger, createLogger, type Logger } from './logger.js';
import { ServiceMetrics, startMetricsServer } from './metrics.js';
import { loadStrataProtos } from './protos.js';

/** Largest request a Strata server accepts; larger ones fail with RESOURCE_EXHAUSTED. */
export const MAX_RECEIVE_MESSAGE_BYTES = 1024 * 1024;
/** Largest response a Strata server sends. */
export const MAX_SEND_MESSAGE_BYTES = 4 * 1024 * 1024;

/** What a service's Nest module gets to build its providers with. */
export interface ServiceKit {
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
}

export interface GrpcServiceSpec {
  /** Short name used in logs and metrics, for example "catalog". */
  readonly name: string;
  /** Fully qualified gRPC services the module implements, for example "strata.catalog.v1.CatalogService". */
  readonly services: readonly string[];
  readonly config: GrpcServiceEnv;
  /** Builds the app's root module; the kit gives it the logger and metrics to hand to its providers. */
  readonly module: (kit: ServiceKit) => DynamicModule;
}

export interface RunningGrpcService extends ServiceKit {
  readonly app: INestMicroservice;
  readonly health: HealthImplementation;
  readonly address: string;
  /** Graceful stop: NOT_SERVING, wait SHUTDOWN_DELAY_MS, drain in-flight calls (bounded), close. */
  stop(): Promise<void>;
}

/**
 * Starts a NestJS gRPC microservice the Strata way: health (grpc.health.v1) and reflection on the same
 * port, a max connection age so clients re-resolve and find new replicas, graceful shutdown that lets
 * in-flight calls finish, message size caps, the call interceptor, and a /metrics port.
 */
export async function startGrpcService(spec: GrpcServiceSpec): Promise<RunningGrpcService> {
  const { config } = spec;
  const logger = createLogger(spec.name, config.LOG_LEVEL);
  const metrics = new ServiceMetrics(spec.name);
  const packageDefinition = loadStrataProtos();
  const health = new HealthImplementation({ '': 'NOT_SERVING' });
  for (const service of spec.services) health.setStatus(service, 'NOT_SERVING');
  const address = `${config.GRPC_HOST}:${config.GRPC_PORT}`;

  const app = await NestFactory.createMicroservice<MicroserviceOptions>(spec.module({ logger, metrics }), {
    transport: Transport.GRPC,
    logger: new NestPinoLogger(logger),
    options: {
      url: address,
      package: [...new Set(spec.services.map((s) => s.slice(0, s.lastIndexOf('.'))))],
      packageDefinition,
      // Without it Nest stops with forceShutdown, which cancels in-flight calls.
      gracefulShutdown: true,
      maxReceiveMessageLength: MAX_RECEIVE_MESSAGE_BYTES,
      maxSendMessageLength: MAX_SEND_MESSAGE_BYTES,
      // A fresh object: Nest writes the max_* keys into it, so it must never be shared with a client.
      channelOptions: {
        'grpc.max_connection_age_ms': config.GRPC_MAX_CONNECTION_AGE_MS,
        'grpc.max_connection_age_grace_ms': config.DRAIN_TIMEOUT_MS,
        'grpc.keepalive_time_ms': 60_000,
        'grpc.keepalive_timeout_ms': 10_000,
        'grpc.http2.min_ping_interval_without_data_ms': 10_000,
        // channelz keeps per-call bookkeeping nobody reads here (Prometheus metrics cover it); off saves CPU.
        'grpc.enable_channelz': 0,
      },
      onLoadPackageDefinition: (pkg: PackageDefinition, server: GrpcServer) => {
        health.addToServer(server);
        new ReflectionService(pkg).addToServer(server);
      },
    },
  });
  app.useGlobalInterceptors(new GrpcCallInterceptor(spec.name, logger, metrics));
  await app.listen();

  let metricsServer: HttpServer | undefined;
  try {
    metricsServer = await startMetricsServer(
      metrics.registry,
      config.METRICS_PORT,
      config.GRPC_HOST === '0.0.0.0' ? '0.0.0.0' : config.GRPC_HOST,
    );
  } catch (error) {
    await app.close();
    throw new Error(`cannot serve metrics on port ${config.METRICS_PORT}: ${(error as Error).message}`);
  }

  health.setStatus('', 'SERVING');
  for (const service of spec.services) health.setStatus(service, 'SERVING');
  logger.info({ address, metricsPort: config.METRICS_PORT, services: spec.services }, `${spec.name} serving`);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      health.setStatus('', 'NOT_SERVING');
      for (const service of spec.services) health.setStatus(service, 'NOT_SERVING');
      logger.info({ delayMs: config.SHUTDOWN_DELAY_MS }, 'shutting down: readiness NOT_SERVING');
      await delay(config.SHUTDOWN_DELAY_MS);
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        app.close().then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), config.DRAIN_TIMEOUT_MS))),
      ]);
      clearTimeout(timer);
      if (!drained) logger.warn({ drainTimeoutMs: config.DRAIN_TIMEOUT_MS }, 'drain timed out; in-flight calls cut');
      await new Promise<void>((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve()));
      logger.info('stopped');
    })());

  return { app, health, address, logger, metrics, stop };
}

/** Stops the service gracefully on SIGTERM or SIGINT, then exits; a second signal exits at once. */
export function stopOnSignals(service: Pick<RunningGrpcService, 'stop' | 'logger'>): void {
  let received = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) process.exit(1);
    received = true;
    service.logger.info({ signal }, 'signal received');
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        service.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
