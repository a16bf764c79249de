import * as grpc from '@grpc/grpc-js';
import * as hdr from 'hdr-histogram-js';
import { Pool } from 'undici';
import { LOAD_BALANCING_CONFIG, serviceDefinition, statusName } from '@strata/service-kit';
import type { GrpcScenario, HttpScenario, Scenario, ScenarioContext } from './scenarios.js';

/** Where the load goes. */
export interface LoadTarget {
  /**
   * HTTP scenarios: gateway base URLs; requests rotate over them (like a Service over replicas). A function is asked
   * again every second, so a load balancer's set of endpoints can change during a run (replicas added or drained).
   */
  baseUrls?: readonly string[] | (() => readonly string[]);
  /**
   * gRPC scenarios: what to dial, e.g. `ipv4:10.0.0.5:50051,10.0.0.6:50051` or `dns:///pricing:50051`. A function is
   * asked again every second: when its answer changes (replicas added or removed), new calls go to a channel over the
   * new set and the old channel is closed once its calls are done.
   */
  grpcTarget?: string | (() => string);
}

/** The balancing policies a gRPC load can use: the kit's (weighted by reported load), or plain round_robin to compare. */
export type LoadBalancing = 'weighted_round_robin' | 'round_robin';

interface CommonOptions extends LoadTarget {
  scenario: Scenario;
  context: ScenarioContext;
  durationSec: number;
  /** Per-request timeout (HTTP) or deadline (gRPC). */
  timeoutMs?: number;
  /** Called about once a second. */
  onProgress?: (snapshot: LoadSnapshot) => void;
  /** First request index (keeps idempotency keys unique across runs). */
  startIndex?: number;
  /**
   * gRPC scenarios: how the channel balances over the target's addresses. The kit's weighted_round_robin (default),
   * as the callers inside the cluster balance; round_robin only where an experiment compares the two.
   */
  loadBalancing?: LoadBalancing;
  /**
   * HTTP scenarios: called with every answer (status, headers, latency), for a test that holds what the answers
   * carry (a 503's Retry-After), not only how many there were.
   */
  onResponse?: (answer: { status: number; headers: Record<string, string | string[] | undefined>; latencyMs: number }) => void;
}

export interface OpenLoopOptions extends CommonOptions {
  /** Arrivals per second, kept whatever the system does (open loop); a ramp rises linearly from `from` to `to`. */
  rate: ArrivalRate;
  /** Arrivals beyond this many outstanding requests are dropped and counted, as k6 does. */
  maxInFlight?: number;
}

export interface ClosedLoopOptions extends CommonOptions {
  /** Requests kept outstanding: each worker sends its next request when the previous one is answered. */
  concurrency: number;
}

export interface LoadSnapshot {
  elapsedSec: number;
  sent: number;
  completed: number;
  failed: number;
  dropped: number;
  inFlight: number;
  /** In progress reports: the p99 of the answers since the previous report (NaN when none came). */
  intervalP99Ms?: number;
}

export interface LoadResult extends LoadSnapshot {
  /** Offered arrivals per second (open loop); NaN for a closed loop. */
  rate: number;
  /**
   * Arrivals the schedule held (open loop: rate × duration), whatever became of them: every one is sent (and then
   * completed or failed) or dropped. "Nothing failed" means `completed === scheduled`. NaN for a closed loop.
   */
  scheduled: number;
  /** Successful requests per second over the run. */
  achievedRate: number;
  /** HTTP status, gRPC status name or network error → count, for every answer that was not a success. */
  errors: Record<string, number>;
  latencyMs: { p50: number; p90: number; p95: number; p99: number; max: number; mean: number };
}

/** Sends one request; resolves with the failure key, or undefined on success. Never rejects. */
type Sender = (index: number) => Promise<string | undefined>;

function httpSender(scenario: HttpScenario, options: CommonOptions, timeoutMs: number): { send: Sender; close(): Promise<void> } {
  if (!options.baseUrls) throw new Error('an HTTP scenario needs baseUrls');
  const source = options.baseUrls;
  const pools = new Map<string, Pool>();
  let urls: readonly string[] = typeof source === 'function' ? source() : source;
  let refreshedAt = performance.now();
  let turn = 0;
  const pool = (url: string) => {
    let p = pools.get(url);
    if (!p) pools.set(url, (p = new Pool(url, { connections: 128, pipelining: 1, keepAliveTimeout: 30_000 })));
    return p;
  };
  const send: Sender = async (index) => {
    if (typeof source === 'function' && performance.now() - refreshedAt > 1_000) {
      urls = source();
      refreshedAt = performance.now();
    }
    if (urls.length === 0) return 'no endpoint';
    const request = scenario.request(index, options.context);
    const started = performance.now();
    try {
      const response = await pool(urls[turn++ % urls.length]!).request({
        method: request.method,
        path: request.path,
        headers: request.headers,
        body: request.body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      await response.body.dump();
      options.onResponse?.({ status: response.statusCode, headers: response.headers, latencyMs: performance.now() - started });
      return response.statusCode >= 200 && response.statusCode < 300 ? undefined : String(response.statusCode);
    } catch (error) {
      return `network: ${(error as { code?: string }).code ?? (error as Error).message}`;
    }
  };
  return { send, close: async () => void (await Promise.all([...pools.values()].map((p) => p.close()))) };
}

function grpcSender(scenario: GrpcScenario, options: CommonOptions, timeoutMs: number): { send: Sender; close(): Promise<void> } {
  const source = options.grpcTarget;
  if (!source) throw new Error('a gRPC scenario needs grpcTarget');
  const method = serviceDefinition(scenario.service)[scenario.method];
  if (!method) throw new Error(`${scenario.service} has no method ${scenario.method}`);
  // A bare grpc-js channel balanced as callers inside the cluster balance (the kit's weighted_round_robin over the
  // replicas' load reports). No retry policy, so that every call a server failed is counted (a load generator must not
  // hide them); gRPC's transparent retry stays on (grpc-js's default, gRFC A6): a call that never reached the server's
  // application — sent as a server closed the connection at its max age (GRPC_MAX_CONNECTION_AGE_MS), refused by it
  // before any handler saw it — is sent once more, as every gRPC client does (k6's grpc-go and Strata's callers too).
  // With retries off a loop at 1,000 calls/s counted a few such calls per recycled connection (docs/performance.md,
  // "Calls that race a server's connection recycling").
  const connect = (target: string) =>
    new grpc.Client(target, grpc.credentials.createInsecure(), {
      'grpc.service_config': JSON.stringify({
        loadBalancingConfig: options.loadBalancing === 'round_robin' ? [{ round_robin: {} }] : LOAD_BALANCING_CONFIG,
      }),
      'grpc.service_config_disable_resolution': 1,
      'grpc.enable_channelz': 0,
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2_000,
      'grpc.dns_min_time_between_resolutions_ms': 1_000,
    });
  let target = typeof source === 'function' ? source() : source;
  let client = connect(target);
  const retired: grpc.Client[] = [];
  let refreshedAt = performance.now();
  const send: Sender = (index) => {
    if (typeof source === 'function' && performance.now() - refreshedAt > 1_000) {
      refreshedAt = performance.now();
      const next = source();
      if (next !== target) {
        // Calls in flight finish on the old channel; it is closed with the run.
        retired.push(client);
        client = connect((target = next));
      }
    }
    return new Promise((resolve) => {
      const metadata = new grpc.Metadata();
      metadata.set('x-request-id', `load-${options.context.runId}-${index}`);
      client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        scenario.request(index, options.context),
        metadata,
        { deadline: Date.now() + timeoutMs },
        (error) => resolve(error ? `grpc ${statusName(error.code)}` : undefined),
      );
    });
  };
  return {
    send,
    close: async () => {
      for (const c of [...retired, client]) c.close();
    },
  };
}

function senderFor(options: CommonOptions): { send: Sender; close(): Promise<void> } {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return options.scenario.protocol === 'grpc'
    ? grpcSender(options.scenario, options, timeoutMs)
    : httpSender(options.scenario, options, timeoutMs);
}

/** The engine shared by the open and the closed loop: one sender, one HDR histogram (µs, 3 significant digits). */
class Run {
  readonly histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  /** The answers since the last progress report (its `intervalP99Ms`). */
  private readonly interval = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  readonly errors: Record<string, number> = {};
  readonly began = performance.now();
  sent = 0;
  completed = 0;
  failed = 0;
  dropped = 0;
  inFlight = 0;
  private lastProgress = performance.now();

  /** `sender`: one the caller keeps open across runs (loadSession); otherwise the run opens its own and closes it. */
  constructor(
    private readonly options: CommonOptions,
    private readonly sender = senderFor(options),
    private readonly ownsSender = true,
  ) {}

  snapshot(): LoadSnapshot {
    const { sent, completed, failed, dropped, inFlight } = this;
    return { elapsedSec: (performance.now() - this.began) / 1000, sent, completed, failed, dropped, inFlight };
  }

  async fire(index: number): Promise<void> {
    this.inFlight++;
    this.sent++;
    const t0 = performance.now();
    const failure = await this.sender.send(index);
    const micros = Math.max(1, Math.round((performance.now() - t0) * 1000));
    this.histogram.recordValue(micros);
    this.interval.recordValue(micros);
    if (failure === undefined) this.completed++;
    else {
      this.failed++;
      this.errors[failure] = (this.errors[failure] ?? 0) + 1;
    }
    this.inFlight--;
    this.progress();
  }

  progress(): void {
    if (this.options.onProgress && performance.now() - this.lastProgress >= 1000) {
      this.lastProgress = performance.now();
      const intervalP99Ms = this.interval.totalCount > 0 ? this.interval.getValueAtPercentile(99) / 1000 : Number.NaN;
      this.interval.reset();
      this.options.onProgress({ ...this.snapshot(), intervalP99Ms });
    }
  }

  async finish(rate: number, scheduled: number, measuredSec: number): Promise<LoadResult> {
    const elapsedSec = (performance.now() - this.began) / 1000;
    if (this.ownsSender) await this.sender.close();
    const ms = (v: number) => v / 1000;
    const h = this.histogram;
    return {
      ...this.snapshot(),
      elapsedSec,
      rate,
      scheduled,
      achievedRate: this.completed / Math.max(measuredSec, 1e-9),
      errors: this.errors,
      latencyMs: {
        p50: ms(h.getValueAtPercentile(50)),
        p90: ms(h.getValueAtPercentile(90)),
        p95: ms(h.getValueAtPercentile(95)),
        p99: ms(h.getValueAtPercentile(99)),
        max: ms(h.maxValue),
        mean: ms(h.mean),
      },
    };
  }
}

/** Arrivals per second: constant, or a ramp rising (or falling) linearly from `from` to `to` over the run. */
export type ArrivalRate = number | { from: number; to: number };

/** The arrival rate at `elapsedSec` into a run of `durationSec`. */
export const rateAt = (rate: ArrivalRate, elapsedSec: number, durationSec: number) =>
  typeof rate === 'number' ? rate : rate.from + ((rate.to - rate.from) * Math.min(elapsedSec, durationSec)) / durationSec;

/**
 * When the i-th arrival of a schedule is due, in seconds: i / rate, or for a ramp the time at which the arrivals so
 * far, from·t + (to − from)·t² / (2·duration), reach i.
 */
export function arrivalSec(rate: ArrivalRate, durationSec: number, i: number): number {
  if (typeof rate === 'number' || rate.from === rate.to) return i / (typeof rate === 'number' ? rate : rate.from);
  const slope = (rate.to - rate.from) / durationSec;
  return (-rate.from + Math.sqrt(rate.from * rate.from + 2 * slope * i)) / slope;
}

/** Arrivals a schedule holds: rate × duration, or the mean of a ramp's ends × duration. */
export const arrivalsOf = (rate: ArrivalRate, durationSec: number) =>
  Math.round((typeof rate === 'number' ? rate : (rate.from + rate.to) / 2) * durationSec);

/**
 * The schedule of an open loop: `arrive(i)` for i = 0 … arrivals − 1, each at its due time after `began` (arrivalSec),
 * never waiting for earlier arrivals (so a slow system cannot slow the schedule down and hide its latency:
 * coordinated omission). `arrive` returns the arrival's work, or undefined when it was not sent (dropped). Resolves
 * with the number of arrivals scheduled once every one's work has settled (bounded by the callers' timeouts).
 */
export async function openLoopSchedule(
  rate: ArrivalRate,
  durationSec: number,
  arrive: (i: number) => Promise<unknown> | undefined,
  began = performance.now(),
): Promise<number> {
  const total = arrivalsOf(rate, durationSec);
  const pending = new Set<Promise<unknown>>();
  for (let i = 0; i < total; i++) {
    const wait = began + arrivalSec(rate, durationSec, i) * 1000 - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const work = arrive(i);
    if (!work) continue;
    pending.add(work);
    // Settled either way (a rejection is the caller's to report; allSettled below waits for it without throwing).
    const settled = () => void pending.delete(work);
    work.then(settled, settled);
  }
  await Promise.allSettled(pending);
  return total;
}

/**
 * An open-loop load (openLoopSchedule) of the scenario's requests. Arrivals beyond `maxInFlight` outstanding
 * requests are dropped and counted, as k6 does.
 */
export async function runOpenLoop(options: OpenLoopOptions): Promise<LoadResult> {
  const { rate, durationSec } = options;
  const maxInFlight = options.maxInFlight ?? Math.max(64, Math.ceil(Math.max(rateAt(rate, 0, 1), rateAt(rate, 1, 1)) * 2));
  const run = new Run(options);
  const start = options.startIndex ?? 0;
  const total = await openLoopSchedule(
    rate,
    durationSec,
    (i) => {
      if (run.inFlight >= maxInFlight) {
        run.dropped++;
        run.progress();
        return undefined;
      }
      const work = run.fire(start + i);
      run.progress();
      return work;
    },
    run.began,
  );
  return run.finish(typeof rate === 'number' ? rate : (rate.from + rate.to) / 2, total, durationSec);
}

/**
 * A closed-loop load: `concurrency` workers, each sending its next request when the previous one is answered, for
 * `durationSec`. What it completes per second is the saturation throughput of whatever limits the path: offered more
 * than it can take, with bounded concurrency, so queues (and CPU-throttling tails) cannot grow without bound.
 */
export async function runClosedLoop(options: ClosedLoopOptions): Promise<LoadResult> {
  const session = loadSession(options);
  try {
    return await session.run({ durationSec: options.durationSec });
  } finally {
    await session.close();
  }
}

/** One stretch of a load session: a warm-up that is not counted, then the counted part, with no pause between. */
export interface Stretch {
  durationSec: number;
  /** Load before the counted part; its requests still in flight finish in the counted part but are not counted. */
  warmupSec?: number;
  /** Called when the counted part starts. */
  measuring?: () => void;
  /**
   * Arrivals per second (an open loop, at most `concurrency` outstanding: the rest dropped and counted); without it, a
   * closed loop with `concurrency` requests outstanding.
   */
  rate?: number;
  /** An open loop's bound on outstanding requests (default `concurrency`): arrivals beyond it are dropped and counted. */
  maxInFlight?: number;
}

/** Load in stretches over connections kept open between them (loadSession). */
export interface LoadSession {
  /** Resolves once every counted request is answered. */
  run(stretch: Stretch): Promise<LoadResult>;
  close(): Promise<void>;
}

/**
 * Load in stretches over one sender (one gRPC channel, or one HTTP pool with its keep-alive connections): what a
 * benchmark needs to measure subjects one after another, stretch by stretch, without each stretch paying for new
 * connections (tools/bench). Each stretch is a closed loop of `concurrency`, or an open loop at a fixed rate.
 */
export function loadSession(options: Omit<ClosedLoopOptions, 'durationSec'>): LoadSession {
  const sender = senderFor({ ...options, durationSec: Number.NaN });
  let next = options.startIndex ?? 0;
  const runOf = (durationSec: number) => new Run({ ...options, durationSec }, sender, false);
  const openLoop = (run: Run, seconds: number, rate: number, maxInFlight = options.concurrency) =>
    openLoopSchedule(
      rate,
      seconds,
      () => {
        if (run.inFlight < maxInFlight) return run.fire(next++);
        run.dropped++;
        return undefined;
      },
      run.began,
    );
  return {
    async run({ durationSec, warmupSec = 0, measuring, rate, maxInFlight }) {
      if (rate !== undefined) {
        if (warmupSec > 0) await openLoop(runOf(warmupSec), warmupSec, rate, maxInFlight);
        measuring?.();
        const run = runOf(durationSec);
        const scheduled = await openLoop(run, durationSec, rate, maxInFlight);
        return run.finish(rate, scheduled, durationSec);
      }
      // A closed loop: the same workers go on from the warm-up into the counted part, never more than `concurrency`
      // outstanding.
      let counting = false;
      let run = runOf(warmupSec);
      let until = run.began + warmupSec * 1000;
      const worker = async () => {
        for (;;) {
          if (!counting && performance.now() >= until) {
            counting = true;
            measuring?.();
            run = runOf(durationSec);
            until = run.began + durationSec * 1000;
          }
          if (performance.now() >= until) return;
          await run.fire(next++);
        }
      };
      await Promise.all(Array.from({ length: options.concurrency }, worker));
      return run.finish(Number.NaN, Number.NaN, (performance.now() - run.began) / 1000);
    },
    close: () => sender.close(),
  };
}

/** One line of progress for a terminal. */
export function progressLine(label: string, s: LoadSnapshot): string {
  return `  ${label}: ${s.elapsedSec.toFixed(0)} s, sent ${s.sent}, ok ${s.completed}, failed ${s.failed}, dropped ${s.dropped}, in flight ${s.inFlight}`;
}
