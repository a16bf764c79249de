import * as grpc from '@grpc/grpc-js';
import { ServerGrpc, type CustomTransportStrategy } from '@nestjs/microservices';
import type { HealthImplementation } from 'grpc-health-check';
import { isObservable, type Observable } from 'rxjs';
import { methodOf } from './grpc-outcome.js';
import { statusName } from './grpc-status.js';
import type { LoadReporter } from './load-report.js';
import type { Logger } from './logger.js';
import { RpcRecorder, type ServiceMetrics } from './metrics.js';
import { loadStrataProtos } from './protos.js';
import { strataReflection } from './reflection.js';
import { REQUEST_ID_HEADER, acceptRequestId, runWithRequestContext } from './request-context.js';
import { SpanKind, endSpan, isServerError, kitTracer, rpcAttributes, startRequestTrace, withRequestTrace } from './trace-context.js';

/** Largest request a Strata server accepts; larger ones fail with RESOURCE_EXHAUSTED. */
export const MAX_RECEIVE_MESSAGE_BYTES = 1024 * 1024;
/** Largest response a Strata server sends. */
export const MAX_SEND_MESSAGE_BYTES = 4 * 1024 * 1024;

export interface StrataGrpcTransportOptions {
  /** Short name in logs and metrics ("catalog"). */
  readonly serviceName: string;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  /** "0.0.0.0:50051"; port 0 picks a free one (see `port`). */
  readonly url: string;
  /** The proto packages whose services the controllers implement ("strata.catalog.v1"). */
  readonly packages: readonly string[];
  /** grpc.health.v1, served on the same port. */
  readonly health: HealthImplementation;
  /** Counts every answered call and serves the ORCA load reports (OpenRcaService) on the same port. */
  readonly load: LoadReporter;
  readonly maxConnectionAgeMs: number;
  /** How long a connection past its age may finish its calls (the drain's bound too). */
  readonly maxConnectionAgeGraceMs: number;
  /**
   * Nest's `app.close()` closes the transport first: this runs readiness off → wait → drain (bounded) → force, and
   * resolves once no call is in flight; Nest's shutdown hooks (upstream channels, pools) run after it.
   */
  readonly stop: (drain: () => Promise<void>, forceClose: () => void) => Promise<void>;
}

/**
 * Nest's own gRPC transport (`ServerGrpc`: its handlers come from `@GrpcMethod`, every call runs through Nest's
 * guards, pipes, interceptors and exception filters), extended where Strata needs what its options do not reach —
 * a custom transport strategy is Nest's extension point for this (https://docs.nestjs.com/microservices/custom-transport):
 * - the per-call plumbing around Nest's pipeline (`createUnaryServiceMethod`): adopt the caller's request id and
 *   deadline as the AsyncLocalStorage context that logs and outgoing calls read, refuse a call whose deadline has
 *   passed, record metrics. Here rather than in a global interceptor: one interceptor costs Nest's pipeline about a
 *   third of a bare call's CPU even when it does nothing (docs/architecture.md, "Nest as Nest"); the error mapping is
 *   an exception filter (`GrpcStatusFilter`), which costs nothing on a call that succeeds;
 * - the port actually bound (GRPC_PORT=0), health, reflection and the ORCA load reports on the same server;
 * - the graceful stop sequence in place of its `tryShutdown` without a bound.
 */
export class StrataGrpcTransport extends ServerGrpc implements CustomTransportStrategy {
  #port = 0;
  #server?: grpc.Server;
  /** Nest's default start hook (calls `done` and nothing else), to tell whether anyone set one. */
  readonly #noStartHook = this.onProcessingStartHook;

  readonly #channelOptions: grpc.ChannelOptions;

  constructor(private readonly strata: StrataGrpcTransportOptions) {
    // Channel options spelled out where the server is made (grpc-node examples' style).
    const channelOptions: grpc.ChannelOptions = {
      // Connections are recycled so clients re-resolve and spread over replicas added since (headless Services).
      'grpc.max_connection_age_ms': strata.maxConnectionAgeMs,
      'grpc.max_connection_age_grace_ms': strata.maxConnectionAgeGraceMs,
      'grpc.keepalive_time_ms': 60_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.http2.min_ping_interval_without_data_ms': 10_000,
      'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_SEND_MESSAGE_BYTES,
      // channelz keeps per-call bookkeeping nobody reads here (Prometheus metrics cover it); off saves CPU.
      'grpc.enable_channelz': 0,
    };
    super({
      url: strata.url,
      package: [...strata.packages],
      // The contracts loaded once per process with Strata's loader options (shared with every client).
      packageDefinition: loadStrataProtos(),
      channelOptions,
      // Nest's documented hook for adding services to its server (its reflection example uses it too).
      onLoadPackageDefinition: (_definition: unknown, server: grpc.Server) => {
        strata.health.addToServer(server);
        strataReflection().addToServer(server);
        strata.load.serve(server);
      },
    });
    this.#channelOptions = channelOptions;
  }

  /** The port bound once `listen` has resolved. */
  get port(): number {
    return this.#port;
  }

  /** As ServerGrpc's `createClient` with the same channel options, keeping the bound port (Nest's returns the server only). */
  override async createClient(): Promise<grpc.Server> {
    const server = new grpc.Server(this.#channelOptions);
    this.#port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(this.strata.url, grpc.ServerCredentials.createInsecure(), (error, port) =>
        error ? reject(new Error(`cannot serve gRPC on ${this.strata.url}: ${error.message}`)) : resolve(port),
      ),
    );
    this.#server = server;
    return server;
  }

  /**
   * As ServerGrpc's unary method (Nest's handler: guards, pipes, interceptors, the controller, filters; the
   * processing hooks), inside the call's request context, timed and counted. What Nest's handler resolves to is a
   * value, a promise or an observable (its last value is the answer); what it fails with is what the exception
   * filters made of the error: `{ code, details }`.
   */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- ServerGrpc declares it with `Function`.
  override createUnaryServiceMethod(methodHandler: Function): Function {
    const handler = methodHandler as (request: unknown, metadata: grpc.Metadata, call: unknown) => Promise<unknown>;
    const { serviceName, logger, load } = this.strata;
    const debug = logger.isLevelEnabled('debug');
    // Label children looked up once per (method, code), not per call; the method is known at the first call.
    let recorder: RpcRecorder | undefined;
    let method = '';
    let path = '';
    let spanName = '';
    return (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const started = performance.now();
      if (!recorder) {
        method = methodOf(call);
        path = call.getPath();
        spanName = `grpc.${path.slice(1)}`;
        recorder = new RpcRecorder(this.strata.metrics.serverHandled, this.strata.metrics.serverLatency, serviceName, method, statusName);
      }
      const recording = recorder;
      // Nest's whole pipeline (guards and exception filters too) runs inside the context below, so it reads this id.
      const requestId = acceptRequestId(call.metadata.get(REQUEST_ID_HEADER)[0]);
      // With tracing off (no kit tracer) nothing of the trace is looked at: no metadata read, no closure.
      const requestTrace = kitTracer()
        ? startRequestTrace(spanName, SpanKind.SERVER, traceHeaders(call.metadata), () => rpcAttributes(path, requestId))
        : undefined;
      const raw = call.getDeadline();
      const deadline = raw instanceof Date ? raw.getTime() : Number.isFinite(raw) ? raw : undefined;
      const answer = (error: grpc.ServiceError | null, response?: unknown) => {
        const seconds = (performance.now() - started) / 1000;
        const code = error ? (error.code ?? grpc.status.UNKNOWN) : grpc.status.OK;
        recording.record(code, seconds);
        load.count(code);
        endSpan(requestTrace?.span, { 'rpc.grpc.status_code': code }, isServerError(code), error?.details);
        if (debug && !error) logger.debug({ requestId, method, ms: seconds * 1000 }, 'call served');
        callback(error, response);
      };
      if (deadline !== undefined && deadline <= Date.now()) {
        const details = `deadline expired before ${serviceName}.${method} started`;
        logger.info({ requestId, method, code: 'DEADLINE_EXCEEDED' }, details);
        answer({ code: grpc.status.DEADLINE_EXCEEDED, details } as grpc.ServiceError);
        return;
      }
      const fail = (error: unknown) => answer(error as grpc.ServiceError);
      const settle = (result: unknown, end?: () => void) => {
        if (!isObservable(result)) {
          end?.();
          answer(null, result);
          return;
        }
        let last: unknown;
        (result as Observable<unknown>).subscribe({
          next: (value) => (last = value),
          error: (error: unknown) => {
            end?.();
            fail(error);
          },
          complete: () => {
            end?.();
            if (isThenable(last)) last.then((value) => answer(null, value), fail);
            else answer(null, last);
          },
        });
      };
      withRequestTrace(requestTrace, () =>
        runWithRequestContext({ requestId, deadline, trace: requestTrace }, () => {
          // Nest's processing hooks (`setOnProcessingStartHook`, for instrumentation) as ServerGrpc runs them, when
          // someone set them; without, the handler is called straight (ServerGrpc would copy the call object and make
          // two more async frames per call for the no-op default: measured ≈ 1/10 of a bare call, docs/performance.md).
          if (this.onProcessingStartHook === this.#noStartHook && !this.onProcessingEndHook) {
            handler(call.request, call.metadata, call).then((result) => settle(result), fail);
            return;
          }
          const running = this.runWithProcessingHooks(
            { ...call, operationId: method } as never,
            async (runEndHook) => settle(await handler(call.request, call.metadata, call), runEndHook),
            call.request as never,
          ) as unknown as Promise<void> | undefined;
          // Nest's pipeline turns a handler's error into a failed observable; this catches what escapes it.
          running?.catch?.(fail);
        }),
      );
    };
  }

  override async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    // tryShutdown: no new calls or connections, GOAWAY to clients, in-flight calls run to the end.
    await this.strata.stop(
      () => {
        // The load-report streams never end on their own: end them, or tryShutdown waits for them to the drain's bound.
        this.strata.load.close();
        return new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      },
      () => server.forceShutdown(),
    );
  }
}

/** The W3C trace headers of a call's metadata (strings; grpc-js keeps `-bin` keys as buffers, these are not). */
function traceHeaders(metadata: grpc.Metadata): { traceparent?: string; tracestate?: string } {
  const traceparent = metadata.get('traceparent')[0];
  if (traceparent === undefined) return {};
  const tracestate = metadata.get('tracestate')[0];
  return { traceparent: String(traceparent), tracestate: tracestate === undefined ? undefined : String(tracestate) };
}

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as PromiseLike<unknown>)?.then === 'function';
