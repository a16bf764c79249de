import type { Server } from 'node:http';
import { Server as NetServer, type AddressInfo } from 'node:net';
import { RequestMethod, type DynamicModule, type INestApplicationContext, type Type } from '@nestjs/common';
import { HTTP_CODE_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { ModulesContainer, NestFactory } from '@nestjs/core';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type HTTPMethods } from 'fastify';
import { Counter, Histogram } from 'prom-client';
import { z } from 'zod';
import { millisVar, portVar, serviceEnv } from './config.js';
import { errorCodeFor, toHttpError } from './http-status.js';
import { NestPinoLogger, createLogger } from './logger.js';
import { ServiceMetrics, startMetricsServer } from './metrics.js';
import { REQUEST_ID_HEADER, acceptRequestId, runWithRequestContext } from './request-context.js';
import { stopSequence } from './stop-sequence.js';
import { nameRequestSpan, tagRequestSpan } from './trace-context.js';
import type { ServiceKit } from './grpc-server.js';
import { connectUpstreams, type UpstreamRefs } from './upstreams.js';

export { errorCodeFor, httpStatusFor, toHttpError, type HttpError } from './http-status.js';
export type { FastifyReply, FastifyRequest } from 'fastify';

/** The settings of an HTTP edge service (the gateway); the names are the gateway's, the only edge so far. */
export const httpEdgeEnv = serviceEnv.extend({
  GATEWAY_HOST: z.string().default('127.0.0.1'),
  GATEWAY_PORT: portVar(8080),
  /** The whole budget of one API request; every gRPC call below inherits what is left of it. */
  REQUEST_TIMEOUT_MS: millisVar(5_000),
  /** Bodies above this are refused with 413 before they are parsed. */
  MAX_BODY_BYTES: z.coerce.number().int().min(1_024).max(10_485_760).default(65_536),
  /** API requests in progress beyond this are refused at once with 503 + Retry-After (load shedding). */
  GATEWAY_MAX_INFLIGHT: z.coerce.number().int().min(1).max(100_000).default(512),
  /** Lets several local replicas share one port (SO_REUSEPORT): the kernel spreads connections like a Service. */
  GATEWAY_REUSE_PORT: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  /** A second port with only /healthz, /readyz and /metrics, for a probe or scrape of this replica (0 = none). */
  OPS_PORT: portVar(0),
  /**
   * Idle keep-alive connections close after this, and clients are told so (`Keep-Alive: timeout=N`) so that they close
   * theirs first. A stop waits at most this long for them to (see `stopAccepting`). Fastify's default is 72 s.
   */
  KEEP_ALIVE_TIMEOUT_MS: millisVar(5_000),
});
export type HttpEdgeEnv = z.infer<typeof httpEdgeEnv>;

/** The JSON body of every error the edge answers. */
export interface ErrorBody {
  error: { status: number; code: string; message: string; requestId: string };
}

/** A route handler: Fastify's request and reply; what it returns is sent as JSON. */
export type RouteHandler = (request: FastifyRequest, reply: FastifyReply) => unknown;

export interface HttpEdgeSpec<U extends UpstreamRefs> {
  readonly name: string;
  readonly config: HttpEdgeEnv & Record<string, unknown>;
  readonly upstreams?: U;
  /** The Nest module whose controllers declare the routes (`@Controller('api')`, `@Get('products/:id')`). */
  readonly module: (kit: ServiceKit<U>) => DynamicModule | Type;
}

export interface RunningHttpEdge<U extends UpstreamRefs> extends ServiceKit<U> {
  readonly app: INestApplicationContext;
  readonly fastify: FastifyInstance;
  /** "http://127.0.0.1:8080", with the port actually bound (GATEWAY_PORT=0 picks a free one). */
  readonly url: string;
  /** Graceful stop: readiness 503, wait SHUTDOWN_DELAY_MS, finish in-flight requests, close channels. */
  stop(): Promise<void>;
}

const NEST_TO_HTTP: Partial<Record<RequestMethod, HTTPMethods>> = {
  [RequestMethod.GET]: 'GET',
  [RequestMethod.POST]: 'POST',
  [RequestMethod.PUT]: 'PUT',
  [RequestMethod.DELETE]: 'DELETE',
  [RequestMethod.PATCH]: 'PATCH',
};
const OPS_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

interface Route {
  method: HTTPMethods;
  url: string;
  handler: RouteHandler;
  httpCode?: number;
}

/** The routes the controllers of a Nest application context declare with `@Controller`, `@Get`, `@Post`, `@HttpCode`. */
export function collectRoutes(app: INestApplicationContext): Route[] {
  const routes: Route[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const instance = wrapper.instance as object | undefined;
      if (!instance || !wrapper.metatype) continue;
      const prefix = String(Reflect.getMetadata(PATH_METADATA, wrapper.metatype) ?? '');
      const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
      for (const key of Object.getOwnPropertyNames(prototype)) {
        const fn = prototype[key];
        if (typeof fn !== 'function' || key === 'constructor') continue;
        const path = Reflect.getMetadata(PATH_METADATA, fn) as string | undefined;
        const nestMethod = Reflect.getMetadata(METHOD_METADATA, fn) as RequestMethod | undefined;
        if (path === undefined || nestMethod === undefined) continue;
        const method = NEST_TO_HTTP[nestMethod];
        if (!method) throw new Error(`${wrapper.name}.${key}: only GET, POST, PUT, DELETE and PATCH routes are served`);
        const url = `/${[prefix, path]
          .map((p) => p.replace(/^\/+|\/+$/g, ''))
          .filter(Boolean)
          .join('/')}`;
        routes.push({
          method,
          url,
          handler: (fn as RouteHandler).bind(instance),
          httpCode: Reflect.getMetadata(HTTP_CODE_METADATA, fn) as number | undefined,
        });
      }
    }
  }
  return routes;
}

/**
 * Starts an HTTP/JSON edge service: Nest builds the module (dependency injection) and the kit serves its controllers'
 * routes on Fastify directly — request id (`x-request-id`), a request budget that every gRPC call below inherits,
 * load shedding (503 + Retry-After past GATEWAY_MAX_INFLIGHT), body cap, 405 with `Allow` for a wrong method on a
 * known path, one error mapping for every failure, `/healthz`, `/readyz`, `/metrics`, and the same stop sequence as
 * the gRPC services. Why not Nest's HTTP adapter on the request path: docs/performance.md ("Where the time goes";
 * issue 22 reopens the choice).
 */
export async function startHttpEdge<U extends UpstreamRefs = Record<never, never>>(spec: HttpEdgeSpec<U>): Promise<RunningHttpEdge<U>> {
  const { config } = spec;
  const logger = createLogger(spec.name, config.LOG_LEVEL);
  const metrics = new ServiceMetrics(spec.name);
  const upstreams = connectUpstreams(spec.upstreams ?? ({} as U), config, { metrics, timeoutMs: config.REQUEST_TIMEOUT_MS });
  let app: INestApplicationContext | undefined;
  let fastify: FastifyInstance | undefined;
  try {
    app = await NestFactory.createApplicationContext(spec.module({ logger, metrics, upstreams: upstreams.clients }), {
      logger: new NestPinoLogger(logger),
      abortOnError: false,
    });
    let ready = false;
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
    const shed = new Counter({
      name: 'http_requests_shed_total',
      help: 'API requests refused because the edge was at capacity.',
      registers: [metrics.registry],
    });

    fastify = Fastify({
      bodyLimit: config.MAX_BODY_BYTES,
      keepAliveTimeout: config.KEEP_ALIVE_TIMEOUT_MS,
      genReqId: (req) => acceptRequestId(req.headers[REQUEST_ID_HEADER]),
      // Long path parameters reach validation (a 400 that says what an id looks like) instead of the router's 414.
      routerOptions: { maxParamLength: 4_096 },
      // Errors the router raises before any handler (a malformed percent-encoding in the URL) get the same body.
      frameworkErrors: (error, request, reply) => {
        void sendError(reply, String(request.id), { status: 400, message: `the URL is not valid: ${error.message.slice(0, 200)}` });
      },
    });
    // JSON only: a text/plain body is refused with 415 rather than parsed as a string.
    fastify.removeContentTypeParser(['text/plain']);

    const sendError = (
      reply: FastifyReply,
      requestId: string,
      error: { status: number; message: string },
      headers: Record<string, string> = {},
    ) => {
      if (error.status === 503 || error.status === 429) reply.header('retry-after', '1');
      for (const [name, value] of Object.entries(headers)) reply.header(name, value);
      const body: ErrorBody = { error: { status: error.status, code: errorCodeFor(error.status), message: error.message, requestId } };
      return reply.status(error.status).header('content-type', 'application/json; charset=utf-8').send(body);
    };

    // Load shedding: past GATEWAY_MAX_INFLIGHT concurrent API requests, answer 503 at once instead of queueing work
    // that would miss its deadline anyway; the edge stays responsive and recovers as soon as load drops.
    let inflight = 0;
    const counted = new WeakSet<object>();
    const release = (request: object) => {
      if (counted.delete(request)) inflight--;
    };
    fastify.addHook('onRequest', (request, reply, done) => {
      reply.header(REQUEST_ID_HEADER, request.id);
      // Once readiness is off, every answer closes its connection: a keep-alive client (through a NodePort or a
      // ClusterIP, which balance per connection) reconnects to a ready replica instead of meeting the final close.
      if (!ready) reply.header('connection', 'close');
      tagRequestSpan(request.raw, String(request.id));
      if (!OPS_PATHS.has(request.url)) {
        if (inflight >= config.GATEWAY_MAX_INFLIGHT) {
          shed.inc();
          void sendError(reply, String(request.id), {
            status: 503,
            message: `the edge is at capacity (${inflight} requests in progress); retry after 1 s`,
          });
          return;
        }
        inflight++;
        counted.add(request);
      }
      done();
    });
    fastify.addHook('onRequestAbort', (request, done) => {
      release(request);
      done();
    });
    fastify.addHook('onResponse', (request, reply, done) => {
      release(request);
      const route = request.routeOptions.url ?? 'unmatched';
      requests.inc({ method: request.method, route, status: String(reply.statusCode) });
      latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
      done();
    });
    fastify.setErrorHandler((error, request, reply) => {
      const mapped = toHttpError(error, String(request.id));
      if (mapped.status === 413) mapped.message += ` (at most ${config.MAX_BODY_BYTES} bytes)`;
      if (mapped.status >= 500) logger.warn({ requestId: request.id, status: mapped.status, err: error }, 'request failed');
      return sendError(reply, String(request.id), mapped);
    });
    fastify.setNotFoundHandler((request, reply) =>
      sendError(reply, String(request.id), { status: 404, message: 'no such endpoint; see the README for the API' }),
    );

    const routes = collectRoutes(app);
    const methodsByUrl = new Map<string, HTTPMethods[]>();
    for (const route of routes) {
      methodsByUrl.set(route.url, [...(methodsByUrl.get(route.url) ?? []), route.method]);
      const { handler, httpCode } = route;
      const budget = config.REQUEST_TIMEOUT_MS;
      fastify.route({
        method: route.method,
        url: route.url,
        handler: (request, reply) => {
          nameRequestSpan(request.raw, route.method, route.url);
          if (httpCode !== undefined) reply.status(httpCode);
          return runWithRequestContext({ requestId: String(request.id), deadline: Date.now() + budget }, () => handler(request, reply));
        },
      });
    }
    // A wrong method on a known path is 405 with the methods it has (RFC 9110), not 404.
    for (const [url, methods] of methodsByUrl) {
      const allow = [...methods, ...(methods.includes('GET') ? ['HEAD' as const] : [])];
      const others = (['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as HTTPMethods[]).filter((m) => !allow.includes(m));
      fastify.route({
        method: others,
        url,
        handler: (request, reply) =>
          sendError(
            reply,
            String(request.id),
            { status: 405, message: `${request.method} is not allowed on ${url}; use ${allow.join(', ')}` },
            { allow: allow.join(', ') },
          ),
      });
    }
    fastify.get('/healthz', async () => ({ status: 'ok' }));
    fastify.get('/readyz', async (request, reply) =>
      ready ? { status: 'ready' } : sendError(reply, String(request.id), { status: 503, message: 'shutting down or starting' }),
    );
    fastify.get('/metrics', async (_request, reply) =>
      reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
    );

    // Fastify hands these options to net.Server.listen, which knows reusePort (Node >= 22.12); its types do not.
    await fastify.listen({ port: config.GATEWAY_PORT, host: config.GATEWAY_HOST, reusePort: config.GATEWAY_REUSE_PORT } as {
      port: number;
      host: string;
    });
    const port = (fastify.server.address() as AddressInfo).port;
    const url = `http://${config.GATEWAY_HOST}:${port}`;
    // Several local replicas share the API port (SO_REUSEPORT), so a probe or scrape of one needs a port of its own.
    const ops =
      config.OPS_PORT > 0 ? await startMetricsServer(metrics.registry, config.OPS_PORT, config.GATEWAY_HOST, () => ready) : undefined;
    ready = true;
    logger.info({ url, routes: routes.length, opsPort: config.OPS_PORT || undefined }, `${spec.name} serving`);

    const server = fastify;
    const nest = app;
    const stop = stopSequence({
      logger,
      shutdownDelayMs: config.SHUTDOWN_DELAY_MS,
      drainTimeoutMs: config.DRAIN_TIMEOUT_MS,
      notReady: () => (ready = false),
      // Stops accepting, lets the keep-alive connections end as their clients are told (stopAccepting), answers the
      // requests in progress (with Connection: close), then closes what is left.
      drain: async () => {
        await stopAccepting(server.server, config.KEEP_ALIVE_TIMEOUT_MS);
        await server.close();
      },
      forceClose: () => server.server.closeAllConnections(),
      afterDrain: [
        () => upstreams.close(),
        () => new Promise<void>((resolve) => (ops ? ops.close(() => resolve()) : resolve())),
        () => nest.close(),
      ],
    });
    return { app, fastify, url, logger, metrics, upstreams: upstreams.clients, stop };
  } catch (error) {
    await fastify?.close().catch(() => undefined);
    upstreams.close();
    await app?.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Stops accepting connections and waits, at most `waitMs`, until the open ones have ended. Why not `http.Server.close()`
 * (what Fastify's close calls): since Node 19 it also closes every idle keep-alive connection at once, and a client
 * that sends a request on one in that instant gets "other side closed" — 8 failed requests in one rollout of the
 * gateway through a NodePort in CI. `net.Server`'s close only stops accepting; the connections then end as their
 * clients were told: every answer once readiness is off carries `Connection: close`, and an idle one is closed by its
 * client when the `Keep-Alive: timeout` it was given runs out (undici closes 2 s before; a client that ignores the
 * hint and races the final close is the HTTP/1.1 case RFC 9112 §9.3.1 leaves to the client's retry).
 */
function stopAccepting(server: Server, waitMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, waitMs);
    NetServer.prototype.close.call(server, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
