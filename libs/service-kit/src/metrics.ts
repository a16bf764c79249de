import { createServer, type Server } from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The Prometheus metrics of one service process, in the names of the go-grpc-prometheus convention. */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly serverHandled: Counter<'grpc_service' | 'grpc_method' | 'grpc_code'>;
  readonly serverLatency: Histogram<'grpc_service' | 'grpc_method'>;
  readonly clientStarted: Counter<'grpc_service' | 'grpc_method'>;
  readonly clientHandled: Counter<'grpc_service' | 'grpc_method' | 'grpc_code'>;
  readonly clientLatency: Histogram<'grpc_service' | 'grpc_method'>;

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    this.serverHandled = new Counter({
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
    this.clientStarted = new Counter({
      name: 'grpc_client_started_total',
      help: 'RPCs this process started to other services.',
      labelNames: ['grpc_service', 'grpc_method'],
      registers: [this.registry],
    });
    this.clientHandled = new Counter({
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
 * Records one RPC outcome with label children looked up once per (method, code) instead of hashing a label
 * object on every call: prom-client's `inc(labels)` builds a key string per call, which showed in profiles.
 */
export class RpcRecorder {
  private readonly counted = new Map<number, { inc(): void }>();
  private readonly timed: { observe(value: number): void };
  private readonly begun?: { inc(): void };

  constructor(
    private readonly counter: Counter<'grpc_service' | 'grpc_method' | 'grpc_code'>,
    histogram: Histogram<'grpc_service' | 'grpc_method'>,
    private readonly service: string,
    private readonly method: string,
    private readonly codeName: (code: number) => string,
    started?: Counter<'grpc_service' | 'grpc_method'>,
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
