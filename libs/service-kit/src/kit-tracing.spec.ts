import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SamplingDecision, SimpleSpanProcessor, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import { Controller, Get, Module, Param } from '@nestjs/common';
import type { CatalogServiceClient, GetProductRequest } from '@strata/contracts/catalog/v1';
import { grpcServiceEnv, loadConfig } from './config.js';
import { createGrpcClient, type PromiseClient } from './grpc-client.js';
import { grpcModule } from './grpc-module.js';
import { httpEdgeEnv, startHttpEdge, type RunningHttpEdge } from './http-edge.js';
import { startGrpcService, type RunningGrpcService } from './grpc-server.js';
import { currentRequestContext, runWithRequestContext } from './request-context.js';
import { installKitTracer, type KitTracer, type RequestTrace } from './trace-context.js';
import { createKitTracer, samplerFromEnv } from './tracing-sdk.js';

// The kit's own spans over real gRPC on loopback: a front service that forwards GetProduct to a backend, both through
// the kit's server and client, with the trace SDK recording into memory. Counts every span the kit asks the SDK for,
// so "a request that is not sampled creates no span object" is what is asserted, not what is hoped.

const CATALOG = 'strata.catalog.v1.CatalogService';
const exporter = new InMemorySpanExporter();
let spansStarted = 0;

/** Tracing on with the sampler of these OpenTelemetry variables, counting the spans the kit starts. */
function traceWith(env: NodeJS.ProcessEnv): void {
  const { kit } = createKitTracer({
    serviceName: 'kit-test',
    sampler: samplerFromEnv(env),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const counted: KitTracer = {
    ...kit,
    tracer: {
      startSpan: (...args: Parameters<KitTracer['tracer']['startSpan']>) => (spansStarted++, kit.tracer.startSpan(...args)),
      startActiveSpan: kit.tracer.startActiveSpan.bind(kit.tracer),
    } as KitTracer['tracer'],
    startRootSpan: (...args) => (spansStarted++, kit.startRootSpan(...args)),
  };
  installKitTracer(counted);
}

const seen: { traceparent?: string; tracestate?: string; trace?: RequestTrace }[] = [];
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/;

/** The edge's route: GET /api/things/:id asks the backend (through the kit's client, made in `before`). */
let edgeToBackend: PromiseClient<CatalogServiceClient>;
@Controller('api/things')
class ThingsController {
  @Get(':id')
  thing(@Param('id') id: string) {
    return edgeToBackend.getProduct({ id });
  }
}
@Module({ controllers: [ThingsController] })
class ThingsModule {}

describe('tracing at the kit’s choke points (gRPC server and client, real SDK, loopback)', () => {
  let backend: RunningGrpcService;
  let front: RunningGrpcService;
  let toBackend: PromiseClient<CatalogServiceClient>;
  let toFront: PromiseClient<CatalogServiceClient>;
  let edge: RunningHttpEdge<Record<never, never>>;

  before(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const config = () => loadConfig(grpcServiceEnv, { GRPC_PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'silent', SHUTDOWN_DELAY_MS: '0' });
    backend = await startGrpcService({
      name: 'backend',
      services: [CATALOG],
      config: config(),
      module: grpcModule({
        [CATALOG]: {
          getProduct(request: GetProductRequest, metadata: grpc.Metadata) {
            seen.push({
              traceparent: metadata.get('traceparent')[0] as string | undefined,
              tracestate: metadata.get('tracestate')[0] as string | undefined,
              trace: currentRequestContext()?.trace,
            });
            if (request.id === 'p-500') throw new Error('backend broke');
            return { product: { id: request.id, name: 'n', description: '', category: 'books', tags: [], attributes: {} } };
          },
        },
      }),
    });
    toBackend = createGrpcClient<CatalogServiceClient>(CATALOG, { target: `ipv4:${backend.address}`, timeoutMs: 2_000, maxAttempts: 1 });
    front = await startGrpcService({
      name: 'front',
      services: [CATALOG],
      config: config(),
      module: grpcModule({ [CATALOG]: { getProduct: (request: GetProductRequest) => toBackend.getProduct(request) } }),
    });
    toFront = createGrpcClient<CatalogServiceClient>(CATALOG, { target: `ipv4:${front.address}`, timeoutMs: 2_000, maxAttempts: 1 });
    edgeToBackend = createGrpcClient<CatalogServiceClient>(CATALOG, {
      target: `ipv4:${backend.address}`,
      timeoutMs: 2_000,
      maxAttempts: 1,
    });
    const edgeConfig = loadConfig(httpEdgeEnv, { GATEWAY_PORT: '0', LOG_LEVEL: 'silent', SHUTDOWN_DELAY_MS: '0' });
    edge = await startHttpEdge({ name: 'edge', config: edgeConfig, module: ThingsModule });
  });
  after(async () => {
    installKitTracer(undefined);
    await edge.stop();
    edgeToBackend.close();
    toFront.close();
    await front.stop();
    toBackend.close();
    await backend.stop();
  });
  beforeEach(() => {
    exporter.reset();
    spansStarted = 0;
    seen.length = 0;
  });

  /** A call to the front from a caller whose request carries this traceparent (or none). */
  const call = (traceparent?: string, id = 'p-1', tracestate?: string) =>
    runWithRequestContext({ requestId: 'req-trace', trace: traceparent ? { forward: traceparent, state: tracestate } : undefined }, () =>
      toFront.getProduct({ id }),
    );

  it('tracing off: no traceparent is sent and nothing is recorded', async () => {
    installKitTracer(undefined);
    await call();
    assert.equal(seen[0]!.traceparent, undefined);
    assert.equal(seen[0]!.trace, undefined);
    assert.equal(exporter.getFinishedSpans().length, 0);
  });

  it('a root request the sampler drops creates no span, and the hops below get a "not sampled" traceparent', async () => {
    traceWith({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' });
    await call();
    assert.equal(spansStarted, 0, 'no span object was asked for');
    assert.equal(exporter.getFinishedSpans().length, 0);
    const match = TRACEPARENT.exec(seen[0]!.traceparent ?? '');
    assert.ok(match, `the backend got a traceparent: ${seen[0]!.traceparent}`);
    assert.equal(match[3], '00', 'flagged not sampled');
    assert.deepEqual(seen[0]!.trace, { forward: seen[0]!.traceparent, state: undefined }, 'the backend passes it on unchanged');
  });

  it('an unsampled parent is passed on unchanged, tracestate too, with no span', async () => {
    traceWith({});
    const parent = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-00`;
    await call(parent, 'p-1', 'vendor=x');
    assert.equal(spansStarted, 0);
    assert.equal(seen[0]!.traceparent, parent);
    assert.equal(seen[0]!.tracestate, 'vendor=x');
  });

  it('a sampled parent is followed by every hop: server, client and backend spans under it, with the request id', async () => {
    traceWith({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' });
    const traceId = 'c'.repeat(32);
    await call(`00-${traceId}-${'d'.repeat(16)}-01`);
    const spans = exporter.getFinishedSpans();
    assert.equal(spans.length, 3, spans.map((s) => s.name).join(', '));
    assert.ok(spans.every((s) => s.spanContext().traceId === traceId));
    const servers = spans.filter((s) => s.kind === SpanKind.SERVER);
    const client = spans.find((s) => s.kind === SpanKind.CLIENT)!;
    const frontSpan = servers.find((s) => s.parentSpanContext?.spanId === 'd'.repeat(16));
    assert.ok(frontSpan, 'the front span hangs under the caller');
    assert.equal(client.parentSpanContext?.spanId, frontSpan.spanContext().spanId, 'the call is a child of the front span');
    assert.ok(
      servers.some((s) => s.parentSpanContext?.spanId === client.spanContext().spanId),
      'the backend span hangs under the call',
    );
    for (const span of [...servers, client]) {
      assert.equal(span.name, `grpc.${CATALOG}/GetProduct`);
      assert.equal(span.attributes['rpc.system'], 'grpc');
      assert.equal(span.attributes['rpc.method'], 'GetProduct');
      assert.equal(span.attributes['rpc.grpc.status_code'], 0);
    }
    for (const span of servers) assert.equal(span.attributes['strata.request_id'], 'req-trace');
    assert.match(
      seen[0]!.traceparent!,
      new RegExp(`^00-${traceId}-${client.spanContext().spanId}-01$`),
      'the backend got the call span as parent',
    );
  });

  it('a root decision by trace id ratio is made on the trace id the span then carries', async () => {
    traceWith({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' });
    const ratio = new TraceIdRatioBasedSampler(0.5);
    const keeps = (traceId: string) => ratio.shouldSample(ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED;
    for (let i = 0; i < 40; i++) await call();
    const roots = exporter.getFinishedSpans().filter((s) => !s.parentSpanContext);
    const forwarded = seen.filter((s) => s.traceparent?.endsWith('-00'));
    assert.ok(roots.length > 0 && forwarded.length > 0, `both outcomes in 40 calls: ${roots.length} kept, ${forwarded.length} dropped`);
    assert.equal(roots.length + forwarded.length, 40);
    assert.ok(
      roots.every((s) => keeps(s.spanContext().traceId)),
      'every kept trace id is one the ratio keeps',
    );
    assert.ok(
      forwarded.every((s) => !keeps(TRACEPARENT.exec(s.traceparent!)![1]!)),
      'every dropped one is one it drops',
    );
  });

  it('a failed call marks the client span and the server spans as errors, with the status code', async () => {
    traceWith({});
    await assert.rejects(call(undefined, 'p-500'));
    const spans = exporter.getFinishedSpans();
    assert.equal(spans.length, 3);
    for (const span of spans) {
      assert.equal(span.status.code, SpanStatusCode.ERROR, `${span.kind} span`);
      assert.equal(span.attributes['rpc.grpc.status_code'], 13);
    }
  });

  it('the edge: a span per API request named after its route, the request id on it, none for probes', async () => {
    traceWith({});
    const response = await fetch(`${edge.url}/api/things/p-7`, { headers: { 'x-request-id': 'edge-trace-1' } });
    assert.equal(response.status, 200);
    assert.equal((await fetch(`${edge.url}/readyz`)).status, 200);
    const spans = exporter.getFinishedSpans();
    const request = spans.find((s) => s.kind === SpanKind.SERVER && s.name === 'GET /api/things/:id');
    assert.ok(request, `the edge's span: ${spans.map((s) => s.name).join(', ')}`);
    assert.equal(request.parentSpanContext, undefined, 'a root');
    assert.equal(request.attributes['http.route'], '/api/things/:id');
    assert.equal(request.attributes['url.path'], '/api/things/p-7');
    assert.equal(request.attributes['http.response.status_code'], 200);
    assert.equal(request.attributes['strata.request_id'], 'edge-trace-1');
    const client = spans.find((s) => s.kind === SpanKind.CLIENT);
    assert.equal(client?.parentSpanContext?.spanId, request.spanContext().spanId, 'the upstream call under the request');
    assert.equal(spans.length, 3, 'request, call, backend: nothing for /readyz');
  });

  it('the edge: a request that is not sampled creates no span and passes "not sampled" on', async () => {
    traceWith({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' });
    const parent = `00-${'e'.repeat(32)}-${'f'.repeat(16)}-00`;
    assert.equal((await fetch(`${edge.url}/api/things/p-8`)).status, 200);
    assert.equal((await fetch(`${edge.url}/api/things/p-9`, { headers: { traceparent: parent } })).status, 200);
    assert.equal(spansStarted, 0);
    assert.match(seen[0]!.traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    assert.equal(seen[1]!.traceparent, parent);
  });
});
