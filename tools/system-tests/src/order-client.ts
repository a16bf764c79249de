import { setTimeout as delay } from 'node:timers/promises';

/** What a client that places orders saw: which keys were acknowledged with which order id. */
export interface OrderLoadResult {
  /** Orders attempted (distinct keys). */
  attempted: number;
  /** Key → order id, for every order a 201/200 acknowledged. */
  acknowledged: Map<string, string>;
  /** Attempts that failed (5xx or network) and were retried with the same key. */
  retries: number;
  /** Keys given up on after every retry failed. */
  abandoned: number;
  /** Answers that must never happen: a 4xx other than expected, or two different order ids for one key. */
  anomalies: string[];
  /** Latency of failed attempts, ms (how fast an outage is answered). */
  failureLatenciesMs: number[];
}

/**
 * Places orders at a fixed arrival rate, each with its own Idempotency-Key, and retries a failed attempt
 * (5xx or network error) with the same key, as a well-behaved client does. Bounded: `seconds` of arrivals,
 * at most `maxAttempts` per key.
 */
export async function placeOrdersUnderLoad(
  /** The gateway, or a function that picks one of its replicas for each attempt (replicas come and go). */
  baseUrl: string | (() => string),
  options: { rate: number; seconds: number; keyPrefix: string; maxAttempts?: number },
): Promise<OrderLoadResult> {
  const result: OrderLoadResult = {
    attempted: 0,
    acknowledged: new Map(),
    retries: 0,
    abandoned: 0,
    anomalies: [],
    failureLatenciesMs: [],
  };
  const maxAttempts = options.maxAttempts ?? 12;
  const placeOne = async (i: number) => {
    const key = `${options.keyPrefix}-${i}`;
    const body = JSON.stringify({
      lines: [{ productId: `p-${String(1 + (i % 9000)).padStart(6, '0')}`, quantity: 1 + (i % 3) }],
      country: 'DE',
    });
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const started = performance.now();
      try {
        const response = await fetch(`${typeof baseUrl === 'function' ? baseUrl() : baseUrl}/api/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        const payload = (await response.json()) as { id?: string };
        if (response.status === 200 || response.status === 201) {
          const previous = result.acknowledged.get(key);
          if (previous && previous !== payload.id) result.anomalies.push(`${key}: two orders ${previous} and ${payload.id}`);
          result.acknowledged.set(key, payload.id!);
          return;
        }
        if (response.status < 500) {
          result.anomalies.push(`${key}: HTTP ${response.status} ${JSON.stringify(payload).slice(0, 200)}`);
          return;
        }
      } catch {
        // network error: retried below with the same key
      }
      result.failureLatenciesMs.push(performance.now() - started);
      result.retries++;
      await delay(Math.min(2_000, 100 * 2 ** (attempt - 1)));
    }
    result.abandoned++;
  };
  const pending: Promise<void>[] = [];
  const total = Math.round(options.rate * options.seconds);
  const began = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = began + (i * 1000) / options.rate - performance.now();
    if (wait > 0) await delay(wait);
    result.attempted++;
    pending.push(placeOne(i));
  }
  await Promise.all(pending);
  return result;
}
