import { Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { setTimeout as delay } from 'node:timers/promises';
import { Counter, Histogram } from 'prom-client';
import { z } from 'zod';
import {
  NestPinoLogger,
  ServiceMetrics,
  acceptRequestId,
  createLogger,
  loadConfig,
  millisVar,
  portVar,
  REQUEST_ID_HEADER,
  type Logger,
} from '@strata/service-kit';
import { ApiController } from './api.controller.js';
import { ErrorFilter } from './error-filter.js';
import { OpsController } from './ops.controller.js';
import { RequestContextInterceptor } from './request-context.interceptor.js';
import { Readiness, Upstreams } from './upstreams.js';

export const gatewayEnv = z.object({
  GATEWAY_HOST: z.string().default('127.0.0.1'),
  GATEWAY_PORT: portVar(8080),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  CATALOG_TARGET: z.string().default('dns:///127.0.0.1:50061'),
  PRICING_TARGET: z.string().default('dns:///127.0.0.1:50062'),
  ORDERS_TARGET: z.string().default('dns:///127.0.0.1:50063'),
  RECOMMENDATIONS_TARGET: z.string().default('dns:///127.0.0.1:50064'),
  /** The whole budget of one API request; every gRPC call below inherits what is left of it. */
  REQUEST_TIMEOUT_MS: millisVar(5_000),
  /** Bodies above this are refused with 413 before they are parsed. */
  MAX_BODY_BYTES: z.coerce.number().int().min(1_024).max(10_485_760).default(65_536),
  /** API requests in progress beyond this are refused at once with 503 + Retry-After (load shedding). */
  GATEWAY_MAX_INFLIGHT: z.coerce.number().int().min(1).max(100_000).default(512),
  SHUTDOWN_DELAY_MS: millisVar(0),
  /** Lets several local replicas share one port (SO_REUSEPORT): the kernel spreads connections like a Service. */
  GATEWAY_REUSE_PORT: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  DRAIN_TIMEOUT_MS: millisVar(10_000),
});
export type GatewayConfig = z.infer<typeof gatewayEnv>;

@Module({})
class GatewayModule {
  static forRoot(upstreams: Upstreams, readiness: Readiness, metrics: ServiceMetrics): DynamicModule {
    return {
      module: GatewayModule,
      controllers: [ApiController, OpsController],
      providers: [
        { provide: Upstreams, useValue: upstreams },
        { provide: Readiness, useValue: readiness },
        { provide: ServiceMetrics, useValue: metrics },
      ],
    };
  }
}

export interface RunningGateway {
  readonly app: INestApplication;
  readonly url: string;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  /** Graceful stop: readiness 503, wait SHUTDOWN_DELAY_MS, finish in-flight requests, close channels. */
  stop(): Promise<void>;
}

/** Starts the HTTP/JSON gateway. */
export async function startGateway(env: NodeJS.ProcessEnv = process.env): Promise<RunningGateway> {
  const config = loadConfig(gatewayEnv, env);
  const logger = createLogger('gateway', config.LOG_LEVEL);
  const metrics = new ServiceMetrics('gateway');
  const upstreams = new Upstreams(
    {
      catalog: config.CATALOG_TARGET,
      pricing: config.PRICING_TARGET,
      orders: config.ORDERS_TARGET,
      recommendations: config.RECOMMENDATIONS_TARGET,
    },
    config.REQUEST_TIMEOUT_MS,
    metrics,
  );
  const readiness = new Readiness();
  const adapter = new FastifyAdapter({
    bodyLimit: config.MAX_BODY_BYTES,
    genReqId: (req: { headers: Record<string, unknown> }) => acceptRequestId(req.headers[REQUEST_ID_HEADER]),
    // Long path parameters reach validation (a 400 that says what an id looks like) instead of the router's 414.
    routerOptions: { maxParamLength: 4_096 },
    // Errors the router raises before any handler (a malformed percent-encoding in the URL) get the same body.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      reply
        .code(400)
        .send({
          error: {
            status: 400,
            code: 'invalid_argument',
            message: `the URL is not valid: ${error.message.slice(0, 200)}`,
            requestId: String(request.id),
          },
        });
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(GatewayModule.forRoot(upstreams, readiness, metrics), adapter, {
    logger: new NestPinoLogger(logger),
  });
  app.useGlobalFilters(new ErrorFilter(logger));
  app.useGlobalInterceptors(new RequestContextInterceptor(config.REQUEST_TIMEOUT_MS));

  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route and status.',
    labelNames: ['method', 'route', 'status'],
    registers: [metrics.registry],
  });
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer an HTTP request.',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [metrics.registry],
  });
  const fastify = app.getHttpAdapter().getInstance();
  // Load shedding: past GATEWAY_MAX_INFLIGHT concurrent API requests, answer 503 at once instead of queueing
  // work that would miss its deadline anyway; the edge stays responsive and recovers as soon as load drops.
  let inflight = 0;
  const counted = new WeakSet<object>();
  const release = (request: object) => {
    if (counted.delete(request)) inflight--;
  };
  const shed = new Counter({
    name: 'http_requests_shed_total',
    help: 'API requests refused because the gateway was at capacity.',
    registers: [metrics.registry],
  });
  fastify.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    if (request.url.startsWith('/api/')) {
      if (inflight >= config.GATEWAY_MAX_INFLIGHT) {
        shed.inc();
        const message = `the gateway is at capacity (${inflight} requests in progress); retry after 1 s`;
        await reply
          .status(503)
          .header('retry-after', '1')
          .send({ error: { status: 503, code: 'unavailable', message, requestId: String(request.id) } });
        return;
      }
      inflight++;
      counted.add(request);
    }
    const type = request.headers['content-type'];
    if (request.method === 'POST' && type !== undefined && !/^application\/json\b/i.test(type)) {
      const message = `send the body as application/json, not ${type.slice(0, 60)}`;
      await reply.status(415).send({ error: { status: 415, code: 'unsupported_media_type', message, requestId: String(request.id) } });
    }
  });
  fastify.addHook('onRequestAbort', async (request) => release(request));
  fastify.addHook('onResponse', async (request, reply) => {
    release(request);
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  // Fastify hands these options to net.Server.listen, which knows reusePort (Node >= 22.12); its types do not.
  const listenOptions = { port: config.GATEWAY_PORT, host: config.GATEWAY_HOST, reusePort: config.GATEWAY_REUSE_PORT };
  await app.listen(listenOptions as { port: number; host: string });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.GATEWAY_PORT;
  const url = `http://${config.GATEWAY_HOST}:${port}`;
  readiness.ready = true;
  logger.info({ url }, 'gateway serving');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      readiness.ready = false;
      logger.info({ delayMs: config.SHUTDOWN_DELAY_MS }, 'shutting down: readiness 503');
      await delay(config.SHUTDOWN_DELAY_MS);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([app.close(), new Promise((resolve) => (timer = setTimeout(resolve, config.DRAIN_TIMEOUT_MS)))]);
      clearTimeout(timer);
      upstreams.close();
      logger.info('stopped');
    })());
  return { app, url, logger, metrics, stop };
}
