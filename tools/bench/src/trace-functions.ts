import * as grpc from '@grpc/grpc-js';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BatchSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import {
  createKitTracer,
  endSpan,
  installKitTracer,
  rpcAttributes,
  samplerFromEnv,
  startCallTrace,
  startRequestTrace,
} from '@strata/service-kit/tracing-sdk';
import { fmt } from './rounds.js';

// Section 7 of the bench: what the kit's trace functions cost per call, timed in one process (no I/O, no other
// process on the clock), with the SDK as the services start it but an exporter that drops every batch: the price of
// deciding, making and ending spans, not of sending them (section 4 has that). Each figure is the median of 5 timed
// runs, each after a warm-up of a fifth of its calls.

const PATH = '/strata.catalog.v1.CatalogService/GetProduct';
const UNSAMPLED = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00' };
const SAMPLED = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };

function timed(calls: number, fn: () => void): number {
  const runs: number[] = [];
  for (let run = 0; run < 5; run++) {
    for (let i = 0; i < calls / 5; i++) fn();
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    runs.push(Number(process.hrtime.bigint() - start) / calls / 1000);
  }
  return runs.sort((a, b) => a - b)[2]!;
}

/** Prints section 7's table (Markdown) to stdout. */
export function traceFunctions(): void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const exporter = {
    export: (_spans: ReadableSpan[], done: (result: { code: number }) => void) => done({ code: 0 }),
    shutdown: () => Promise.resolve(),
  };
  const { provider, kit } = createKitTracer({
    serviceName: 'bench',
    sampler: samplerFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 500, maxExportBatchSize: 256 })],
  });
  trace.setGlobalTracerProvider(provider);
  installKitTracer(kit);
  const attributes = () => rpcAttributes(PATH, 'bench-request');
  const sampledRequest = startRequestTrace('GET /api/products/:id', SpanKind.SERVER, SAMPLED, attributes)!;
  const forwarded = { forward: UNSAMPLED.traceparent };
  const rows: [string, number][] = [
    [
      'no trace: a Metadata with the request id (what every outgoing call makes anyway)',
      timed(200_000, () => new grpc.Metadata().set('x-request-id', 'r')),
    ],
    [
      'a request with no traceparent: a trace id, the sampler at one in ten (a tenth of these make a span, ended at once)',
      timed(200_000, () => endSpan(startRequestTrace('GET /api/products/:id', SpanKind.SERVER, {}, attributes)?.span, {}, false)),
    ],
    [
      'a request whose parent was not sampled: no span',
      timed(200_000, () => startRequestTrace(PATH, SpanKind.SERVER, UNSAMPLED, attributes)),
    ],
    [
      'an outgoing call of a request not sampled: Metadata + the traceparent passed on',
      timed(200_000, () => {
        const metadata = new grpc.Metadata();
        metadata.set('x-request-id', 'r');
        startCallTrace(forwarded, 'grpc.x', metadata, attributes);
      }),
    ],
    [
      'a request whose parent was sampled: its server span started and ended',
      timed(50_000, () =>
        endSpan(startRequestTrace(PATH, SpanKind.SERVER, SAMPLED, attributes)?.span, { 'rpc.grpc.status_code': 0 }, false),
      ),
    ],
    [
      'an outgoing call of a sampled request: Metadata + client span + traceparent, ended',
      timed(50_000, () => {
        const metadata = new grpc.Metadata();
        metadata.set('x-request-id', 'r');
        endSpan(startCallTrace(sampledRequest, 'grpc.x', metadata, attributes), { 'rpc.grpc.status_code': 0 }, false);
      }),
    ],
  ];
  console.log('| what | µs per call |\n|---|---|');
  for (const [what, us] of rows) console.log(`| ${what} | ${fmt(us, 2)} |`);
}
