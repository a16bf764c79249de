import { register } from 'node:module';
import { ROOT_CONTEXT, SpanKind, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  RandomIdGenerator,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import { installKitTracer, type KitTracer } from './trace-context.js';

// For the bench's tracing variants (tools/bench), which assemble the same parts in other combinations, and its
// in-process timing of the kit's trace functions (section 7).
export { installKitTracer };
export { endSpan, rpcAttributes, startCallTrace, startRequestTrace } from './trace-context.js';
export { serviceNameOf } from './tracing.js';

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

/**
 * Starts OpenTelemetry's trace SDK for one service (the tracing preload's work, tracing-preload.ts): spans go to the
 * OTLP/HTTP endpoint of `OTEL_EXPORTER_OTLP_ENDPOINT` in batches, W3C `traceparent` is the propagator, the context
 * manager is AsyncLocalStorage's. The kit's choke points make the gRPC and HTTP spans themselves (trace-context.ts) and
 * decide sampling before any span exists, with the sampler of `OTEL_TRACES_SAMPLER`; so the SDK records every span the
 * kit starts, and the trace id of a root span is the one the decision was made for. pg's queries come from
 * OpenTelemetry's pg instrumentation (only under a request's span: `requireParentSpan`), which patches `pg` as it is
 * imported through import-in-the-middle's loader hook, limited to the instrumented package.
 */
export async function startTracingSdk(serviceName: string, env: NodeJS.ProcessEnv): Promise<void> {
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const { provider, kit } = createKitTracer({
    serviceName,
    sampler: samplerFromEnv(env),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), scheduledDelayMillis: 500, maxExportBatchSize: 256 })],
  });
  trace.setGlobalTracerProvider(provider);
  registerInstrumentations({ tracerProvider: provider, instrumentations: [new PgInstrumentation({ requireParentSpan: true })] });
  await waitForAllMessagesAcknowledged();
  installKitTracer(kit);
}

/**
 * The trace SDK's provider and the kit's tracer over it: `sampler` decides per request (the kit asks it before any
 * span exists), the provider records every span the kit starts (AlwaysOn), and a root span takes the trace id its
 * decision was made for (the provider's id generator hands it over).
 */
export function createKitTracer(options: { serviceName: string; sampler: Sampler; spanProcessors: SpanProcessor[] }): {
  provider: TracerProvider;
  kit: KitTracer;
} {
  const { serviceName, sampler, spanProcessors } = options;
  const ids = new RandomIdGenerator();
  let rootTraceId: string | undefined;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName, 'service.instance.id': `${serviceName}-${process.pid}` }),
    sampler: new AlwaysOnSampler(),
    idGenerator: {
      generateTraceId: () => rootTraceId ?? ids.generateTraceId(),
      generateSpanId: () => ids.generateSpanId(),
    },
    spanProcessors,
  });
  const parentBased = sampler instanceof ParentBasedSampler;
  const tracer = provider.getTracer('@strata/service-kit');
  const kit: KitTracer = {
    tracer,
    sampled: (traceId, parentSampled) =>
      parentBased && parentSampled !== undefined
        ? parentSampled
        : sampler.shouldSample(ROOT_CONTEXT, traceId, '', SpanKind.SERVER, {}, []).decision === SamplingDecision.RECORD_AND_SAMPLED,
    newTraceId: () => ids.generateTraceId(),
    newSpanId: () => ids.generateSpanId(),
    startRootSpan: (name, kind, attributes, traceId) => {
      rootTraceId = traceId;
      try {
        return tracer.startSpan(name, { kind, attributes, root: true }, ROOT_CONTEXT);
      } finally {
        rootTraceId = undefined;
      }
    },
    shutdown: () => provider.shutdown(),
  };
  return { provider, kit };
}
