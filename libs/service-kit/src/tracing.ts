import type { Tracing } from './tracing-sdk.js';

// The type only (no code is loaded by it): the SDK itself is imported below, and only when tracing is on.
export type { Tracing } from './tracing-sdk.js';

/** Whether the environment asks for traces: an OTLP endpoint is set and the SDK is not disabled. */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true' || (env.OTEL_TRACES_EXPORTER ?? '').toLowerCase() === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Starts OpenTelemetry tracing for one service, with the official SDK and its instrumentations of grpc-js (every
 * RPC, client and server side), node:http (the edge's requests, named by their Fastify route) and pg (every query): W3C `traceparent`
 * is carried across every hop, spans go to the OTLP/HTTP endpoint of `OTEL_EXPORTER_OTLP_ENDPOINT` (an OpenTelemetry
 * collector in Kubernetes; the local cluster's console locally), sampled as `OTEL_TRACES_SAMPLER` says. Without an
 * endpoint the SDK is not even loaded and nothing is patched, so tracing off costs nothing.
 *
 * Must run before the modules it instruments are imported: a service's `main.ts` calls it first and then imports its
 * app dynamically. The apps are ES modules, so the patching goes through import-in-the-middle's loader hook (what
 * `@opentelemetry/instrumentation/hook.mjs` registers), limited to the instrumented packages.
 */
export async function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): Promise<Tracing> {
  if (!tracingRequested(env)) return { enabled: false, shutdown: async () => undefined };
  const { startTracingSdk } = await import('./tracing-sdk.js');
  return startTracingSdk(serviceName, env);
}
