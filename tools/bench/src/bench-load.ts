import { runClosedLoop, type LoadResult, type Scenario } from '@strata/loadtests';
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
 * A warm-up of `warmupSeconds`, then `measuring()` (the orchestrator starts reading CPU there), then the measured
 * closed loop of @strata/loadtests' driver (`inflight` requests kept outstanding): the servers are measured hot. A
 * server left idle for a few seconds (as alternating rounds leave it) spends its first seconds of load re-warming (its
 * GC heuristics and JIT cool down while idle): docs/performance.md.
 */
export async function benchLoad(
  kind: 'grpc' | 'http',
  /** gRPC: host:port; HTTP: a URL (its origin is loaded, its path requested). */
  target: string,
  seconds: number,
  inflight: number,
  warmupSeconds = 0,
  measuring: () => void = () => undefined,
): Promise<LoadResult> {
  const url = kind === 'http' ? new URL(target) : undefined;
  const options = {
    scenario: url ? httpGet(url.pathname + url.search) : GET_PRODUCT,
    context: { runId: 'bench' },
    concurrency: inflight,
    timeoutMs: 5_000,
    // One endpoint: balancing has nothing to choose. round_robin keeps the load generator the same bare caller for
    // every subject (a weighted_round_robin channel would open an ORCA stream to the servers that serve one).
    loadBalancing: 'round_robin' as const,
    ...(url ? { baseUrls: [url.origin] } : { grpcTarget: target }),
  };
  if (warmupSeconds > 0) await runClosedLoop({ ...options, durationSec: warmupSeconds });
  measuring();
  return runClosedLoop({ ...options, durationSec: seconds });
}
