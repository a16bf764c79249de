import { targetVariable } from './config.js';
import { createGrpcClient, type PromiseClient } from './grpc-client.js';
import type { ServiceMetrics } from './metrics.js';

/** A gRPC service this process calls, typed by its ts-proto client interface (`CatalogServiceClient`). */
export interface UpstreamRef<T> {
  /** Fully qualified: "strata.catalog.v1.CatalogService". */
  readonly serviceName: string;
  /** Type only: carries T. */
  readonly client?: T;
}

/** Declares an upstream: `upstream<CatalogServiceClient>('strata.catalog.v1.CatalogService')`. */
export const upstream = <T>(serviceName: string): UpstreamRef<T> => ({ serviceName });

export type UpstreamRefs = Record<string, UpstreamRef<unknown>>;
export type UpstreamClients<U extends UpstreamRefs> = { [K in keyof U]: U[K] extends UpstreamRef<infer T> ? PromiseClient<T> : never };

export interface ConnectedUpstreams<U extends UpstreamRefs> {
  readonly clients: UpstreamClients<U>;
  /** Closes every channel; the servers call it after their drain, so in-flight calls can still go out. */
  close(): void;
}

/**
 * One channel per upstream, its target read from the validated config (`catalog` → `CATALOG_TARGET`), its default
 * deadline `UPSTREAM_TIMEOUT_MS`. A missing target stops the start with a message that names the variable.
 */
export function connectUpstreams<U extends UpstreamRefs>(
  refs: U,
  config: Record<string, unknown>,
  options: { metrics?: ServiceMetrics; timeoutMs?: number },
): ConnectedUpstreams<U> {
  const clients: Record<string, PromiseClient<unknown>> = {};
  const timeoutMs = options.timeoutMs ?? Number(config.UPSTREAM_TIMEOUT_MS ?? 2_000);
  for (const [name, ref] of Object.entries(refs)) {
    const variable = targetVariable(name);
    const target = config[variable];
    if (typeof target !== 'string' || target.length === 0) {
      for (const client of Object.values(clients)) client.close();
      throw new Error(`invalid configuration: ${variable} (where ${name} is dialled) is not set`);
    }
    clients[name] = createGrpcClient(ref.serviceName, { target, timeoutMs, metrics: options.metrics });
  }
  return {
    clients: clients as UpstreamClients<U>,
    close: () => {
      for (const client of Object.values(clients)) client.close();
    },
  };
}
