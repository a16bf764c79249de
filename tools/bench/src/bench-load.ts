import * as grpc from '@grpc/grpc-js';
import { serviceDefinition } from '@strata/service-kit';
import { CATALOG } from './bench-servers.js';

export interface LoadResult {
  calls: number;
  errors: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
}

/** Closed loop: keeps `inflight` calls outstanding for `seconds`; latencies of every call are kept. */
async function closedLoop(seconds: number, inflight: number, once: () => Promise<void>): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  const worker = async () => {
    while (performance.now() < until) {
      const t = performance.now();
      try {
        await once();
        latencies.push(performance.now() - t);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { calls: latencies.length, errors, seconds: elapsed, p50Ms: pct(0.5), p99Ms: pct(0.99) };
}

/**
 * A warm-up of `warmupSeconds`, then `measuring()` (the orchestrator starts reading CPU there), then the measured run:
 * the servers are measured hot. A server left idle for a few seconds (as alternating rounds leave it) spends its first
 * seconds of load re-warming (its GC heuristics and JIT cool down while idle): docs/performance.md.
 */
async function warmThenMeasure(warmupSeconds: number, seconds: number, inflight: number, once: () => Promise<void>, measuring: () => void) {
  if (warmupSeconds > 0) await closedLoop(warmupSeconds, inflight, once);
  measuring();
  return closedLoop(seconds, inflight, once);
}

/** gRPC GetProduct over one channel, as a bare grpc-js client (the load generator must not be the subject). */
export function grpcLoad(
  address: string,
  seconds: number,
  inflight: number,
  warmupSeconds = 0,
  measuring: () => void = () => undefined,
): Promise<LoadResult> {
  const method = serviceDefinition(CATALOG).GetProduct!;
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const request = { id: 'p-000042' };
  return warmThenMeasure(
    warmupSeconds,
    seconds,
    inflight,
    () =>
      new Promise<void>((resolve, reject) =>
        client.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          request,
          new grpc.Metadata(),
          { deadline: Date.now() + 5_000 },
          (e) => (e ? reject(e) : resolve()),
        ),
      ),
    measuring,
  ).finally(() => client.close());
}

/** HTTP GET with keep-alive (fetch/undici), `inflight` requests outstanding. */
export function httpLoad(
  url: string,
  seconds: number,
  inflight: number,
  warmupSeconds = 0,
  measuring: () => void = () => undefined,
): Promise<LoadResult> {
  return warmThenMeasure(
    warmupSeconds,
    seconds,
    inflight,
    async () => {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (!response.ok) throw new Error(String(response.status));
    },
    measuring,
  );
}
