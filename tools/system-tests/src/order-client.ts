import { setTimeout as delay } from 'node:timers/promises';
import { openLoopSchedule } from '@strata/loadtests';

/** What a client that places orders saw: which keys were acknowledged with which order id. */
export interface OrderLoadResult {
  /** Orders the schedule held (distinct keys, each attempted until acknowledged or abandoned): rate × seconds. */
  scheduled: number;
  /** Key → order id, for every order a 201/200 acknowledged. */
  acknowledged: Map<string, string>;
  /** Key → the body it was placed with, so that a repeat sends the same order. */
  bodies: Map<string, string>;
  /** Attempts that failed (5xx or network) and were retried with the same key. */
  retries: number;
  /** What each failed attempt was answered: `503 retry-after=1`, `502 retry-after=none`, `network ECONNRESET`… → count. */
  failures: Record<string, number>;
  /** Keys given up on after every retry failed. */
  abandoned: number;
  /** Answers that must never happen: a 4xx other than expected, or two different order ids for one key. */
  anomalies: string[];
  /** Latency of failed attempts, ms (how fast an outage is answered). */
  failureLatenciesMs: number[];
}

type BaseUrl = string | (() => string);
const urlOf = (baseUrl: BaseUrl) => (typeof baseUrl === 'function' ? baseUrl() : baseUrl);

/** One POST /api/orders; resolves with its status, Retry-After and order id, or rejects on a network error. */
async function post(baseUrl: BaseUrl, key: string, body: string) {
  const response = await fetch(`${urlOf(baseUrl)}/api/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const payload = (await response.json()) as { id?: string };
  return { status: response.status, retryAfter: response.headers.get('retry-after'), id: payload.id, payload };
}

/**
 * Places orders at a fixed arrival rate (the load driver's open-loop schedule), each with its own Idempotency-Key,
 * and retries a failed attempt (5xx or network error) with the same key, as a well-behaved client does — what the
 * driver's own loop does not do, as it counts every failure. Bounded: `seconds` of arrivals, at most `maxAttempts`
 * per key.
 */
export async function placeOrdersUnderLoad(
  /** The gateway, or a function that picks one of its replicas for each attempt (replicas come and go). */
  baseUrl: BaseUrl,
  options: { rate: number; seconds: number; keyPrefix: string; maxAttempts?: number },
): Promise<OrderLoadResult> {
  const total = Math.round(options.rate * options.seconds);
  const result: OrderLoadResult = {
    scheduled: total,
    acknowledged: new Map(),
    bodies: new Map(),
    retries: 0,
    failures: {},
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
    result.bodies.set(key, body);
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const started = performance.now();
      let failure: string;
      try {
        const answer = await post(baseUrl, key, body);
        if (answer.status === 200 || answer.status === 201) {
          result.acknowledged.set(key, answer.id!);
          return;
        }
        if (answer.status < 500) {
          result.anomalies.push(`${key}: HTTP ${answer.status} ${JSON.stringify(answer.payload).slice(0, 200)}`);
          return;
        }
        failure = `${answer.status} retry-after=${answer.retryAfter ?? 'none'}`;
      } catch (error) {
        // network error: retried below with the same key
        failure = `network ${(error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name}`;
      }
      result.failures[failure] = (result.failures[failure] ?? 0) + 1;
      result.failureLatenciesMs.push(performance.now() - started);
      result.retries++;
      await delay(Math.min(2_000, 100 * 2 ** (attempt - 1)));
    }
    result.abandoned++;
  };
  // The driver's arrival schedule: an order is placed on time whatever earlier ones are waiting for.
  await openLoopSchedule(options.rate, options.seconds, placeOne);
  return result;
}

/**
 * Sends again, after the fault, up to `sample` acknowledged orders (every n-th key, the same body and key), as a
 * client that never saw the first answer would, and records an anomaly for every key that is not answered with the
 * order id it was first given. This is where "two different order ids for one key" can show: the load itself places
 * each key until its first acknowledgement, so it never sees a second one.
 */
export async function replayAcknowledged(baseUrl: BaseUrl, result: OrderLoadResult, sample = 40): Promise<number> {
  const keys = [...result.acknowledged.keys()];
  const step = Math.max(1, Math.floor(keys.length / sample));
  const chosen = keys.filter((_, i) => i % step === 0).slice(0, sample);
  for (const key of chosen) {
    const answer = await post(baseUrl, key, result.bodies.get(key)!);
    if (answer.status !== 200 && answer.status !== 201)
      result.anomalies.push(`${key}: repeat answered HTTP ${answer.status} ${JSON.stringify(answer.payload).slice(0, 200)}`);
    else if (answer.id !== result.acknowledged.get(key))
      result.anomalies.push(`${key}: two orders ${result.acknowledged.get(key)} and ${answer.id}`);
  }
  return chosen.length;
}
