import type { FastifyInstance, FastifyReply, HTTPMethods, RouteOptions } from 'fastify';
import FindMyWay from 'find-my-way';
import { Counter, Histogram, type Registry } from 'prom-client';
import { errorCodeFor, type HttpError } from './http-status.js';
import { ScrapedCounter } from './metrics.js';
import { REQUEST_ID_HEADER, runWithRequestContext } from './request-context.js';
import {
  REQUEST_ID_ATTRIBUTE,
  SpanKind,
  endSpan,
  kitTracer,
  startRequestTrace,
  withRequestTrace,
  type RequestTrace,
  type TraceHeaders,
} from './trace-context.js';

// What the HTTP edge adds through Fastify's own hooks (startHttpEdge, http-edge.ts): each concern its own function.

/** The JSON body of every error the edge answers. */
export interface ErrorBody {
  error: { status: number; code: string; message: string; requestId: string };
}

const OPS_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** Sends the edge's error body (`ErrorBody`); 429 and 503 carry `Retry-After`. */
export function sendError(reply: FastifyReply, requestId: string, error: HttpError, headers: Record<string, string> = {}) {
  if (error.status === 503 || error.status === 429) reply.header('retry-after', '1');
  for (const [name, value] of Object.entries(headers)) reply.header(name, value);
  const body: ErrorBody = { error: { status: error.status, code: errorCodeFor(error.status), message: error.message, requestId } };
  return reply.status(error.status).header('content-type', 'application/json; charset=utf-8').send(body);
}

/** The API's routes as Fastify registered them, to answer a wrong method on a known path with 405 (RFC 9110). */
export class RouteTable {
  readonly #router = FindMyWay();
  readonly #methods = new Map<string, HTTPMethods[]>();

  add(method: HTTPMethods, url: string): void {
    const known = this.#methods.get(url);
    if (known) known.push(method);
    else {
      const methods = [method];
      this.#methods.set(url, methods);
      // One entry per path: the store says which methods the path has.
      this.#router.on('GET', url, () => undefined, { url, methods });
    }
  }

  /** The route a path belongs to and its methods (HEAD with GET), or undefined if no route has it. */
  allowed(path: string): { url: string; methods: string[] } | undefined {
    const found = this.#router.find('GET', path.split('?')[0] ?? path);
    if (!found) return undefined;
    const { url, methods } = found.store as { url: string; methods: HTTPMethods[] };
    return { url, methods: [...methods, ...(methods.includes('GET') && !methods.includes('HEAD') ? ['HEAD'] : [])] };
  }
}

/**
 * Every answer's lifecycle: the request id header; `Connection: close` once readiness is off (a keep-alive client
 * reconnects to a ready replica instead of meeting the final close); load shedding — past `maxInflight` concurrent API
 * requests, 503 + Retry-After at once instead of queueing work that would miss its deadline anyway, so the edge stays
 * responsive and recovers as soon as load drops; and the metrics per route (`http_requests_total`,
 * `http_request_duration_seconds`, `http_requests_shed_total`).
 */
export function answerHooks(fastify: FastifyInstance, options: { registry: Registry; maxInflight: number; isReady: () => boolean }): void {
  const { registry, maxInflight, isReady } = options;
  const requests = new ScrapedCounter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route and status.',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer an HTTP request.',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const shed = new Counter({
    name: 'http_requests_shed_total',
    help: 'API requests refused because the edge was at capacity.',
    registers: [registry],
  });
  let inflight = 0;
  const counted = new WeakSet<object>();
  const release = (request: object) => {
    if (counted.delete(request)) inflight--;
  };
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    if (!isReady()) reply.header('connection', 'close');
    if (!OPS_PATHS.has(request.url)) {
      if (inflight >= maxInflight) {
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
  // Label children made once per (method, route, status), not per request: the counter's children count with
  // `count++` (ScrapedCounter); the histogram's child still has prom-client hash its labels on every observation.
  const answered = new Map<string, { inc(): void }>();
  const timed = new Map<string, { observe(value: number): void }>();
  fastify.addHook('onResponse', (request, reply, done) => {
    release(request);
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${request.method} ${route}`;
    const statusKey = `${key} ${reply.statusCode}`;
    let count = answered.get(statusKey);
    if (!count) answered.set(statusKey, (count = requests.labels({ method: request.method, route, status: String(reply.statusCode) })));
    count.inc();
    let time = timed.get(key);
    if (!time) timed.set(key, (time = latency.labels({ method: request.method, route })));
    time.observe(reply.elapsedTime / 1000);
    done();
  });
}

const REQUEST_TRACE = Symbol('strata.request-trace');
type Traced = { [REQUEST_TRACE]?: RequestTrace };

/**
 * The span of every API request (not of probes and scrapes, which would bury the requests people look for): started
 * as the request arrives, named after its route ("GET /api/products/:id") with OpenTelemetry's HTTP server attributes
 * and the request id, a child of the caller's `traceparent`; ended with the status it was answered with (an error from
 * 500 up) or when the client goes away. The kit makes it with the OpenTelemetry API rather than the http
 * instrumentation, which wrapped every request and response whether sampled or not (docs/performance.md, "Tracing").
 * Registered first, so a request the edge sheds has its span too.
 */
export function traceHooks(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (kitTracer() && !OPS_PATHS.has(request.url)) {
      const route = request.routeOptions.url;
      const requestTrace = startRequestTrace(
        () => (route ? `${request.method} ${route}` : request.method),
        SpanKind.SERVER,
        request.headers as TraceHeaders,
        () => ({
          'http.request.method': request.method,
          ...(route ? { 'http.route': route } : {}),
          'url.path': request.url.split('?')[0],
          'url.scheme': request.protocol,
          [REQUEST_ID_ATTRIBUTE]: String(request.id),
        }),
      );
      if (requestTrace) (request as Traced)[REQUEST_TRACE] = requestTrace;
    }
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    endSpan((request as Traced)[REQUEST_TRACE]?.span, { 'http.response.status_code': status }, status >= 500);
    done();
  });
  fastify.addHook('onRequestAbort', (request, done) => {
    endSpan((request as Traced)[REQUEST_TRACE]?.span, {}, true, 'the client closed the connection before the answer');
    done();
  });
}

/**
 * Every API route Nest registers: into the route table (for 405), and its handler run inside the request context (id
 * and a budget of `budgetMs`, which logs and outgoing calls read) with the request's trace (`traceHooks`) — wrapped
 * as Fastify registers it (`onRoute`): cheaper than an interceptor, docs/architecture.md §18.
 */
export function routeContext(fastify: FastifyInstance, routes: RouteTable, budgetMs: number): void {
  fastify.addHook('onRoute', (route: RouteOptions) => {
    if (OPS_PATHS.has(route.url) || route.url.includes('*')) return;
    const methods = (Array.isArray(route.method) ? route.method : [route.method]) as HTTPMethods[];
    for (const method of methods) if (method !== 'HEAD') routes.add(method, route.url);
    const handler = route.handler;
    const name = `${methods[0]} ${route.url}`;
    route.handler = function (this: FastifyInstance, request, reply) {
      const requestTrace = (request as Traced)[REQUEST_TRACE];
      return withRequestTrace(requestTrace, () =>
        runWithRequestContext({ requestId: String(request.id), deadline: Date.now() + budgetMs, trace: requestTrace }, () =>
          handler.call(this, request, reply),
        ),
      );
    };
    Object.defineProperty(route.handler, 'name', { value: name });
  });
}

/** `/healthz` (alive), `/readyz` (503 while starting or stopping) and `/metrics` on the API port. */
export function opsRoutes(fastify: FastifyInstance, registry: Registry, isReady: () => boolean): void {
  fastify.get('/healthz', async () => ({ status: 'ok' }));
  fastify.get('/readyz', async (request, reply) =>
    isReady() ? { status: 'ready' } : sendError(reply, String(request.id), { status: 503, message: 'shutting down or starting' }),
  );
  fastify.get('/metrics', async (_request, reply) => reply.header('content-type', registry.contentType).send(await registry.metrics()));
}
