import { createServer, type Server } from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics, type CounterConfiguration, type LabelValues } from 'prom-client';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The Prometheus metrics of one service process, in the names of the go-grpc-prometheus convention. */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly serverHandled: ScrapedCounter<'grpc_service' | 'grpc_method' | 'grpc_code'>;
  readonly serverLatency: Histogram<'grpc_service' | 'grpc_method'>;
  readonly clientStarted: ScrapedCounter<'grpc_service' | 'grpc_method'>;
  readonly clientHandled: ScrapedCounter<'grpc_service' | 'grpc_method' | 'grpc_code'>;
  readonly clientLatency: Histogram<'grpc_service' | 'grpc_method'>;

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    this.serverHandled = new ScrapedCounter({
      name: 'grpc_server_handled_total',
      help: 'RPCs completed on the server, by status code.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_code'],
      registers: [this.registry],
    });
    this.serverLatency = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Time the server took to answer an RPC.',
      labelNames: ['grpc_service', 'grpc_method'],
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
    // Started minus handled is what this process has outstanding at its callees: the upstream work a deadline bounds.
    this.clientStarted = new ScrapedCounter({
      name: 'grpc_client_started_total',
      help: 'RPCs this process started to other services.',
      labelNames: ['grpc_service', 'grpc_method'],
      registers: [this.registry],
    });
    this.clientHandled = new ScrapedCounter({
      name: 'grpc_client_handled_total',
      help: 'RPCs this process made to other services, by status code.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_code'],
      registers: [this.registry],
    });
    this.clientLatency = new Histogram({
      name: 'grpc_client_handling_seconds',
      help: 'Time outgoing RPCs took, retries included.',
      labelNames: ['grpc_service', 'grpc_method'],
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
  }
}

/**
 * A Prometheus counter (prom-client's `Counter`, in the registry as any other) whose increments are plain numbers until
 * the registry is read. prom-client's own `counter.labels(…).inc()` builds its label set's key (`hashObject`, a string
 * of the label values) and checks the labels again on every increment: 0.3 KB per increment, and a call through a
 * Strata service makes up to three (docs/performance.md, "Counters counted at scrape"). Here a label set's child is
 * made once and counts with `count++`; the counter's `collect` hook, which prom-client runs whenever the registry is
 * read (a scrape of GET /metrics, `registry.metrics()`, `counter.get()`), hands prom-client what each child counted
 * since the last read. What a scrape sees is the same.
 */
export class ScrapedCounter<L extends string> {
  readonly counter: Counter<L>;
  readonly #children: ScrapedCount<L>[] = [];

  constructor(configuration: Omit<CounterConfiguration<L>, 'collect'>) {
    const children = this.#children;
    this.counter = new Counter<L>({
      ...configuration,
      collect() {
        for (const child of children) child.reportTo(this);
      },
    });
  }

  /** The child of one label set, whose `inc()` adds one: make it once per label set and keep it, not once per call. */
  labels(labels: LabelValues<L>): ScrapedCount<L> {
    const child = new ScrapedCount(labels);
    this.#children.push(child);
    return child;
  }
}

/** One label set of a ScrapedCounter. */
export class ScrapedCount<L extends string> {
  #count = 0;
  #reported = 0;
  constructor(private readonly labelValues: LabelValues<L>) {}

  inc(): void {
    this.#count++;
  }

  /** Adds what was counted since the last report to `counter` (prom-client's, from its `collect` hook). */
  reportTo(counter: Counter<L>): void {
    if (this.#count === this.#reported) return;
    counter.inc(this.labelValues, this.#count - this.#reported);
    this.#reported = this.#count;
  }
}

/**
 * Records one RPC outcome: its counter children (ScrapedCounter, above) made once per (method, code), its latency in
 * prom-client's histogram child.
 */
export class RpcRecorder {
  private readonly counted = new Map<number, { inc(): void }>();
  private readonly timed: { observe(value: number): void };
  private readonly begun?: { inc(): void };

  constructor(
    private readonly counter: ScrapedCounter<'grpc_service' | 'grpc_method' | 'grpc_code'>,
    histogram: Histogram<'grpc_service' | 'grpc_method'>,
    private readonly service: string,
    private readonly method: string,
    private readonly codeName: (code: number) => string,
    started?: ScrapedCounter<'grpc_service' | 'grpc_method'>,
  ) {
    this.timed = histogram.labels({ grpc_service: service, grpc_method: method });
    this.begun = started?.labels({ grpc_service: service, grpc_method: method });
  }

  /** One RPC started (counted only where a `started` counter was given). */
  start(): void {
    this.begun?.inc();
  }

  record(code: number, seconds: number): void {
    let child = this.counted.get(code);
    if (!child) {
      child = this.counter.labels({ grpc_service: this.service, grpc_method: this.method, grpc_code: this.codeName(code) });
      this.counted.set(code, child);
    }
    child.inc();
    this.timed.observe(seconds);
  }
}

/**
 * Serves `GET /metrics` in the Prometheus text format on its own port (gRPC services have no HTTP), and, given
 * `ready`, `GET /healthz` and `GET /readyz` too (an edge replica's own probe port where several share one API port).
 */
export async function startMetricsServer(registry: Registry, port: number, host: string, ready?: () => boolean): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
        () => res.writeHead(500).end('metrics unavailable\n'),
      );
    } else if (ready && req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (ready && req.method === 'GET' && req.url === '/readyz') {
      const ok = ready();
      res
        .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(ok ? '{"status":"ready"}' : '{"status":"shutting down or starting"}');
    } else {
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end(`only GET /metrics${ready ? ', /healthz and /readyz are' : ' is'} served here\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
