import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DynamicModule, INestMicroservice, Type } from '@nestjs/common';
import { APP_FILTER, NestFactory } from '@nestjs/core';
import { HealthImplementation } from 'grpc-health-check';
import type { GrpcServiceEnv } from './config.js';
import { GrpcStatusFilter } from './grpc-status.filter.js';
import { StrataGrpcTransport } from './grpc-transport.js';
import { LoadReporter } from './load-report.js';
import { serviceRootModule } from './kit-module.js';
import { NestPinoLogger, createLogger, type Logger } from './logger.js';
import { ServiceMetrics, startMetricsServer } from './metrics.js';
import { stopSequence } from './stop-sequence.js';
import { connectUpstreams, type UpstreamClients, type UpstreamRefs } from './upstreams.js';

export { MAX_RECEIVE_MESSAGE_BYTES, MAX_SEND_MESSAGE_BYTES } from './grpc-transport.js';

/** What the kit made for a service: also its module's providers (`KIT_LOGGER`, `KIT_METRICS`, `KIT_UPSTREAMS`). */
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
  /** The services this one calls: ``{ catalog: upstream<CatalogServiceClient>(`${protobufPackage}.${CATALOG_SERVICE_NAME}`) }``. */
  readonly upstreams?: U;
  /**
   * The service's Nest module: its controllers (ts-proto's `…ControllerMethods()`) and providers, which inject what
   * the kit provides (`@Inject(KIT_UPSTREAMS)`, `KIT_CONFIG`, `KIT_LOGGER`, `KIT_METRICS`); its guards, pipes,
   * interceptors and filters run on every call as Nest runs them.
   */
  readonly module: DynamicModule | Type;
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
  /** The Nest microservice: its injector (`app.get(...)`), lifecycle hooks and gRPC transport. */
  readonly app: INestMicroservice;
  readonly health: HealthImplementation;
  /** "127.0.0.1:50061": the address with the port actually bound (GRPC_PORT=0 picks a free one). */
  readonly address: string;
  readonly port: number;
  readonly metricsPort: number;
  /** Graceful stop: NOT_SERVING, wait SHUTDOWN_DELAY_MS, drain in-flight calls (bounded), close. */
  stop(): Promise<void>;
}

/**
 * Starts a Strata gRPC service as a Nest microservice on Nest's gRPC transport (extended: `StrataGrpcTransport`),
 * with health (grpc.health.v1) and reflection on the same port, a max connection age so clients re-resolve and find
 * new replicas, message size caps, request context, deadlines and metrics around Nest's pipeline, the error mapping
 * as an exception filter, metrics on their own port, and the graceful stop sequence as the transport's
 * close, which Nest's `app.close()` runs before its shutdown hooks (docs/architecture.md, "Nest as Nest").
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
  const waiting = new AbortController();

  let app: INestMicroservice | undefined;
  let metricsServer: HttpServer | undefined;
  try {
    metricsServer = await startMetricsServer(
      metrics.registry,
      config.METRICS_PORT,
      config.GRPC_HOST === '0.0.0.0' ? '0.0.0.0' : config.GRPC_HOST,
    ).catch((error: Error) => {
      throw new Error(`cannot serve metrics on port ${config.METRICS_PORT}: ${error.message}`);
    });
    const metricsHttp = metricsServer;
    const transport = new StrataGrpcTransport({
      serviceName: spec.name,
      logger,
      metrics,
      url: `${config.GRPC_HOST}:${config.GRPC_PORT}`,
      packages: [...new Set(spec.services.map((service) => service.slice(0, service.lastIndexOf('.'))))],
      health,
      load: new LoadReporter({ registry: metrics.registry }),
      maxConnectionAgeMs: config.GRPC_MAX_CONNECTION_AGE_MS,
      maxConnectionAgeGraceMs: config.DRAIN_TIMEOUT_MS,
      stop: (drain, forceClose) =>
        stopSequence({
          logger,
          shutdownDelayMs: config.SHUTDOWN_DELAY_MS,
          drainTimeoutMs: config.DRAIN_TIMEOUT_MS,
          notReady: () => {
            waiting.abort();
            health.setStatus('', 'NOT_SERVING');
            for (const service of spec.services) health.setStatus(service, 'NOT_SERVING');
          },
          drain,
          forceClose,
        })(),
    });
    const root = serviceRootModule(
      { serviceName: spec.name, logger, metrics, config, upstreams: upstreams.clients },
      spec.module,
      [{ provide: APP_FILTER, useClass: GrpcStatusFilter }],
      [() => upstreams.close(), ...(spec.afterDrain ?? []), () => new Promise<void>((resolve) => metricsHttp.close(() => resolve()))],
    );
    app = await NestFactory.createMicroservice(root, { strategy: transport, logger: new NestPinoLogger(logger), abortOnError: false });
    await app.listen();
    const port = transport.port;
    const metricsPort = (metricsServer.address() as AddressInfo).port;
    const address = `${config.GRPC_HOST}:${port}`;

    health.setStatus('', 'SERVING');
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

    const nest = app;
    let stopping: Promise<void> | undefined;
    const stop = () => (stopping ??= nest.close());
    return { app, health, address, port, metricsPort, logger, metrics, upstreams: upstreams.clients, stop };
  } catch (error) {
    waiting.abort();
    await app?.close().catch(() => undefined);
    metricsServer?.close();
    upstreams.close();
    throw error;
  }
}
