import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { Observable } from 'rxjs';
import type { Logger } from './logger.js';
import { RpcRecorder, type ServiceMetrics } from './metrics.js';
import { REQUEST_ID_HEADER, acceptRequestId, runWithRequestContext } from './request-context.js';
import { statusName, toGrpcStatus } from './grpc-status.js';

/**
 * Wraps every gRPC handler of a service: adopts the caller's request id and deadline (so logs and
 * outgoing calls carry them), refuses calls whose deadline already passed, records metrics, and turns
 * whatever the handler threw into a gRPC status with a readable message.
 */
export class GrpcCallInterceptor implements NestInterceptor {
  /** One recorder per method, made on its first call (the hot path then allocates no label objects). */
  private readonly recorders = new Map<string, RpcRecorder>();

  constructor(
    private readonly serviceName: string,
    private readonly logger: Logger,
    private readonly metrics: ServiceMetrics,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const metadata = context.switchToRpc().getContext<Metadata>();
    const call = context.getArgByIndex<ServerUnaryCall<unknown, unknown>>(2);
    const method = context.getHandler().name;
    const requestId = acceptRequestId(metadata?.get(REQUEST_ID_HEADER)[0]);
    const rawDeadline = call?.getDeadline?.();
    const deadline = rawDeadline instanceof Date ? rawDeadline.getTime() : Number.isFinite(rawDeadline) ? Number(rawDeadline) : undefined;
    let recorder = this.recorders.get(method);
    if (!recorder) {
      recorder = new RpcRecorder(this.metrics.serverHandled, this.metrics.serverLatency, this.serviceName, method, statusName);
      this.recorders.set(method, recorder);
    }
    const started = performance.now();

    const finish = (code: number, message?: string) => {
      const seconds = (performance.now() - started) / 1000;
      recorder.record(code, seconds);
      if (code === status.INTERNAL || code === status.UNKNOWN) {
        this.logger.error({ method, code: statusName(code), ms: seconds * 1000 }, message ?? 'call failed');
      } else if (code !== status.OK) {
        this.logger.info({ method, code: statusName(code), ms: seconds * 1000 }, message ?? 'call refused');
      } else {
        this.logger.debug({ method, ms: seconds * 1000 }, 'call served');
      }
    };

    return new Observable((subscriber) =>
      runWithRequestContext({ requestId, deadline }, () => {
        if (deadline !== undefined && deadline <= Date.now()) {
          const message = `deadline expired before ${this.serviceName}.${method} started`;
          finish(status.DEADLINE_EXCEEDED, message);
          subscriber.error(new RpcException({ code: status.DEADLINE_EXCEEDED, message }));
          return;
        }
        // One plain subscription instead of a tap/catchError pipe: no operator objects per call.
        return next.handle().subscribe({
          next: (value) => subscriber.next(value),
          complete: () => {
            finish(status.OK);
            subscriber.complete();
          },
          error: (error: unknown) => {
            const mapped = toGrpcStatus(error, requestId);
            if (mapped.code === status.INTERNAL) {
              this.logger.error({ err: error, method }, 'unexpected error in handler');
            }
            finish(mapped.code, mapped.message);
            subscriber.error(new RpcException(mapped));
          },
        });
      }),
    );
  }
}
