import { loadSession, type LoadSession, type Scenario } from '@strata/loadtests';
import { CATALOG } from './bench-servers.js';

export type { LoadResult } from '@strata/loadtests';

/** gRPC GetProduct: the bench's subject call, the same message every time. */
const GET_PRODUCT: Scenario = {
  protocol: 'grpc',
  layer: 'catalog',
  description: 'bench: catalog GetProduct',
  service: CATALOG,
  method: 'GetProduct',
  request: () => ({ id: 'p-000042' }),
};

/** HTTP GET of one path (the bench's edge subjects answer the same route). */
const httpGet = (path: string): Scenario => ({
  protocol: 'http',
  layer: 'gateway',
  description: `bench: GET ${path}`,
  request: () => ({ method: 'GET', path, name: path }),
});

/**
 * The load on one subject for a whole section, in stretches (loadSession of @strata/loadtests' driver: one channel, or
 * one pool of keep-alive connections, kept between stretches; at most `inflight` requests outstanding).
 */
export function benchLoadSession(
  kind: 'grpc' | 'http',
  /** gRPC: host:port; HTTP: a URL (its origin is loaded, its path requested). */
  target: string,
  inflight: number,
): LoadSession {
  const url = kind === 'http' ? new URL(target) : undefined;
  return loadSession({
    scenario: url ? httpGet(url.pathname + url.search) : GET_PRODUCT,
    context: { runId: 'bench' },
    concurrency: inflight,
    timeoutMs: 5_000,
    // One endpoint: balancing has nothing to choose. round_robin keeps the load generator the same bare caller for
    // every subject (a weighted_round_robin channel would open an ORCA stream to the servers that serve one).
    loadBalancing: 'round_robin',
    ...(url ? { baseUrls: [url.origin] } : { grpcTarget: target }),
  });
}
