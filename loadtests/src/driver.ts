import * as hdr from 'hdr-histogram-js';
import { Pool } from 'undici';
import type { LoadRequest, Scenario, ScenarioContext } from '../scenarios.js';

export interface OpenLoopOptions {
  /** One or more gateway base URLs; requests rotate over them (like a Service over replicas). */
  baseUrls: readonly string[];
  scenario: Scenario;
  context: ScenarioContext;
  /** Arrivals per second, kept whatever the system does (open loop). */
  rate: number;
  durationSec: number;
  /** Arrivals beyond this many outstanding requests are dropped and counted, as k6 does. */
  maxInFlight?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Called about once a second. */
  onProgress?: (snapshot: LoadSnapshot) => void;
  /** First request index (keeps idempotency keys unique across runs). */
  startIndex?: number;
}

export interface LoadSnapshot {
  elapsedSec: number;
  sent: number;
  completed: number;
  failed: number;
  dropped: number;
  inFlight: number;
}

export interface LoadResult extends LoadSnapshot {
  rate: number;
  achievedRate: number;
  /** HTTP status (or "network") → count, for every answer that was not 2xx. */
  errors: Record<string, number>;
  latencyMs: { p50: number; p90: number; p95: number; p99: number; max: number; mean: number };
}

/**
 * An open-loop load driver: requests start on a fixed schedule (constant arrival rate), never waiting for
 * earlier ones, so a slow system cannot slow the generator down and hide its latency (coordinated
 * omission). Latencies go into an HDR histogram (µs resolution, 3 significant digits).
 */
export async function runOpenLoop(options: OpenLoopOptions): Promise<LoadResult> {
  const { rate, durationSec } = options;
  const maxInFlight = options.maxInFlight ?? Math.max(64, Math.ceil(rate * 2));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const pools = options.baseUrls.map((url) => new Pool(url, { connections: 128, pipelining: 1, keepAliveTimeout: 30_000 }));
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const errors: Record<string, number> = {};
  const total = Math.round(rate * durationSec);
  const start = options.startIndex ?? 0;
  let sent = 0;
  let completed = 0;
  let failed = 0;
  let dropped = 0;
  let inFlight = 0;
  const began = performance.now();
  const snapshot = (): LoadSnapshot => ({ elapsedSec: (performance.now() - began) / 1000, sent, completed, failed, dropped, inFlight });

  const fire = (request: LoadRequest, pool: Pool) => {
    inFlight++;
    sent++;
    const t0 = performance.now();
    pool
      .request({
        method: request.method,
        path: request.path,
        headers: request.headers,
        body: request.body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      })
      .then(async (response) => {
        await response.body.dump();
        histogram.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
        if (response.statusCode >= 200 && response.statusCode < 300) completed++;
        else {
          failed++;
          errors[String(response.statusCode)] = (errors[String(response.statusCode)] ?? 0) + 1;
        }
      })
      .catch((error: unknown) => {
        failed++;
        const key = `network: ${(error as { code?: string }).code ?? (error as Error).message}`;
        errors[key] = (errors[key] ?? 0) + 1;
      })
      .finally(() => inFlight--);
  };

  let lastProgress = began;
  for (let i = 0; i < total; i++) {
    const due = began + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    if (inFlight >= maxInFlight) {
      dropped++;
      continue;
    }
    fire(options.scenario.request(start + i, options.context), pools[i % pools.length]!);
    if (options.onProgress && performance.now() - lastProgress >= 1000) {
      lastProgress = performance.now();
      options.onProgress(snapshot());
    }
  }
  // Wait for the stragglers (bounded by the request timeout).
  const drainUntil = performance.now() + timeoutMs + 1000;
  while (inFlight > 0 && performance.now() < drainUntil) await new Promise((resolve) => setTimeout(resolve, 10));
  const elapsedSec = (performance.now() - began) / 1000;
  await Promise.all(pools.map((p) => p.close()));
  const ms = (v: number) => v / 1000;
  return {
    ...snapshot(),
    elapsedSec,
    rate,
    achievedRate: completed / Math.max(durationSec, 1e-9),
    errors,
    latencyMs: {
      p50: ms(histogram.getValueAtPercentile(50)),
      p90: ms(histogram.getValueAtPercentile(90)),
      p95: ms(histogram.getValueAtPercentile(95)),
      p99: ms(histogram.getValueAtPercentile(99)),
      max: ms(histogram.maxValue),
      mean: ms(histogram.mean),
    },
  };
}

/** One line of progress for a terminal. */
export function progressLine(label: string, s: LoadSnapshot): string {
  return `  ${label}: ${s.elapsedSec.toFixed(0)} s, sent ${s.sent}, ok ${s.completed}, failed ${s.failed}, dropped ${s.dropped}, in flight ${s.inFlight}`;
}
