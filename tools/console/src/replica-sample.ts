/**
 * What the console keeps of one scrape of a replica's `/metrics`: cumulative counters, so that any two samples give
 * the rates and latency quantiles of the time between them (as Prometheus's `rate()` and `histogram_quantile()` do).
 */
export interface ReplicaSample {
  /** Milliseconds since the epoch. */
  at: number;
  /** Requests served: gRPC calls (`grpc_server_handled_total`) or, at the edge, API requests (`http_requests_total`). */
  requests: number;
  /** Of those, the ones that failed on the server's side (gRPC INTERNAL, UNAVAILABLE, …; HTTP 5xx). */
  errors: number;
  /** Cumulative latency histogram: upper bound in seconds → requests at or under it (the last bound is +Inf). */
  buckets: [number, number][];
  /** CPU seconds the process used (`process_cpu_seconds_total`). */
  cpuSeconds: number;
  /**
   * What the replica last reported to its clients' weighted_round_robin balancers (`strata_load_report`): the weight
   * they compute from it (QPS ÷ utilization) and its utilization (0–1); absent where a process reports none (the edge).
   */
  balancer?: { weight: number; utilization: number };
}

/** gRPC codes that mean the server (or something behind it) failed; client errors such as NOT_FOUND are not counted. */
const SERVER_ERROR_CODES = new Set([
  'UNKNOWN',
  'DEADLINE_EXCEEDED',
  'RESOURCE_EXHAUSTED',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
]);
/** The edge's probe and scrape routes are not API traffic. */
const OPS_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** One sample line of the Prometheus text format. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * The sample lines of a Prometheus text page. Written here rather than taken from npm: parse-prometheus-text-format
 * (1.1.1, the parser on npm) drops the labels of histogram series and merges them into one, which would mix the edge's
 * probe routes into its API latency (a test shows the case).
 */
export function parseSamples(text: string): PromSample[] {
  const samples: PromSample[] = [];
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL))
      labels[key!] = value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Reads one Prometheus text page of a Strata service (a gRPC service or the HTTP edge). */
export function readReplicaSample(text: string, at = Date.now()): ReplicaSample {
  const samples = parseSamples(text);
  const edge = samples.some((s) => s.name === 'http_requests_total');
  const [calls, histogram] = edge
    ? ['http_requests_total', 'http_request_duration_seconds_bucket']
    : ['grpc_server_handled_total', 'grpc_server_handling_seconds_bucket'];
  const failed = (labels: Record<string, string>) => (edge ? Number(labels.status) >= 500 : SERVER_ERROR_CODES.has(labels.grpc_code ?? ''));
  let requests = 0;
  let errors = 0;
  let cpuSeconds = 0;
  let weight: number | undefined;
  let utilization: number | undefined;
  const buckets = new Map<number, number>();
  for (const { name, labels, value } of samples) {
    if (name === 'process_cpu_seconds_total') cpuSeconds = value;
    if (name === 'strata_load_report' && labels.kind === 'weight') weight = value;
    if (name === 'strata_load_report' && labels.kind === 'application_utilization') utilization = value;
    if (edge && OPS_ROUTES.has(labels.route ?? '')) continue;
    if (name === calls) {
      requests += value;
      if (failed(labels)) errors += value;
    } else if (name === histogram && labels.le !== undefined) {
      const bound = labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(labels.le);
      buckets.set(bound, (buckets.get(bound) ?? 0) + value);
    }
  }
  const balancer = weight === undefined || utilization === undefined ? undefined : { weight, utilization };
  return { at, requests, errors, buckets: [...buckets].sort((a, b) => a[0] - b[0]), cpuSeconds, ...(balancer && { balancer }) };
}

/** What happened between two samples of the same process (or, summed, of several). */
export interface WindowStats {
  /** Requests per second. */
  rate: number;
  /** Failed share of the requests (0–1); 0 when there were none. */
  errorRatio: number;
  /** Latency quantiles in milliseconds; NaN when no request was served. */
  p50Ms: number;
  p99Ms: number;
  /** CPU used, in cores (1 = one core busy all the time). */
  cpuCores: number;
}

/**
 * The q-quantile of a cumulative histogram, interpolated linearly inside the bucket it falls in, as Prometheus's
 * `histogram_quantile` does; a quantile in the +Inf bucket is reported as the highest finite bound.
 */
export function histogramQuantile(q: number, buckets: readonly [number, number][]): number {
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total <= 0) return Number.NaN;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [bound, count] of buckets) {
    if (count >= rank) {
      if (bound === Number.POSITIVE_INFINITY) return lowerBound;
      return lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / Math.max(count - lowerCount, 1e-12);
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
}

/** The difference between two samples of one process: what it did in between. */
export interface SampleDelta {
  seconds: number;
  requests: number;
  errors: number;
  buckets: [number, number][];
  cpuSeconds: number;
}

/** What one process did between an earlier and a later sample of its counters (a restart resets them: use a new series). */
export function sampleDelta(earlier: ReplicaSample, later: ReplicaSample): SampleDelta {
  const before = new Map(earlier.buckets);
  return {
    seconds: Math.max((later.at - earlier.at) / 1000, 1e-3),
    requests: Math.max(0, later.requests - earlier.requests),
    errors: Math.max(0, later.errors - earlier.errors),
    buckets: later.buckets.map(([bound, count]) => [bound, Math.max(0, count - (before.get(bound) ?? 0))]),
    cpuSeconds: Math.max(0, later.cpuSeconds - earlier.cpuSeconds),
  };
}

/**
 * Rates and quantiles of one or several processes (the replicas of a service) over about the same window: rates and CPU
 * add up, latency quantiles come from the summed histograms.
 */
export function windowStats(deltas: readonly SampleDelta[]): WindowStats {
  if (deltas.length === 0) return { rate: 0, errorRatio: 0, p50Ms: Number.NaN, p99Ms: Number.NaN, cpuCores: 0 };
  const buckets = new Map<number, number>();
  let rate = 0;
  let cpuCores = 0;
  let requests = 0;
  let errors = 0;
  for (const d of deltas) {
    rate += d.requests / d.seconds;
    cpuCores += d.cpuSeconds / d.seconds;
    requests += d.requests;
    errors += d.errors;
    for (const [bound, count] of d.buckets) buckets.set(bound, (buckets.get(bound) ?? 0) + count);
  }
  const summed = [...buckets].sort((a, b) => a[0] - b[0]);
  return {
    rate,
    errorRatio: requests > 0 ? errors / requests : 0,
    p50Ms: histogramQuantile(0.5, summed) * 1000,
    p99Ms: histogramQuantile(0.99, summed) * 1000,
    cpuCores,
  };
}
