import type { IncomingMessage, Server } from 'node:http';
import { Server as NetServer, type AddressInfo } from 'node:net';
import {
  Catch,
  HttpException,
  NotFoundException,
  type ArgumentsHost,
  type DynamicModule,
  type ExceptionFilter,
  type INestApplication,
  type Type,
} from '@nestjs/common';
import { APP_FILTER, NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { millisVar, ownHttpPort, portVar, serviceEnv } from './config.js';
import { answerHooks, opsRoutes, RouteTable, routeContext, sendError, traceHooks } from './http-edge-hooks.js';
import { toHttpError, type HttpError } from './http-status.js';
import { serviceRootModule } from './kit-module.js';
import { NestPinoLogger, createLogger, type Logger } from './logger.js';
import { ServiceMetrics, startMetricsServer } from './metrics.js';
import { REQUEST_ID_HEADER, acceptRequestId } from './request-context.js';
import { stopSequence } from './stop-sequence.js';
import type { ServiceKit } from './grpc-server.js';
import { connectUpstreams, type UpstreamRefs } from './upstreams.js';

export { errorCodeFor, httpStatusFor, toHttpError, type HttpError } from './http-status.js';
export type { FastifyReply, FastifyRequest } from 'fastify';
export type { ErrorBody } from './http-edge-hooks.js';

/** The settings of an HTTP edge service (the gateway); the names are the gateway's, the only edge so far. */
export const httpEdgeEnv = serviceEnv.extend({
  GATEWAY_HOST: z.string().default('127.0.0.1'),
  /** Its standalone port (apps/gateway/service.json); in a pod, the manifest's. */
  GATEWAY_PORT: ownHttpPort('gateway'),
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

export interface HttpEdgeSpec<U extends UpstreamRefs> {
  readonly name: string;
  readonly config: HttpEdgeEnv & Record<string, unknown>;
  readonly upstreams?: U;
  /**
   * The Nest module whose controllers declare the routes (`@Controller('api')`, `@Get('products/:id')`, `@Param`,
   * `@Body(pipe)`); its providers inject what the kit provides (`KIT_UPSTREAMS`, `KIT_CONFIG`, `KIT_LOGGER`).
   */
  readonly module: DynamicModule | Type;
}

export interface RunningHttpEdge<U extends UpstreamRefs> extends ServiceKit<U> {
  /** The Nest application on Nest's Fastify adapter. */
  readonly app: INestApplication;
  readonly fastify: FastifyInstance;
  /** "http://127.0.0.1:8080", with the port actually bound (GATEWAY_PORT=0 picks a free one). */
  readonly url: string;
  /** Graceful stop (`app.close()`): readiness 503, wait SHUTDOWN_DELAY_MS, finish in-flight requests, close channels. */
  stop(): Promise<void>;
}

/**
 * The edge's one error mapping as a Nest exception filter (`APP_FILTER`, `@Catch()`): whatever a handler, pipe or
 * guard threw, or Fastify refused before them (bad JSON 400, too large 413, wrong type 415, which Nest's adapter
 * hands over as an HttpException with the Fastify error as its cause), and an unknown route (Nest's not-found
 * handler) — 404, or 405 with `Allow` for a wrong method on a known path. Domain errors and upstream gRPC statuses go
 * through `toHttpError`. A team's filter on a controller or route is chosen before this one.
 */
@Catch()
class HttpErrorFilter implements ExceptionFilter {
  constructor(
    private readonly logger: Logger,
    private readonly routes: RouteTable,
    private readonly maxBodyBytes: number,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): unknown {
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const requestId = String(request.id);
    if (exception instanceof NotFoundException && (request as { is404?: boolean }).is404) {
      const route = this.routes.allowed(request.url);
      if (!route) return sendError(reply, requestId, { status: 404, message: 'no such endpoint; see the README for the API' });
      return sendError(
        reply,
        requestId,
        { status: 405, message: `${request.method} is not allowed on ${route.url}; use ${route.methods.join(', ')}` },
        { allow: route.methods.join(', ') },
      );
    }
    const mapped = httpErrorOf(exception, requestId);
    if (mapped.status === 413) mapped.message += ` (at most ${this.maxBodyBytes} bytes)`;
    if (mapped.status >= 500) this.logger.warn({ requestId, status: mapped.status, err: exception }, 'request failed');
    return sendError(reply, requestId, mapped);
  }
}

/** `toHttpError`, plus Nest's HttpException (a team's pipe or guard, or a Fastify error that Nest's adapter wrapped). */
export function httpErrorOf(exception: unknown, requestId: string): HttpError {
  if (!(exception instanceof HttpException)) return toHttpError(exception, requestId);
  const cause = exception.cause as { statusCode?: unknown } | undefined;
  if (typeof cause?.statusCode === 'number') return toHttpError(cause, requestId);
  const response = exception.getResponse();
  const said = typeof response === 'object' && response !== null ? (response as { message?: unknown }).message : response;
  return { status: exception.getStatus(), message: Array.isArray(said) ? said.join('; ') : String(said ?? exception.message) };
}

/**
 * Nest's Fastify adapter, whose `close()` (what Nest's `app.close()` calls once its destroy hooks have run) is the
 * edge's stop sequence: readiness off, SHUTDOWN_DELAY_MS, stop accepting and let the keep-alive connections end as
 * their clients were told (`stopAccepting`), answer the requests in progress, then close; Nest's shutdown hooks close
 * the upstream channels after it.
 */
class StrataFastifyAdapter extends FastifyAdapter {
  stopping?: () => Promise<void>;

  override async close(): Promise<void> {
    const stop = this.stopping;
    this.stopping = undefined;
    return stop ? stop() : super.close();
  }

  closeFastify(): Promise<void> {
    return super.close();
  }
}

/**
 * Starts an HTTP/JSON edge service on Nest's HTTP stack (the Fastify adapter): the controllers' routes, pipes,
 * guards, interceptors and filters run as Nest runs them; the kit adds, through Fastify's own hooks, the request id
 * (`x-request-id`), a request budget that every gRPC call below inherits (the request context wraps each route's
 * handler as Fastify registers it, `onRoute`: cheaper than an interceptor, docs/architecture.md §18), load shedding
 * (503 + Retry-After past GATEWAY_MAX_INFLIGHT), the body cap, metrics per route, `/healthz`, `/readyz`, `/metrics`;
 * the error mapping is an exception filter; the stop sequence is the adapter's close.
 */
export async function startHttpEdge<U extends UpstreamRefs = Record<never, never>>(spec: HttpEdgeSpec<U>): Promise<RunningHttpEdge<U>> {
  const { config } = spec;
  const logger = createLogger(spec.name, config.LOG_LEVEL);
  const metrics = new ServiceMetrics(spec.name);
  const upstreams = connectUpstreams(spec.upstreams ?? ({} as U), config, { metrics, timeoutMs: config.REQUEST_TIMEOUT_MS });
  let app: INestApplication | undefined;
  let ops: Server | undefined;
  try {
    let ready = false;

    const adapter = new StrataFastifyAdapter({
      bodyLimit: config.MAX_BODY_BYTES,
      keepAliveTimeout: config.KEEP_ALIVE_TIMEOUT_MS,
      genReqId: (req: IncomingMessage) => acceptRequestId(req.headers[REQUEST_ID_HEADER]),
      // Long path parameters reach validation (a 400 that says what an id looks like) instead of the router's 414.
      routerOptions: { maxParamLength: 4_096 },
      // Errors the router raises before any handler (a malformed percent-encoding in the URL) get the same body.
      frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
        void sendError(reply, String(request.id), { status: 400, message: `the URL is not valid: ${error.message.slice(0, 200)}` });
      },
    });
    const fastify = adapter.getInstance();
    // JSON only: a text/plain body is refused with 415 rather than parsed as a string.
    fastify.removeContentTypeParser(['text/plain']);

    traceHooks(fastify);
    answerHooks(fastify, { registry: metrics.registry, maxInflight: config.GATEWAY_MAX_INFLIGHT, isReady: () => ready });
    const routes = new RouteTable();
    routeContext(fastify, routes, config.REQUEST_TIMEOUT_MS);
    opsRoutes(fastify, metrics.registry, () => ready);

    const root = serviceRootModule(
      { serviceName: spec.name, logger, metrics, config, upstreams: upstreams.clients },
      spec.module,
      [{ provide: APP_FILTER, useValue: new HttpErrorFilter(logger, routes, config.MAX_BODY_BYTES) }],
      [() => upstreams.close(), () => new Promise<void>((resolve) => (ops ? ops.close(() => resolve()) : resolve()))],
    );
    // bodyParser off: Fastify's own JSON parser stays the only one (Nest's would add a urlencoded parser).
    app = await NestFactory.create(root, adapter, { logger: new NestPinoLogger(logger), abortOnError: false, bodyParser: false });
    const server = fastify.server;
    // Fastify hands these options to net.Server.listen, which knows reusePort (Node >= 22.12); Nest's types do not.
    await app.listen({ port: config.GATEWAY_PORT, host: config.GATEWAY_HOST, reusePort: config.GATEWAY_REUSE_PORT } as unknown as number);
    adapter.stopping = stopSequence({
      logger,
      shutdownDelayMs: config.SHUTDOWN_DELAY_MS,
      drainTimeoutMs: config.DRAIN_TIMEOUT_MS,
      notReady: () => (ready = false),
      // Stops accepting, lets the keep-alive connections end as their clients are told (stopAccepting), answers the
      // requests in progress (with Connection: close), then closes what is left.
      drain: async () => {
        await stopAccepting(server, config.KEEP_ALIVE_TIMEOUT_MS);
        await adapter.closeFastify();
      },
      forceClose: () => server.closeAllConnections(),
    });
    const port = (server.address() as AddressInfo).port;
    const url = `http://${config.GATEWAY_HOST}:${port}`;
    // Several local replicas share the API port (SO_REUSEPORT), so a probe or scrape of one needs a port of its own.
    ops = config.OPS_PORT > 0 ? await startMetricsServer(metrics.registry, config.OPS_PORT, config.GATEWAY_HOST, () => ready) : undefined;
    ready = true;
    logger.info({ url, opsPort: config.OPS_PORT || undefined }, `${spec.name} serving`);

    const nest = app;
    let stopping: Promise<void> | undefined;
    const stop = () => (stopping ??= nest.close());
    return { app, fastify, url, logger, metrics, upstreams: upstreams.clients, stop };
  } catch (error) {
    await app?.close().catch(() => undefined);
    ops?.close();
    upstreams.close();
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
