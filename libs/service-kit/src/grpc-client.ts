import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition, ServiceDefinition } from '@grpc/proto-loader';
import type { Observable } from 'rxjs';
import { RpcRecorder, type ServiceMetrics } from './metrics.js';
import { serviceDefinition } from './protos.js';
import { REQUEST_ID_HEADER, currentRequestContext } from './request-context.js';
import { statusName } from './grpc-status.js';
import { endSpan, rpcAttributes, startCallTrace } from './trace-context.js';

/** Per-call options. */
export interface CallOptions {
  /** Overrides the client's default timeout for this call; the caller's own deadline still caps it. */
  readonly timeoutMs?: number;
}

/**
 * The promise form of a ts-proto `...ServiceClient` interface: same method names and messages,
 * `(request, options?) => Promise<response>`.
 */
export type PromiseClient<T> = {
  [K in keyof T]: T[K] extends (request: infer Req) => Observable<infer Res>
    ? (request: Req, options?: CallOptions) => Promise<Res>
    : never;
} & {
  /** Closes the channel. */
  close(): void;
};

export interface GrpcClientOptions {
  /**
   * What to dial: `dns:///catalog:50051` in Kubernetes (a headless Service: one address per pod),
   * `ipv4:127.0.0.1:50061,127.0.0.1:50062` for local replicas.
   */
  readonly target: string;
  /** Deadline of every call unless the call says otherwise, in milliseconds. */
  readonly timeoutMs: number;
  readonly metrics?: ServiceMetrics;
  /** Attempts for retryable methods (1 = no retry). */
  readonly maxAttempts?: number;
}

/** Methods whose contract says a repeat is harmless; only those are retried. */
const RETRYABLE_LEVELS = new Set(['NO_SIDE_EFFECTS', 'IDEMPOTENT']);

/**
 * How every Strata client balances its calls over the addresses a target resolves to: grpc-js's
 * `weighted_round_robin` (gRFC A58), each endpoint weighted by the QPS over the utilization it reports out of band
 * (ORCA, gRFC A51: every Strata server streams its load once per second, `LoadReporter`), so a slower or busier
 * replica gets fewer calls where round_robin would give it the same number and let it set the pace. grpc-js 1.14.7
 * needs the repository's patch for it (docs/grpc-js-patches.md); `grpc-plumbing.spec.ts` holds the behaviour.
 * - out of band, not per call: per-call reports cost a serialization on the server and a parse on the client per
 *   call (and, unpatched, a .proto load each: 8 ms of CPU);
 * - no blackout (the default is 10 s): grpc-js restarts an endpoint's blackout whenever it turns READY, and every
 *   endpoint turns READY again at each address-list update, which follows every reconnect (it re-resolves when a
 *   connection drops; the servers' max connection age drops each one every 30 s): with 3 s, balancing.spec measured
 *   the slow replica (then at twice the CPU per call) back at an equal share (423 of 1,802 calls against 456–467) — weights were off 40 % of the
 *   time. Without it an endpoint keeps its weight across reconnects, and a new one is scheduled as the average
 *   endpoint (the patched picker) until its first report with calls, a second after its first calls;
 * - weights expire after 3 min without reports (the default): an endpoint that stopped reporting becomes average again.
 */
export const LOAD_BALANCING_CONFIG = [
  {
    weighted_round_robin: {
      enable_oob_load_report: true,
      oob_load_reporting_period: '1s',
      blackout_period: '0s',
      weight_update_period: '1s',
      error_utilization_penalty: 1,
    },
  },
] as const;

/**
 * The grpc-js service config of a client: `LOAD_BALANCING_CONFIG` over every address the target resolves to (so
 * each call, not each connection, is balanced), and a retry policy on UNAVAILABLE for the methods
 * marked `idempotency_level = NO_SIDE_EFFECTS | IDEMPOTENT` in the contract.
 */
export function clientServiceConfig(serviceName: string, definition: ServiceDefinition, maxAttempts = 3): string {
  const retryable = Object.values(definition)
    .filter((method) => RETRYABLE_LEVELS.has(String((method.options as Record<string, unknown>)?.idempotency_level)))
    .map((method) => ({ service: serviceName, method: method.path.split('/')[2] }));
  const methodConfig =
    retryable.length > 0 && maxAttempts > 1
      ? [
          {
            name: retryable,
            retryPolicy: {
              maxAttempts,
              initialBackoff: '0.02s',
              maxBackoff: '0.2s',
              backoffMultiplier: 2,
              retryableStatusCodes: ['UNAVAILABLE'],
            },
          },
        ]
      : [];
  return JSON.stringify({ loadBalancingConfig: LOAD_BALANCING_CONFIG, methodConfig });
}

/**
 * Creates the one channel a process keeps per target, and a promise-returning client over it. Every call
 * gets a deadline (the client default, capped by the deadline of the request being served), the
 * request id and the trace of the request being served (a client span where it is sampled), and client metrics.
 */
export function createGrpcClient<T>(serviceName: string, options: GrpcClientOptions): PromiseClient<T> {
  const definition = serviceDefinition(serviceName);
  const shortName = serviceName.slice(serviceName.lastIndexOf('.') + 1);
  // Channel options spelled out where the channel is made (grpc-node examples' style).
  const channelOptions: grpc.ChannelOptions = {
    'grpc.service_config': clientServiceConfig(serviceName, definition, options.maxAttempts),
    // The config above is the whole truth: do not look up DNS TXT records for another one.
    'grpc.service_config_disable_resolution': 1,
    // Re-resolve soon after a connection drops (max connection age, a pod going away).
    'grpc.dns_min_time_between_resolutions_ms': 2_000,
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 10_000,
    // A replica that comes back (restart, rollout) is reconnected within a fraction of a second, not after
    // grpc-js's default backoff of 1 s growing to 120 s.
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 5_000,
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
    'grpc.max_send_message_length': 1024 * 1024,
    // channelz keeps per-call bookkeeping nobody reads here (Prometheus metrics cover it); off saves CPU.
    'grpc.enable_channelz': 0,
  };
  const Client = grpc.makeGenericClientConstructor(definition, shortName);
  const client = new Client(options.target, grpc.credentials.createInsecure(), channelOptions);

  const facade: Record<string, unknown> = { close: () => client.close() };
  for (const method of Object.values(definition) as MethodDefinition<unknown, unknown>[]) {
    if (method.requestStream || method.responseStream) continue;
    const recorder =
      options.metrics &&
      new RpcRecorder(
        options.metrics.clientHandled,
        options.metrics.clientLatency,
        shortName,
        method.originalName ?? method.path,
        statusName,
        options.metrics.clientStarted,
      );
    const spanName = `grpc.${method.path.slice(1)}`;
    const spanAttributes = () => rpcAttributes(method.path);
    facade[method.originalName ?? method.path] = (request: unknown, callOptions?: CallOptions) =>
      new Promise((resolve, reject) => {
        const context = currentRequestContext();
        const metadata = new grpc.Metadata();
        metadata.set(REQUEST_ID_HEADER, context?.requestId ?? randomUUID());
        let deadline = Date.now() + (callOptions?.timeoutMs ?? options.timeoutMs);
        if (context?.deadline !== undefined && context.deadline < deadline) deadline = context.deadline;
        const span = startCallTrace(context?.trace, spanName, metadata, spanAttributes);
        const started = performance.now();
        recorder?.start();
        client.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          request,
          metadata,
          { deadline },
          (error, response) => {
            const code = error?.code ?? grpc.status.OK;
            recorder?.record(code, (performance.now() - started) / 1000);
            endSpan(span, { 'rpc.grpc.status_code': code }, code !== grpc.status.OK, error?.details);
            if (error) reject(error);
            else resolve(response);
          },
        );
      });
  }
  return facade as PromiseClient<T>;
}
