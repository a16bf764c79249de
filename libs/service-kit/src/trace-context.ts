import { trace, type Span } from '@opentelemetry/api';

/** Span attribute that carries Strata's request id, so a trace and the JSON logs of every hop can be joined. */
export const REQUEST_ID_ATTRIBUTE = 'strata.request_id';

/**
 * Marks the active span (the RPC being served) with the request id. Only the OpenTelemetry API is loaded here: with
 * tracing off there is no active span and this is a lookup that finds nothing.
 */
export function tagActiveSpan(requestId: string): void {
  trace.getActiveSpan()?.setAttribute(REQUEST_ID_ATTRIBUTE, requestId);
}

/** Where the HTTP instrumentation leaves the span of an incoming request, so the edge can tag it once it has an id. */
export const HTTP_SERVER_SPAN = Symbol.for('strata.http-server-span');

/** Tags the span of an incoming HTTP request (kept on the request by the tracing setup) with the request id. */
export function tagRequestSpan(request: object, requestId: string): void {
  (request as { [HTTP_SERVER_SPAN]?: Span })[HTTP_SERVER_SPAN]?.setAttribute(REQUEST_ID_ATTRIBUTE, requestId);
}

/**
 * Names the span of an incoming HTTP request after its route ("GET /api/products/:id") and records `http.route`, as
 * OpenTelemetry's Fastify instrumentation would; the edge does it itself because that instrumentation also wraps
 * every hook in a span of its own, which cost about 20 µs per request (docs/performance.md).
 */
export function nameRequestSpan(request: object, method: string, route: string): void {
  const span = (request as { [HTTP_SERVER_SPAN]?: Span })[HTTP_SERVER_SPAN];
  span?.setAttribute('http.route', route);
  span?.updateName(`${method} ${route}`);
}
