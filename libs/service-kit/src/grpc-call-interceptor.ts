import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { Observable, catchError, tap, throwError } from 'rxjs';
import type { Logger } from './logger.js';
import type { ServiceMetrics } from './metrics.js';
import { REQUEST_ID_HEADER, acceptRequestId, runWithRequestContext } from './request-context.js';
import { statusName, toGrpcStatus } from './grpc-status.js';

/**
 * Wraps every gRPC handler of a service: adopts the caller's request id and deadline (so logs and
 * outgoing calls carry them), refuses calls whose deadline already passed, records metrics, and turns
 * whatever the handler threw into a gRPC status with a readable message.
 */
export class GrpcCallInterceptor implements NestInterceptor {
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
    const labels = { grpc_service: this.serviceName, grpc_method: method };
    const started = performance.now();

    const finish = (code: number, message?: string) => {
      const seconds = (performance.now() - started) / 1000;
      this.metrics.serverHandled.inc({ ...labels, grpc_code: statusName(code) });
      this.metrics.serverLatency.observe(labels, seconds);
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
        return next
          .handle()
          .pipe(
            tap({ complete: () => finish(status.OK) }),
            catchError((error: unknown) => {
              const mapped = toGrpcStatus(error, requestId);
              if (mapped.code === status.INTERNAL) {
                this.logger.error({ err: error, method }, 'unexpected error in handler');
              }
              finish(mapped.code, mapped.message);
              return throwError(() => new RpcException(mapped));
            }),
          )
          .subscribe(subscriber);
      }),
    );
  }
}
