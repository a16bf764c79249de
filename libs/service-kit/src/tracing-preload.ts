import { serviceNameOf, tracingRequested } from './tracing.js';

// The tracing preload: every service runs with `--import=@strata/service-kit/tracing-preload` (SERVICE_NODE_OPTIONS,
// @strata/service-registry), which is how OpenTelemetry starts tracing for ES modules: before the service's own modules
// load, so the pg instrumentation's loader hook sees `pg` imported. Without an OTLP endpoint it loads nothing more and
// tracing off costs nothing; with one, the SDK starts here and the service's kit finds its tracer (trace-context.ts).

if (tracingRequested()) {
  const { startTracingSdk } = await import('./tracing-sdk.js');
  await startTracingSdk(serviceNameOf(process.env, process.argv[1]), process.env);
}
