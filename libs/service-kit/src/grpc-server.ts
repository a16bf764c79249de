import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { DynamicModule, INestApplicationContext, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HealthImplementation } from 'grpc-health-check';
import type { GrpcServiceEnv } from './config.js';
import { collectGrpcHandlers, grpcImplementation } from './grpc-handlers.js';
import { NestPinoLogger, createLogger, type Logger } from './logger.js';
import { ServiceMetrics, startMetricsServer } from './metrics.js';
import { serviceDefinition } from './protos.js';
import { strataReflection } from './reflection.js';
import { stopSequence } from './stop-sequence.js';
import { connectUpstreams, type UpstreamClients, type UpstreamRefs } from './upstreams.js';

/** Largest request a Strata server accepts; larger ones fail with RESOURCE_EXHAUSTED. */
export const MAX_RECEIVE_MESSAGE_BYTES = 1024 * 1024;
/** Largest response a Strata server sends. */
export const MAX_SEND_MESSAGE_BYTES = 4 * 1024 * 1024;

/** What a service's Nest module gets to build its providers with. */
export interface ServiceKit<U extends UpstreamRefs = Record<never, never>> {
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  /** One promise client per declared upstream, closed by the kit after the drain. */
  readonly upstreams: UpstreamClients<U>;
}

export interface GrpcServiceSpec<U extends UpstreamRefs = Record<never, never>> {
  /** Short name used in logs and metrics, for example "catalog". */
  readonly name: string;
  /** Fully qualified gRPC services the module implements, for example "strata.catalog.v1.CatalogService". */
  readonly services: readonly string[];
  /** The validated env; must hold `<UPSTREAM>_TARGET` for each upstream. */
  readonly config: GrpcServiceEnv & Record<string, unknown>;
  /** The services this one calls: `{ catalog: upstream<CatalogServiceClient>(CATALOG) }`. */
  readonly upstreams?: U;
  /** Builds the app's root module; the kit gives it the logger, metrics and upstream clients. */
  readonly module: (kit: ServiceKit<U>) => DynamicModule | Type;
  /** Closed after the drain and the upstream channels (a database pool, for example). */
  readonly afterDrain?: readonly (() => unknown)[];
  /**
   * What must hold before the service takes calls (its database answers): the server is alive (health "" SERVING, so
   * startup and liveness probes pass and nothing restarts it) while its services report NOT_SERVING until this
   * resolves; readiness then turns SERVING. It should retry on its own; it is aborted when the service stops.
   */
  readonly readiness?: (signal: AbortSignal, logger: Logger) => Promise<void>;
}

export interface RunningGrpcService<U extends UpstreamRefs = Record<never, never>> extends ServiceKit<U> {
  /** Nest's DI container (providers, lifecycle hooks); the gRPC path does not go through it. */
  readonly app: INestApplicationContext;
  readonly health: HealthImplementation;
  /** "127.0.0.1:50061": the address with the port actually bound (GRPC_PORT=0 picks a free one). */
  readonly address: string;
  readonly port: number;
  readonly metricsPort: number;
  /** Graceful stop: NOT_SERVING, wait SHUTDOWN_DELAY_MS, drain in-flight calls (bounded), close. */
  stop(): Promise<void>;
}

/**
 * Starts a Strata gRPC service: Nest builds the module (dependency injection, lifecycle hooks) and the kit serves
 * its `@GrpcMethod` handlers on a grpc-js server directly, with health (grpc.health.v1) and reflection on the same
 * port, a max connection age so clients re-resolve and find new replicas, message size caps, request context,
 * deadlines, metrics on their own port, and the graceful stop sequence. Why not Nest's gRPC transport: see
 * docs/performance.md ("Where the time goes"), which measures stock Nest at 1.07 × bare as well, so the cost no
 * longer argues for it; issue 22 reopens the choice.
 */
export async function startGrpcService<U extends UpstreamRefs = Record<never, never>>(
  spec: GrpcServiceSpec<U>,
): Promise<RunningGrpcService<U>> {
  const { config } = spec;
  const logger = createLogger(spec.name, config.LOG_LEVEL);
  const metrics = new ServiceMetrics(spec.name);
  const upstreams = connectUpstreams(spec.upstreams ?? ({} as U), config, { metrics });
  const health = new HealthImplementation({ '': 'NOT_SERVING' });
  for (const service of spec.services) health.setStatus(service, 'NOT_SERVING');

  let app: INestApplicationContext | undefined;
  let server: grpc.Server | undefined;
  let metricsServer: HttpServer | undefined;
  try {
    app = await NestFactory.createApplicationContext(spec.module({ logger, metrics, upstreams: upstreams.clients }), {
      logger: new NestPinoLogger(logger),
      abortOnError: false,
    });
    const handlers = collectGrpcHandlers(app);
    // Channel options spelled out where the server is made (grpc-node examples' style).
    server = new grpc.Server({
      // Connections are recycled so clients re-resolve and spread over replicas added since (headless Services).
      'grpc.max_connection_age_ms': config.GRPC_MAX_CONNECTION_AGE_MS,
      'grpc.max_connection_age_grace_ms': config.DRAIN_TIMEOUT_MS,
      'grpc.keepalive_time_ms': 60_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.http2.min_ping_interval_without_data_ms': 10_000,
      'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_SEND_MESSAGE_BYTES,
      // channelz keeps per-call bookkeeping nobody reads here (Prometheus metrics cover it); off saves CPU.
      'grpc.enable_channelz': 0,
    });
    for (const service of spec.services) {
      const shortName = service.slice(service.lastIndexOf('.') + 1);
      const definition = serviceDefinition(service);
      server.addService(definition, grpcImplementation(definition, shortName, handlers, { serviceName: spec.name, logger, metrics }));
    }
    health.addToServer(server);
    strataReflection().addToServer(server);
    const port = await new Promise<number>((resolve, reject) =>
      server!.bindAsync(`${config.GRPC_HOST}:${config.GRPC_PORT}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(new Error(`cannot serve gRPC on ${config.GRPC_HOST}:${config.GRPC_PORT}: ${error.message}`)) : resolve(bound),
      ),
    );
    metricsServer = await startMetricsServer(
      metrics.registry,
      config.METRICS_PORT,
      config.GRPC_HOST === '0.0.0.0' ? '0.0.0.0' : config.GRPC_HOST,
    ).catch((error: Error) => {
      throw new Error(`cannot serve metrics on port ${config.METRICS_PORT}: ${error.message}`);
    });
    const metricsPort = (metricsServer.address() as AddressInfo).port;
    const address = `${config.GRPC_HOST}:${port}`;

    health.setStatus('', 'SERVING');
    const waiting = new AbortController();
    const serve = () => {
      for (const service of spec.services) health.setStatus(service, 'SERVING');
      logger.info({ address, metricsPort, services: spec.services }, `${spec.name} serving`);
    };
    if (spec.readiness) {
      logger.info({ address, metricsPort }, `${spec.name} started, not ready yet (waiting for its dependencies)`);
      spec.readiness(waiting.signal, logger).then(serve, (error: Error) => {
        if (!waiting.signal.aborted) logger.error({ err: error }, 'readiness check gave up');
      });
    } else serve();

    const grpcServer = server;
    const nest = app;
    const metricsHttp = metricsServer;
    const stop = stopSequence({
      logger,
      shutdownDelayMs: config.SHUTDOWN_DELAY_MS,
      drainTimeoutMs: config.DRAIN_TIMEOUT_MS,
      notReady: () => {
        waiting.abort();
        health.setStatus('', 'NOT_SERVING');
        for (const service of spec.services) health.setStatus(service, 'NOT_SERVING');
      },
      // tryShutdown: no new calls or connections, GOAWAY to clients, in-flight calls run to the end.
      drain: () => new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve())),
      forceClose: () => grpcServer.forceShutdown(),
      afterDrain: [
        () => upstreams.close(),
        ...(spec.afterDrain ?? []),
        () => new Promise<void>((resolve) => metricsHttp.close(() => resolve())),
        () => nest.close(),
      ],
    });
    return { app, health, address, port, metricsPort, logger, metrics, upstreams: upstreams.clients, stop };
  } catch (error) {
    server?.forceShutdown();
    metricsServer?.close();
    upstreams.close();
    await app?.close().catch(() => undefined);
    throw error;
  }
}
