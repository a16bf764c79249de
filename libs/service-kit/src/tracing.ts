import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Whether the environment asks for traces: an OTLP endpoint is set and the SDK is not disabled. */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true' || (env.OTEL_TRACES_EXPORTER ?? '').toLowerCase() === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * The service's name in its traces: `OTEL_SERVICE_NAME` where set (OpenTelemetry's variable), otherwise the name of
 * the package that holds the entry script (`apps/gateway/dist/main.js` → `@strata/gateway` → "gateway").
 */
export function serviceNameOf(env: NodeJS.ProcessEnv, entry: string | undefined): string {
  if (env.OTEL_SERVICE_NAME) return env.OTEL_SERVICE_NAME;
  for (let dir = entry ? dirname(entry) : process.cwd(), i = 0; i < 4; dir = dirname(dir), i++) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const name = (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name;
      if (name) return name.slice(name.lastIndexOf('/') + 1);
    }
  }
  return 'unknown_service:node';
}
