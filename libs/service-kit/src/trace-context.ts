import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context as otelContext,
  createTraceState,
  propagation,
  trace,
  type Attributes,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';

// The kit's own spans, at its choke points: the gRPC server (grpc-transport.ts), the gRPC client (grpc-client.ts) and the
// HTTP edge (http-edge-hooks.ts). Only the OpenTelemetry API is loaded here; the SDK is started by the tracing preload
// (tracing-preload.ts) and leaves a `KitTracer` behind. With tracing off there is none, and every function below returns
// at its first line. A request that is not sampled gets no span object and no attribute: its `traceparent` is passed
// on as it came (or, at the root, as a fresh "not sampled" one), so the hops below it do not sample it either
// (docs/performance.md, "Tracing").

/** Span attribute that carries Strata's request id, so a trace and the JSON logs of every hop can be joined. */
export const REQUEST_ID_ATTRIBUTE = 'strata.request_id';
/** The W3C Trace Context headers (https://www.w3.org/TR/trace-context/), as HTTP headers and gRPC metadata keys. */
export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';

/** What the tracing setup (tracing-sdk.ts) leaves for the kit's choke points. */
export interface KitTracer {
  readonly tracer: Tracer;
  /**
   * Whether a request is sampled, as `OTEL_TRACES_SAMPLER` says: where the sampler is parent-based and the request came
   * with a parent, the parent's flag; otherwise the sampler's own answer for this trace id.
   */
  sampled(traceId: string, parentSampled: boolean | undefined): boolean;
  /** 32 and 16 lowercase hex digits, as the SDK's own id generator makes them. */
  newTraceId(): string;
  newSpanId(): string;
  /** Starts a span with no parent under the trace id the sampling decision was made for. */
  startRootSpan(name: string, kind: SpanKind, attributes: Attributes, traceId: string): Span;
  /** Exports what is buffered and stops; run once the service has stopped (`stopOnSignals`). */
  shutdown(): Promise<void>;
}

// On globalThis, the way the OpenTelemetry API keeps its own globals: the preload and the app may load two copies of
// this file (the local cluster runs an app from a revision of its build), and both must see the one tracer.
const KIT_TRACER = Symbol.for('strata.kit-tracer');
type Globals = { [KIT_TRACER]?: KitTracer };

export function installKitTracer(tracer: KitTracer | undefined): void {
  (globalThis as Globals)[KIT_TRACER] = tracer;
}

/** The kit's tracer when tracing is on, or undefined. */
export function kitTracer(): KitTracer | undefined {
  return (globalThis as Globals)[KIT_TRACER];
}

/** Exports the spans still buffered and stops tracing; nothing when tracing is off. */
export async function shutdownTracing(): Promise<void> {
  const tracer = kitTracer();
  installKitTracer(undefined);
  await tracer?.shutdown();
}

/**
 * The trace part of one request's context: the span recording it (sampled), or the `traceparent` (and `tracestate`)
 * that every outgoing call passes on unchanged (not sampled).
 */
export type RequestTrace =
  | { readonly span: Span; readonly forward?: undefined; readonly state?: undefined }
  | { readonly span?: undefined; readonly forward: string; readonly state?: string };

/** The incoming headers of a request, whatever carries them (HTTP headers, gRPC metadata). */
export interface TraceHeaders {
  readonly traceparent?: string;
  readonly tracestate?: string;
}

// version 00; a trace id and a parent id that are not all zeros (checked below); the flags.
const TRACEPARENT_PATTERN = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
const headerGetter: TextMapGetter<TraceHeaders> = {
  keys: () => [TRACEPARENT, TRACESTATE],
  get: (carrier, key) => (key === TRACEPARENT ? carrier.traceparent : key === TRACESTATE ? carrier.tracestate : undefined),
};

/**
 * Decides whether an incoming request is traced and, if it is, starts its span (a child of the caller's span, or a
 * root). `attributes` (and `name`, where it is a function) are called only for a sampled request. Undefined when
 * tracing is off.
 */
export function startRequestTrace(
  name: string | (() => string),
  kind: SpanKind,
  headers: TraceHeaders,
  attributes: () => Attributes,
): RequestTrace | undefined {
  const kit = kitTracer();
  if (!kit) return undefined;
  const incoming = headers.traceparent;
  const match = incoming === undefined ? null : TRACEPARENT_PATTERN.exec(incoming);
  const parent = match && match[1] !== ZERO_TRACE && match[2] !== ZERO_SPAN ? match : null;
  const traceId = parent ? parent[1]! : kit.newTraceId();
  const parentSampled = parent ? (Number.parseInt(parent[3]!, 16) & 1) === 1 : undefined;
  if (!kit.sampled(traceId, parentSampled)) {
    return parent ? { forward: incoming!, state: headers.tracestate } : { forward: `00-${traceId}-${kit.newSpanId()}-00` };
  }
  const spanName = typeof name === 'string' ? name : name();
  if (!parent) return { span: kit.startRootSpan(spanName, kind, attributes(), traceId) };
  // Sampled under a remote parent: the propagator (the library's, registered by the SDK) reads traceparent and
  // tracestate; a parent that said "not sampled" to a sampler that is not parent-based is recorded all the same.
  let parentContext = propagation.extract(ROOT_CONTEXT, headers, headerGetter);
  const remote = trace.getSpanContext(parentContext);
  if (!remote) {
    parentContext = trace.setSpanContext(ROOT_CONTEXT, {
      traceId,
      spanId: parent[2]!,
      traceFlags: 1,
      isRemote: true,
      traceState: headers.tracestate ? createTraceState(headers.tracestate) : undefined,
    });
  } else if ((remote.traceFlags & 1) === 0) parentContext = trace.setSpanContext(ROOT_CONTEXT, { ...remote, traceFlags: 1 });
  return { span: kit.tracer.startSpan(spanName, { kind, attributes: attributes() }, parentContext) };
}

/** Runs `fn` with the request's span as OpenTelemetry's active span (the pg instrumentation hangs its queries under it). */
export function withRequestTrace<T>(requestTrace: RequestTrace | undefined, fn: () => T): T {
  return requestTrace?.span ? otelContext.with(trace.setSpan(ROOT_CONTEXT, requestTrace.span), fn) : fn();
}

const metadataSetter: TextMapSetter<{ set(key: string, value: string): void }> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

/**
 * For an outgoing call made while serving a request: passes the trace on in `metadata` and, if the request is sampled,
 * starts the call's client span (the caller ends it with `endSpan`).
 */
export function startCallTrace(
  requestTrace: RequestTrace | undefined,
  name: string,
  metadata: { set(key: string, value: string): void },
  attributes: () => Attributes,
): Span | undefined {
  if (!requestTrace) return undefined;
  if (requestTrace.forward !== undefined) {
    metadata.set(TRACEPARENT, requestTrace.forward);
    if (requestTrace.state) metadata.set(TRACESTATE, requestTrace.state);
    return undefined;
  }
  const kit = kitTracer();
  if (!kit) return undefined;
  const parent = trace.setSpan(ROOT_CONTEXT, requestTrace.span);
  const span = kit.tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes: attributes() }, parent);
  propagation.inject(trace.setSpan(parent, span), metadata, metadataSetter);
  return span;
}

/** Ends a span with its outcome: `failed` marks it as an error, with the message a person reads. */
export function endSpan(span: Span | undefined, attributes: Attributes, failed: boolean, message?: string): void {
  if (!span) return;
  span.setAttributes(attributes);
  if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.end();
}

/** The gRPC span attributes of OpenTelemetry's RPC conventions, as the grpc-js instrumentation set them. */
export function rpcAttributes(path: string, requestId?: string): Attributes {
  const slash = path.lastIndexOf('/');
  const attributes: Attributes = { 'rpc.system': 'grpc', 'rpc.service': path.slice(1, slash), 'rpc.method': path.slice(slash + 1) };
  if (requestId !== undefined) attributes[REQUEST_ID_ATTRIBUTE] = requestId;
  return attributes;
}

/** Server-side gRPC codes that mean the server failed (OpenTelemetry's RPC conventions); the rest are the caller's. */
const SERVER_ERROR_CODES = new Set([2, 4, 12, 13, 14, 15]);
export const isServerError = (code: number) => SERVER_ERROR_CODES.has(code);

export { SpanKind };
