import { register } from 'node:module';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
} from '@opentelemetry/sdk-trace';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import { HTTP_SERVER_SPAN } from './trace-context.js';

export interface Tracing {
  /** Whether spans are recorded and exported (an OTLP endpoint was configured). */
  readonly enabled: boolean;
  /** Exports what is buffered and stops; part of the stop sequence. */
  shutdown(): Promise<void>;
}

/** Paths whose requests are never traced: probes and scrapes would bury the requests people look for. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);
/** Health checks and reflection (method names: the instrumentation matches on the last part of the path). */
const UNTRACED_RPCS = ['Check', 'Watch', 'ServerReflectionInfo'];

/**
 * The sampler of the standard variables `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` (the OpenTelemetry spec's
 * names and values; the 3.x trace SDK no longer reads them itself). Default: parentbased_always_on, so a trace that
 * the edge decided to keep is kept by every hop below it.
 */
export function samplerFromEnv(env: NodeJS.ProcessEnv = process.env): Sampler {
  const name = (env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on').trim().toLowerCase();
  const ratio = Math.min(1, Math.max(0, Number(env.OTEL_TRACES_SAMPLER_ARG ?? 1)));
  const root: Record<string, () => Sampler> = {
    always_on: () => new AlwaysOnSampler(),
    always_off: () => new AlwaysOffSampler(),
    traceidratio: () => new TraceIdRatioBasedSampler(Number.isFinite(ratio) ? ratio : 1),
  };
  const parentBased = name.startsWith('parentbased_');
  const make = root[parentBased ? name.slice('parentbased_'.length) : name];
  if (!make)
    throw new Error(
      `OTEL_TRACES_SAMPLER=${name} is not one of ${Object.keys(root)
        .flatMap((k) => [k, `parentbased_${k}`])
        .join(', ')}`,
    );
  return parentBased ? new ParentBasedSampler({ root: make() }) : make();
}

/** The SDK side of `startTracing` (tracing.ts), loaded only when tracing is asked for. */
export async function startTracingSdk(serviceName: string, env: NodeJS.ProcessEnv): Promise<Tracing> {
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);

  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName, 'service.instance.id': `${serviceName}-${process.pid}` }),
    sampler: samplerFromEnv(env),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), scheduledDelayMillis: 500, maxExportBatchSize: 256 })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has((request.url ?? '').split('?')[0]!),
        // Kept on the request, so that the edge tags it with the request id it accepts or makes (tagRequestSpan).
        requestHook: (span, request) => Object.assign(request, { [HTTP_SERVER_SPAN]: span }),
        // The exporter's own requests to the collector would trace themselves.
        ignoreOutgoingRequestHook: () => true,
      }),
      new GrpcInstrumentation({ ignoreGrpcMethods: UNTRACED_RPCS }),
      new PgInstrumentation({ requireParentSpan: true }),
    ],
  });
  await waitForAllMessagesAcknowledged();
  return { enabled: true, shutdown: () => provider.shutdown() };
}
