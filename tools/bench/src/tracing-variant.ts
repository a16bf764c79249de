import { register } from 'node:module';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations, type Instrumentation } from '@opentelemetry/instrumentation';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { createKitTracer, installKitTracer, samplerFromEnv, serviceNameOf } from '@strata/service-kit/tracing-sdk';
import { createAddHookMessageChannel } from 'import-in-the-middle';

// Section 5 of the bench: tracing with only some of its parts, to price each one on the gateway → catalog path. A
// preload like the kit's (tracing-preload.ts), which the bench passes with --import in its place; BENCH_TRACING_PARTS
// says what it starts:
//   sdk         the trace SDK, AsyncLocalStorage's context manager, the W3C propagator, the OTLP exporter: nothing
//               makes a span (what every variant below adds to)
//   kit         the kit's own spans at its choke points (what the services run since issue 23)
//   pg          OpenTelemetry's pg instrumentation and import-in-the-middle's loader hook it needs
//   stock-grpc  OpenTelemetry's grpc-js instrumentation, stock-http its http one, stock-pg its pg one: what the
//               services ran before, each sampled by the SDK as OTEL_TRACES_SAMPLER says

const parts = new Set((process.env.BENCH_TRACING_PARTS ?? '').split(',').filter(Boolean));
if (parts.size > 0) {
  const stock = [...parts].some((part) => part.startsWith('stock-'));
  const instrumentations: Instrumentation[] = [];
  if (parts.has('stock-http'))
    instrumentations.push(
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => ['/healthz', '/readyz', '/metrics'].includes((request.url ?? '').split('?')[0]!),
        ignoreOutgoingRequestHook: () => true,
      }),
    );
  if (parts.has('stock-grpc'))
    instrumentations.push(new GrpcInstrumentation({ ignoreGrpcMethods: ['Check', 'Watch', 'ServerReflectionInfo'] }));
  if (parts.has('stock-pg') || parts.has('pg')) instrumentations.push(new PgInstrumentation({ requireParentSpan: true }));
  const hook = instrumentations.length > 0 ? createAddHookMessageChannel() : undefined;
  if (hook) register('import-in-the-middle/hook.mjs', import.meta.url, hook.registerOptions);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const serviceName = serviceNameOf(process.env, process.argv[1]);
  const spanProcessors = [
    new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), scheduledDelayMillis: 500, maxExportBatchSize: 256 }),
  ];
  const provider = stock
    ? new TracerProvider({ resource: resourceFromAttributes({ 'service.name': serviceName }), sampler: samplerFromEnv(), spanProcessors })
    : (() => {
        const { provider: kitProvider, kit } = createKitTracer({ serviceName, sampler: samplerFromEnv(), spanProcessors });
        if (parts.has('kit')) installKitTracer(kit);
        return kitProvider;
      })();
  trace.setGlobalTracerProvider(provider);
  if (instrumentations.length > 0) registerInstrumentations({ tracerProvider: provider, instrumentations });
  await hook?.waitForAllMessagesAcknowledged();
}
